// The left sidebar: every workflow with its live phase, progress, start and duration.
import { Widget } from '@lumino/widgets';
import { keyOf } from './logic/events';
import { Filter, applyFilter } from './logic/filters';
import { formatStart, progressOf, workflowDuration } from './logic/format';
import { shownPhase } from './logic/rules';
import { Workflow } from './logic/types';
import { visibleRows } from './logic/window';
import { el } from './dom';
import { WorkflowStore } from './store';

const ROW_H = 44;
const PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Error'];

export class WorkflowsPanel extends Widget {
  private filter: Filter = { phases: new Set(), namespace: '', labels: '', name: '' };
  private rows: Workflow[] = [];
  private scroller = el('div', 'argosy-list');
  private spacer = el('div', 'argosy-list-spacer');
  private status = el('div', 'argosy-status');
  private empty = el('div', 'argosy-empty');
  private nsSelect = el('select', 'argosy-filter-ns');
  private namespaces = new Set<string>();
  // The selected workflow's key, not its row: new workflows arrive on top.
  private selectedKey = '';
  private timer = 0;

  constructor(
    private store: WorkflowStore,
    private open: (wf: Workflow) => void,
    submit: () => void = () => undefined,
    catalog: () => void = () => undefined
  ) {
    super();
    this.id = 'argosy-workflows';
    this.addClass('argosy-panel');
    this.title.caption = 'Argosy workflows';
    const head = el('div', 'argosy-panel-head');
    const toCatalog = el('button', 'argosy-zoom-button argosy-open-catalog', 'Templates & crons');
    toCatalog.title = 'WorkflowTemplates to submit from, CronWorkflows to suspend or resume';
    toCatalog.addEventListener('click', catalog);
    head.append(el('h2', 'argosy-panel-title', 'Workflows'), toCatalog);
    this.node.appendChild(head);
    this.node.appendChild(this.filters());
    this.node.appendChild(this.status);
    this.empty.append(
      el('p', '', 'No workflows yet. Submit an Argo Workflow YAML file to run it here.'),
      el('button', 'argosy-empty-submit jp-mod-styled jp-mod-accept', 'Submit a workflow…')
    );
    this.empty.querySelector('button')!.addEventListener('click', submit);
    this.node.appendChild(this.empty);
    this.scroller.appendChild(this.spacer);
    this.scroller.tabIndex = 0;
    this.scroller.setAttribute('role', 'listbox');
    this.scroller.setAttribute('aria-label', 'Workflows');
    this.scroller.addEventListener('scroll', () => this.renderRows());
    this.scroller.addEventListener('keydown', e => this.onKey(e));
    this.node.appendChild(this.scroller);
    store.changed.connect(this.refresh, this);
    this.refresh();
  }

  protected onAfterAttach(): void {
    // Durations of running workflows tick without any event.
    this.timer = window.setInterval(() => this.renderRows(), 1000);
    this.renderRows();
  }

  protected onBeforeDetach(): void {
    window.clearInterval(this.timer);
  }

  protected onResize(): void {
    this.renderRows();
  }

  protected onAfterShow(): void {
    this.renderRows();
  }

  dispose(): void {
    window.clearInterval(this.timer);
    this.store.changed.disconnect(this.refresh, this);
    super.dispose();
  }

  private filters(): HTMLElement {
    const box = el('div', 'argosy-filters');
    const name = el('input', 'argosy-filter-name');
    name.placeholder = 'Filter by name';
    name.setAttribute('aria-label', 'Filter by name');
    name.addEventListener('input', () => {
      this.filter.name = name.value;
      this.refresh();
    });
    const labels = el('input', 'argosy-filter-labels');
    labels.placeholder = 'Labels, e.g. app=x,env!=prod';
    labels.setAttribute('aria-label', 'Filter by labels');
    labels.addEventListener('input', () => {
      this.filter.labels = labels.value;
      this.refresh();
    });
    this.nsSelect.setAttribute('aria-label', 'Filter by namespace');
    this.nsSelect.addEventListener('change', () => {
      this.filter.namespace = this.nsSelect.value;
      this.refresh();
    });
    const phases = el('div', 'argosy-filter-phases');
    phases.setAttribute('role', 'group');
    phases.setAttribute('aria-label', 'Filter by phase');
    for (const phase of PHASES) {
      const b = el('button', `argosy-chip argosy-phase-${phase}`, phase);
      b.setAttribute('aria-pressed', 'false');
      b.addEventListener('click', () => {
        const on = !this.filter.phases.has(phase);
        const next = new Set(this.filter.phases);
        if (on) {
          next.add(phase);
        } else {
          next.delete(phase);
        }
        this.filter.phases = next;
        b.setAttribute('aria-pressed', String(on));
        this.refresh();
      });
      phases.appendChild(b);
    }
    box.append(name, this.nsSelect, labels, phases);
    return box;
  }

  private syncNamespaces(): void {
    let grew = false;
    for (const wf of this.store.list) {
      const ns = wf.metadata.namespace ?? 'default';
      if (!this.namespaces.has(ns)) {
        this.namespaces.add(ns);
        grew = true;
      }
    }
    if (!grew && this.nsSelect.options.length > 0) {
      return;
    }
    const current = this.nsSelect.value;
    this.nsSelect.textContent = '';
    const all = el('option', '', 'All namespaces');
    all.value = '';
    this.nsSelect.appendChild(all);
    for (const ns of [...this.namespaces].sort()) {
      const o = el('option', '', ns);
      o.value = ns;
      this.nsSelect.appendChild(o);
    }
    this.nsSelect.value = current;
  }

  private refresh(): void {
    this.syncNamespaces();
    this.rows = applyFilter(this.store.list, this.filter);
    const total = this.store.list.length;
    this.status.textContent = this.store.error
      ? `Cannot watch workflows: ${this.store.error}`
      : `${this.rows.length} of ${total} workflows`;
    this.status.classList.toggle('argosy-error', !!this.store.error);
    this.empty.hidden = total > 0 || !!this.store.error;
    this.spacer.style.height = `${this.rows.length * ROW_H}px`;
    this.renderRows();
  }

  /** Renders only the rows in view: a thousand workflows cost a screenful of elements. */
  private renderRows(): void {
    if (!this.isVisible) {
      return;
    }
    const win = visibleRows(
      this.scroller.scrollTop,
      this.scroller.clientHeight || 600,
      ROW_H,
      this.rows.length
    );
    const now = Date.now();
    const frag = document.createDocumentFragment();
    for (let i = win.first; i < win.last; i++) {
      frag.appendChild(this.row(this.rows[i], i, now));
    }
    this.spacer.textContent = '';
    this.spacer.appendChild(frag);
  }

  private row(wf: Workflow, index: number, now: number): HTMLElement {
    const phase = wf.status?.phase || 'Pending';
    const shown = shownPhase(wf);
    const namespace = wf.metadata.namespace ?? 'default';
    const r = el('div', 'argosy-row');
    r.style.top = `${index * ROW_H}px`;
    r.style.height = `${ROW_H}px`;
    r.setAttribute('role', 'option');
    r.setAttribute('aria-selected', String(keyOf(wf) === this.selectedKey));
    r.dataset.name = wf.metadata.name;
    r.dataset.phase = phase;
    r.title = `${namespace}/${wf.metadata.name}: ${shown}`;
    const dot = el('span', `argosy-dot argosy-phase-${shown}`);
    dot.setAttribute('aria-hidden', 'true');
    const name = el('span', 'argosy-row-name', wf.metadata.name);
    const ns = el('span', 'argosy-row-namespace', namespace);
    const ph = el('span', 'argosy-row-phase', shown);
    const progress = el('span', 'argosy-row-progress', progressOf(wf));
    const start = el('span', 'argosy-row-start', formatStart(wf.status?.startedAt));
    const dur = el('span', 'argosy-row-duration', workflowDuration(wf, now));
    const top = el('div', 'argosy-row-top');
    top.append(dot, name, progress);
    const bottom = el('div', 'argosy-row-bottom');
    bottom.append(ph, ns, start, dur);
    r.append(top, bottom);
    r.addEventListener('click', () => {
      this.selectedKey = keyOf(wf);
      this.renderRows();
      this.open(wf);
    });
    return r;
  }

  private onKey(e: KeyboardEvent): void {
    if (this.rows.length === 0) {
      return;
    }
    const at = this.rows.findIndex(wf => keyOf(wf) === this.selectedKey);
    const move = (to: number) => {
      const index = Math.max(0, Math.min(this.rows.length - 1, to));
      this.selectedKey = keyOf(this.rows[index]);
      const top = index * ROW_H;
      if (top < this.scroller.scrollTop) {
        this.scroller.scrollTop = top;
      } else if (top + ROW_H > this.scroller.scrollTop + this.scroller.clientHeight) {
        this.scroller.scrollTop = top + ROW_H - this.scroller.clientHeight;
      }
      this.renderRows();
    };
    switch (e.key) {
      case 'ArrowDown':
        move(at + 1);
        break;
      case 'ArrowUp':
        move(at < 0 ? 0 : at - 1);
        break;
      case 'Home':
        move(0);
        break;
      case 'End':
        move(this.rows.length - 1);
        break;
      case 'Enter':
        if (at >= 0) {
          this.open(this.rows[at]);
        }
        break;
      default:
        return;
    }
    e.preventDefault();
  }

}
