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

/** Items per row when a wide expanded loop is wrapped. */
export const WRAP = 16;

/**
 * The edges dagre lays out: a loop group whose items all lead to the same place is laid out
 * as rows of WRAP items (chained by hidden edges), so 2,000 items make a block instead of one
 * level 380,000 px wide. Only the first row hangs from the group and only the last row leads
 * on; the other edges would cross the block, so they are not drawn either.
 */
function wrapped(graph: Graph): { edges: [string, string][]; hidden: Set<string> } {
  const out = new Map<string, string[]>();
  for (const [a, b] of graph.edges) {
    out.set(a, [...(out.get(a) ?? []), b]);
  }
  const dropped = new Set<string>();
  const hidden = new Set<string>();
  const chains: [string, string][] = [];
  for (const n of graph.nodes) {
    const kids = out.get(n.id) ?? [];
    if (!n.group || n.group.collapsed || kids.length <= WRAP) {
      continue;
    }
    const next = (out.get(kids[0]) ?? []).join('\0');
    if (kids.some(k => (out.get(k) ?? []).join('\0') !== next || (out.get(k)?.length ?? 0) > 1)) {
      continue; // items with subgraphs of their own keep the plain layout
    }
    const lastRow = kids.length - ((kids.length - 1) % WRAP) - 1;
    kids.forEach((kid, i) => {
      if (i >= WRAP) {
        dropped.add(`${n.id}\0${kid}`);
        const chain: [string, string] = [kids[i - WRAP], kid];
        chains.push(chain);
        hidden.add(chain.join('\0'));
      }
      if (i < lastRow) {
        for (const t of out.get(kid) ?? []) {
          dropped.add(`${kid}\0${t}`);
        }
      }
    });
  }
  const edges = graph.edges.filter(e => !dropped.has(e.join('\0')));
  return { edges: [...edges, ...chains], hidden };
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
  const { edges: laidEdges, hidden } = wrapped(graph);
  for (const [a, b] of laidEdges) {
    g.setEdge(a, b);
  }
  dagre.layout(g);
  const nodes = new Map<string, Placed>();
  for (const id of g.nodes()) {
    const n = g.node(id);
    nodes.set(id, { x: n.x, y: n.y });
  }
  const edges = g
    .edges()
    .filter(e => !hidden.has(`${e.v}\0${e.w}`))
    .map(e => ({
      from: e.v,
      to: e.w,
      points: (g.edge(e).points ?? []).map(p => ({ x: p.x, y: p.y }))
    }));
  const info = g.graph();
  return { width: info.width ?? 0, height: info.height ?? 0, nodes, edges };
}
