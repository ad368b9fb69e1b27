"""Kubernetes objects besides Workflows: WorkflowTemplates, ClusterWorkflowTemplates, ConfigMaps
and Secrets, kept in the store's objects table (a Kubernetes-backed store keeps them as the
cluster's own objects behind the same methods).

Secrets are kept as Kubernetes keeps them, ``data`` base64-encoded (``stringData`` is folded
into it on write), in the store's database, which only its owner can read (the home is 0700
and ``argosy.db`` 0600). Their values reach a step's environment when it starts and are never
written into a workflow, its status or a log by argosy.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from dataclasses import dataclass
from typing import Any

from argosy.errors import Fault, InvalidWorkflow, NotFound
from argosy.spec.names import check_namespace
from argosy.spec.refs import Lookup
from argosy.store import Store

API_VERSION = "argoproj.io/v1alpha1"
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


@dataclass(frozen=True)
class Kind:
    name: str
    namespaced: bool
    api_version: str
    plural: str


KINDS = {k.name: k for k in (
    Kind("WorkflowTemplate", True, API_VERSION, "workflowtemplates"),
    Kind("ClusterWorkflowTemplate", False, API_VERSION, "clusterworkflowtemplates"),
    Kind("ConfigMap", True, "v1", "configmaps"),
    Kind("Secret", True, "v1", "secrets"),
    Kind("CronWorkflow", True, API_VERSION, "cronworkflows"),
)}
TEMPLATE_KINDS = ("WorkflowTemplate", "ClusterWorkflowTemplate")


def kind_of(name: str) -> Kind | None:
    """A kind by its name, plural or Argo's CLI short names (``workflowtemplate/x``)."""
    low = name.lower()
    for kind in KINDS.values():
        if low in (kind.name.lower(), kind.plural, kind.plural[:-1]):
            return kind
    short = {"wftmpl": "WorkflowTemplate", "cwftmpl": "ClusterWorkflowTemplate",
             "cm": "ConfigMap", "cwf": "CronWorkflow", "cronwf": "CronWorkflow"}
    return KINDS[short[low]] if low in short else None


def _name_faults(meta: dict[str, Any]) -> list[Fault]:
    name = meta.get("name")
    if not name and meta.get("generateName"):
        return []
    if not isinstance(name, str) or not name:
        return [Fault("metadata.name", "metadata.name is required")]
    if len(name) > 253 or not _DATA_KEY.match(name) or not _DNS_SUBDOMAIN.match(name):
        return [Fault("metadata.name", f'invalid name "{name}": use lower-case letters, digits,'
                      " '-' and '.', starting and ending alphanumeric")]
    return []


def _data_faults(body: dict[str, Any], field: str, decode: bool) -> list[Fault]:
    data = body.get(field)
    if data is None:
        return []
    if not isinstance(data, dict):
        return [Fault(field, f"{field} must be a mapping of keys to strings")]
    faults = []
    for key, value in data.items():
        if not _DATA_KEY.match(str(key)):
            faults.append(Fault(f"{field}.{key}", f'invalid key "{key}": use letters, digits, '
                                "'-', '_' and '.'"))
        elif not isinstance(value, str):
            faults.append(Fault(f"{field}.{key}", f"{key} must be a string (quote it: \"…\")"))
        elif decode:
            try:
                base64.b64decode(value, validate=True)
            except binascii.Error:
                faults.append(Fault(f"{field}.{key}", f"{key} is not base64 (put plain text "
                                    "under stringData)"))
    return faults


def template_faults(body: dict[str, Any], namespace: str, lookup: Lookup | None,
                    registry: Any = None) -> list[Fault]:
    """A WorkflowTemplate's faults: lint of its spec as a Workflow's, its references resolved
    against the store; a template that is only referenced needs no entrypoint."""
    from argosy.registry import default_registry
    from argosy.spec.lint import lint
    from argosy.spec.refs import resolve_references

    doc = copy.deepcopy(body)
    doc["kind"] = "Workflow"
    faults = resolve_references(doc, namespace, lookup) if lookup else []
    spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
    lenient = not spec.get("entrypoint")
    registry = registry or default_registry()
    for fault in lint(doc, template_types=registry.validators()):
        # Arguments come with each submission: a template need not give them.
        if fault.path in ("spec.entrypoint", "spec.onExit") and (
                lenient or "not given in spec.arguments" in fault.message):
            continue
        faults.append(fault)
    return faults


def object_faults(body: Any, lookup: Lookup | None = None) -> list[Fault]:
    """What is wrong with an object of one of :data:`KINDS` (apiVersion, kind, name, body);
    a template's references are resolved with ``lookup`` (not at all without one)."""
    if not isinstance(body, dict):
        return [Fault("", "a manifest must be a mapping")]
    kind = KINDS.get(body.get("kind"))  # type: ignore[arg-type]
    if kind is None:
        return [Fault("kind", f'kind "{body.get("kind")}" cannot be stored here: expected one '
                      f'of {", ".join(KINDS)} (or a Workflow)')]
    faults = []
    if body.get("apiVersion") != kind.api_version:
        faults.append(Fault("apiVersion", f'apiVersion of a {kind.name} is "{kind.api_version}",'
                            f' not "{body.get("apiVersion")}"'))
    meta = body.get("metadata")
    if not isinstance(meta, dict):
        return [*faults, Fault("metadata", "metadata is required")]
    faults += _name_faults(meta)
    if kind.name in TEMPLATE_KINDS:
        namespace = meta.get("namespace") if kind.namespaced else ""
        faults += template_faults(body, namespace or "default", lookup)
    elif kind.name == "CronWorkflow":
        from argosy.cron import cron_faults

        faults += cron_faults(body, lookup)
    else:
        faults += _data_faults(body, "data", decode=kind.name == "Secret")
        faults += _data_faults(body, "stringData", decode=False)
        if kind.name == "ConfigMap" and body.get("stringData") is not None:
            faults.append(Fault("stringData", "a ConfigMap has data, not stringData"))
    return faults


def lookup_in(docs: list[Any], store: Store | None, namespace: str = "default") -> Lookup:
    """A ``Lookup`` that finds objects among ``docs`` (manifests about to be stored in
    ``namespace``, unless they name theirs) first, then in the store (if any)."""
    given = {}
    for body in docs:
        meta = body.get("metadata") if isinstance(body, dict) else None
        if isinstance(meta, dict) and body.get("kind") in KINDS:
            scope = (meta.get("namespace") or namespace) if KINDS[body["kind"]].namespaced \
                else ""
            given[(body["kind"], scope, meta.get("name"))] = body

    def lookup(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        found = given.get((kind, namespace, name))
        return found if found or store is None else store.get_object(kind, namespace, name)

    return lookup


class ObjectService:
    """Create, read and delete the objects of :data:`KINDS` in a store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _scope(self, kind: Kind, namespace: str | None) -> str:
        return check_namespace(namespace or "default") if kind.namespaced else ""

    def put(self, body: dict[str, Any], namespace: str | None = None, *,
            mode: str = "apply", check: bool = True) -> tuple[dict[str, Any], bool]:
        """Validate (unless the caller did) and store; ``namespace`` is the default for one the
        object does not name. Returns the stored object (a Secret without its values) and
        whether it was created."""
        faults = object_faults(body, self.store.get_object) if check else []
        if faults:
            raise InvalidWorkflow(faults)
        kind = KINDS[body["kind"]]
        body = copy.deepcopy(body)
        meta = body["metadata"]
        scope = self._scope(kind, meta.get("namespace") or namespace)
        if not meta.get("name"):
            from argosy.store import _suffix

            meta["name"] = f"{meta['generateName']}{_suffix()}"
        meta.pop("generateName", None)
        body.pop("status", None)
        if kind.name == "Secret" and body.get("stringData"):
            data = dict(body.get("data") or {})
            for key, value in body.pop("stringData").items():
                data[key] = base64.b64encode(value.encode()).decode()
            body["data"] = data
        stored, created = self.store.put_object(kind.name, scope, meta["name"], body, mode=mode)
        return redact(stored), created

    def get(self, kind: str, namespace: str | None, name: str, *,
            reveal: bool = False) -> dict[str, Any]:
        k = KINDS[kind]
        found = self.store.get_object(k.name, self._scope(k, namespace), name)
        if found is None:
            where = f' in namespace "{self._scope(k, namespace)}"' if k.namespaced else ""
            raise NotFound(f'{k.name} "{name}" not found{where}')
        return found if reveal else redact(found)

    def list(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """``namespace`` None: every namespace."""
        k = KINDS[kind]
        scope = None if namespace is None else self._scope(k, namespace)
        return [redact(o) for o in self.store.list_objects(k.name, scope)]

    def delete(self, kind: str, namespace: str | None, name: str) -> None:
        k = KINDS[kind]
        if not self.store.delete_object(k.name, self._scope(k, namespace), name):
            where = f' in namespace "{self._scope(k, namespace)}"' if k.namespaced else ""
            raise NotFound(f'{k.name} "{name}" not found{where}')


def redact(body: dict[str, Any]) -> dict[str, Any]:
    """A Secret with its keys but not its values; any other object as it is."""
    if body.get("kind") != "Secret" or not body.get("data"):
        return body
    return dict(body, data=dict.fromkeys(body["data"], ""))
