// Unit tests of the panel's pure logic: enable rules, filters, formatting, events, graph.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyFilter, EMPTY_FILTER, Filter } from '../src/logic/filters';
import { elapsedSeconds, formatDuration, progressOf } from '../src/logic/format';
import { keyOf, reduceEvent, sorted, splitLines, splitSse } from '../src/logic/events';
import {
  PAGE,
  buildGraph,
  collapseGrown,
  defaultCollapsed,
  moreId,
  shapeKey
} from '../src/logic/graph';
import { layout } from '../src/logic/layout';
import { lintFaults, parametersOf, parseManifests, withParameters } from '../src/logic/params';
import { containersOf, enabledActions, hasLog, isSuspended } from '../src/logic/rules';
import { NodeStatus, Workflow } from '../src/logic/types';
import { timelineOf } from '../src/logic/timeline';
import { visibleRows } from '../src/logic/window';

function wf(name: string, phase?: string, extra: Partial<Workflow> = {}): Workflow {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, ...(extra.metadata ?? {}) },
    spec: extra.spec ?? {},
    status: { phase, ...(extra.status ?? {}) }
  };
}

test('enable rules follow the Argo UI', () => {
  assert.deepEqual(enabledActions(wf('a', 'Running')), [
    'resubmit',
    'suspend',
    'stop',
    'terminate',
    'delete'
  ]);
  assert.deepEqual(enabledActions(wf('a', 'Failed')), ['retry', 'resubmit', 'delete']);
  assert.deepEqual(enabledActions(wf('a', 'Error')), ['retry', 'resubmit', 'delete']);
  assert.deepEqual(enabledActions(wf('a', 'Succeeded')), ['resubmit', 'delete']);
  const suspended = wf('a', 'Running', { spec: { suspend: true } });
  assert.deepEqual(enabledActions(suspended), [
    'resubmit',
    'resume',
    'stop',
    'terminate',
    'delete'
  ]);
  const atStep = wf('a', 'Running', {
    status: {
      phase: 'Running',
      nodes: { s: { id: 's', name: 'a.approve', type: 'Suspend', phase: 'Running' } }
    }
  });
  assert.equal(isSuspended(atStep), true);
  assert.deepEqual(enabledActions(atStep).includes('suspend'), false);
  assert.equal(isSuspended({ metadata: { name: 'x' } }), false);
});

test('durations are written like the Argo UI', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(59.9), '59s');
  assert.equal(formatDuration(184), '3m 4s');
  assert.equal(formatDuration(7500), '2h 5m');
  assert.equal(formatDuration(97200), '1d 3h');
  const now = Date.parse('2026-01-01T00:01:40Z');
  assert.equal(elapsedSeconds('2026-01-01T00:00:00Z', undefined, now), 100);
  assert.equal(elapsedSeconds('2026-01-01T00:00:00Z', '2026-01-01T00:00:07Z', now), 7);
  assert.equal(elapsedSeconds(undefined, undefined, now), null);
});

test('progress comes from status.progress, else from the pods', () => {
  assert.equal(progressOf(wf('a', 'Running', { status: { progress: '3/7' } })), '3/7');
  const nodes: Record<string, NodeStatus> = {
    a: { id: 'a', name: 'a', type: 'Steps', phase: 'Running' },
    b: { id: 'b', name: 'b', type: 'Pod', phase: 'Succeeded' },
    c: { id: 'c', name: 'c', type: 'Pod', phase: 'Running' }
  };
  assert.equal(progressOf(wf('a', 'Running', { status: { nodes } })), '1/2');
  assert.equal(progressOf(wf('a', 'Pending')), '');
  // Counted once per status: the next event's status (a new object) is counted afresh.
  const next = { ...nodes, c: { ...nodes.c, phase: 'Succeeded' } };
  assert.equal(progressOf(wf('a', 'Running', { status: { nodes: next } })), '2/2');
  assert.equal(progressOf(wf('a', 'Running', { status: { nodes } })), '1/2');
});

test('a suspend node running suspends the workflow, read once per status', () => {
  const nodes: Record<string, NodeStatus> = {
    s: { id: 's', name: 's', type: 'Suspend', phase: 'Running' }
  };
  assert.equal(isSuspended(wf('a', 'Running', { spec: {}, status: { nodes } })), true);
  const next = { s: { ...nodes.s, phase: 'Succeeded' } };
  assert.equal(isSuspended(wf('a', 'Running', { spec: {}, status: { nodes: next } })), false);
});

test('filters by phase, namespace, labels and name', () => {
  const items = [
    wf('build-a', 'Running', { metadata: { name: 'build-a', labels: { app: 'x', env: 'dev' } } }),
    wf('build-b', 'Failed', { metadata: { name: 'build-b', namespace: 'ci', labels: { app: 'y' } } }),
    wf('deploy', 'Succeeded', { metadata: { name: 'deploy', labels: { app: 'x' } } }),
    wf('fresh')
  ];
  const names = (f: Partial<Filter>) =>
    applyFilter(items, { ...EMPTY_FILTER, ...f }).map(w => w.metadata.name);
  assert.deepEqual(names({}), ['build-a', 'build-b', 'deploy', 'fresh']);
  assert.deepEqual(names({ phases: new Set(['Running', 'Failed']) }), ['build-a', 'build-b']);
  assert.deepEqual(names({ phases: new Set(['Pending']) }), ['fresh']);
  assert.deepEqual(names({ namespace: 'ci' }), ['build-b']);
  assert.deepEqual(names({ name: 'BUILD' }), ['build-a', 'build-b']);
  assert.deepEqual(names({ labels: 'app=x' }), ['build-a', 'deploy']);
  assert.deepEqual(names({ labels: 'app=x, env!=dev' }), ['deploy']);
  assert.deepEqual(names({ labels: 'env' }), ['build-a']);
  assert.deepEqual(names({ labels: '!env,app' }), ['build-b', 'deploy']);
  assert.deepEqual(names({ labels: '=broken' }), []);
});

test('events build the list, newest first, and deletions remove', () => {
  const state = new Map<string, Workflow>();
  const a = wf('a', 'Running', { metadata: { name: 'a', creationTimestamp: '2026-01-01T00:00:01Z' } });
  const b = wf('b', 'Pending', { metadata: { name: 'b', creationTimestamp: '2026-01-01T00:00:02Z' } });
  assert.equal(reduceEvent(state, { type: 'ADDED', object: a }), true);
  assert.equal(reduceEvent(state, { type: 'ADDED', object: b }), true);
  assert.deepEqual(sorted(state).map(w => w.metadata.name), ['b', 'a']);
  const done = { ...a, status: { phase: 'Succeeded' } };
  reduceEvent(state, { type: 'MODIFIED', object: done });
  assert.equal(state.get(keyOf(a))?.status?.phase, 'Succeeded');
  assert.equal(reduceEvent(state, { type: 'DELETED', object: b }), true);
  assert.equal(reduceEvent(state, { type: 'DELETED', object: b }), false);
  assert.equal(reduceEvent(state, { type: 'BOOKMARK', object: a }), false);
  assert.deepEqual([...state.keys()], ['uid-a']);
});

test('an older revision never replaces a newer one', () => {
  const state = new Map<string, Workflow>();
  const at = (phase: string, rv: string) =>
    wf('a', phase, { metadata: { name: 'a', resourceVersion: rv } });
  reduceEvent(state, { type: 'MODIFIED', object: at('Running', '9') });
  assert.equal(reduceEvent(state, { type: 'MODIFIED', object: at('Running', '10') }), true);
  assert.equal(reduceEvent(state, { type: 'MODIFIED', object: at('Pending', '8') }), false);
  assert.equal(state.get('uid-a')?.metadata.resourceVersion, '10');
  assert.equal(reduceEvent(state, { type: 'MODIFIED', object: at('Succeeded', '10') }), true);
});

test('server-sent events and JSON lines split at their boundaries', () => {
  const first = splitSse('data: {"a":1}\n\ndata: {"b"');
  assert.deepEqual(first, { data: ['{"a":1}'], rest: 'data: {"b"' });
  const second = splitSse(first.rest + ':2}\r\n\r\n: keepalive\n\n');
  assert.deepEqual(second, { data: ['{"b":2}'], rest: '' });
  assert.deepEqual(splitLines('{"x":1}\n\n{"y"'), { lines: ['{"x":1}'], rest: '{"y"' });
});

test('the list renders only the rows in view', () => {
  assert.deepEqual(visibleRows(0, 440, 44, 1000), { first: 0, last: 15 });
  assert.deepEqual(visibleRows(44 * 500, 440, 44, 1000), { first: 495, last: 515 });
  assert.deepEqual(visibleRows(44 * 998, 440, 44, 1000), { first: 993, last: 1000 });
  assert.deepEqual(visibleRows(0, 440, 44, 0), { first: 0, last: 0 });
});

function loopWorkflow(items: number): Workflow {
  // steps: root -> group(items x) -> each item -> next group -> final
  const nodes: Record<string, NodeStatus> = {
    root: { id: 'root', name: 'loop', type: 'Steps', phase: 'Running', children: ['g0'] },
    g0: { id: 'g0', name: 'loop[0]', type: 'StepGroup', phase: 'Running', children: [] },
    g1: { id: 'g1', name: 'loop[1]', type: 'StepGroup', phase: 'Pending', children: ['last'] },
    last: { id: 'last', name: 'loop[1].final', type: 'Pod', phase: 'Pending' }
  };
  for (let i = 0; i < items; i++) {
    const id = `i${i}`;
    nodes[id] = {
      id,
      name: `loop[0].item(${i})`,
      type: 'Pod',
      phase: i % 2 ? 'Succeeded' : 'Running',
      children: ['g1']
    };
    nodes.g0.children!.push(id);
  }
  return wf('loop', 'Running', { status: { phase: 'Running', nodes } });
}

test('a collapsed loop group stands in for its items', () => {
  const w = loopWorkflow(4);
  const open = buildGraph(w, new Set());
  assert.equal(open.nodes.length, 8);
  assert.equal(open.edges.length, 10);
  const shut = buildGraph(w, new Set(['g0']));
  assert.deepEqual(shut.nodes.map(n => n.id).sort(), ['g0', 'g1', 'last', 'root']);
  assert.deepEqual(shut.edges.map(e => e.join('>')).sort(), ['g0>g1', 'g1>last', 'root>g0']);
  const group = shut.nodes.find(n => n.id === 'g0')!;
  assert.deepEqual(group.group, {
    size: 4,
    collapsed: true,
    phases: { Running: 2, Succeeded: 2 }
  });
  assert.notEqual(shapeKey(open), shapeKey(shut));
});

test('big fan-outs start collapsed and lay out', () => {
  const w = loopWorkflow(2000);
  assert.deepEqual([...defaultCollapsed(w.status!.nodes!)], ['g0']);
  assert.deepEqual([...defaultCollapsed(loopWorkflow(5).status!.nodes!)], []);
  const graph = buildGraph(w, defaultCollapsed(w.status!.nodes!));
  const laid = layout(graph);
  assert.equal(laid.nodes.size, 4);
  const ys = ['root', 'g0', 'g1', 'last'].map(id => laid.nodes.get(id)!.y);
  assert.deepEqual([...ys].sort((p, q) => p - q), ys); // top to bottom in order
  assert.equal(laid.edges.length, 3);
});

test('an empty graph lays out to nothing', () => {
  const laid = layout({ nodes: [], edges: [] });
  assert.deepEqual([laid.width, laid.height, laid.nodes.size], [0, 0, 0]);
});

test('every node of an uncollapsed 2,000-node graph gets a place', () => {
  const w = loopWorkflow(2000);
  const laid = layout(buildGraph(w, new Set(), new Map([['g0', 2000]])));
  assert.equal(laid.nodes.size, 2004);
  // Wrapped into rows of 10, laid out as one block: into it and out of it, one edge each.
  assert.equal(laid.edges.length, 4);
  assert.ok(laid.width < 10 * 200, `width ${laid.width}`);
  const row = (i: number) => laid.nodes.get(`i${i}`)!.y;
  assert.ok(row(0) < row(10) && row(10) < row(1999));
  assert.ok(laid.nodes.get('i0')!.x < laid.nodes.get('i9')!.x); // items in index order
});

test('an open big group shows a page of its children and a "more" node for the rest', () => {
  const w = loopWorkflow(2 * PAGE + 100);
  const graph = buildGraph(w, new Set());
  const items = graph.nodes.filter(n => n.id.startsWith('i')).map(n => n.id);
  assert.deepEqual(items, Array.from({ length: PAGE }, (_, i) => `i${i}`));
  const more = graph.nodes.find(n => n.id === moreId('g0'))!;
  assert.equal(more.label, `${(PAGE + 100).toLocaleString('en-US')} more`);
  assert.deepEqual(more.more, {
    group: 'g0',
    hidden: PAGE + 100,
    phases: { Running: (PAGE + 100) / 2, Succeeded: (PAGE + 100) / 2 }
  });
  // Into the stand-in from the group, last of the group's edges; onward from it, once.
  const edges = graph.edges.map(e => e.join('>'));
  assert.equal(edges.filter(e => e.startsWith('g0>')).pop(), `g0>${moreId('g0')}`);
  assert.equal(edges.filter(e => e === `${moreId('g0')}>g1`).length, 1);
  const laid = layout(graph);
  const [lastItem, stand] = [laid.nodes.get(`i${PAGE - 1}`)!, laid.nodes.get(moreId('g0'))!];
  assert.ok(stand.y > lastItem.y || (stand.y === lastItem.y && stand.x > lastItem.x));
  // Asking for more shows the next page; enough shows them all, with no stand-in.
  const next = buildGraph(w, new Set(), new Map([['g0', 2 * PAGE]]));
  assert.equal(next.nodes.filter(n => n.id.startsWith('i')).length, 2 * PAGE);
  assert.equal(next.nodes.find(n => n.more)?.label, '100 more');
  const all = buildGraph(w, new Set(), new Map([['g0', 3 * PAGE]]));
  assert.equal(all.nodes.filter(n => n.id.startsWith('i')).length, 2 * PAGE + 100);
  assert.equal(all.nodes.find(n => n.more), undefined);
  // Collapsed, the group stands in for all of them: no page, no stand-in.
  assert.equal(buildGraph(w, new Set(['g0'])).nodes.length, 4);
});

test('failed children and the selected node past the page are drawn', () => {
  const w = loopWorkflow(3 * PAGE);
  const nodes = w.status!.nodes!;
  nodes[`i${PAGE + 10}`].phase = 'Failed';
  nodes[`i${2 * PAGE + 3}`].phase = 'Error';
  const ids = new Set(buildGraph(w, new Set(), new Map(), `i${3 * PAGE - 1}`).nodes.map(n => n.id));
  for (const id of [`i${PAGE + 10}`, `i${2 * PAGE + 3}`, `i${3 * PAGE - 1}`, moreId('g0')]) {
    assert.ok(ids.has(id), id);
  }
  assert.ok(!ids.has(`i${PAGE + 11}`));
  assert.equal(ids.size, 4 + PAGE + 3 + 1);
});

test('a loop that grows big collapses once, and stays as the user leaves it', () => {
  const collapsed = new Set<string>();
  const decided = new Set<string>();
  assert.equal(collapseGrown(loopWorkflow(5).status!.nodes!, collapsed, decided), false);
  assert.equal(collapseGrown(loopWorkflow(30).status!.nodes!, collapsed, decided), true);
  assert.deepEqual([...collapsed], ['g0']);
  collapsed.delete('g0'); // the user opens it
  assert.equal(collapseGrown(loopWorkflow(60).status!.nodes!, collapsed, decided), false);
  assert.deepEqual([...collapsed], []);
});

test('graph nodes come in the order of their parents\' children', () => {
  const w = loopWorkflow(12);
  // Stored in any order (a map keyed by hash ids): reversed here.
  w.status!.nodes = Object.fromEntries(Object.entries(w.status!.nodes!).reverse());
  const ids = buildGraph(w, new Set()).nodes.map(n => n.id);
  const items = ids.filter(id => id.startsWith('i'));
  assert.deepEqual(items, Array.from({ length: 12 }, (_, i) => `i${i}`));
  assert.equal(ids[0], 'root');
});

test('parameters are read from the manifest and overridden for submit', () => {
  const [m] = parseManifests(
    'apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: p-}\n' +
      'spec:\n  arguments:\n    parameters:\n    - name: message\n      value: hi\n' +
      '    - {name: count, enum: ["1", "2"]}\n'
  );
  assert.deepEqual(
    parametersOf(m).map(p => p.name),
    ['message', 'count']
  );
  const out = withParameters(m, { message: 'bye', other: 'x' });
  assert.deepEqual(parametersOf(out), [
    { name: 'message', value: 'bye' },
    { name: 'count', enum: ['1', '2'] }
  ]);
  assert.equal(parametersOf(m)[0].value, 'hi'); // the original is untouched
  assert.throws(() => parseManifests('a: [1,'));
  assert.deepEqual(lintFaults('spec.entrypoint: missing\n\n  x: y \n'), [
    'spec.entrypoint: missing',
    'x: y'
  ]);
});

test('pods and plugin nodes have logs, grouping nodes and containers do not', () => {
  const node = (type: string): NodeStatus => ({ id: type, name: type, type });
  for (const type of ['Pod', 'Plugin', 'HTTP', 'Notebook']) {
    assert.equal(hasLog(node(type)), true, type);
  }
  for (const type of ['Steps', 'StepGroup', 'DAG', 'TaskGroup', 'Retry', 'Skipped', 'Suspend',
    'Container']) {
    assert.equal(hasLog(node(type)), false, type);
  }
});

test('a node offers the logs of its containers, main first', () => {
  const pod: NodeStatus = { id: 'p', name: 'w.step', type: 'Pod', templateName: 'work' };
  const spec = {
    templates: [{ name: 'work', initContainers: [{ name: 'setup' }], sidecars: [{ name: 'db' }] }]
  };
  assert.deepEqual(containersOf(wf('w', 'Running', { spec, status: { nodes: { p: pod } } }), pod), [
    'main',
    'setup',
    'db'
  ]);
  const set: NodeStatus = { id: 's', name: 'w.set', type: 'Pod' };
  const nodes: Record<string, NodeStatus> = {
    s: set,
    a: { id: 'a', name: 'w.set.a', type: 'Container' },
    b: { id: 'b', name: 'w.set.b', type: 'Container' }
  };
  assert.deepEqual(containersOf(wf('w', 'Running', { status: { nodes } }), set), ['a', 'b']);
  assert.deepEqual(containersOf(wf('w', 'Running', { status: { nodes: { s: set } } }), set), [
    'main'
  ]);
});

test('the timeline: steps in start order, then by name; grouping nodes left out', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
  const step = (id: string, phase: string, started?: number, finished?: number): NodeStatus => ({
    id,
    name: `wf.${id}`,
    type: 'Pod',
    phase,
    startedAt: started === undefined ? undefined : at(started),
    finishedAt: finished === undefined ? undefined : at(finished)
  });
  const nodes: Record<string, NodeStatus> = {
    wf: { id: 'wf', name: 'wf', type: 'Steps', phase: 'Running', startedAt: at(0) },
    b: step('b', 'Succeeded', 5, 9),
    a: step('a', 'Succeeded', 5, 7),
    c: step('c', 'Succeeded', 1, 3),
    w: step('w', 'Pending', 6),
    unstarted: step('unstarted', 'Pending')
  };
  const done = timelineOf(nodes);
  assert.deepEqual(done.steps.map(s => s.n.id), ['c', 'a', 'b', 'w']);
  assert.equal(done.running, false);
  assert.equal(done.lastEnd, Date.parse(at(9)));
  assert.equal(done.steps[3].waiting, true);
  const running = timelineOf({ ...nodes, r: step('r', 'Running', 2) });
  assert.equal(running.running, true);
  assert.equal(running.steps[1].end, undefined); // it ends now, whenever that is drawn
});
