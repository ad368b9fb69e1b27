// Node positions from dagre (layered layout, top to bottom, as Argo's UI draws workflows).
import dagre from '@dagrejs/dagre';
import { Graph } from './graph';

export const NODE_W = 170;
export const NODE_H = 34;

export interface Placed {
  x: number; // centre
  y: number;
}

export interface Layout {
  width: number;
  height: number;
  nodes: Map<string, Placed>;
  edges: { from: string; to: string; points: Placed[] }[];
}

export function layout(graph: Graph): Layout {
  if (graph.nodes.length === 0) {
    return { width: 0, height: 0, nodes: new Map(), edges: [] }; // dagre would say -Infinity
  }
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'TB', nodesep: 20, ranksep: 40, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) {
    g.setNode(n.id, { width: NODE_W, height: NODE_H });
  }
  for (const [a, b] of graph.edges) {
    g.setEdge(a, b);
  }
  dagre.layout(g);
  const nodes = new Map<string, Placed>();
  for (const id of g.nodes()) {
    const n = g.node(id);
    nodes.set(id, { x: n.x, y: n.y });
  }
  const edges = g.edges().map(e => ({
    from: e.v,
    to: e.w,
    points: (g.edge(e).points ?? []).map(p => ({ x: p.x, y: p.y }))
  }));
  const info = g.graph();
  return { width: info.width ?? 0, height: info.height ?? 0, nodes, edges };
}
