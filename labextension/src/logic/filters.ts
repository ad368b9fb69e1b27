// The sidebar's filters: phase, namespace, labels (Kubernetes selector syntax) and name.
import { Workflow } from './types';

export interface Filter {
  phases: ReadonlySet<string>; // empty: every phase
  namespace: string; // '': every namespace
  labels: string; // "app=x,env!=prod,team" (equality, inequality, existence)
  name: string; // substring, case-insensitive
}

export const EMPTY_FILTER: Filter = { phases: new Set(), namespace: '', labels: '', name: '' };

type LabelTest = (labels: Record<string, string>) => boolean;

/** A label selector's terms; an unparseable term matches nothing, as a bad selector would. */
export function parseLabels(selector: string): LabelTest[] {
  return selector
    .split(',')
    .map(t => t.trim())
    .filter(t => t.length > 0)
    .map((term): LabelTest => {
      let m = /^([^=!\s]+)\s*!=\s*(.*)$/.exec(term);
      if (m) {
        const [, k, v] = m;
        return l => l[k] !== v;
      }
      m = /^([^=!\s]+)\s*==?\s*(.*)$/.exec(term);
      if (m) {
        const [, k, v] = m;
        return l => l[k] === v;
      }
      m = /^!([^=!\s]+)$/.exec(term);
      if (m) {
        const k = m[1];
        return l => !(k in l);
      }
      m = /^([^=!\s]+)$/.exec(term);
      if (m) {
        const k = m[1];
        return l => k in l;
      }
      return () => false;
    });
}

export function matcher(filter: Filter): (wf: Workflow) => boolean {
  const labelTests = parseLabels(filter.labels);
  const name = filter.name.trim().toLowerCase();
  return wf => {
    const phase = wf.status?.phase || 'Pending';
    if (filter.phases.size > 0 && !filter.phases.has(phase)) {
      return false;
    }
    if (filter.namespace && (wf.metadata.namespace ?? 'default') !== filter.namespace) {
      return false;
    }
    if (name && !wf.metadata.name.toLowerCase().includes(name)) {
      return false;
    }
    const labels = wf.metadata.labels ?? {};
    return labelTests.every(t => t(labels));
  };
}

export function applyFilter(items: Workflow[], filter: Filter): Workflow[] {
  const keep = matcher(filter);
  return items.filter(keep);
}
