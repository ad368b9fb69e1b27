// Argo UI's enable rules for workflow actions (ui/src/shared/workflow-operations-map.ts).
import { nodeList, perNodes } from './nodes';
import { NodeStatus, Workflow } from './types';

export type Action =
  | 'suspend'
  | 'resume'
  | 'stop'
  | 'terminate'
  | 'retry'
  | 'resubmit'
  | 'delete';

export const ACTIONS: Action[] = [
  'retry',
  'resubmit',
  'suspend',
  'resume',
  'stop',
  'terminate',
  'delete'
];

/** Actions that lose work or data: the UI asks before doing them. */
export const DESTRUCTIVE: ReadonlySet<Action> = new Set<Action>(['stop', 'terminate', 'delete']);

export function isRunning(wf: Workflow): boolean {
  return !!wf.spec && wf.status?.phase === 'Running';
}

export function isSuspended(wf: Workflow): boolean {
  if (!wf.spec) {
    return false;
  }
  if (wf.spec.suspend) {
    return true;
  }
  return suspendRunning(wf.status?.nodes);
}

const suspendRunning = perNodes(list =>
  list.some(n => n.type === 'Suspend' && n.phase === 'Running')
);

/** The phase as the UI says it: a running workflow held by suspend reads "Suspended". */
export function shownPhase(wf: Workflow): string {
  const phase = wf.status?.phase || 'Pending';
  return phase === 'Running' && isSuspended(wf) ? 'Suspended' : phase;
}

export function isEnabled(action: Action, wf: Workflow): boolean {
  const phase = wf.status?.phase;
  switch (action) {
    case 'retry':
      return phase === 'Failed' || phase === 'Error';
    case 'suspend':
      return isRunning(wf) && !isSuspended(wf);
    case 'resume':
      return isSuspended(wf);
    case 'stop':
    case 'terminate':
      return isRunning(wf);
    case 'resubmit':
    case 'delete':
      return true;
  }
}

export function enabledActions(wf: Workflow): Action[] {
  return ACTIONS.filter(a => isEnabled(a, wf));
}

// Nodes that only group or gate others print nothing; a containerSet's containers print into
// their pod's log. Every other node may have a log: a pod's, or a plugin node's Outcome.log.
const WITHOUT_LOG: ReadonlySet<string> = new Set([
  'Steps',
  'StepGroup',
  'DAG',
  'TaskGroup',
  'Retry',
  'Skipped',
  'Suspend',
  'Container'
]);

export function hasLog(node: NodeStatus): boolean {
  return !WITHOUT_LOG.has(node.type);
}

type PodTemplate = { name?: string; initContainers?: { name: string }[]; sidecars?: { name: string }[] };

/**
 * The containers whose logs a node has, main first: a container set's containers (its child
 * nodes POD.NAME), else main and the template's init containers and sidecars.
 */
export function containersOf(wf: Workflow, node: NodeStatus): string[] {
  const prefix = `${node.name}.`;
  const inSet = nodeList(wf.status?.nodes)
    .filter(n => n.type === 'Container' && n.name.startsWith(prefix))
    .map(n => n.name.slice(prefix.length));
  if (inSet.length > 0) {
    return inSet;
  }
  const templates = (wf.spec?.templates ?? []) as PodTemplate[];
  const t = templates.find(x => x.name === node.templateName);
  return [
    'main',
    ...(t?.initContainers ?? []).map(c => c.name),
    ...(t?.sidecars ?? []).map(c => c.name)
  ];
}
