// The workflow's node graph as drawn: status.nodes with loop groups collapsible.
import { NodeStatus, Workflow } from './types';

export interface GraphNode {
  id: string;
  label: string;
  phase: string;
  type: string;
  /** Set on a collapsible group: how many children it has and whether they are hidden. */
  group?: { size: number; collapsed: boolean; phases: Record<string, number> };
}

export interface Graph {
  nodes: GraphNode[];
  edges: [string, string][];
}

/** Groups with more children than this start collapsed, so big fan-outs stay drawable. */
export const AUTO_COLLAPSE = 20;

export function isGroup(node: NodeStatus): boolean {
  return (
    (node.type === 'StepGroup' || node.type === 'TaskGroup') && (node.children?.length ?? 0) > 1
  );
}

/** The groups collapsed unless the user opened them: every big one. */
export function defaultCollapsed(nodes: Record<string, NodeStatus>): Set<string> {
  const collapsed = new Set<string>();
  collapseGrown(nodes, collapsed, new Set());
  return collapsed;
}

/**
 * Collapses each group that has grown big since last asked, unless already `decided` (by the
 * user or by an earlier call): a loop that grows while its tab is open folds as it grows.
 * Returns true when it collapsed any.
 */
export function collapseGrown(
  nodes: Record<string, NodeStatus>,
  collapsed: Set<string>,
  decided: Set<string>
): boolean {
  let grew = false;
  for (const n of Object.values(nodes)) {
    if (!decided.has(n.id) && isGroup(n) && (n.children?.length ?? 0) > AUTO_COLLAPSE) {
      decided.add(n.id);
      collapsed.add(n.id);
      grew = true;
    }
  }
  return grew;
}

/** Nodes from the roots down, each node's children in their order: loop items by index. */
function inOrder(nodes: Record<string, NodeStatus>): NodeStatus[] {
  const isChild = new Set<string>();
  for (const n of Object.values(nodes)) {
    for (const c of n.children ?? []) {
      isChild.add(c);
    }
  }
  const seen = new Set<string>();
  const out: NodeStatus[] = [];
  const queue = Object.values(nodes).filter(n => !isChild.has(n.id));
  for (let i = 0; i < queue.length; i++) {
    const n = queue[i];
    if (seen.has(n.id)) {
      continue;
    }
    seen.add(n.id);
    out.push(n);
    for (const c of n.children ?? []) {
      if (nodes[c] && !seen.has(c)) {
        queue.push(nodes[c]);
      }
    }
  }
  return out.length === Object.keys(nodes).length
    ? out
    : [...out, ...Object.values(nodes).filter(n => !seen.has(n.id))];
}

function countPhases(ids: string[], nodes: Record<string, NodeStatus>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) {
    const phase = nodes[id]?.phase || 'Pending';
    out[phase] = (out[phase] ?? 0) + 1;
  }
  return out;
}

/**
 * The visible graph: a collapsed group stands in for its direct children, so their edges
 * onward leave from the group instead; duplicate edges and self-loops are dropped.
 */
export function buildGraph(wf: Workflow, collapsed: ReadonlySet<string>): Graph {
  const nodes = wf.status?.nodes ?? {};
  const rep = new Map<string, string>();
  for (const id of collapsed) {
    const group = nodes[id];
    if (!group || !isGroup(group)) {
      continue;
    }
    for (const child of group.children ?? []) {
      if (!rep.has(child)) {
        rep.set(child, id);
      }
    }
  }
  const shown = (id: string): string => {
    let cur = id;
    for (let i = 0; i < 64 && rep.has(cur); i++) {
      cur = rep.get(cur)!; // nested collapsed groups resolve to the outermost
    }
    return cur;
  };
  const out: GraphNode[] = [];
  const ordered = inOrder(nodes);
  for (const node of ordered) {
    if (shown(node.id) !== node.id) {
      continue;
    }
    const g: GraphNode = {
      id: node.id,
      label: node.displayName || node.name,
      phase: node.phase || 'Pending',
      type: node.type
    };
    if (isGroup(node)) {
      const children = node.children ?? [];
      g.group = {
        size: children.length,
        collapsed: collapsed.has(node.id),
        phases: countPhases(children, nodes)
      };
    }
    out.push(g);
  }
  const seen = new Set<string>();
  const edges: [string, string][] = [];
  for (const node of ordered) {
    for (const child of node.children ?? []) {
      if (!(child in nodes)) {
        continue;
      }
      const a = shown(node.id);
      const b = shown(child);
      const key = `${a}\u0000${b}`;
      if (a !== b && !seen.has(key)) {
        seen.add(key);
        edges.push([a, b]);
      }
    }
  }
  return { nodes: out, edges };
}

/** A cheap identity of the graph's shape: relayout only when it changes, recolour otherwise. */
export function shapeKey(graph: Graph): string {
  return (
    graph.nodes.map(n => `${n.id}:${n.group ? n.group.collapsed : ''}`).join(',') +
    '|' +
    graph.edges.map(e => e.join('>')).join(',')
  );
}
