// Durations, times and progress as the panel shows them.
import { perNodes } from './nodes';
import { Workflow } from './types';

/** Whole seconds as Argo's UI writes them: "45s", "3m 4s", "2h 5m", "1d 3h". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) {
    return `${s}s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)}m ${s % 60}s`;
  }
  if (s < 86400) {
    return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  }
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** Seconds from start to finish, or to `now` while still running; null before it starts. */
export function elapsedSeconds(
  startedAt: string | undefined,
  finishedAt: string | undefined,
  now: number
): number | null {
  if (!startedAt) {
    return null;
  }
  const start = Date.parse(startedAt);
  if (isNaN(start)) {
    return null;
  }
  const end = finishedAt ? Date.parse(finishedAt) : now;
  return Math.max(0, (end - start) / 1000);
}

export function workflowDuration(wf: Workflow, now: number): string {
  const secs = elapsedSeconds(wf.status?.startedAt, wf.status?.finishedAt, now);
  return secs === null ? '' : formatDuration(secs);
}

/** "3/7": status.progress when the server sets it, else counted from the Pod nodes. */
export function progressOf(wf: Workflow): string {
  return wf.status?.progress || countPods(wf.status?.nodes);
}

const countPods = perNodes(list => {
  const pods = list.filter(n => n.type === 'Pod');
  const done = pods.filter(n => n.phase === 'Succeeded' || n.phase === 'Skipped').length;
  return pods.length ? `${done}/${pods.length}` : '';
});

/** Start time in local "YYYY-MM-DD HH:MM:SS". */
export function formatStart(iso: string | undefined): string {
  if (!iso) {
    return '';
  }
  const d = new Date(iso);
  if (isNaN(d.getTime())) {
    return '';
  }
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  );
}

/** Argo's resourcesDuration ({cpu: 2, memory: 5}) as "2s*cpu, 5s*memory". */
export function resources(used: Record<string, number> | undefined): string {
  return Object.entries(used ?? {})
    .map(([k, v]) => `${formatDuration(v)}*${k}`)
    .join(', ');
}
