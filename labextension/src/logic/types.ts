// The parts of Argo's Workflow object that the panel reads.

export interface Parameter {
  name: string;
  value?: string;
  default?: string;
  description?: string;
  enum?: string[];
}

export interface NodeStatus {
  id: string;
  name: string;
  displayName?: string;
  type: string;
  phase?: string;
  templateName?: string;
  boundaryID?: string;
  children?: string[];
  outboundNodes?: string[];
  message?: string;
  startedAt?: string;
  finishedAt?: string;
  progress?: string;
  hostNodeName?: string;
  resourcesDuration?: Record<string, number>;
  inputs?: { parameters?: Parameter[]; artifacts?: { name: string }[] };
  outputs?: {
    parameters?: Parameter[];
    artifacts?: { name: string; path?: string }[];
    result?: string;
    exitCode?: string;
  };
}

export interface Workflow {
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    creationTimestamp?: string;
    resourceVersion?: string;
    generateName?: string;
  };
  spec?: {
    suspend?: boolean;
    arguments?: { parameters?: Parameter[] };
    [key: string]: unknown;
  };
  status?: {
    phase?: string;
    progress?: string;
    startedAt?: string;
    finishedAt?: string;
    message?: string;
    nodes?: Record<string, NodeStatus>;
  };
}

export interface WorkflowEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | string;
  object: Workflow;
}
