"""The service layer every interface uses (CLI, REST, Jupyter): validate, submit, read."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from argosy.errors import Fault, InvalidWorkflow
from argosy.loader import Document, load_documents, load_file
from argosy.registry import Registry, default_registry
from argosy.store import Store, WorkflowRecord


def lint_document(doc: Document, registry: Registry | None = None) -> list[Fault]:
    from argosy.lint import lint

    registry = registry or default_registry()
    return lint(doc.data, file=doc.file, locate=doc.locate, template_types=registry.validators())


def load_workflow(source: str | Path | dict[str, Any], registry: Registry | None = None,
                  **overrides: Any) -> dict[str, Any]:
    """One Workflow manifest from a path, YAML/JSON text or a dict, with ``overrides`` applied
    (see :func:`apply_overrides`), then linted: every fault is reported at once."""
    if isinstance(source, dict):
        docs = [Document(data=copy.deepcopy(source), file=None)]
    elif isinstance(source, Path) or ("\n" not in source and Path(source).exists()):
        docs = load_file(str(source))
    else:
        docs = load_documents(source)
    workflows = [d for d in docs if isinstance(d.data, dict) and d.data.get("kind") == "Workflow"]
    if len(docs) == 1:
        workflows = docs
    if len(workflows) != 1:
        file = docs[0].file if docs else None
        raise InvalidWorkflow([Fault("", f"expected exactly one Workflow, found {len(workflows)}",
                                     file)])
    doc = workflows[0]
    if isinstance(doc.data, dict):
        apply_overrides(doc.data, **overrides)
    faults = lint_document(doc, registry)
    if faults:
        raise InvalidWorkflow(faults)
    return doc.data


def apply_overrides(manifest: dict[str, Any], parameters: dict[str, str] | None = None,
                    entrypoint: str | None = None, name: str | None = None,
                    generate_name: str | None = None, labels: dict[str, str] | None = None,
                    namespace: str | None = None) -> dict[str, Any]:
    """Argo's submit options applied to a manifest: ``-p``, ``--entrypoint``, names, labels."""
    spec = manifest.setdefault("spec", {})
    if entrypoint:
        spec["entrypoint"] = entrypoint
    if parameters:
        params = spec.setdefault("arguments", {}).setdefault("parameters", [])
        for key, value in parameters.items():
            for p in params:
                if p.get("name") == key:
                    p["value"] = value
                    p.pop("valueFrom", None)
                    break
            else:
                params.append({"name": key, "value": value})
    meta = manifest.setdefault("metadata", {})
    if name:
        meta["name"] = name
        meta.pop("generateName", None)
    elif generate_name:
        meta["generateName"] = generate_name
        meta.pop("name", None)
    if labels:
        meta.setdefault("labels", {}).update(labels)
    if namespace:
        meta["namespace"] = namespace
    return manifest


def submit(store: Store, source: str | Path | dict[str, Any], *,
           registry: Registry | None = None, **overrides: Any) -> WorkflowRecord:
    """Validate and record a workflow; an engine picks it up from the store."""
    manifest = load_workflow(source, registry, **overrides)
    manifest.pop("status", None)
    return store.create_workflow(manifest)
