// The workflow's node graph as drawn: status.nodes with loop groups collapsible.
import { nodeList } from './nodes';
import { NodeStatus, Workflow } from './types';

export interface GraphNode {
  id: string;
  label: string;
  phase: string;
  type: string;
  /** Set on a collapsible group: how many children it has and whether they are hidden. */
  group?: { size: number; collapsed: boolean; phases: Record<string, number> };
  /** Set on the stand-in for an open group's children past its page: whose, and how many. */
  more?: { group: string; hidden: number; phases: Record<string, number> };
}

export interface Graph {
  nodes: GraphNode[];
  edges: [string, string][];
}

/** Groups with more children than this start collapsed, so big fan-outs stay drawable. */
export const AUTO_COLLAPSE = 20;

/**
 * An open group draws this many children (and its failed ones) and a "more" node for the
 * rest, which shows this many more per click: a 100,000-item loop opens as fast as a small one.
 */
export const PAGE = 500;

const FAILED = new Set(['Failed', 'Error']);

export function isGroup(node: NodeStatus): boolean {
  return (
    (node.type === 'StepGroup' || node.type === 'TaskGroup') && (node.children?.length ?? 0) > 1
  );
}

/** The id of the node standing in for `group`'s children past its page. */
export function moreId(group: string): string {
  return `${group}/more`;
}

/**
 * What the graph needs of a nodes object, whatever is collapsed, made once per object: each
 * node numbered in drawing order, so that a render walks arrays of numbers, not 100,000 ids.
 */
interface NodeIndex {
  order: NodeStatus[];
  number: Map<string, number>;
  groups: number[];
  /** The number of the group a node is a child of, or -1. */
  groupOf: Int32Array;
  /** Every edge, parent to child, as the numbers of its ends: each node's in a row. */
  from: Int32Array;
  to: Int32Array;
  /** Where a node's edges start in from/to. */
  firstEdge: Int32Array;
  /** Each group's children by phase, counted when first asked. */
  phases: Map<string, Record<string, number>>;
}

const indexes = new WeakMap<object, NodeIndex>();

function indexOf(nodes: Record<string, NodeStatus>): NodeIndex {
  const known = indexes.get(nodes);
  if (known) {
    return known;
  }
  const order = inOrder(nodes);
  const number = new Map(order.map((n, i) => [n.id, i]));
  const groups: number[] = [];
  const groupOf = new Int32Array(order.length).fill(-1);
  const from: number[] = [];
  const to: number[] = [];
  const firstEdge = new Int32Array(order.length);
  order.forEach((n, i) => {
    firstEdge[i] = from.length;
    const group = isGroup(n);
    if (group) {
      groups.push(i);
    }
    for (const child of n.children ?? []) {
      const c = number.get(child);
      if (c === undefined) {
        continue;
      }
      from.push(i);
      to.push(c);
      if (group && groupOf[c] < 0) {
        groupOf[c] = i;
      }
    }
  });
  const index: NodeIndex = {
    order,
    number,
    groups,
    groupOf,
    from: Int32Array.from(from),
    to: Int32Array.from(to),
    firstEdge,
    phases: new Map()
  };
  indexes.set(nodes, index);
  return index;
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
  const { order, groups } = indexOf(nodes);
  for (const g of groups) {
    const n = order[g];
    if (!decided.has(n.id) && (n.children?.length ?? 0) > AUTO_COLLAPSE) {
      decided.add(n.id);
      collapsed.add(n.id);
      grew = true;
    }
  }
  return grew;
}

/** Nodes from the roots down, each node's children in their order: loop items by index. */
function inOrder(nodes: Record<string, NodeStatus>): NodeStatus[] {
  const all = nodeList(nodes);
  const isChild = new Set<string>();
  for (const n of all) {
    for (const c of n.children ?? []) {
      isChild.add(c);
    }
  }
  const seen = new Set<string>();
  const out: NodeStatus[] = [];
  const queue = all.filter(n => !isChild.has(n.id));
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
  return out.length === all.length ? out : [...out, ...all.filter(n => !seen.has(n.id))];
}

function countPhases(ids: string[], nodes: Record<string, NodeStatus>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) {
    const phase = nodes[id]?.phase || 'Pending';
    out[phase] = (out[phase] ?? 0) + 1;
  }
  return out;
}

function phasesOf(group: NodeStatus, index: NodeIndex, nodes: Record<string, NodeStatus>) {
  let phases = index.phases.get(group.id);
  if (!phases) {
    phases = countPhases(group.children ?? [], nodes);
    index.phases.set(group.id, phases);
  }
  return phases;
}

/**
 * The children an open group leaves off its page, by number, and their phases: all but its
 * first `limit`, its failed ones and `pinned` (those two up to PAGE more).
 */
function offPage(
  g: number,
  limit: number,
  pinned: number,
  index: NodeIndex
): { hidden: number[]; phases: Record<string, number> } {
  const { order, to, firstEdge } = index;
  const end = g + 1 < order.length ? firstEdge[g + 1] : to.length;
  const hidden: number[] = [];
  const phases: Record<string, number> = {};
  let extra = 0;
  for (let e = firstEdge[g] + limit; e < end; e++) {
    const i = to[e];
    const phase = order[i].phase || 'Pending';
    if (i === pinned || (extra < PAGE && FAILED.has(phase))) {
      extra++;
    } else {
      hidden.push(i);
      phases[phase] = (phases[phase] ?? 0) + 1;
    }
  }
  return { hidden, phases };
}

/**
 * The visible graph: a collapsed group stands in for its direct children, and an open big
 * group's "more" node for its children past the page (`pages`: each group's page size, else
 * PAGE; `pinned`, the selected node, is always on the page), so their edges onward leave from
 * the stand-in instead; duplicate edges and self-loops are dropped.
 */
export function buildGraph(
  wf: Workflow,
  collapsed: ReadonlySet<string>,
  pages: ReadonlyMap<string, number> = new Map(),
  pinned = ''
): Graph {
  const nodes = wf.status?.nodes ?? {};
  const index = indexOf(nodes);
  const { order, number, groupOf } = index;
  const count = order.length;
  const pinnedAt = number.get(pinned) ?? -1;
  const shut = new Uint8Array(count);
  for (const id of collapsed) {
    const i = number.get(id);
    if (i !== undefined && isGroup(order[i])) {
      shut[i] = 1;
    }
  }
  // Children past their group's page stand for the group's "more" node, numbered after all.
  const more: GraphNode[] = [];
  const moreOf = new Map<number, number>();
  const paged = new Uint8Array(count);
  for (const g of index.groups) {
    const group = order[g];
    if (shut[g]) {
      continue;
    }
    const { hidden, phases } = offPage(g, pages.get(group.id) ?? PAGE, pinnedAt, index);
    if (hidden.length === 0) {
      continue;
    }
    for (const i of hidden) {
      if (groupOf[i] === g) {
        paged[i] = 1;
      }
    }
    moreOf.set(g, count + more.length);
    more.push({
      id: moreId(group.id),
      label: `${hidden.length.toLocaleString('en-US')} more`,
      phase: 'More',
      type: 'More',
      more: { group: group.id, hidden: hidden.length, phases }
    });
  }
  // Where each node is drawn: itself, or the outermost stand-in that hides it.
  const rep = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    let out = i;
    let cur = i;
    for (let depth = 0; depth < 64 && groupOf[cur] >= 0; depth++) {
      const g = groupOf[cur];
      if (shut[g]) {
        out = g;
      } else if (paged[cur]) {
        out = moreOf.get(g)!;
      }
      cur = g;
    }
    rep[i] = out;
  }
  const out: GraphNode[] = [];
  for (let i = 0; i < count; i++) {
    if (rep[i] !== i) {
      continue;
    }
    const node = order[i];
    const g: GraphNode = {
      id: node.id,
      label: node.displayName || node.name,
      phase: node.phase || 'Pending',
      type: node.type
    };
    if (isGroup(node)) {
      g.group = {
        size: node.children?.length ?? 0,
        collapsed: shut[i] === 1,
        phases: phasesOf(node, index, nodes)
      };
    }
    out.push(g);
  }
  for (const [g, m] of moreOf) {
    if (rep[g] === g) {
      out.push(more[m - count]);
    }
  }
  const idOf = (i: number): string => (i < count ? order[i].id : more[i - count].id);
  const width = count + more.length;
  const seen = new Set<number>();
  const edges: [string, string][] = [];
  const toMore: [string, string][] = []; // last, so a "more" node ends its group's rows
  let [lastA, lastB] = [-1, -1]; // a stand-in's edges come in runs: most are skipped here
  for (let e = 0; e < index.from.length; e++) {
    const a = rep[index.from[e]];
    const b = rep[index.to[e]];
    if (a === lastA && b === lastB) {
      continue;
    }
    [lastA, lastB] = [a, b];
    const key = a * width + b;
    if (a !== b && !seen.has(key)) {
      seen.add(key);
      (moreOf.get(a) === b ? toMore : edges).push([idOf(a), idOf(b)]);
    }
  }
  return { nodes: out, edges: [...edges, ...toMore] };
}

/** A cheap identity of the graph's shape: relayout only when it changes, recolour otherwise. */
export function shapeKey(graph: Graph): string {
  return (
    graph.nodes.map(n => `${n.id}:${n.group ? n.group.collapsed : ''}`).join(',') +
    '|' +
    graph.edges.map(e => e.join('>')).join(',')
  );
}
