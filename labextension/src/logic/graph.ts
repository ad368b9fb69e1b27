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
 * node numbered, so that a render walks arrays of numbers, not 100,000 ids.
 */
interface NodeIndex {
  /** The nodes by number. */
  list: NodeStatus[];
  number: Map<string, number>;
  /** Numbers from the roots down, each node's children in their order: loop items by index. */
  order: Int32Array;
  groups: number[];
  /** The number of the group a node is a child of, or -1. */
  groupOf: Int32Array;
  /** Every edge, parent to child, as the numbers of its ends, parents in `order`. */
  from: Int32Array;
  to: Int32Array;
  /** Where a node's edges start and end in from/to. */
  firstEdge: Int32Array;
  endEdge: Int32Array;
  /** Each group's children by phase, counted when first asked. */
  phases: Map<string, Record<string, number>>;
}

const indexes = new WeakMap<object, NodeIndex>();

function indexOf(nodes: Record<string, NodeStatus>): NodeIndex {
  const known = indexes.get(nodes);
  if (known) {
    return known;
  }
  const list = nodeList(nodes);
  const count = list.length;
  const number = new Map<string, number>();
  list.forEach((n, i) => number.set(n.id, i));
  // Each node's children by number, in a row of `kids` from kidStart[i] to kidStart[i + 1].
  const kidStart = new Int32Array(count + 1);
  const kids: number[] = [];
  const isChild = new Uint8Array(count);
  list.forEach((n, i) => {
    kidStart[i] = kids.length;
    for (const child of n.children ?? []) {
      const c = number.get(child);
      if (c !== undefined) {
        kids.push(c);
        isChild[c] = 1;
      }
    }
  });
  kidStart[count] = kids.length;
  const order = inOrder(count, kidStart, kids, isChild);
  const groups: number[] = [];
  const groupOf = new Int32Array(count).fill(-1);
  const from = new Int32Array(kids.length);
  const to = new Int32Array(kids.length);
  const firstEdge = new Int32Array(count);
  const endEdge = new Int32Array(count);
  let e = 0;
  for (const i of order) {
    const group = isGroup(list[i]);
    if (group) {
      groups.push(i);
    }
    firstEdge[i] = e;
    for (let k = kidStart[i]; k < kidStart[i + 1]; k++, e++) {
      from[e] = i;
      to[e] = kids[k];
      if (group && groupOf[kids[k]] < 0) {
        groupOf[kids[k]] = i;
      }
    }
    endEdge[i] = e;
  }
  const index: NodeIndex = {
    list,
    number,
    order,
    groups,
    groupOf,
    from,
    to,
    firstEdge,
    endEdge,
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
  const { list, groups } = indexOf(nodes);
  for (const g of groups) {
    const n = list[g];
    if (!decided.has(n.id) && (n.children?.length ?? 0) > AUTO_COLLAPSE) {
      decided.add(n.id);
      collapsed.add(n.id);
      grew = true;
    }
  }
  return grew;
}

/** Breadth first from the roots (nodes no one lists as a child), then any left over. */
function inOrder(
  count: number,
  kidStart: Int32Array,
  kids: number[],
  isChild: Uint8Array
): Int32Array {
  const seen = new Uint8Array(count);
  const queue: number[] = [];
  for (let i = 0; i < count; i++) {
    if (!isChild[i]) {
      queue.push(i);
    }
  }
  const order = new Int32Array(count);
  let n = 0;
  for (let q = 0; q < queue.length; q++) {
    const i = queue[q];
    if (seen[i]) {
      continue;
    }
    seen[i] = 1;
    order[n++] = i;
    for (let k = kidStart[i]; k < kidStart[i + 1]; k++) {
      if (!seen[kids[k]]) {
        queue.push(kids[k]);
      }
    }
  }
  for (let i = 0; i < count && n < count; i++) {
    if (!seen[i]) {
      order[n++] = i;
    }
  }
  return order;
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
  const { list, to, firstEdge, endEdge } = index;
  const hidden: number[] = [];
  const phases: Record<string, number> = {};
  let extra = 0;
  for (let e = firstEdge[g] + limit; e < endEdge[g]; e++) {
    const i = to[e];
    const phase = list[i].phase || 'Pending';
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
  const { list, number, groupOf } = index;
  const count = list.length;
  const pinnedAt = number.get(pinned) ?? -1;
  const shut = new Uint8Array(count);
  for (const id of collapsed) {
    const i = number.get(id);
    if (i !== undefined && isGroup(list[i])) {
      shut[i] = 1;
    }
  }
  // Children past their group's page stand for the group's "more" node, numbered after all.
  const more: GraphNode[] = [];
  const moreOf = new Map<number, number>();
  const paged = new Uint8Array(count);
  for (const g of index.groups) {
    const group = list[g];
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
  for (const i of index.order) {
    if (rep[i] !== i) {
      continue;
    }
    const node = list[i];
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
  const idOf = (i: number): string => (i < count ? list[i].id : more[i - count].id);
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
