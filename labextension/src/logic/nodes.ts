// status.nodes as a list, made once per nodes object. Object.values of a 100,000-key object
// takes V8 about 100 ms, and the panel reads the nodes at every render; each event brings a
// new status object (nothing changes one in place), so the object is the cache's key.
import { NodeStatus } from './types';

const lists = new WeakMap<object, NodeStatus[]>();
const NONE: NodeStatus[] = [];

export function nodeList(nodes: Record<string, NodeStatus> | undefined): NodeStatus[] {
  if (!nodes) {
    return NONE;
  }
  let list = lists.get(nodes);
  if (!list) {
    list = Object.values(nodes);
    lists.set(nodes, list);
  }
  return list;
}

/** `compute` of a nodes object, once per object: for what the panel shows at every render. */
export function perNodes<T>(
  compute: (list: NodeStatus[]) => T
): (nodes: Record<string, NodeStatus> | undefined) => T {
  const known = new WeakMap<object, T>();
  return nodes => {
    if (!nodes) {
      return compute(NONE);
    }
    if (!known.has(nodes)) {
      known.set(nodes, compute(nodeList(nodes)));
    }
    return known.get(nodes)!;
  };
}
