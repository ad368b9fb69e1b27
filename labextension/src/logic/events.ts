// Folding the workflow-events stream into the list the sidebar shows.
import { Workflow, WorkflowEvent } from './types';

export function keyOf(wf: Workflow): string {
  return wf.metadata.uid || `${wf.metadata.namespace ?? 'default'}/${wf.metadata.name}`;
}

/** The server's change counter of a workflow (metadata.resourceVersion); -1 when absent. */
export function revisionOf(wf: Workflow | undefined): number {
  const rv = Number(wf?.metadata?.resourceVersion);
  return Number.isFinite(rv) && wf?.metadata?.resourceVersion !== undefined ? rv : -1;
}

/**
 * Applies one event; returns true when the set changed. A copy older than the one held (an
 * action's reply that arrives after a newer event) is dropped.
 */
export function reduceEvent(state: Map<string, Workflow>, event: WorkflowEvent): boolean {
  const key = keyOf(event.object);
  if (event.type === 'DELETED') {
    return state.delete(key);
  }
  if (event.type === 'ADDED' || event.type === 'MODIFIED') {
    if (revisionOf(event.object) < revisionOf(state.get(key))) {
      return false;
    }
    state.set(key, event.object);
    return true;
  }
  return false; // BOOKMARK, ERROR: nothing to show
}

/** Newest first, as argo list and the server order them; ties by namespace then name. */
export function sorted(state: Map<string, Workflow>): Workflow[] {
  return [...state.values()].sort((a, b) => {
    const ta = a.metadata.creationTimestamp ?? '';
    const tb = b.metadata.creationTimestamp ?? '';
    if (ta !== tb) {
      return ta < tb ? 1 : -1;
    }
    const ka = `${a.metadata.namespace ?? ''}/${a.metadata.name}`;
    const kb = `${b.metadata.namespace ?? ''}/${b.metadata.name}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}

/**
 * Splits a server-sent-events text buffer into the JSON payloads of complete events; the
 * rest (an incomplete event) is returned to be prefixed to the next chunk.
 */
export function splitSse(buffer: string): { data: string[]; rest: string } {
  const blocks = buffer.replace(/\r\n/g, '\n').split('\n\n');
  const rest = blocks.pop() ?? '';
  const data: string[] = [];
  for (const block of blocks) {
    const lines = block
      .split('\n')
      .filter(l => l.startsWith('data:'))
      .map(l => l.slice(5).replace(/^ /, ''));
    if (lines.length > 0) {
      data.push(lines.join('\n'));
    }
  }
  return { data, rest };
}

/** Splits newline-delimited JSON text into complete lines and the unfinished rest. */
export function splitLines(buffer: string): { lines: string[]; rest: string } {
  const parts = buffer.split('\n');
  const rest = parts.pop() ?? '';
  return { lines: parts.filter(l => l.trim().length > 0), rest };
}
