// A stand-in for argosy's Jupyter server API, installed in the page before JupyterLab loads:
// the test decides every event the panel sees and when each action's reply arrives, so races
// (a reply after a newer event, a loop that grows while its tab is open) are reproducible.
// The workflows survive a reload (sessionStorage), as the server's would.
(() => {
  const PREFIX = '/argosy/api/v1/';
  const KEY = 'argosy-fake-workflows';
  const STAMP = '2026-01-01T10:00:00Z';
  const realFetch = window.fetch.bind(window);
  const encoder = new TextEncoder();
  const workflows = new Map(JSON.parse(sessionStorage.getItem(KEY) || '[]'));
  const streams = new Set();
  // Off after a bulk load or once past the quota: a whole copy each time would cost the page
  // more than the panel it times.
  let saving = true;
  const save = () => {
    if (!saving) {
      return;
    }
    try {
      sessionStorage.setItem(KEY, JSON.stringify([...workflows]));
    } catch (e) {
      // Past the quota (a workflow of 100,000 nodes): kept until the page reloads.
      console.warn(`argosy fake API: not kept across reloads: ${e}`);
      saving = false;
    }
  };
  const frame = event => encoder.encode(`data: ${JSON.stringify({ result: event })}\n\n`);
  const json = (body, status = 200) =>
    new Response(JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json' }
    });
  const keyOf = wf => `${wf.metadata.namespace || 'default'}/${wf.metadata.name}`;

  const fake = {
    requests: [],
    bodies: [],
    // The log every pod has: lines the test sets; `logs` by container name, if set.
    log: [],
    logs: {},
    // WorkflowTemplates, ClusterWorkflowTemplates and CronWorkflows the routes list.
    templates: [],
    clusterTemplates: [],
    crons: [],
    // What POST workflows/{ns}/submit creates (and sends as ADDED).
    submitted: null,
    // action -> { object, held: Promise resolved by release(action) }
    replies: {},
    push(type, wf) {
      if (type === 'DELETED') {
        workflows.delete(keyOf(wf));
      } else {
        workflows.set(keyOf(wf), wf);
      }
      save();
      for (const c of streams) {
        c.enqueue(frame({ type, object: wf }));
      }
    },
    // Many events in one chunk of the stream, as the server sends a watch's first listing;
    // not kept across reloads.
    pushAll(type, wfs) {
      for (const wf of wfs) {
        workflows.set(keyOf(wf), wf);
      }
      saving = false;
      const text = wfs.map(wf => `data: ${JSON.stringify({ result: { type, object: wf } })}\n\n`);
      for (const c of streams) {
        c.enqueue(encoder.encode(text.join('')));
      }
    },
    hold(action, object) {
      let release;
      const held = new Promise(r => (release = r));
      fake.replies[action] = { object, held, release, replied: false };
    },
    release(action) {
      fake.replies[action].release();
    }
  };
  window.__argosyFake = fake;

  window.fetch = async (input, init) => {
    const req = input instanceof Request ? input : new Request(input, init);
    const url = new URL(req.url);
    const at = url.pathname.indexOf(PREFIX);
    if (at < 0) {
      return realFetch(input, init);
    }
    const path = url.pathname.slice(at + PREFIX.length).split('/').map(decodeURIComponent);
    fake.requests.push(`${req.method} ${path.join('/')}`);
    if (path[0] === 'workflow-events') {
      let controller;
      const body = new ReadableStream({
        start(c) {
          controller = c;
          streams.add(c);
          for (const wf of workflows.values()) {
            c.enqueue(frame({ type: 'ADDED', object: wf }));
          }
        },
        cancel() {
          streams.delete(controller);
        }
      });
      req.signal.addEventListener('abort', () => streams.delete(controller));
      return new Response(body, { headers: { 'Content-Type': 'text/event-stream' } });
    }
    const [kind, ns, name, verb] = path;
    const listed = { 'workflow-templates': 'templates', 'cluster-workflow-templates': 'clusterTemplates',
      'cron-workflows': 'crons' }[kind];
    if (listed && req.method === 'GET') {
      const all = fake[listed];
      return json({ items: kind === 'cluster-workflow-templates' ? all
        : all.filter(t => (t.metadata.namespace || 'default') === ns) });
    }
    if (kind === 'cron-workflows' && req.method === 'PUT') {
      fake.bodies.push({ verb: `cron-${verb}`, name });
      const cron = fake.crons.find(c => c.metadata.name === name);
      cron.spec.suspend = verb === 'suspend';
      return json(cron);
    }
    if (kind === 'workflows' && name === 'submit' && req.method === 'POST') {
      fake.bodies.push({ verb: 'submit', body: JSON.parse(await req.clone().text()) });
      fake.push('ADDED', fake.submitted);
      return json(fake.submitted);
    }
    const wf = workflows.get(`${ns}/${name}`);
    if (kind === 'workflows' && verb && req.method === 'PUT') {
      fake.bodies.push({ verb, body: JSON.parse((await req.clone().text()) || '{}') });
      const reply = fake.replies[verb];
      if (!reply) {
        return json({ code: 12, message: `no reply set for ${verb}` }, 501);
      }
      await reply.held;
      reply.replied = true;
      return json(reply.object);
    }
    if (kind === 'workflows' && verb === 'log') {
      const container = url.searchParams.get('logOptions.container') || 'main';
      const stamp = url.searchParams.get('logOptions.timestamps') === 'true' ? `${STAMP} ` : '';
      const said = fake.logs[container] ?? fake.log;
      const lines = said.map(
        line => JSON.stringify({ result: { content: stamp + line } }) + '\n'
      );
      return wf
        ? new Response(lines.join(''), { status: 200 })
        : json({ code: 5, message: 'not found' }, 404);
    }
    if (kind === 'workflows' && name && req.method === 'GET') {
      return wf ? json(wf) : json({ code: 5, message: `workflow ${name} not found` }, 404);
    }
    return json({ code: 12, message: `the fake API has no ${req.method} ${path.join('/')}` }, 501);
  };
})();
