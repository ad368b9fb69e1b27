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

/** Items per row when a wide expanded loop is wrapped, and the gaps between them. */
export const WRAP = 10;
const GAP_X = 20;
const GAP_Y = 16;

/**
 * Wide expanded loops whose items all lead to the same place: each becomes one block that
 * dagre places like a node, its items in rows of WRAP inside it. 2,000 items make a block
 * instead of one level 380,000 px wide, and dagre lays out a handful of nodes, not 2,000.
 */
function blocksOf(graph: Graph): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [a, b] of graph.edges) {
    const list = out.get(a);
    if (list) {
      list.push(b);
    } else {
      out.set(a, [b]);
    }
  }
  const blocks = new Map<string, string[]>();
  for (const n of graph.nodes) {
    const kids = out.get(n.id) ?? [];
    if (!n.group || n.group.collapsed || kids.length <= WRAP) {
      continue;
    }
    const next = (out.get(kids[0]) ?? []).join('\0');
    if (kids.every(k => (out.get(k) ?? []).join('\0') === next && (out.get(k)?.length ?? 0) <= 1)) {
      blocks.set(`${n.id}\0block`, kids);
    }
  }
  return blocks;
}

export function layout(graph: Graph): Layout {
  if (graph.nodes.length === 0) {
    return { width: 0, height: 0, nodes: new Map(), edges: [] }; // dagre would say -Infinity
  }
  const blocks = blocksOf(graph);
  const inBlock = new Map<string, string>();
  for (const [block, kids] of blocks) {
    kids.forEach(k => inBlock.set(k, block));
  }
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'TB', nodesep: GAP_X, ranksep: 40, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) {
    if (!inBlock.has(n.id)) {
      g.setNode(n.id, { width: NODE_W, height: NODE_H });
    }
  }
  for (const [block, kids] of blocks) {
    const cols = Math.min(WRAP, kids.length);
    const rows = Math.ceil(kids.length / WRAP);
    g.setNode(block, {
      width: cols * NODE_W + (cols - 1) * GAP_X,
      height: rows * NODE_H + (rows - 1) * GAP_Y
    });
  }
  for (const [a, b] of graph.edges) {
    const from = inBlock.get(a) ?? a;
    const to = inBlock.get(b) ?? b;
    if (from !== to) {
      g.setEdge(from, to);
    }
  }
  dagre.layout(g);
  const nodes = new Map<string, Placed>();
  for (const id of g.nodes()) {
    const n = g.node(id);
    const kids = blocks.get(id);
    if (!kids) {
      nodes.set(id, { x: n.x, y: n.y });
      continue;
    }
    const left = n.x - n.width / 2 + NODE_W / 2;
    const top = n.y - n.height / 2 + NODE_H / 2;
    kids.forEach((kid, i) => {
      nodes.set(kid, {
        x: left + (i % WRAP) * (NODE_W + GAP_X),
        y: top + Math.floor(i / WRAP) * (NODE_H + GAP_Y)
      });
    });
  }
  const edges = g.edges().map(e => ({
    from: e.v,
    to: e.w,
    points: (g.edge(e).points ?? []).map(p => ({ x: p.x, y: p.y }))
  }));
  const info = g.graph();
  return { width: info.width ?? 0, height: info.height ?? 0, nodes, edges };
}
