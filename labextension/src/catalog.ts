// The Templates and CronWorkflows page: WorkflowTemplates and ClusterWorkflowTemplates to submit
// from (with their parameters), CronWorkflows to suspend and resume.
import { showErrorMessage } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import {
  Resource,
  TemplateKind,
  cronAction,
  listClusterTemplates,
  listCrons,
  listTemplates
} from './api';
import { el } from './dom';
import { formatStart } from './logic/format';
import { Workflow } from './logic/types';
import { submitTemplate } from './submit';

type Column = [string, (r: Resource) => string];

export class CatalogView extends Widget {
  private ns = el('input', 'argosy-catalog-ns');
  private templates = el('div', 'argosy-section argosy-catalog-templates');
  private clusterTemplates = el('div', 'argosy-section argosy-catalog-cluster-templates');
  private crons = el('div', 'argosy-section argosy-catalog-crons');
  private status = el('div', 'argosy-status');

  constructor(private open: (wf: Workflow) => void) {
    super();
    this.id = 'argosy-catalog';
    this.addClass('argosy-catalog');
    this.title.label = 'Templates and crons';
    this.title.closable = true;
    const bar = el('div', 'argosy-catalog-bar');
    const label = el('label', '', 'Namespace ');
    this.ns.value = 'default';
    this.ns.setAttribute('aria-label', 'Namespace');
    this.ns.addEventListener('change', () => void this.refresh());
    label.appendChild(this.ns);
    const again = el('button', 'argosy-zoom-button argosy-catalog-refresh', 'refresh');
    again.addEventListener('click', () => void this.refresh());
    bar.append(label, again, this.status);
    this.node.append(bar, this.templates, this.clusterTemplates, this.crons);
    void this.refresh();
  }

  async refresh(): Promise<void> {
    const ns = this.ns.value.trim() || 'default';
    this.status.textContent = 'loading…';
    try {
      const [templates, cluster, crons] = await Promise.all([
        listTemplates(ns),
        listClusterTemplates(),
        listCrons(ns)
      ]);
      this.status.textContent = '';
      this.showTemplates(this.templates, 'WorkflowTemplate', 'WorkflowTemplates', templates);
      this.showTemplates(
        this.clusterTemplates,
        'ClusterWorkflowTemplate',
        'ClusterWorkflowTemplates',
        cluster
      );
      this.showCrons(crons);
    } catch (err) {
      this.status.textContent = `Cannot list: ${(err as Error).message}`;
    }
  }

  private table(
    box: HTMLElement,
    title: string,
    rows: Resource[],
    columns: Column[],
    buttons: (r: Resource) => HTMLElement[]
  ): void {
    box.textContent = '';
    box.appendChild(el('h3', '', title));
    if (rows.length === 0) {
      box.appendChild(el('div', 'argosy-muted', `No ${title} in this namespace.`));
      return;
    }
    const table = el('table', 'argosy-params argosy-catalog-table');
    const head = el('tr', '');
    for (const [name] of columns) {
      head.appendChild(el('th', '', name));
    }
    head.appendChild(el('th', '', ''));
    table.appendChild(head);
    for (const r of rows) {
      const tr = el('tr', 'argosy-catalog-row');
      tr.dataset.name = r.metadata.name;
      for (const [, value] of columns) {
        tr.appendChild(el('td', '', value(r)));
      }
      const cell = el('td', 'argosy-catalog-actions');
      cell.append(...buttons(r));
      tr.appendChild(cell);
      table.appendChild(tr);
    }
    box.appendChild(table);
  }

  private showTemplates(box: HTMLElement, kind: TemplateKind, title: string, rows: Resource[]) {
    const params = (r: Resource) =>
      ((r.spec?.arguments?.parameters ?? []) as { name: string }[]).map(p => p.name).join(', ');
    this.table(
      box,
      title,
      rows,
      [
        ['Name', r => r.metadata.name],
        ['Entrypoint', r => String(r.spec?.entrypoint ?? '')],
        ['Parameters', params],
        ['Created', r => formatStart(r.metadata.creationTimestamp)]
      ],
      r => {
        const b = el('button', 'argosy-action argosy-catalog-submit', 'submit…');
        b.addEventListener('click', async () => {
          const wf = await submitTemplate(kind, r, this.ns.value.trim() || 'default');
          if (wf) {
            this.open(wf);
          }
        });
        return [b];
      }
    );
  }

  private showCrons(rows: Resource[]): void {
    this.table(
      this.crons,
      'CronWorkflows',
      rows,
      [
        ['Name', r => r.metadata.name],
        ['Schedule', r => String(r.spec?.schedule ?? (r.spec?.schedules ?? []).join(', '))],
        ['State', r => (r.spec?.suspend ? 'Suspended' : 'Active')],
        ['Last run', r => formatStart(r.status?.lastScheduledTime)]
      ],
      r => {
        const ns = r.metadata.namespace || this.ns.value.trim() || 'default';
        return (['suspend', 'resume'] as const).map(verb => {
          const b = el('button', `argosy-action argosy-cron-${verb}`, verb);
          b.disabled = verb === 'suspend' ? !!r.spec?.suspend : !r.spec?.suspend;
          b.addEventListener('click', async () => {
            b.disabled = true;
            try {
              await cronAction(ns, r.metadata.name, verb);
            } catch (err) {
              await showErrorMessage(`Cannot ${verb} ${r.metadata.name}`, (err as Error).message);
            }
            await this.refresh();
          });
          return b;
        });
      }
    );
  }
}
