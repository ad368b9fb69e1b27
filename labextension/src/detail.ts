// The main-area view of one workflow: actions, the node graph, the selected node, YAML, params.
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import { stringify } from 'yaml';
import { artifactUrl, runAction, streamLogs } from './api';
import { formatDuration, elapsedSeconds, progressOf, workflowDuration } from './logic/format';
import { Graph, buildGraph, defaultCollapsed, shapeKey } from './logic/graph';
import { Layout, NODE_H, NODE_W, layout } from './logic/layout';
import { ACTIONS, Action, DESTRUCTIVE, hasLog, isEnabled } from './logic/rules';
import { NodeStatus, Parameter, Workflow } from './logic/types';
import { keyOf } from './logic/events';
import { el } from './dom';
import { WorkflowStore } from './store';

const SVG = 'http://www.w3.org/2000/svg';
const REDRAW_MS = 500;

function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    e.setAttribute(k, String(v));
  }
  return e;
}

function paramTable(title: string, params: Parameter[] | undefined): HTMLElement {
  const box = el('div', 'argosy-section');
  box.appendChild(el('h4', '', title));
  if (!params || params.length === 0) {
    box.appendChild(el('div', 'argosy-muted', 'none'));
    return box;
  }
  const table = el('table', 'argosy-params');
  for (const p of params) {
    const tr = el('tr', '');
    tr.append(el('th', '', p.name), el('td', '', p.value ?? p.default ?? ''));
    table.appendChild(tr);
  }
  box.appendChild(table);
  return box;
}

export class WorkflowDetail extends Widget {
  private key: string;
  private wf: Workflow;
  private collapsed: Set<string>;
  private shape = '';
  private laid: Layout | null = null;
  private graph: Graph = { nodes: [], edges: [] };
  private selectedNode = '';
  private logAbort: AbortController | null = null;
  private redrawTimer = 0;
  private lastDraw = 0;
  private tab: 'graph' | 'yaml' | 'parameters' = 'graph';
  private zoom = 1;

  private header = el('div', 'argosy-detail-header');
  private actions = el('div', 'argosy-actions');
  private tabs = el('div', 'argosy-tabs');
  private body = el('div', 'argosy-detail-body');
  private graphBox = el('div', 'argosy-graph');
  private side = el('div', 'argosy-node-info');
  private yamlBox = el('pre', 'argosy-yaml');
  private paramsBox = el('div', 'argosy-wf-params');
  private logBox = el('pre', 'argosy-logs');

  constructor(
    private store: WorkflowStore,
    wf: Workflow
  ) {
    super();
    this.wf = wf;
    this.key = keyOf(wf);
    this.id = `argosy-wf-${this.key.replace(/[^A-Za-z0-9_-]/g, '-')}`;
    this.addClass('argosy-detail');
    this.title.label = wf.metadata.name;
    this.title.closable = true;
    this.collapsed = defaultCollapsed(wf.status?.nodes ?? {});
    this.buildTabs();
    const main = el('div', 'argosy-graph-main');
    main.append(this.graphBox, this.side);
    this.body.append(main, this.yamlBox, this.paramsBox);
    this.node.append(this.header, this.actions, this.tabs, this.body);
    this.graphBox.tabIndex = -1;
    store.changed.connect(this.onChanged, this);
    this.render();
  }

  get workflowKey(): string {
    return this.key;
  }

  dispose(): void {
    this.logAbort?.abort();
    window.clearTimeout(this.redrawTimer);
    this.store.changed.disconnect(this.onChanged, this);
    super.dispose();
  }

  private onChanged(_: WorkflowStore, keys: ReadonlySet<string>): void {
    if (!keys.has(this.key)) {
      return;
    }
    const wf = this.store.get(this.key);
    if (!wf) {
      this.header.textContent = `${this.wf.metadata.name} was deleted`;
      this.actions.textContent = '';
      return;
    }
    this.wf = wf;
    // Big graphs change often while running: redraw at most every REDRAW_MS.
    const wait = Math.max(0, this.lastDraw + REDRAW_MS - Date.now());
    window.clearTimeout(this.redrawTimer);
    this.redrawTimer = window.setTimeout(() => this.render(), wait);
  }

  private buildTabs(): void {
    this.tabs.setAttribute('role', 'tablist');
    for (const [id, label] of [
      ['graph', 'Graph'],
      ['yaml', 'YAML'],
      ['parameters', 'Parameters']
    ] as const) {
      const b = el('button', 'argosy-tab', label);
      b.setAttribute('role', 'tab');
      b.dataset.tab = id;
      b.addEventListener('click', () => {
        this.tab = id;
        this.render();
      });
      this.tabs.appendChild(b);
    }
  }

  private render(): void {
    this.lastDraw = Date.now();
    const wf = this.wf;
    const phase = wf.status?.phase || 'Pending';
    this.header.textContent = '';
    const dot = el('span', `argosy-dot argosy-phase-${phase}`);
    const title = el('span', 'argosy-detail-title', wf.metadata.name);
    const info = el(
      'span',
      'argosy-detail-info',
      [phase, progressOf(wf), workflowDuration(wf, Date.now())].filter(Boolean).join(' · ')
    );
    info.dataset.phase = phase;
    this.header.append(dot, title, info);
    if (wf.status?.message) {
      this.header.appendChild(el('div', 'argosy-detail-message', wf.status.message));
    }
    this.renderActions();
    for (const b of Array.from(this.tabs.children) as HTMLElement[]) {
      b.setAttribute('aria-selected', String(b.dataset.tab === this.tab));
    }
    this.body.dataset.tab = this.tab;
    if (this.tab === 'graph') {
      this.renderGraph();
      this.renderNode();
    } else if (this.tab === 'yaml') {
      this.yamlBox.textContent = stringify(wf);
    } else {
      this.paramsBox.textContent = '';
      this.paramsBox.appendChild(paramTable('Parameters', wf.spec?.arguments?.parameters));
    }
  }

  private renderActions(): void {
    this.actions.textContent = '';
    for (const action of ACTIONS) {
      const b = el('button', `argosy-action argosy-action-${action}`, action);
      b.disabled = !isEnabled(action, this.wf);
      b.dataset.action = action;
      b.addEventListener('click', () => void this.act(action));
      this.actions.appendChild(b);
    }
  }

  private async act(action: Action): Promise<void> {
    const { name, namespace } = this.wf.metadata;
    const ns = namespace ?? 'default';
    if (DESTRUCTIVE.has(action)) {
      const answer = await showDialog({
        title: `${action[0].toUpperCase()}${action.slice(1)} workflow?`,
        body: `${action} ${ns}/${name}`,
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: action })]
      });
      if (!answer.button.accept) {
        return;
      }
    }
    try {
      const result = (await runAction(action, ns, name)) as Workflow;
      if (action !== 'delete' && action !== 'resubmit') {
        this.store.put(result);
      }
    } catch (err) {
      await showErrorMessage(`Cannot ${action} ${name}`, (err as Error).message);
    }
  }

  private renderGraph(): void {
    this.graph = buildGraph(this.wf, this.collapsed);
    const shape = shapeKey(this.graph);
    if (shape !== this.shape || !this.laid) {
      this.shape = shape;
      this.laid = layout(this.graph);
    }
    const laid = this.laid;
    const root = svg('svg', {
      width: laid.width * this.zoom,
      height: laid.height * this.zoom,
      viewBox: `0 0 ${laid.width} ${laid.height}`,
      role: 'group',
      'aria-label': 'Workflow graph'
    });
    for (const e of laid.edges) {
      const d = e.points.map((p, i) => `${i ? 'L' : 'M'}${p.x},${p.y}`).join(' ');
      root.appendChild(svg('path', { d, class: 'argosy-edge' }));
    }
    for (const n of this.graph.nodes) {
      const p = laid.nodes.get(n.id);
      if (!p) {
        continue;
      }
      const g = svg('g', {
        class: `argosy-node argosy-phase-${n.phase}${n.id === this.selectedNode ? ' argosy-selected' : ''}`,
        transform: `translate(${p.x - NODE_W / 2},${p.y - NODE_H / 2})`,
        tabindex: 0,
        role: 'button',
        'data-node-id': n.id,
        'data-display-name': n.label,
        'aria-label': `${n.label}: ${n.phase}`
      });
      g.appendChild(svg('rect', { width: NODE_W, height: NODE_H, rx: 6 }));
      const text = svg('text', { x: 10, y: NODE_H / 2 + 4 });
      let label = n.label.length > 22 ? `${n.label.slice(0, 21)}…` : n.label;
      if (n.group) {
        label = `${n.group.collapsed ? '▸' : '▾'} ${label} ×${n.group.size}`;
      }
      text.textContent = label;
      const tip = svg('title', {});
      tip.textContent = n.group
        ? `${n.label}: ${Object.entries(n.group.phases)
            .map(([k, v]) => `${v} ${k}`)
            .join(', ')}`
        : `${n.label} (${n.type}): ${n.phase}`;
      g.append(tip, text);
      const choose = () => this.choose(n.id, !!n.group);
      g.addEventListener('click', choose);
      g.addEventListener('keydown', e => {
        if ((e as KeyboardEvent).key === 'Enter' || (e as KeyboardEvent).key === ' ') {
          e.preventDefault();
          choose();
        }
      });
      root.appendChild(g);
    }
    const zoomBar = el('div', 'argosy-zoom');
    for (const [label, factor] of [
      ['−', 0.8],
      ['+', 1.25]
    ] as const) {
      const b = el('button', 'argosy-zoom-button', label);
      b.setAttribute('aria-label', factor > 1 ? 'Zoom in' : 'Zoom out');
      b.addEventListener('click', () => {
        this.zoom = Math.min(3, Math.max(0.1, this.zoom * factor));
        this.renderGraph();
      });
      zoomBar.appendChild(b);
    }
    const scrollTop = this.graphBox.scrollTop;
    const scrollLeft = this.graphBox.scrollLeft;
    this.graphBox.textContent = '';
    this.graphBox.append(zoomBar, root);
    this.graphBox.scrollTop = scrollTop;
    this.graphBox.scrollLeft = scrollLeft;
  }

  private choose(id: string, group: boolean): void {
    if (group) {
      if (this.collapsed.has(id)) {
        this.collapsed.delete(id);
      } else {
        this.collapsed.add(id);
      }
    }
    if (id !== this.selectedNode) {
      this.selectedNode = id;
      this.startLogs();
    }
    this.render();
    const again = this.graphBox.querySelector(`[data-node-id="${CSS.escape(id)}"]`);
    (again as SVGElement | null)?.focus();
  }

  private renderNode(): void {
    const node: NodeStatus | undefined = this.wf.status?.nodes?.[this.selectedNode];
    this.side.textContent = '';
    if (!node) {
      this.side.appendChild(el('div', 'argosy-muted', 'Select a node to see its details.'));
      return;
    }
    const phase = node.phase || 'Pending';
    this.side.appendChild(el('h3', '', node.displayName || node.name));
    const facts = el('table', 'argosy-params argosy-node-facts');
    const secs = elapsedSeconds(node.startedAt, node.finishedAt, Date.now());
    for (const [k, v] of [
      ['Phase', phase],
      ['Type', node.type],
      ['Template', node.templateName ?? ''],
      ['Duration', secs === null ? '' : formatDuration(secs)],
      ['Message', node.message ?? '']
    ]) {
      const tr = el('tr', '');
      tr.append(el('th', '', k), el('td', `argosy-fact-${k.toLowerCase()}`, v));
      facts.appendChild(tr);
    }
    this.side.appendChild(facts);
    this.side.appendChild(paramTable('Inputs', node.inputs?.parameters));
    const outputs: Parameter[] = [...(node.outputs?.parameters ?? [])];
    if (node.outputs?.result !== undefined) {
      outputs.push({ name: 'result', value: node.outputs.result });
    }
    if (node.outputs?.exitCode !== undefined) {
      outputs.push({ name: 'exitCode', value: node.outputs.exitCode });
    }
    this.side.appendChild(paramTable('Outputs', outputs));
    const artifacts = node.outputs?.artifacts ?? [];
    if (artifacts.length) {
      const box = el('div', 'argosy-section argosy-artifacts');
      box.appendChild(el('h4', '', 'Artifacts'));
      const { name, namespace } = this.wf.metadata;
      for (const artifact of artifacts) {
        const link = el('a', 'argosy-artifact', artifact.name);
        link.href = artifactUrl(namespace ?? 'default', name, node.id, artifact.name);
        link.download = (artifact.path ?? artifact.name).split('/').pop() ?? artifact.name;
        link.title = `Download ${link.download}`;
        box.appendChild(link);
      }
      this.side.appendChild(box);
    }
    if (hasLog(node)) {
      const box = el('div', 'argosy-section');
      box.appendChild(el('h4', '', 'Logs'));
      box.appendChild(this.logBox);
      this.side.appendChild(box);
    }
  }

  private startLogs(): void {
    this.logAbort?.abort();
    this.logBox.textContent = '';
    const node = this.wf.status?.nodes?.[this.selectedNode];
    if (!node || !hasLog(node)) {
      return;
    }
    const abort = new AbortController();
    this.logAbort = abort;
    const { name, namespace } = this.wf.metadata;
    const running = !node.finishedAt;
    streamLogs(namespace ?? 'default', name, node.id, running, abort.signal, lines => {
      this.logBox.textContent += lines.join('\n') + '\n';
      this.logBox.scrollTop = this.logBox.scrollHeight;
    }).catch(err => {
      if (!abort.signal.aborted) {
        this.logBox.textContent += `\n[cannot read logs: ${(err as Error).message}]`;
      }
    });
  }
}
