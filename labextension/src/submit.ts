// Submitting a YAML file: a form for spec.arguments.parameters, lint faults shown in it.
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import { ApiError, Resource, TemplateKind, lint, submit, submitFrom } from './api';
import { Manifest, lintFaults, parametersOf, parseManifests, withParameters } from './logic/params';
import { Workflow } from './logic/types';

class SubmitForm extends Widget {
  private inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();
  private ns: HTMLInputElement;
  private faults: HTMLElement;

  constructor(manifest: Manifest, values: Record<string, string>, ns: string, faults: string[]) {
    super();
    this.addClass('argosy-submit-form');
    const nsLabel = document.createElement('label');
    nsLabel.textContent = 'Namespace';
    this.ns = document.createElement('input');
    this.ns.name = 'namespace';
    this.ns.value = ns;
    nsLabel.appendChild(this.ns);
    this.node.appendChild(nsLabel);
    const params = parametersOf(manifest);
    if (params.length > 0) {
      const h = document.createElement('h4');
      h.textContent = 'Parameters';
      this.node.appendChild(h);
    }
    for (const p of params) {
      const label = document.createElement('label');
      label.textContent = p.name;
      if (p.description) {
        label.title = p.description;
      }
      let input: HTMLInputElement | HTMLSelectElement;
      if (p.enum && p.enum.length > 0) {
        input = document.createElement('select');
        for (const v of p.enum) {
          const o = document.createElement('option');
          o.value = o.textContent = v;
          input.appendChild(o);
        }
      } else {
        input = document.createElement('input');
      }
      input.name = `param-${p.name}`;
      input.value = values[p.name] ?? p.value ?? p.default ?? '';
      label.appendChild(input);
      this.inputs.set(p.name, input);
      this.node.appendChild(label);
    }
    this.faults = document.createElement('ul');
    this.faults.className = 'argosy-lint-faults';
    this.faults.setAttribute('role', 'alert');
    this.showFaults(faults);
    this.node.appendChild(this.faults);
  }

  showFaults(faults: string[]): void {
    this.faults.textContent = '';
    for (const f of faults) {
      const li = document.createElement('li');
      li.textContent = f;
      this.faults.appendChild(li);
    }
  }

  getValue(): { ns: string; values: Record<string, string> } {
    const values: Record<string, string> = {};
    for (const [k, input] of this.inputs) {
      values[k] = input.value;
    }
    return { ns: this.ns.value.trim() || 'default', values };
  }
}

async function faultsOf(ns: string, manifest: Manifest): Promise<string[]> {
  try {
    await lint(ns, manifest);
    return [];
  } catch (err) {
    if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
      return lintFaults(err.message);
    }
    throw err;
  }
}

/**
 * Shows the form until `send` accepts its values or the user cancels; each refusal's faults
 * are listed in the next form. Resolves to the created workflow, or null when cancelled.
 */
async function askAndSend(
  title: string,
  manifest: Manifest,
  ns: string,
  faults: string[],
  send: (ns: string, values: Record<string, string>) => Promise<Workflow>
): Promise<Workflow | null> {
  let values: Record<string, string> = {};
  for (;;) {
    const form = new SubmitForm(manifest, values, ns, faults);
    const answer = await showDialog({
      title,
      body: form,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Submit' })],
      focusNodeSelector: 'input'
    });
    if (!answer.button.accept || answer.value === null) {
      return null;
    }
    ({ ns, values } = answer.value);
    try {
      return await send(ns, values);
    } catch (err) {
      faults = lintFaults((err as Error).message);
    }
  }
}

/** Asks for the parameters of a YAML file's workflow (linted first), and submits it. */
export async function submitText(text: string, path: string): Promise<Workflow | null> {
  let manifest: Manifest;
  try {
    const docs = parseManifests(text).filter(d => d.kind === 'Workflow' || d.spec);
    if (docs.length === 0) {
      throw new Error('no Workflow in this file');
    }
    manifest = docs[0];
  } catch (err) {
    await showErrorMessage(`Cannot submit ${path}`, (err as Error).message);
    return null;
  }
  const ns = manifest.metadata?.namespace || 'default';
  const faults = await faultsOf(ns, manifest).catch(err => [String((err as Error).message)]);
  return askAndSend(`Submit workflow: ${path}`, manifest, ns, faults, (ns, values) =>
    submit(ns, withParameters(manifest, values))
  );
}

/** Submits a workflow from a template (argo submit --from), offering its parameters. */
export function submitTemplate(
  kind: TemplateKind,
  template: Resource,
  namespace: string
): Promise<Workflow | null> {
  const ns = template.metadata.namespace || namespace;
  return askAndSend(`Submit from ${kind}: ${template.metadata.name}`, template, ns, [], (ns, values) =>
    submitFrom(
      ns,
      kind,
      template.metadata.name,
      Object.entries(values).map(([k, v]) => `${k}=${v}`)
    )
  );
}
