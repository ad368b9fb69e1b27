"""References to WorkflowTemplates and ClusterWorkflowTemplates, resolved before a run.

``spec.workflowTemplateRef`` joins the template's spec under the workflow's own, as Argo's
``JoinWorkflowSpec`` does: the workflow's fields win, mappings merge field by field, and
``templates`` and ``arguments.parameters``/``artifacts`` merge by name, a parameter given in
the workflow replacing the template's whole (its value, default or valueFrom).

``templateRef`` (in steps, DAG tasks and hooks, with ``clusterScope`` for
ClusterWorkflowTemplates) copies the referenced template into the workflow under the name
``<WorkflowTemplate name>-<template name>``, and with it, under names made the same way, the
templates it calls by ``template:`` in its own WorkflowTemplate and, recursively, those it
references. The step then calls the copy by ``template:``. This is Argo's
``status.storedTemplates`` done at submission: the workflow holds a snapshot of what it
referenced, so a template changed or deleted later does not change a workflow already
submitted, and the engine needs no store of templates.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from argosy.errors import Fault

__all__ = ["Lookup", "join_spec", "resolve_config_maps", "resolve_references"]

#: ``lookup(kind, namespace, name)``: the stored object, or None. Cluster-scoped kinds are
#: asked with namespace "".
Lookup = Callable[[str, str, str], dict[str, Any] | None]

WFT, CWFT = "WorkflowTemplate", "ClusterWorkflowTemplate"
_NAME_MAX = 128
_BY_NAME = ("templates", "parameters", "artifacts")


def _merge(workflow: Any, template: Any, key: str = "") -> Any:
    """Kubernetes' strategic merge of Argo's types, the workflow's side winning."""
    if isinstance(workflow, dict) and isinstance(template, dict):
        out = copy.deepcopy(template)
        for k, v in workflow.items():
            out[k] = _merge(v, template[k], k) if k in template else copy.deepcopy(v)
        return out
    if key in _BY_NAME and isinstance(workflow, list) and isinstance(template, list):
        own = {i.get("name"): i for i in workflow if isinstance(i, dict)}
        merged = [copy.deepcopy(own.pop(i.get("name"), i)) if isinstance(i, dict) else i
                  for i in template]
        return merged + [copy.deepcopy(i) for i in workflow
                         if not isinstance(i, dict) or i.get("name") in own]
    return copy.deepcopy(workflow)


def join_spec(spec: dict[str, Any], template_spec: dict[str, Any]) -> dict[str, Any]:
    """The spec a workflow with ``workflowTemplateRef`` runs (see the module docstring)."""
    joined = _merge(spec, template_spec)
    joined["suspend"] = spec.get("suspend")
    if joined["suspend"] is None:
        del joined["suspend"]
    return joined


def _ref_kind(ref: dict[str, Any]) -> str:
    return CWFT if ref.get("clusterScope") else WFT


class _Resolver:
    def __init__(self, spec: dict[str, Any], namespace: str, lookup: Lookup) -> None:
        self.namespace = namespace
        self.lookup = lookup
        self.faults: list[Fault] = []
        templates = spec.get("templates")
        self.templates: list[Any] = templates if isinstance(templates, list) else []
        self.taken = {t.get("name") for t in self.templates if isinstance(t, dict)}
        # (kind, WorkflowTemplate name, template name) -> the copy's name in the workflow
        self.copies: dict[tuple[str, str, str], str] = {}
        self.objects: dict[tuple[str, str], dict[str, Any] | None] = {}

    def fault(self, path: str, message: str) -> None:
        self.faults.append(Fault(path, message))

    def source(self, kind: str, name: str) -> dict[str, Any] | None:
        key = (kind, name)
        if key not in self.objects:
            self.objects[key] = self.lookup(kind, self.namespace if kind == WFT else "", name)
        return self.objects[key]

    def missing(self, kind: str, name: str) -> str:
        where = f' in namespace "{self.namespace}"' if kind == WFT else ""
        return f'{kind} "{name}" not found{where}'

    def copy_name(self, kind: str, source: str, template: str) -> str:
        base = f"{source}-{template}"[:_NAME_MAX].rstrip("-")
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base[:_NAME_MAX - len(str(n)) - 1]}-{n}"
        self.taken.add(name)
        return name

    def template_ref(self, ref: Any, path: str) -> str | None:
        """The name of the copy of the template ``ref`` names, made on first use."""
        if not isinstance(ref, dict):
            return None  # lint words the type fault
        kind, source, name = _ref_kind(ref), ref.get("name"), ref.get("template")
        if not isinstance(source, str) or not source:
            self.fault(f"{path}.name", "templateRef.name is required")
            return None
        if not isinstance(name, str) or not name:
            self.fault(f"{path}.template", "templateRef.template is required")
            return None
        return self.copy_of(kind, source, name, path)

    def copy_of(self, kind: str, source: str, name: str, path: str) -> str | None:
        key = (kind, source, name)
        if key in self.copies:
            return self.copies[key]
        obj = self.source(kind, source)
        if obj is None:
            self.fault(path, self.missing(kind, source))
            return None
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        found = [t for t in spec.get("templates") or []
                 if isinstance(t, dict) and t.get("name") == name]
        if not found:
            self.fault(path, f'{kind} "{source}" has no template "{name}"')
            return None
        copied = copy.deepcopy(found[0])
        copied["name"] = self.copies[key] = self.copy_name(kind, source, name)
        self.templates.append(copied)
        self.rewrite(copied, f"{kind}/{source}: template {name}",
                     lambda n: self.copy_of(kind, source, n, f"{kind}/{source}"))
        return copied["name"]

    def rewrite(self, template: dict[str, Any], path: str,
                local: Callable[[str], str | None] | None) -> None:
        """Point every call in ``template`` at the workflow's copies: ``templateRef`` always,
        ``template:`` when ``local`` (the template is a copy from a WorkflowTemplate) says."""
        steps = template.get("steps")
        if isinstance(steps, list):
            for i, group in enumerate(steps):
                for j, step in enumerate(group if isinstance(group, list) else []):
                    self.call(step, f"{path}.steps[{i}][{j}]", local)
        dag = template.get("dag")
        tasks = dag.get("tasks") if isinstance(dag, dict) else None
        for i, task in enumerate(tasks if isinstance(tasks, list) else []):
            self.call(task, f"{path}.dag.tasks[{i}]", local)

    def call(self, step: Any, path: str, local: Callable[[str], str | None] | None) -> None:
        if not isinstance(step, dict):
            return
        self.target(step, path, local)
        if isinstance(step.get("inline"), dict):
            self.rewrite(step["inline"], f"{path}.inline", local)
        if local is not None and isinstance(step.get("onExit"), str):
            step["onExit"] = local(step["onExit"]) or step["onExit"]
        self.hooks(step.get("hooks"), f"{path}.hooks", local)

    def hooks(self, hooks: Any, path: str, local: Callable[[str], str | None] | None) -> None:
        for name, hook in hooks.items() if isinstance(hooks, dict) else ():
            if isinstance(hook, dict):
                self.target(hook, f"{path}.{name}", local)

    def target(self, call: dict[str, Any], path: str,
               local: Callable[[str], str | None] | None) -> None:
        """A step's, task's or hook's ``template`` or ``templateRef``, rewritten."""
        if call.get("templateRef") is not None:
            if call.get("template") is not None:
                return  # lint says it has both
            name = self.template_ref(call["templateRef"], f"{path}.templateRef")
            if name is not None:
                del call["templateRef"]
                call["template"] = name
        elif local is not None and isinstance(call.get("template"), str):
            call["template"] = local(call["template"]) or call["template"]


def resolve_references(manifest: dict[str, Any], namespace: str,
                       lookup: Lookup) -> list[Fault]:
    """Resolve ``workflowTemplateRef`` and every ``templateRef`` of a Workflow (or a
    WorkflowTemplate) in place; the faults name each reference that cannot be resolved.

    ``spec.workflowTemplateRef`` stays, saying where the spec came from, as in Argo.
    """
    spec = manifest.get("spec")
    if not isinstance(spec, dict):
        return []
    faults: list[Fault] = []
    ref = spec.get("workflowTemplateRef")
    if isinstance(ref, dict):
        kind, name = _ref_kind(ref), ref.get("name")
        found = lookup(kind, namespace if kind == WFT else "", name) if name else None
        if not name:
            faults.append(Fault("spec.workflowTemplateRef.name",
                                "workflowTemplateRef.name is required"))
        elif found is None:
            where = f' in namespace "{namespace}"' if kind == WFT else ""
            faults.append(Fault("spec.workflowTemplateRef", f'{kind} "{name}" not found{where}'))
        elif isinstance(found.get("spec"), dict):
            spec = manifest["spec"] = join_spec(spec, found["spec"])
    resolver = _Resolver(spec, namespace, lookup)
    if resolver.templates is not spec.get("templates"):
        spec["templates"] = resolver.templates
    for index, template in enumerate(list(resolver.templates)):
        if isinstance(template, dict):
            resolver.rewrite(template, f"spec.templates[{index}]", None)
    resolver.hooks(spec.get("hooks"), "spec.hooks", None)
    if not resolver.templates:
        del spec["templates"]
    return faults + resolver.faults


def resolve_config_maps(manifest: dict[str, Any], namespace: str,
                        lookup: Lookup) -> list[Fault]:
    """Parameters whose ``valueFrom.configMapKeyRef`` names a ConfigMap key take its value now,
    in place: the workflow's arguments as their ``value`` (Argo reads them when the workflow
    starts), a template's inputs as their ``default`` (an argument still wins, as in Argo).
    A missing ConfigMap or key falls back to ``valueFrom.default``, else is a fault."""
    faults: list[Fault] = []

    def walk(value: Any, path: str, parent: str) -> None:
        if isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]", parent)
            return
        if not isinstance(value, dict):
            return
        if parent in ("arguments", "inputs") and isinstance(value.get("parameters"), list):
            for index, param in enumerate(value["parameters"]):
                where = f"{path}.parameters[{index}]"
                if isinstance(param, dict):
                    fault = _from_config_map(param, where, parent, namespace, lookup)
                    if fault:
                        faults.append(fault)
        for key, item in value.items():
            walk(item, f"{path}.{key}", key)

    walk(manifest.get("spec"), "spec", "spec")
    return faults


def _from_config_map(param: dict[str, Any], path: str, parent: str, namespace: str,
                     lookup: Lookup) -> Fault | None:
    source = param.get("valueFrom")
    ref = source.get("configMapKeyRef") if isinstance(source, dict) else None
    if not isinstance(ref, dict):
        return None
    name, key = ref.get("name"), ref.get("key")
    found = lookup("ConfigMap", namespace, name) if isinstance(name, str) and name else None
    data = (found or {}).get("data") or {}
    if key in data:
        value = data[key]
    elif source.get("default") is not None:
        value = source["default"]
    elif found is None:
        return Fault(f"{path}.valueFrom.configMapKeyRef",
                     f'ConfigMap "{name}" not found in namespace "{namespace}"')
    else:
        return Fault(f"{path}.valueFrom.configMapKeyRef",
                     f'ConfigMap "{name}" has no key "{key}"')
    del param["valueFrom"]
    param["value" if parent == "arguments" else "default"] = value
    return None
