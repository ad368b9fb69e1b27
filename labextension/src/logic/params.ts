// The submit form's data: a manifest's spec.arguments.parameters, and the overrides applied.
import { parseAllDocuments } from 'yaml';
import { Parameter } from './types';

export type Manifest = Record<string, any>;

/** The Workflow documents in a YAML file's text; YAML syntax errors are thrown. */
export function parseManifests(text: string): Manifest[] {
  const docs = parseAllDocuments(text);
  const out: Manifest[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      throw new Error(doc.errors[0].message);
    }
    const value = doc.toJS();
    if (value && typeof value === 'object') {
      out.push(value as Manifest);
    }
  }
  return out;
}

export function parametersOf(manifest: Manifest): Parameter[] {
  const params = manifest?.spec?.arguments?.parameters;
  return Array.isArray(params) ? (params as Parameter[]) : [];
}

/** A copy of the manifest with the given parameter values (like `argo submit -p`). */
export function withParameters(manifest: Manifest, values: Record<string, string>): Manifest {
  const copy: Manifest = JSON.parse(JSON.stringify(manifest));
  const params = parametersOf(copy);
  for (const p of params) {
    if (p.name in values) {
      p.value = values[p.name];
    }
  }
  return copy;
}

/**
 * Lint messages split into the lines the form lists: the server joins faults with newlines,
 * each "path: message".
 */
export function lintFaults(message: string): string[] {
  return message
    .split('\n')
    .map(l => l.trim())
    .filter(l => l.length > 0);
}
