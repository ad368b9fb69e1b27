// Calls to the argosy Jupyter server extension, with Jupyter's auth and XSRF headers.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { splitLines, splitSse } from './logic/events';
import { Action } from './logic/rules';
import { Workflow, WorkflowEvent } from './logic/types';

const PREFIX = 'argosy/api/v1';

/** An error with the server's own message, for showing to the user. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

function url(...parts: string[]): string {
  const settings = ServerConnection.makeSettings();
  return URLExt.join(settings.baseUrl, PREFIX, ...parts.map(encodeURIComponent));
}

/** Where a node's output artifact (an executed notebook) is served, for a download link. */
export function artifactUrl(ns: string, name: string, nodeId: string, artifact: string): string {
  return url('artifacts', ns, name, nodeId, artifact);
}

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const settings = ServerConnection.makeSettings();
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(path, init, settings);
  } catch (err) {
    throw new ApiError(`cannot reach the server: ${String(err)}`, 0);
  }
  if (!response.ok) {
    let message = response.statusText;
    try {
      const body = await response.json();
      message = body.message || message;
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(message, response.status);
  }
  return response;
}

async function json<T>(path: string, init: RequestInit = {}): Promise<T> {
  const r = await request(path, init);
  return (await r.json()) as T;
}

export function getWorkflow(ns: string, name: string): Promise<Workflow> {
  return json<Workflow>(url('workflows', ns, name));
}

/** A workflow action; `body` narrows it (nodeFieldSelector for a node's retry, resume, set). */
export function runAction(
  action: Action | 'set',
  ns: string,
  name: string,
  body: Record<string, unknown> = {}
): Promise<unknown> {
  if (action === 'delete') {
    return json(url('workflows', ns, name), { method: 'DELETE' });
  }
  return json(url('workflows', ns, name, action), { method: 'PUT', body: JSON.stringify(body) });
}

export function submit(ns: string, workflow: unknown): Promise<Workflow> {
  return json<Workflow>(url('workflows', ns), {
    method: 'POST',
    body: JSON.stringify({ namespace: ns, workflow })
  });
}

export function lint(ns: string, workflow: unknown): Promise<Workflow> {
  return json<Workflow>(url('workflows', ns, 'lint'), {
    method: 'POST',
    body: JSON.stringify({ namespace: ns, workflow })
  });
}

/** Reads a streamed body chunk by chunk until it ends or `signal` aborts. */
async function stream(
  path: string,
  signal: AbortSignal,
  onText: (text: string) => void
): Promise<void> {
  const r = await request(path, { signal });
  const reader = r.body!.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      return;
    }
    onText(decoder.decode(value, { stream: true }));
  }
}

/** The workflow-events stream of a namespace ('' for all): existing workflows, then changes. */
export async function watchWorkflows(
  ns: string,
  signal: AbortSignal,
  onEvents: (events: WorkflowEvent[]) => void
): Promise<void> {
  let buffer = '';
  const path = ns ? url('workflow-events', ns) : URLExt.join(url('workflow-events'), '');
  await stream(path, signal, text => {
    const { data, rest } = splitSse(buffer + text);
    buffer = rest;
    const events: WorkflowEvent[] = [];
    for (const d of data) {
      const parsed = JSON.parse(d);
      if (parsed.result) {
        events.push(parsed.result as WorkflowEvent);
      }
    }
    if (events.length > 0) {
      onEvents(events);
    }
  });
}

/** A pod's log lines; `follow` keeps the stream open until the workflow ends. */
export interface LogOptions {
  container: string;
  follow: boolean;
  timestamps: boolean;
}

export async function streamLogs(
  ns: string,
  name: string,
  podName: string,
  options: LogOptions,
  signal: AbortSignal,
  onLines: (lines: string[]) => void
): Promise<void> {
  const query = URLExt.objectToQueryString({
    podName,
    'logOptions.container': options.container,
    'logOptions.follow': String(options.follow),
    'logOptions.timestamps': String(options.timestamps)
  });
  let buffer = '';
  await stream(url('workflows', ns, name, 'log') + query, signal, text => {
    const { lines, rest } = splitLines(buffer + text);
    buffer = rest;
    const out = lines.map(l => {
      try {
        return String(JSON.parse(l).result?.content ?? '');
      } catch {
        return l;
      }
    });
    if (out.length > 0) {
      onLines(out);
    }
  });
}

/** A WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow as the server lists it. */
export interface Resource {
  metadata: { name: string; namespace?: string; creationTimestamp?: string };
  spec?: Record<string, any>;
  status?: Record<string, any>;
}

export type TemplateKind = 'WorkflowTemplate' | 'ClusterWorkflowTemplate';

async function items(path: string): Promise<Resource[]> {
  return (await json<{ items?: Resource[] | null }>(path)).items ?? [];
}

export function listTemplates(ns: string): Promise<Resource[]> {
  return items(url('workflow-templates', ns));
}

export function listClusterTemplates(): Promise<Resource[]> {
  return items(URLExt.join(url('cluster-workflow-templates'), ''));
}

export function listCrons(ns: string): Promise<Resource[]> {
  return items(url('cron-workflows', ns));
}

export function cronAction(ns: string, name: string, verb: 'suspend' | 'resume'): Promise<Resource> {
  return json<Resource>(url('cron-workflows', ns, name, verb), { method: 'PUT', body: '{}' });
}

/** A new workflow from a template (argo submit --from), `parameters` as NAME=VALUE. */
export function submitFrom(
  ns: string,
  kind: TemplateKind,
  name: string,
  parameters: string[]
): Promise<Workflow> {
  return json<Workflow>(url('workflows', ns, 'submit'), {
    method: 'POST',
    body: JSON.stringify({
      namespace: ns,
      resourceKind: kind,
      resourceName: name,
      submitOptions: { parameters }
    })
  });
}
