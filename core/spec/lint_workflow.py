"""Lint: the document (apiVersion, kind, metadata) and the workflow spec around templates."""

from __future__ import annotations

import re
from typing import Any

from argosy.spec.lint_fields import _METADATA, _RETRY, _ROOT, _SPEC, _describe
from argosy.spec.lint_scopes import _Globals
from argosy.spec.names import namespace_fault

API_VERSION = "argoproj.io/v1alpha1"

_FIELD_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
_FIELD_NAME_MAX = 128
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_GENERATE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*)?$")
_OBJECT_NAME_MAX = 63
_IS_PARAMETER = re.compile(r"{{[-a-zA-Z0-9]+(\.[-a-zA-Z0-9_]+)*}}")


class WorkflowChecks:
    """The document, ``metadata`` and ``spec``: entrypoint, globals, hooks."""

    def check_document(self, doc: Any) -> None:
        if not isinstance(doc, dict):
            self.add("", f"a manifest must be a mapping, not {_describe(doc)}")
            return
        if not self.check_kind(doc):
            return
        self.check_known_fields(doc, _ROOT, "")
        self.check_metadata(doc.get("metadata"))
        if "spec" not in doc or doc["spec"] is None:
            self.add("spec", "spec is required")
            return
        spec = self.mapping(doc["spec"], "spec", "spec")
        if spec is not None:
            self.check_spec(spec, doc)

    def check_kind(self, doc: dict) -> bool:
        api = doc.get("apiVersion")
        if api is None:
            self.add("apiVersion", f'apiVersion is required ("{API_VERSION}")')
        elif api != API_VERSION:
            self.add("apiVersion", f'unknown apiVersion "{api}" (expected "{API_VERSION}")')
        kind = doc.get("kind")
        if kind is None:
            self.add("kind", "kind is required (Workflow)")
            return False
        if kind != "Workflow":
            self.add("kind", f'not a Workflow: kind is "{kind}"')
            return False
        return True

    def check_metadata(self, metadata: Any) -> None:
        meta = self.mapping(metadata, "metadata", "metadata") or {}
        self.check_fields(meta, "metadata", _METADATA)
        name, generate = meta.get("name"), meta.get("generateName")
        if not name and not generate:
            self.add("metadata", "metadata.name or metadata.generateName is required")
        if isinstance(name, str) and name:
            if len(name) > _OBJECT_NAME_MAX:
                self.add("metadata.name", f'workflow name "{name}" is longer than 63 characters')
            elif not _DNS_SUBDOMAIN.match(name):
                self.add("metadata.name", f'invalid workflow name "{name}": use lower-case '
                         "letters, digits, '-' and '.', starting and ending alphanumeric")
        if isinstance(generate, str) and generate and not _GENERATE_NAME.match(generate):
            self.add("metadata.generateName", f'invalid generateName "{generate}": use '
                     "lower-case letters, digits, '-' and '.', starting alphanumeric")
        namespace = meta.get("namespace")
        if isinstance(namespace, str) and namespace_fault(namespace):
            self.add("metadata.namespace", str(namespace_fault(namespace)))
        for key in ("labels", "annotations"):
            self.check_string_map(meta.get(key), f"metadata.{key}")
        # Names are strings to the engine and the store: 123 would be stored, then never run.
        self.check_string_map({key: value for key in ("name", "generateName", "namespace")
                               if isinstance(value := meta.get(key), int | float)}, "metadata")

    def check_string_map(self, value: Any, path: str) -> None:
        """Kubernetes' map[string]string: a number or a mapping as a value is a fault."""
        for key, item in (value or {}).items() if isinstance(value, dict) else ():
            if not isinstance(item, str):
                self.add(f"{path}.{key}", f"{key} must be a string, not {_describe(item)} "
                         '(quote it: "…")')

    def check_spec(self, spec: dict, doc: dict) -> None:
        self.spec = spec
        self.check_fields(spec, "spec", _SPEC)
        templates = spec.get("templates")
        templates = templates if isinstance(templates, list) else []
        self.index_templates(templates)
        self.globals = self.build_globals(doc, spec)
        self.check_entrypoint(spec)
        arguments = self.mapping(spec.get("arguments"), "spec.arguments", "arguments")
        self.check_arguments(arguments, "spec.arguments", allow_empty=True)
        self.check_hooks(spec.get("hooks"), "spec.hooks")
        if isinstance(spec.get("retryStrategy"), dict):
            self.check_fields(spec["retryStrategy"], "spec.retryStrategy", _RETRY)
        claim_gc = spec.get("volumeClaimGC")
        strategy = claim_gc.get("strategy") if isinstance(claim_gc, dict) else None
        if strategy not in (None, "", "OnWorkflowCompletion", "OnWorkflowSuccess"):
            self.add("spec.volumeClaimGC.strategy", 'strategy must be "OnWorkflowCompletion" or '
                     f'"OnWorkflowSuccess", not {_describe(strategy)}')
        self.check_gc_strategy(spec.get("artifactGC"), "spec.artifactGC")
        for index, template in enumerate(templates):
            self.check_template(template, f"spec.templates[{index}]")

    def check_gc_strategy(self, gc: Any, path: str) -> None:
        strategy = gc.get("strategy") if isinstance(gc, dict) else None
        if strategy not in (None, "", "OnWorkflowCompletion", "OnWorkflowDeletion", "Never"):
            self.add(f"{path}.strategy", 'strategy must be "OnWorkflowCompletion", '
                     f'"OnWorkflowDeletion" or "Never", not {_describe(strategy)}')

    def index_templates(self, templates: list) -> None:
        for index, template in enumerate(templates):
            path = f"spec.templates[{index}]"
            if not isinstance(template, dict):
                self.add(path, f"a template must be a mapping, not {_describe(template)}")
                continue
            name = template.get("name")
            if not self.check_name(name, f"{path}.name", "template"):
                continue
            if name in self.templates:
                self.add(f"{path}.name", f'duplicate template name "{name}"')
            else:
                self.templates[name] = template

    def check_name(self, name: Any, path: str, what: str) -> bool:
        """Argo's rule for template, step and task names; True when the name is usable."""
        if name is None or name == "":
            self.add(path, f"{what} name is required")
            return False
        if not isinstance(name, str):
            return False  # already a type fault
        if len(name) > _FIELD_NAME_MAX:
            self.add(path, f'{what} name "{name}" is longer than {_FIELD_NAME_MAX} characters')
        elif not _FIELD_NAME.match(name):
            self.add(path, f'invalid {what} name "{name}": use letters, digits and \'-\', '
                     "starting with a letter or digit")
        return True

    def check_entrypoint(self, spec: dict) -> None:
        if spec.get("workflowTemplateRef") is not None and not spec.get("templates"):
            return  # not resolved (argosy.spec.refs names why): nothing to check against
        entrypoint = spec.get("entrypoint")
        args = spec.get("arguments") if isinstance(spec.get("arguments"), dict) else {}
        if not entrypoint:
            self.add("spec.entrypoint", "spec.entrypoint is required")
        elif isinstance(entrypoint, str):
            self.check_template_name(entrypoint, "spec.entrypoint", args, "spec.arguments")
        on_exit = spec.get("onExit")
        if on_exit and isinstance(on_exit, str):
            self.check_template_name(on_exit, "spec.onExit", args, "spec.arguments")

    def check_template_name(self, name: str, path: str, args: Any, args_label: str) -> None:
        if name not in self.templates:
            self.add(path, f'unknown template "{name}"')
        else:
            self.check_inputs_supplied(self.templates[name], name, args, path, args_label)

    def build_globals(self, doc: dict, spec: dict) -> _Globals:
        keys = {f"workflow.{k}" for k in (
            "name", "namespace", "mainEntrypoint", "serviceAccountName", "uid", "status",
            "annotations", "annotations.json", "labels", "labels.json")}  # fmt: skip
        args = spec.get("arguments")
        params = args.get("parameters") if isinstance(args, dict) else None
        if isinstance(params, list) and params:
            keys |= {"workflow.parameters", "workflow.parameters.json"}
            keys |= {f"workflow.parameters.{p['name']}" for p in params
                     if isinstance(p, dict) and isinstance(p.get("name"), str)}  # fmt: skip
        metas = [doc.get("metadata"), spec.get("workflowMetadata")]
        for meta in (m for m in metas if isinstance(m, dict)):
            for key, prefix in (("annotations", "annotations"), ("labels", "labels"),
                                ("labelsFrom", "labels")):  # fmt: skip
                if isinstance(meta.get(key), dict):
                    keys |= {f"workflow.{prefix}.{k}" for k in meta[key]}
        if spec.get("priority") is not None:
            keys.add("workflow.priority")
        if spec.get("onExit") or spec.get("hooks"):
            keys.add("workflow.failures")
        glob = _Globals(keys)
        self.collect_global_outputs(spec, glob)
        return glob

    def collect_global_outputs(self, value: Any, glob: _Globals) -> None:
        """Outputs lifted with ``globalName`` anywhere in the spec become workflow.outputs.*."""
        if isinstance(value, list):
            for item in value:
                self.collect_global_outputs(item, glob)
            return
        if not isinstance(value, dict):
            return
        outputs = value.get("outputs")
        if isinstance(outputs, dict):
            for kind in ("parameters", "artifacts"):
                for item in outputs.get(kind) or []:
                    name = item.get("globalName") if isinstance(item, dict) else None
                    if not isinstance(name, str) or not name:
                        continue
                    if _IS_PARAMETER.search(name):
                        if kind == "parameters":
                            glob.any_output_parameter = True
                        else:
                            glob.any_output_artifact = True
                    else:
                        glob.keys.add(f"workflow.outputs.{kind}.{name}")
        for item in value.values():
            self.collect_global_outputs(item, glob)

    def check_hooks(self, hooks: Any, path: str) -> None:
        if not isinstance(hooks, dict):
            return
        for name, hook in hooks.items():
            hook_path = f"{path}.{name}"
            if not isinstance(hook, dict):
                self.add(hook_path, f"a hook must be a mapping, not {_describe(hook)}")
                continue
            if name != "exit" and not hook.get("expression"):
                self.add(hook_path, f'hook "{name}" needs an expression (only "exit" may omit it)')
            template = hook.get("template")
            if isinstance(template, str) and template and template not in self.templates:
                self.add(f"{hook_path}.template", f'unknown template "{template}"')
