// The main-area view of one workflow: actions, the node graph, the selected node, YAML, params.
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { CodeEditor, CodeEditorWrapper, IEditorServices } from '@jupyterlab/codeeditor';
import { Widget } from '@lumino/widgets';
import { stringify } from 'yaml';
import { artifactUrl, runAction, streamLogs } from './api';
import {
  elapsedSeconds,
  formatDuration,
  formatStart,
  progressOf,
  resources,
  workflowDuration
} from './logic/format';
import { Graph, GraphNode, PAGE, buildGraph, collapseGrown, moreId, shapeKey } from './logic/graph';
import { Layout, NODE_H, NODE_W, Placed, layout } from './logic/layout';
import {
  ACTIONS,
  Action,
  DESTRUCTIVE,
  containersOf,
  hasLog,
  isEnabled,
  shownPhase
} from './logic/rules';
import { TimelineStep, timelineOf } from './logic/timeline';
import { visibleRows } from './logic/window';
import { NodeStatus, Parameter, Workflow } from './logic/types';
import { keyOf, revisionOf } from './logic/events';
import { el } from './dom';
import { WorkflowStore } from './store';

const SVG = 'http://www.w3.org/2000/svg';
const REDRAW_MS = 500;
const MIN_ZOOM = 0.02;
const MAX_ZOOM = 4;
const PAN_STEP = 60;
const BUSY_MS = 15000;
const READABLE_ZOOM = 0.6;
const STILL_ABOVE = 200;
const TIMELINE_ROW = 22;

function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    e.setAttribute(k, String(v));
  }
  return e;
}

// Phase glyphs drawn as paths (no icon font), white on a disc of the phase's colour.
const GLYPHS: Record<string, string> = {
  Succeeded: 'M4.5 8.5l2.5 2.5 4.5-5',
  Failed: 'M5.5 5.5l5 5M10.5 5.5l-5 5',
  Error: 'M8 4.5v4.5M8 11v0.5',
  Running: 'M8 3.5a4.5 4.5 0 1 1 -4.5 4.5',
  Pending: 'M8 4.5v3.5l2.5 1.5',
  Suspended: 'M6.5 5v6M9.5 5v6',
  Skipped: 'M4.5 8h7',
  Omitted: 'M4.5 8h7',
  More: 'M8 4.5v7M4.5 8h7'
};

function phaseIcon(phase: string, x: number, y: number): SVGElement {
  const g = svg('g', { class: `argosy-icon argosy-phase-${phase}`, transform: `translate(${x},${y})` });
  g.appendChild(svg('circle', { cx: 8, cy: 8, r: 8 }));
  const path = svg('path', { d: GLYPHS[phase] ?? GLYPHS.Pending });
  if (phase === 'Running') {
    path.classList.add('argosy-spin');
  }
  g.appendChild(path);
  return g;
}

/** "3 Succeeded, 1 Failed" */
function phaseList(phases: Record<string, number>): string {
  return Object.entries(phases)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
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

/** What the view borrows from JupyterLab: its code editor, and opening text as a file. */
export interface DetailTools {
  editors?: IEditorServices | null;
  openAsFile?: (name: string, text: string) => Promise<void>;
}

export class WorkflowDetail extends Widget {
  /** The YAML tab's read-only JupyterLab editor, made when the tab is first shown. */
  private yamlEditor: CodeEditorWrapper | null = null;
  private key: string;
  private wf: Workflow;
  private collapsed = new Set<string>();
  /** Groups whose collapse the user (or the auto-collapse, once) has settled. */
  private decided = new Set<string>();
  /** How many children each open big group shows, where the user asked for more than PAGE. */
  private pages = new Map<string, number>();
  private deleted = false;
  /** The action sent and the revision it was sent at: the buttons wait for a newer one. */
  private busy: { action: Action | 'set'; revision: number } | null = null;
  private busyTimer = 0;
  /** The graph's pan and zoom: graph point p shows at p * k + (x, y). */
  private view = { x: 0, y: 0, k: 1 };
  private fitted = false;
  private viewport: SVGGElement | null = null;
  private nodeLayer: SVGGElement | null = null;
  /** The node elements drawn now, by node id: those in view (see drawNodesInView). */
  private drawn = new Map<string, SVGElement>();
  private tickTimer = 0;
  private shape = '';
  private laid: Layout | null = null;
  private graph: Graph = { nodes: [], edges: [] };
  private selectedNode = '';
  private logAbort: AbortController | null = null;
  private redrawTimer = 0;
  private lastDraw = 0;
  private tab: 'graph' | 'timeline' | 'yaml' | 'parameters' = 'graph';

  private header = el('div', 'argosy-detail-header');
  private actions = el('div', 'argosy-actions');
  private tabs = el('div', 'argosy-tabs');
  private body = el('div', 'argosy-detail-body');
  private graphBox = el('div', 'argosy-graph');
  private side = el('div', 'argosy-node-info');
  private yamlBox = el('pre', 'argosy-yaml');
  private paramsBox = el('div', 'argosy-wf-params');
  private timelineBox = el('div', 'argosy-timeline');
  /** The timeline drawn: its steps, time scale and rows' box (rows drawn as it scrolls). */
  private timeline: {
    steps: TimelineStep[];
    t0: number;
    span: number;
    now: number;
    rows: HTMLElement;
  } | null = null;
  private logBox = el('pre', 'argosy-logs');
  private logTools = el('div', 'argosy-log-tools');
  private logGrep = el('input', 'argosy-log-grep');
  private logFollow = el('input', 'argosy-log-follow-box');
  private logStamps = el('input', 'argosy-log-timestamps-box');
  private logContainer = el('select', 'argosy-log-container');
  private logLines: string[] = [];

  constructor(
    private store: WorkflowStore,
    wf: Workflow,
    private open: (wf: Workflow) => void = () => undefined,
    private tools: DetailTools = {}
  ) {
    super();
    this.wf = wf;
    this.key = keyOf(wf);
    this.id = `argosy-wf-${this.key.replace(/[^A-Za-z0-9_-]/g, '-')}`;
    this.addClass('argosy-detail');
    this.title.label = wf.metadata.name;
    this.title.closable = true;
    collapseGrown(wf.status?.nodes ?? {}, this.collapsed, this.decided);
    this.buildTabs();
    this.buildLogTools();
    const main = el('div', 'argosy-graph-main');
    main.append(this.graphBox, this.side);
    this.body.append(main, this.timelineBox, this.yamlTab(), this.paramsBox);
    this.node.append(this.header, this.actions, this.tabs, this.body);
    this.graphBox.tabIndex = 0;
    this.graphBox.setAttribute('aria-label', 'Workflow graph: drag or arrow keys pan, wheel or +/- zoom, 0 fits');
    this.panAndZoom();
    this.timelineBox.addEventListener('scroll', () => this.drawTimelineRows());
    store.changed.connect(this.onChanged, this);
    this.render();
  }

  get workflowKey(): string {
    return this.key;
  }

  get workflow(): Workflow {
    return this.wf;
  }

  protected onAfterAttach(): void {
    // Running durations tick between events.
    this.tickTimer = window.setInterval(() => this.tick(), 1000);
  }

  protected onBeforeDetach(): void {
    window.clearInterval(this.tickTimer);
  }

  protected onResize(): void {
    this.fitOnce();
  }

  protected onAfterShow(): void {
    this.fitOnce();
  }

  dispose(): void {
    this.logAbort?.abort();
    window.clearTimeout(this.redrawTimer);
    window.clearInterval(this.tickTimer);
    window.clearTimeout(this.busyTimer);
    this.store.changed.disconnect(this.onChanged, this);
    this.yamlEditor?.dispose();
    super.dispose();
  }

  private onChanged(_: WorkflowStore, keys: ReadonlySet<string>): void {
    if (!keys.has(this.key)) {
      return;
    }
    const wf = this.store.get(this.key);
    if (!wf) {
      // The tab keeps the last state for reading; nothing acts on it or reads its logs.
      this.deleted = true;
      this.logAbort?.abort();
      window.clearTimeout(this.redrawTimer);
      this.render();
      return;
    }
    this.wf = wf;
    if (this.busy && revisionOf(wf) > this.busy.revision) {
      this.setBusy(null);
    }
    collapseGrown(wf.status?.nodes ?? {}, this.collapsed, this.decided);
    // Big graphs change often while running: redraw at most every REDRAW_MS.
    const wait = Math.max(0, this.lastDraw + REDRAW_MS - Date.now());
    window.clearTimeout(this.redrawTimer);
    this.redrawTimer = window.setTimeout(() => this.render(), wait);
  }

  /** Argo's timeline: a bar per step from its start to its end (or now), in start order. */
  private renderTimeline(): void {
    const { steps, lastEnd, running } = timelineOf(this.wf.status?.nodes);
    this.timelineBox.textContent = '';
    this.timeline = null;
    if (steps.length === 0) {
      this.timelineBox.appendChild(el('div', 'argosy-muted', 'No step has started yet.'));
      return;
    }
    const now = Date.now();
    const t0 = steps[0].start;
    const span = Math.max(1, (running ? Math.max(now, lastEnd) : lastEnd) - t0);
    const rows = el('div', 'argosy-timeline-rows');
    rows.style.height = `${steps.length * TIMELINE_ROW}px`;
    this.timelineBox.appendChild(rows);
    this.timeline = { steps, t0, span, now, rows };
    this.drawTimelineRows();
  }

  /** Draws the timeline's rows in view: 100,000 steps cost a screenful of elements. */
  private drawTimelineRows(): void {
    const tl = this.timeline;
    if (!tl) {
      return;
    }
    const box = this.timelineBox;
    const count = tl.steps.length;
    const win = visibleRows(box.scrollTop, box.clientHeight || 600, TIMELINE_ROW, count);
    const frag = document.createDocumentFragment();
    for (let i = win.first; i < win.last; i++) {
      const { n, start, waiting } = tl.steps[i];
      const end = tl.steps[i].end ?? tl.now;
      const row = el('div', 'argosy-timeline-row');
      row.style.top = `${i * TIMELINE_ROW}px`;
      row.dataset.nodeId = n.id;
      const label = el('span', 'argosy-timeline-label', n.displayName ?? n.name);
      const track = el('span', 'argosy-timeline-track');
      const bar = el('span', `argosy-timeline-bar argosy-phase-${n.phase || 'Pending'}`);
      bar.style.left = `${((start - tl.t0) / tl.span) * 100}%`;
      bar.style.width = `${Math.max(0.3, ((end - start) / tl.span) * 100)}%`;
      const took = waiting ? 'waiting' : formatDuration((end - start) / 1000);
      row.title = `${n.displayName ?? n.name}: ${n.phase ?? 'Pending'}, ${took}`;
      track.appendChild(bar);
      row.append(label, track, el('span', 'argosy-timeline-took', took));
      row.addEventListener('click', () => {
        this.tab = 'graph';
        this.choose(n.id, false);
      });
      frag.appendChild(row);
    }
    tl.rows.textContent = '';
    tl.rows.appendChild(frag);
  }

  /** The manifest and status as YAML, to download or copy. */
  private yamlTab(): HTMLElement {
    const tab = el('div', 'argosy-yaml-tab');
    const tools = el('div', 'argosy-log-tools');
    const download = el('button', 'argosy-zoom-button argosy-yaml-download', 'download');
    download.addEventListener('click', () => {
      const a = el('a', '');
      a.href = URL.createObjectURL(new Blob([stringify(this.wf)], { type: 'application/yaml' }));
      a.download = `${this.wf.metadata.name}.yaml`;
      a.click();
      window.setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    });
    const copy = el('button', 'argosy-zoom-button argosy-yaml-copy', 'copy');
    copy.addEventListener('click', () => void navigator.clipboard?.writeText(stringify(this.wf)));
    tools.append(download, copy);
    const openAsFile = this.tools.openAsFile;
    if (openAsFile) {
      const file = el('button', 'argosy-zoom-button argosy-yaml-open', 'open as file');
      file.addEventListener('click', () => void openAsFile(this.wf.metadata.name, stringify(this.wf)));
      tools.appendChild(file);
    }
    tab.append(tools, this.yamlBox);
    return tab;
  }

  private buildTabs(): void {
    this.tabs.setAttribute('role', 'tablist');
    for (const [id, label] of [
      ['graph', 'Graph'],
      ['timeline', 'Timeline'],
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
    const dot = el('span', `argosy-dot argosy-phase-${shownPhase(wf)}`);
    const title = el('span', 'argosy-detail-title', wf.metadata.name);
    const info = el('span', 'argosy-detail-info', this.infoText());
    info.dataset.phase = phase;
    this.header.append(dot, title, info);
    if (this.deleted) {
      this.header.appendChild(el('span', 'argosy-deleted', `${wf.metadata.name} was deleted`));
    }
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
    } else if (this.tab === 'timeline') {
      this.renderTimeline();
    } else if (this.tab === 'yaml') {
      this.showYaml(stringify(wf));
    } else {
      this.paramsBox.textContent = '';
      this.paramsBox.appendChild(paramTable('Parameters', wf.spec?.arguments?.parameters));
    }
  }

  /**
   * The YAML in JupyterLab's code editor, read-only (highlighting, its search, copy), or as
   * plain text where JupyterLab offers no editor.
   */
  private showYaml(text: string): void {
    const editors = this.tools.editors;
    if (!editors || !this.isAttached) {
      this.yamlBox.textContent = text;
      return;
    }
    if (!this.yamlEditor) {
      const model = new CodeEditor.Model({
        mimeType: editors.mimeTypeService.getMimeTypeByFilePath('workflow.yaml')
      });
      this.yamlEditor = new CodeEditorWrapper({
        factory: editors.factoryService.newDocumentEditor,
        model,
        editorOptions: { config: { readOnly: true, lineNumbers: true } }
      });
      this.yamlEditor.addClass('argosy-yaml');
      Widget.attach(this.yamlEditor, this.yamlBox.parentElement!, this.yamlBox);
      this.yamlBox.remove();
    }
    const shared = this.yamlEditor.model.sharedModel;
    if (shared.getSource() !== text) {
      shared.setSource(text);
    }
  }

  private renderActions(): void {
    this.actions.textContent = '';
    for (const action of ACTIONS) {
      const busy = this.busy?.action === action;
      const b = el('button', `argosy-action argosy-action-${action}`, busy ? `${action}…` : action);
      b.disabled = this.deleted || !!this.busy || !isEnabled(action, this.wf);
      b.dataset.action = action;
      if (busy) {
        b.setAttribute('aria-busy', 'true');
        b.classList.add('argosy-busy');
      }
      b.addEventListener('click', () => void this.act(action));
      this.actions.appendChild(b);
    }
  }

  private infoText(): string {
    const wf = this.wf;
    return [shownPhase(wf), progressOf(wf), workflowDuration(wf, Date.now())].filter(Boolean).join(' · ');
  }

  /** Moves the running durations on: the header's and the selected node's. */
  private tick(): void {
    if (this.deleted || this.wf.status?.finishedAt) {
      return;
    }
    const info = this.header.querySelector('.argosy-detail-info');
    if (info) {
      info.textContent = this.infoText();
    }
    const node = this.wf.status?.nodes?.[this.selectedNode];
    const cell = this.side.querySelector('.argosy-fact-duration');
    if (node && cell && !node.finishedAt) {
      const secs = elapsedSeconds(node.startedAt, node.finishedAt, Date.now());
      cell.textContent = secs === null ? '' : formatDuration(secs);
    }
  }

  private async act(action: Action | 'set', body: Record<string, unknown> = {}): Promise<void> {
    const { name, namespace } = this.wf.metadata;
    const ns = namespace ?? 'default';
    if (action !== 'set' && DESTRUCTIVE.has(action)) {
      const answer = await showDialog({
        title: `${action[0].toUpperCase()}${action.slice(1)} workflow?`,
        body: `${action} ${ns}/${name}`,
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: action })]
      });
      if (!answer.button.accept) {
        return;
      }
    }
    this.setBusy({ action, revision: revisionOf(this.wf) });
    try {
      const result = (await runAction(action, ns, name, body)) as Workflow;
      if (action === 'resubmit') {
        // A new workflow: its tab opens; this one does not change.
        this.setBusy(null);
        this.store.put(result);
        this.open(result);
      } else if (action !== 'delete') {
        this.store.put(result);
      }
    } catch (err) {
      this.setBusy(null);
      await showErrorMessage(`Cannot ${action} ${name}`, (err as Error).message);
    }
  }

  /** Holds the buttons until the workflow changes (or BUSY_MS, if it never does). */
  private setBusy(busy: { action: Action | 'set'; revision: number } | null): void {
    this.busy = busy;
    window.clearTimeout(this.busyTimer);
    if (busy) {
      this.busyTimer = window.setTimeout(() => this.setBusy(null), BUSY_MS);
    }
    this.renderActions();
    this.side.querySelectorAll<HTMLButtonElement>('.argosy-node-action').forEach(b => {
      b.disabled = this.deleted || !!busy;
    });
  }

  private renderGraph(): void {
    this.graph = buildGraph(this.wf, this.collapsed, this.pages, this.selectedNode);
    const shape = shapeKey(this.graph);
    if (shape !== this.shape || !this.laid) {
      this.shape = shape;
      this.laid = layout(this.graph);
    }
    const laid = this.laid;
    // Spinners only where few: thousands of animated icons would keep the page painting.
    const still = this.graph.nodes.length > STILL_ABOVE ? ' argosy-still' : '';
    const root = svg('svg', {
      class: `argosy-graph-svg${still}`,
      role: 'group',
      'aria-label': 'Workflow graph'
    });
    const viewport = svg('g', { class: 'argosy-viewport' }) as SVGGElement;
    root.appendChild(viewport);
    for (const e of laid.edges) {
      const d = e.points.map((p, i) => `${i ? 'L' : 'M'}${p.x},${p.y}`).join(' ');
      viewport.appendChild(svg('path', { d, class: 'argosy-edge' }));
    }
    this.nodeLayer = svg('g', { class: 'argosy-nodes' }) as SVGGElement;
    viewport.appendChild(this.nodeLayer);
    this.drawn = new Map();
    const zoomBar = el('div', 'argosy-zoom');
    for (const [label, name, act] of [
      ['−', 'Zoom out', () => this.zoomBy(0.8)],
      ['+', 'Zoom in', () => this.zoomBy(1.25)],
      ['⤢', 'Fit to view', () => this.fitView()]
    ] as const) {
      const b = el('button', 'argosy-zoom-button', label);
      b.setAttribute('aria-label', name);
      b.title = name;
      b.addEventListener('click', act);
      zoomBar.appendChild(b);
    }
    this.graphBox.textContent = '';
    this.graphBox.append(zoomBar, root);
    this.viewport = viewport;
    this.applyView();
    this.fitOnce();
  }

  /**
   * Draws the nodes in view (and a margin) and drops the others: a big graph costs the
   * elements of a screenful, not of every node, wherever it is panned or zoomed to. Graphs
   * of up to STILL_ABOVE nodes are drawn whole.
   */
  private drawNodesInView(): void {
    const laid = this.laid;
    const layer = this.nodeLayer;
    if (!laid || !layer) {
      return;
    }
    const every = this.graph.nodes.length <= STILL_ABOVE;
    const { x, y, k } = this.view;
    const w = this.graphBox.clientWidth || 1400;
    const h = this.graphBox.clientHeight || 900;
    const margin = 200 / k;
    const [left, top] = [-x / k - margin, -y / k - margin];
    const [right, bottom] = [(w - x) / k + margin, (h - y) / k + margin];
    const keep = new Set<string>();
    for (const n of this.graph.nodes) {
      const p = laid.nodes.get(n.id);
      if (!p) {
        continue;
      }
      const seen =
        every ||
        (p.x + NODE_W / 2 >= left &&
          p.x - NODE_W / 2 <= right &&
          p.y + NODE_H / 2 >= top &&
          p.y - NODE_H / 2 <= bottom);
      if (!seen) {
        continue;
      }
      keep.add(n.id);
      if (!this.drawn.has(n.id)) {
        const g = this.nodeElement(n, p);
        this.drawn.set(n.id, g);
        layer.appendChild(g);
      }
    }
    for (const [id, g] of this.drawn) {
      if (!keep.has(id)) {
        g.remove();
        this.drawn.delete(id);
      }
    }
  }

  private nodeElement(n: GraphNode, p: Placed): SVGElement {
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
    g.appendChild(phaseIcon(n.phase, 8, (NODE_H - 16) / 2));
    const note = this.nodeNote(n);
    const room = note ? 15 : 21;
    const text = svg('text', { x: 30, y: NODE_H / 2 + 4, class: 'argosy-node-label' });
    let label = n.label.length > room ? `${n.label.slice(0, room - 1)}…` : n.label;
    if (n.group) {
      label = `${n.group.collapsed ? '▸' : '▾'} ${label}`;
    }
    text.textContent = label;
    if (note) {
      const t = svg('text', {
        x: NODE_W - 8,
        y: NODE_H / 2 + 4,
        'text-anchor': 'end',
        class: 'argosy-node-note'
      });
      t.textContent = note;
      g.appendChild(t);
    }
    const tip = svg('title', {});
    tip.textContent = n.more
      ? `${n.label} (${phaseList(n.more.phases)}): click to show ${PAGE} more`
      : n.group
      ? `${n.label}: ${phaseList(n.group.phases)}`
      : `${n.label} (${n.type}): ${n.phase}`;
    g.append(tip, text);
    const more = n.more?.group;
    const choose = () => (more ? this.showMore(more) : this.choose(n.id, !!n.group));
    g.addEventListener('click', choose);
    g.addEventListener('keydown', e => {
      if ((e as KeyboardEvent).key === 'Enter' || (e as KeyboardEvent).key === ' ') {
        e.preventDefault();
        choose();
      }
    });
    return g;
  }

  /** What a node shows at its right: a group's size, a retry's attempts, or the duration. */
  private nodeNote(n: GraphNode): string {
    if (n.group) {
      return `×${n.group.size}`;
    }
    const node = this.wf.status?.nodes?.[n.id];
    if (!node) {
      return '';
    }
    if (node.type === 'Retry') {
      return `↻${node.children?.length ?? 0}`;
    }
    if ((node.phase || 'Pending') === 'Pending') {
      return ''; // not running yet: no time to show (its tooltip and pane say why it waits)
    }
    const secs = elapsedSeconds(node.startedAt, node.finishedAt, Date.now());
    return secs === null || node.type === 'StepGroup' || node.type === 'TaskGroup'
      ? ''
      : formatDuration(secs);
  }

  private applyView(): void {
    const { x, y, k } = this.view;
    this.viewport?.setAttribute('transform', `translate(${x},${y}) scale(${k})`);
    this.drawNodesInView();
  }

  /**
   * The whole graph in view (never magnified), centred; `readable` keeps the zoom where
   * labels can be read, showing the top of a graph too big to fit.
   */
  private fitView(readable = false): void {
    const w = this.graphBox.clientWidth;
    const h = this.graphBox.clientHeight;
    const laid = this.laid;
    if (!laid || w === 0 || h === 0 || laid.width === 0) {
      return;
    }
    let k = Math.max(MIN_ZOOM, Math.min(1, (w - 8) / laid.width, (h - 8) / laid.height));
    if (readable) {
      k = Math.max(k, READABLE_ZOOM);
    }
    this.view = { x: (w - laid.width * k) / 2, y: Math.max(4, (h - laid.height * k) / 2), k };
    this.fitted = true;
    this.applyView();
  }

  /** Fits, readably, the first time the graph is drawn into a box with a size. */
  private fitOnce(): void {
    if (!this.fitted && this.tab === 'graph') {
      this.fitView(true);
    }
  }

  /** Zooms by `factor` keeping the graph point under (px, py) (box pixels) where it is. */
  private zoomBy(factor: number, px?: number, py?: number): void {
    const { x, y, k } = this.view;
    const cx = px ?? this.graphBox.clientWidth / 2;
    const cy = py ?? this.graphBox.clientHeight / 2;
    const nk = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, k * factor));
    this.view = { x: cx - ((cx - x) * nk) / k, y: cy - ((cy - y) * nk) / k, k: nk };
    this.applyView();
  }

  private panBy(dx: number, dy: number): void {
    this.view = { ...this.view, x: this.view.x + dx, y: this.view.y + dy };
    this.applyView();
  }

  /** Drag to pan, wheel to zoom at the pointer, keys for both. */
  private panAndZoom(): void {
    const box = this.graphBox;
    let drag: { id: number; x: number; y: number } | null = null;
    box.addEventListener('pointerdown', e => {
      if (e.button !== 0 || (e.target as Element).closest('.argosy-node, .argosy-zoom')) {
        return;
      }
      drag = { id: e.pointerId, x: e.clientX, y: e.clientY };
      box.setPointerCapture(e.pointerId);
      box.classList.add('argosy-panning');
    });
    box.addEventListener('pointermove', e => {
      if (drag && e.pointerId === drag.id) {
        this.panBy(e.clientX - drag.x, e.clientY - drag.y);
        drag = { ...drag, x: e.clientX, y: e.clientY };
      }
    });
    const end = (e: PointerEvent) => {
      if (drag && e.pointerId === drag.id) {
        drag = null;
        box.classList.remove('argosy-panning');
      }
    };
    box.addEventListener('pointerup', end);
    box.addEventListener('pointercancel', end);
    box.addEventListener(
      'wheel',
      e => {
        e.preventDefault();
        const r = box.getBoundingClientRect();
        this.zoomBy(Math.exp(-e.deltaY * 0.002), e.clientX - r.left, e.clientY - r.top);
      },
      { passive: false }
    );
    box.addEventListener('keydown', e => {
      const moves: Record<string, () => void> = {
        ArrowLeft: () => this.panBy(PAN_STEP, 0),
        ArrowRight: () => this.panBy(-PAN_STEP, 0),
        ArrowUp: () => this.panBy(0, PAN_STEP),
        ArrowDown: () => this.panBy(0, -PAN_STEP),
        '+': () => this.zoomBy(1.25),
        '=': () => this.zoomBy(1.25),
        '-': () => this.zoomBy(0.8),
        '0': () => this.fitView()
      };
      const move = moves[e.key];
      if (move && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        move();
      }
    });
  }

  /** Shows PAGE more of a big group's children, the first of them where its "more" node was. */
  private showMore(group: string): void {
    const before = this.laid?.nodes.get(moreId(group));
    const shown = this.pages.get(group) ?? PAGE;
    this.pages.set(group, shown + PAGE);
    this.render();
    const first = this.wf.status?.nodes?.[group]?.children?.[shown] ?? '';
    const after = this.laid?.nodes.get(first);
    if (before && after) {
      this.panBy((before.x - after.x) * this.view.k, (before.y - after.y) * this.view.k);
    }
    const again = this.graphBox.querySelector(`[data-node-id="${CSS.escape(first)}"]`);
    (again as SVGElement | null)?.focus({ preventScroll: true });
  }

  private choose(id: string, group: boolean): void {
    const before = this.laid?.nodes.get(id);
    if (group) {
      this.decided.add(id);
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
    // A group that opens or closes stays under the pointer: the layout around it changed.
    const after = this.laid?.nodes.get(id);
    if (group && before && after) {
      this.panBy((before.x - after.x) * this.view.k, (before.y - after.y) * this.view.k);
    }
    const again = this.graphBox.querySelector(`[data-node-id="${CSS.escape(id)}"]`);
    (again as SVGElement | null)?.focus({ preventScroll: true });
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
    this.side.appendChild(this.nodeActions(node));
    const facts = el('table', 'argosy-params argosy-node-facts');
    const secs = elapsedSeconds(node.startedAt, node.finishedAt, Date.now());
    // A container set's containers; a group's thousands of children are none.
    const containers = (node.type === 'Pod' ? (node.children ?? []) : [])
      .map(id => this.wf.status?.nodes?.[id])
      .filter(c => c?.type === 'Container')
      .map(c => `${c!.displayName ?? c!.name}: ${c!.phase ?? 'Pending'}`);
    const rows: [string, string][] = [
      ['Phase', phase],
      ['Type', node.type],
      ['Template', node.templateName ?? ''],
      ['ID', node.id],
      ['Started', formatStart(node.startedAt)],
      ['Finished', formatStart(node.finishedAt)],
      ['Duration', secs === null ? '' : formatDuration(secs)],
      ['Host', node.hostNodeName ?? ''],
      ['Resources', resources(node.resourcesDuration)],
      ['Exit code', node.outputs?.exitCode ?? ''],
      ['Retries', node.type === 'Retry' ? String(node.children?.length ?? 0) : ''],
      ['Containers', containers.join(', ')],
      ['Message', node.message ?? '']
    ];
    for (const [k, v] of rows) {
      if (!v && !['Phase', 'Duration', 'Message'].includes(k)) {
        continue; // facts the node does not have
      }
      const tr = el('tr', '');
      tr.append(el('th', '', k), el('td', `argosy-fact-${k.toLowerCase().replace(' ', '-')}`, v));
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
    if (hasLog(node) && !this.deleted) {
      const box = el('div', 'argosy-section');
      box.appendChild(el('h4', '', 'Logs'));
      box.append(this.logTools, this.logBox);
      this.side.appendChild(box);
    }
  }

  /** Which container, grep (as you type), follow (read on while the node runs), timestamps,
   * download. */
  private buildLogTools(): void {
    this.logContainer.setAttribute('aria-label', 'Container');
    this.logContainer.addEventListener('change', () => this.startLogs(false));
    this.logGrep.placeholder = 'grep';
    this.logGrep.setAttribute('aria-label', 'Show only log lines containing');
    this.logGrep.addEventListener('input', () => this.showLog());
    const follow = el('label', 'argosy-log-follow');
    this.logFollow.type = 'checkbox';
    this.logFollow.checked = true;
    this.logFollow.addEventListener('change', () => this.startLogs(false));
    follow.append(this.logFollow, document.createTextNode(' follow'));
    const stamps = el('label', 'argosy-log-timestamps');
    this.logStamps.type = 'checkbox';
    this.logStamps.addEventListener('change', () => this.startLogs(false));
    stamps.append(this.logStamps, document.createTextNode(' timestamps'));
    const download = el('button', 'argosy-zoom-button argosy-log-download', 'download');
    download.addEventListener('click', () => {
      const node = this.wf.status?.nodes?.[this.selectedNode];
      const a = el('a', '');
      a.href = URL.createObjectURL(new Blob([this.logLines.join('\n') + '\n']));
      const container = this.logContainer.value;
      const which = container && container !== 'main' ? `-${container}` : '';
      a.download = `${this.wf.metadata.name}-${node?.displayName ?? this.selectedNode}${which}.log`;
      a.click();
      window.setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    });
    this.logTools.append(this.logContainer, this.logGrep, follow, stamps, download);
  }

  private showLog(): void {
    const grep = this.logGrep.value;
    const lines = grep ? this.logLines.filter(l => l.includes(grep)) : this.logLines;
    this.logBox.textContent = lines.length ? lines.join('\n') + '\n' : '';
    if (this.logFollow.checked) {
      this.logBox.scrollTop = this.logBox.scrollHeight;
    }
  }

  /** Argo's node-level actions: retry from this node, resume it, set its outputs. */
  private nodeActions(node: NodeStatus): HTMLElement {
    const bar = el('div', 'argosy-node-actions');
    const failed = node.phase === 'Failed' || node.phase === 'Error';
    const waiting = node.type === 'Suspend' && node.phase === 'Running';
    const selector = `id=${node.id}`;
    const offers: [string, boolean, () => Promise<void>][] = [
      [
        'retry node',
        failed && isEnabled('retry', this.wf),
        () => this.act('retry', { nodeFieldSelector: selector, restartSuccessful: true })
      ],
      ['resume node', waiting, () => this.act('resume', { nodeFieldSelector: selector })],
      ['set outputs', waiting, () => this.setOutputs(node)]
    ];
    for (const [label, enabled, run] of offers) {
      if (!enabled) {
        continue;
      }
      const b = el('button', 'argosy-action argosy-node-action', label);
      b.dataset.action = label.replace(' ', '-');
      b.disabled = this.deleted || !!this.busy;
      b.addEventListener('click', () => void run());
      bar.appendChild(b);
    }
    return bar;
  }

  /** Asks for a suspend node's output parameters and sets them (argo node set). */
  private async setOutputs(node: NodeStatus): Promise<void> {
    const form = new Widget();
    form.addClass('argosy-submit-form');
    // The node's outputs once known, else the ones its template declares.
    type Declared = { name: string; outputs?: { parameters?: Parameter[] } };
    const template = ((this.wf.spec?.templates ?? []) as Declared[]).find(
      t => t.name === node.templateName
    );
    const names = (node.outputs?.parameters ?? template?.outputs?.parameters ?? []).map(
      p => p.name
    );
    const inputs = names.map(name => {
      const label = el('label', '', name);
      const input = el('input', '');
      input.name = `output-${name}`;
      label.appendChild(input);
      form.node.appendChild(label);
      return input;
    });
    if (names.length === 0) {
      form.node.appendChild(el('p', '', 'This node declares no output parameters.'));
    }
    const answer = await showDialog({
      title: `Set outputs of ${node.displayName ?? node.name}`,
      body: form,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Set' })]
    });
    if (!answer.button.accept || names.length === 0) {
      return;
    }
    const values = Object.fromEntries(names.map((n, i) => [n, inputs[i].value]));
    await this.act('set', {
      nodeFieldSelector: `id=${node.id}`,
      outputParameters: JSON.stringify(values)
    });
  }

  /** Reads the selected node's log afresh; `newNode` offers that node's containers, main first. */
  private startLogs(newNode = true): void {
    this.logAbort?.abort();
    this.logLines = [];
    this.logBox.textContent = '';
    const node = this.wf.status?.nodes?.[this.selectedNode];
    if (!node || !hasLog(node) || this.deleted) {
      return;
    }
    if (newNode) {
      this.logContainer.textContent = '';
      for (const c of containersOf(this.wf, node)) {
        this.logContainer.appendChild(el('option', '', c)).value = c;
      }
      this.logContainer.hidden = this.logContainer.options.length < 2;
    }
    const abort = new AbortController();
    this.logAbort = abort;
    const { name, namespace } = this.wf.metadata;
    const options = {
      container: this.logContainer.value || 'main',
      follow: !node.finishedAt && this.logFollow.checked,
      timestamps: this.logStamps.checked
    };
    streamLogs(namespace ?? 'default', name, node.id, options, abort.signal, lines => {
      this.logLines.push(...lines);
      this.showLog();
    }).catch(err => {
      if (!abort.signal.aborted) {
        this.logBox.textContent += `\n[cannot read logs: ${(err as Error).message}]`;
      }
    });
  }
}
