// Argo's timeline: the steps in start order, each from its start to its end (or now).
import { perNodes } from './nodes';
import { NodeStatus } from './types';

// Nodes that only group others: not rows of the timeline.
const GROUPING = new Set(['Steps', 'StepGroup', 'DAG', 'TaskGroup', 'Retry']);

export interface TimelineStep {
  n: NodeStatus;
  start: number;
  /** Its end; undefined while it runs (it ends now). */
  end?: number;
  /** Pending: it has not run yet, so it waits at its start instead of growing until now. */
  waiting: boolean;
}

export interface Timeline {
  steps: TimelineStep[];
  /** The latest end of the steps that are not running, and whether any is. */
  lastEnd: number;
  running: boolean;
}

// Not localeCompare: steps that start together (a loop) tie by the thousand.
function byName(a: NodeStatus, b: NodeStatus): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Sorted once per status object: 100,000 steps take a while to sort. */
export const timelineOf = perNodes((list): Timeline => {
  let lastEnd = -Infinity;
  let running = false;
  const steps = list
    .filter(n => !GROUPING.has(n.type) && n.startedAt)
    .map(n => {
      const start = Date.parse(n.startedAt!);
      const waiting = (n.phase || 'Pending') === 'Pending';
      const end = n.finishedAt ? Date.parse(n.finishedAt) : waiting ? start : undefined;
      if (end === undefined) {
        running = true;
      } else {
        lastEnd = Math.max(lastEnd, end);
      }
      return { n, start, end, waiting };
    })
    .sort((a, b) => a.start - b.start || byName(a.n, b.n));
  return { steps, lastEnd, running };
});
