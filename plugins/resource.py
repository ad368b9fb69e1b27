"""The ``resource`` template type: get, create, apply, delete, replace or patch a Kubernetes
object, wait for its success or failure condition, and take output parameters from it.

It talks to the API server through the official client's dynamic client (discovery), so any
kind works, custom resources included, whatever executor runs the workflow's pods. Argo runs
``kubectl`` in a pod for this; argosy makes the same calls itself, and maps the kubectl flags
Argo users pass (see :data:`FLAGS`).

Durability: a created object is annotated with its node (:data:`NODE_ANNOTATION`) and recorded
in the node's directory once the server answers, so an engine that restarts mid-wait re-attaches
to the same object, and one killed between the create and the record finds it by the annotation.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from argosy.kube import api_group
from argosy.plugin import (
    WORKFLOW_LABEL,
    ArgoModel,
    Fault,
    KubernetesUnavailable,
    NodeContext,
    NodeError,
    Outcome,
    Requirement,
    SelectorError,
    TemplateType,
    api_client,
    hookimpl,
    parse_requirements,
)
from argosy.plugin import home as argosy_home

ACTIONS = ("get", "create", "apply", "delete", "replace", "patch")
PATCH_TYPES = {"strategic": "application/strategic-merge-patch+json",
               "merge": "application/merge-patch+json",
               "json": "application/json-patch+json"}
RECORD = "resource.json"
NODE_ANNOTATION = "argosy/node"  # "<workflow uid>/<node id>" on the objects a node creates
FIELD_MANAGER = "argosy"
WATCH_SECONDS = 10  # a watch is renewed from its last resourceVersion after this (and a
# stopped node's watch ends by then)


class ManifestFrom(ArgoModel):
    artifact: dict[str, Any] | None = None


class ResourceTemplate(ArgoModel):
    action: str
    manifest: str | None = None
    manifest_from: ManifestFrom | None = Field(None, alias="manifestFrom")
    merge_strategy: str | None = Field(None, alias="mergeStrategy")
    success_condition: str | None = Field(None, alias="successCondition")
    failure_condition: str | None = Field(None, alias="failureCondition")
    set_owner_reference: bool | None = Field(None, alias="setOwnerReference")
    flags: list[str] | None = None


# ---- kubectl's flags ---------------------------------------------------------------------------

# Flags that take a value, by every name kubectl knows them by, -> the option they set.
FLAGS = {"-n": "namespace", "--namespace": "namespace", "-l": "selector", "--selector": "selector",
         "--validate": "validate", "--grace-period": "grace_period", "--cascade": "cascade",
         "--field-manager": "field_manager", "--dry-run": "dry_run"}
# Boolean flags, -> the option they set.
SWITCHES = {"--ignore-not-found": "ignore_not_found", "--force": "force", "--all": "all",
            "--server-side": "server_side", "--force-conflicts": "force_conflicts"}
# The options each action honours beyond namespace, validate, dry-run and field manager
# (delete always ignores a missing object, as Argo's kubectl call; apply is always server-side
# and takes ownership of conflicting fields).
ACTION_OPTIONS = {"delete": {"selector", "grace_period", "cascade", "ignore_not_found", "force",
                             "all"},
                  "apply": {"server_side", "force_conflicts"}}
COMMON_OPTIONS = {"namespace", "validate", "dry_run", "field_manager"}
VALIDATION = {"true": "Strict", "strict": "Strict", "warn": "Warn", "false": "Ignore",
              "ignore": "Ignore"}
CASCADE = {"true": "Background", "background": "Background", "foreground": "Foreground",
           "false": "Orphan", "orphan": "Orphan"}


@dataclass
class Flags:
    """What the template's ``flags`` ask for: positional kind/name and the mapped options."""

    kind: str | None = None
    name: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


def parse_flags(flags: list[str], action: str) -> Flags:
    """kubectl's arguments as Argo passes them: ``[KIND] [NAME]`` or ``KIND/NAME``, then flags
    as ``--flag value`` or ``--flag=value``."""
    out, positional = Flags(), []
    items = iter(flags)
    for item in items:
        if not item.startswith("-"):
            positional.append(item)
            continue
        name, eq, value = item.partition("=")
        if name in SWITCHES:
            out.options[SWITCHES[name]] = value.lower() != "false" if eq else True
        elif name in FLAGS:
            if not eq:
                value = next(items, None)
                if value is None:
                    raise NodeError(f"resource.flags: {name} needs a value")
            out.options[FLAGS[name]] = value
        else:
            known = ", ".join(sorted({*FLAGS, *SWITCHES}))
            raise NodeError(f"resource.flags: kubectl flag {name} is not supported by argosy's "
                            f"resource template (supported: {known})")
    if len(positional) == 1 and "/" in positional[0]:
        positional = positional[0].split("/", 1)
    if len(positional) > 2:
        raise NodeError(f"resource.flags: expected [KIND [NAME]], got {' '.join(positional)}")
    out.kind, out.name = [*positional, None, None][:2]
    for key, table in (("validate", VALIDATION), ("cascade", CASCADE)):
        if key in out.options and str(out.options[key]).lower() not in table:
            raise NodeError(f"resource.flags: --{key}={out.options[key]} is not one of "
                            f"{', '.join(table)}")
    if out.options.get("dry_run") not in (None, "none", "server"):
        raise NodeError("resource.flags: --dry-run: only server (or none) can be honoured "
                        "without kubectl")
    if not str(out.options.get("grace_period", "0")).lstrip("-").isdigit():
        raise NodeError(f"resource.flags: --grace-period={out.options['grace_period']} is not "
                        "a number of seconds")
    allowed = COMMON_OPTIONS | ACTION_OPTIONS.get(action, set())
    for flag, option in [*FLAGS.items(), *SWITCHES.items()]:
        if option in out.options and option not in allowed and flag.startswith("--"):
            raise NodeError(f"resource.flags: {flag} is not supported with action {action}: "
                            "a resource template manages one object")
    return out


# ---- the cluster -------------------------------------------------------------------------------


class Cluster:
    """The dynamic client and the resources it discovered."""

    def __init__(self) -> None:
        try:
            self.api = api_client()  # first: it says how to install the client if missing
        except KubernetesUnavailable as exc:
            raise NodeError(f"resource template: {exc}") from None
        from kubernetes.dynamic import DynamicClient

        host = re.sub(r"[^A-Za-z0-9]+", "-", self.api.configuration.host).strip("-")
        cache = argosy_home() / "cache" / f"discovery-{host}.json"
        cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.dynamic = DynamicClient(self.api, cache_file=str(cache))

    def by_kind(self, api_version: str, kind: str) -> Any:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            return self.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            raise NodeError(f'the server has no resource of kind "{kind}" in version '
                            f'"{api_version}" (is its CustomResourceDefinition installed?)'
                            ) from None

    def by_name(self, name: str) -> Any:
        """A resource as kubectl names it: plural, singular, short name or kind, optionally
        ``.group`` or ``.version.group`` qualified."""
        word, _, group = name.lower().partition(".")
        found = []
        listed = (r for entry in self.dynamic.resources  # kind -> [resource, subresources...]
                  for r in (entry if isinstance(entry, list) else [entry]))
        for res in listed:
            plural = getattr(res, "name", None)  # lists of a kind have none
            if not plural or "/" in plural or (group and group not in (
                    res.group, f"{res.api_version}.{res.group}")):
                continue
            names = {plural, res.singular_name, res.kind.lower(), *(res.short_names or [])}
            if word in names:
                found.append(res)
        if not found:
            raise NodeError(f'the server doesn\'t have a resource type "{name}"')
        preferred = [r for r in found if r.preferred] or found
        core = [r for r in preferred if not r.group]  # kubectl prefers the core group
        return (core or preferred)[0]


def _api_error(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    try:
        return str(json.loads(body)["message"])
    except (TypeError, ValueError, KeyError):
        return str(getattr(exc, "summary", lambda: exc)())


# ---- acting on the object ----------------------------------------------------------------------


@dataclass
class Ref:
    """Where the object is: enough to get and watch it again after a restart."""

    api_version: str
    kind: str
    namespace: str | None
    name: str

    @property
    def text(self) -> str:
        group = self.api_version.rpartition("/")[0]
        return f"{self.kind.lower()}.{group}/{self.name}" if group else \
            f"{self.kind.lower()}/{self.name}"


@dataclass
class Request:
    """One resource node's call, all inputs resolved."""

    action: str
    manifest: Any
    flags: Flags
    merge_strategy: str
    namespace: str
    mark: str  # the node annotation's value
    owner: str | None  # setOwnerReference: the workflow's name


def parse_manifest(text: str | None, action: str, strategy: str) -> Any:
    if not text or not text.strip():
        return None
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise NodeError(f"resource.manifest is not valid YAML: {exc}") from None
    if len(docs) != 1:
        raise NodeError(f"resource.manifest holds {len(docs)} documents: a resource template "
                        "manages exactly one object")
    doc = docs[0]
    if action == "patch" and strategy == "json":
        if not isinstance(doc, list):
            raise NodeError("resource.manifest: a json patch is a list of operations")
        return doc
    if not isinstance(doc, dict):
        raise NodeError("resource.manifest must be a Kubernetes object (a mapping)")
    return doc


def _resource_of(cluster: Cluster, req: Request) -> tuple[Any, str | None, str]:
    """The API resource, namespace and name the call is about."""
    manifest = req.manifest if isinstance(req.manifest, dict) else {}
    meta = manifest.get("metadata") or {}
    from_flags = req.flags.kind is not None and (
        not manifest.get("kind") or req.action == "patch")
    if from_flags and req.flags.kind:
        resource = cluster.by_name(req.flags.kind)
        name = req.flags.name or ""
    elif manifest.get("kind") and manifest.get("apiVersion"):
        resource = cluster.by_kind(str(manifest["apiVersion"]), str(manifest["kind"]))
        name = str(meta.get("name") or "")
    else:
        raise NodeError("resource template: the manifest needs apiVersion and kind, or flags "
                        "must name the kind")
    namespace = None
    if resource.namespaced:
        namespace = req.flags.options.get("namespace") or meta.get("namespace") or req.namespace
    return resource, namespace, name


def _query(req: Request) -> dict[str, Any]:
    opts, query = req.flags.options, {}
    if "field_manager" in opts and req.action != "delete":
        query["field_manager"] = opts["field_manager"]
    params = []
    if "validate" in opts:
        params.append(("fieldValidation", VALIDATION[str(opts["validate"]).lower()]))
    if opts.get("dry_run") == "server":
        query["dry_run"] = "All"
    if params:
        query["query_params"] = params
    return query


def act(cluster: Cluster, req: Request, node_dir: Path) -> tuple[Ref | None, dict | None, str]:
    """Do the action; the object's ref, the object (None after a delete) and a log line."""
    resource, namespace, name = _resource_of(cluster, req)
    if req.action == "delete":
        return None, None, _delete(resource, namespace, name, req)
    if not name and req.action != "create":
        raise NodeError(f"resource template: {req.action} needs the object's name "
                        "(metadata.name, or flags [KIND, NAME])")
    query = _query(req)
    if req.action == "get":
        obj = resource.get(name=name, namespace=namespace).to_dict()
    elif req.action == "create":
        obj = _create(cluster, resource, namespace, req, node_dir, query)
    elif req.action == "apply":
        body = _owned(cluster, req, namespace)
        query.setdefault("field_manager", FIELD_MANAGER)
        obj = resource.server_side_apply(body=body, name=name, namespace=namespace,
                                         force_conflicts=True, **query).to_dict()
    elif req.action == "replace":
        obj = resource.replace(body=_owned(cluster, req, namespace), name=name,
                               namespace=namespace,
                               **query).to_dict()
    else:
        content_type = PATCH_TYPES[req.merge_strategy]
        obj = resource.patch(body=req.manifest, name=name, namespace=namespace,
                             content_type=content_type, **query).to_dict()
    meta = obj.get("metadata") or {}
    ref = Ref(obj.get("apiVersion") or resource.group_version, obj.get("kind") or resource.kind,
              meta.get("namespace"), meta.get("name", name))
    verb = {"get": "", "create": " created", "apply": " serverside-applied",
            "replace": " replaced", "patch": " patched"}[req.action]
    return ref, obj, f"{ref.text}{verb}"


def _owned(cluster: Cluster, req: Request, namespace: str | None) -> dict[str, Any]:
    """The manifest, tied to its workflow when ``setOwnerReference`` asks.

    Argo makes the Workflow object the owner, so Kubernetes deletes the object with it. argosy's
    workflows are not objects in the cluster, and an ownerReference to an object that does not
    exist makes the garbage collector delete the new object at once. So the object gets the
    label Argo puts on everything a workflow owns (``kubectl delete -l`` finds it), and an
    ownerReference only when a Workflow of that name does exist in the namespace.
    """
    body = copy.deepcopy(req.manifest)
    if not req.owner:
        return body
    meta = body.setdefault("metadata", {})
    meta["labels"] = {**(meta.get("labels") or {}), WORKFLOW_LABEL: req.owner}
    workflow = _argo_workflow(cluster, req.owner, namespace)
    if workflow is not None:
        meta["ownerReferences"] = [*(meta.get("ownerReferences") or []), {
            "apiVersion": workflow["apiVersion"], "kind": "Workflow", "name": req.owner,
            "uid": workflow["metadata"]["uid"], "controller": True,
            "blockOwnerDeletion": True}]
    return body


def _argo_workflow(cluster: Cluster, name: str, namespace: str | None) -> dict | None:
    from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError

    try:
        # The group the controller serves (argoproj.io unless --api-group says another).
        workflows = cluster.dynamic.resources.get(api_version=f"{api_group()}/v1alpha1",
                                                  kind="Workflow")
        return workflows.get(name=name, namespace=namespace).to_dict()
    except (ResourceNotFoundError, DynamicApiError):
        return None


def _create(cluster: Cluster, resource: Any, namespace: str | None, req: Request,
            node_dir: Path, query: dict[str, Any]) -> dict[str, Any]:
    body = _owned(cluster, req, namespace)
    annotations = body.setdefault("metadata", {}).get("annotations") or {}
    body["metadata"]["annotations"] = {**annotations, NODE_ANNOTATION: req.mark}
    if _load(node_dir).get("creating"):  # a create may have happened before a crash
        listed = resource.get(namespace=namespace).to_dict().get("items") or []
        for item in listed:
            if ((item.get("metadata") or {}).get("annotations") or {}).get(
                    NODE_ANNOTATION) == req.mark:
                return item
    _save(node_dir, {"creating": True})
    return resource.create(body=body, namespace=namespace, **query).to_dict()


def _delete(resource: Any, namespace: str | None, name: str, req: Request) -> str:
    from kubernetes.dynamic.exceptions import NotFoundError

    opts = req.flags.options
    selector = opts.get("selector")
    if not name and not selector and not opts.get("all"):
        raise NodeError("resource template: delete needs a name (metadata.name or flags "
                        "[KIND, NAME]), --selector or --all")
    params: dict[str, Any] = {}
    if "grace_period" in opts:
        params["grace_period_seconds"] = int(opts["grace_period"])
    if opts.get("force") and "grace_period" not in opts:
        params["grace_period_seconds"] = 0
    # kubectl deletes dependents in the background unless told otherwise (the server alone
    # would orphan a Job's pods).
    params["propagation_policy"] = CASCADE[str(opts.get("cascade", "background")).lower()]
    params.update(_query(req))
    names = [name] if name else [
        (i.get("metadata") or {}).get("name") for i in resource.get(
            namespace=namespace, label_selector=selector).to_dict().get("items") or []]
    done = []
    for each in names:
        with contextlib.suppress(NotFoundError):  # kubectl delete --ignore-not-found, as Argo
            resource.delete(name=each, namespace=namespace, **params)
            done.append(f'{resource.kind.lower()} "{each}" deleted')
    return "\n".join(done) or "No resources found"


# ---- waiting for the conditions ----------------------------------------------------------------


def lookup(obj: Any, path: str) -> tuple[str, bool]:
    """A field of the object as gjson (Argo's condition evaluator) reads ``path``: dotted keys,
    array indexes; the value's text, and whether it exists. (gjson's wildcards and ``#`` cannot
    occur: a condition's keys are label keys.)"""
    value = obj
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return "", False
    return _text(value), True


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else format(Decimal(repr(value)), "f")


def _text(value: Any) -> str:
    """gjson's String(): strings as they are, numbers and booleans as written, JSON for the
    rest, empty for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


@dataclass
class Conditions:
    success: list[Requirement]
    failure: list[Requirement]

    @property
    def empty(self) -> bool:
        return not self.success and not self.failure

    def verdict(self, obj: dict[str, Any]) -> tuple[str, str] | None:
        """("Failed", why) once a failure requirement holds, ("Succeeded", "") once every
        success requirement does, None while neither (Argo checks failure first)."""
        def get(key: str) -> tuple[str, bool]:
            return lookup(obj, key)
        for req in self.failure:
            if req.matches(get):
                return "Failed", f"failure condition '{req}' evaluated true"
        if all(req.matches(get) for req in self.success):
            return "Succeeded", ""
        return None


def parse_conditions(body: ResourceTemplate) -> Conditions:
    parsed = []
    for name, text in (("successCondition", body.success_condition),
                       ("failureCondition", body.failure_condition)):
        try:
            parsed.append(parse_requirements(text) if text else [])
        except SelectorError as exc:
            raise NodeError(f"resource.{name} {text!r} failed to parse: {exc}") from None
    return Conditions(*parsed)


def wait_for(cluster: Cluster, ref: Ref, conditions: Conditions, first: dict[str, Any],
             stopped: Callable[[], bool]) -> tuple[dict[str, Any], str, str]:
    """Watch the object until a condition decides: (object, phase, message). A watch that ends
    is renewed from the last resourceVersion seen (bookmarks included); one too old for the
    server (410 Gone) reads the object afresh; a connection lost is retried, as Argo retries
    transient errors."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    resource = cluster.by_kind(ref.api_version, ref.kind)
    gone = f"{ref.text} was deleted while its status was still being checked"
    obj = first
    version = (obj.get("metadata") or {}).get("resourceVersion")
    while not stopped():
        verdict = conditions.verdict(obj)
        if verdict is not None:
            return obj, *verdict
        try:
            for event in resource.watch(namespace=ref.namespace, name=ref.name,
                                        resource_version=version, timeout=WATCH_SECONDS,
                                        allow_watch_bookmarks=True):
                kind, raw = event["type"], event["raw_object"]
                if kind == "DELETED":
                    return raw, "Failed", gone
                version = (raw.get("metadata") or {}).get("resourceVersion") or version
                if kind in ("ADDED", "MODIFIED"):
                    obj = raw
                    if conditions.verdict(obj) is not None:
                        break
                if stopped():
                    break
        except ApiException as exc:
            if exc.status == 404:
                return obj, "Failed", gone
            if exc.status != 410:
                raise
            obj = resource.get(name=ref.name, namespace=ref.namespace).to_dict()
            version = (obj.get("metadata") or {}).get("resourceVersion")
        except HTTPError:
            time.sleep(1.0)
    return obj, "Failed", "stopped"


# ---- output parameters -------------------------------------------------------------------------


def _go_json(value: Any) -> str:
    """Go's json.Marshal of a decoded value: compact, keys sorted, <, > and & escaped."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                       ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, code)
    return text


def jq_filter(obj: Any, program: str) -> str:
    """Argo's jqFilter output: each result on a line, strings bare, the rest as JSON."""
    try:
        import jq
    except ImportError:
        raise NodeError("jqFilter needs libjq's Python binding: pip install "
                        "'argosy[kubernetes]'") from None
    try:
        results = jq.compile(program).input_value(obj).all()
    except ValueError as exc:
        raise NodeError(f"jqFilter {program!r}: {exc}") from None
    return "\n".join(r if isinstance(r, str) else _go_json(r) for r in results).strip()


_ACTION = re.compile(r"\{((?:[^{}\"]|\"(?:[^\"\\]|\\.)*\")*)\}")


def _kubectl_value(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return _go_json(value)
    if isinstance(value, float):
        return format(value, "g") if abs(value) >= 1e21 else _number(value)
    return _text(value) if value is not None else "<nil>"


def _select(expr: str, data: Any) -> list[Any]:
    expr = expr.strip()
    if expr in ("@", "$", ""):
        return [data]
    path = "$" + expr.removeprefix("@").removeprefix("$") if not expr.startswith("[") \
        else "$" + expr
    import jsonpath  # slow to import, and only a resource's jsonPath output needs it

    try:
        return jsonpath.findall(path, data)
    except jsonpath.JSONPathError as exc:
        raise NodeError(f"jsonPath {{{expr}}}: {exc}") from None


def jsonpath_template(template: str, obj: Any) -> str:
    """kubectl's ``-o jsonpath=TEMPLATE``: text, ``{.path}``, ``{"literal"}``, and
    ``{range .path}...{end}``; a missing field prints nothing, as in ``kubectl get``."""
    pieces: list[tuple[str, str]] = []
    last = 0
    for m in _ACTION.finditer(template):
        pieces.append(("text", template[last:m.start()]))
        pieces.append(("action", m.group(1).strip()))
        last = m.end()
    pieces.append(("text", template[last:]))
    out, _ = _render(pieces, 0, obj)
    return out


def _render(pieces: list[tuple[str, str]], at: int, data: Any) -> tuple[str, int]:
    out = []
    while at < len(pieces):
        kind, text = pieces[at]
        at += 1
        if kind == "text":
            out.append(text)
        elif text == "end":
            return "".join(out), at
        elif text.startswith("range "):
            body_end = at
            for item in _select(text[6:], data):
                rendered, body_end = _render(pieces, at, item)
                out.append(rendered)
            if body_end == at:  # nothing to range over: skip to the matching end
                _, body_end = _render(pieces, at, None)
            at = body_end
        elif text.startswith('"'):
            out.append(json.loads(text))
        elif data is not None:
            out.append(" ".join(_kubectl_value(v) for v in _select(text, data)))
    return "".join(out), at


def output_values(template: dict[str, Any], obj: dict[str, Any]) -> dict[str, str]:
    values = {}
    for param in ((template.get("outputs") or {}).get("parameters") or []):
        source = param.get("valueFrom") or {}
        if source.get("jsonPath"):
            values[param["name"]] = jsonpath_template(source["jsonPath"], obj)
        elif source.get("jqFilter"):
            values[param["name"]] = jq_filter(obj, source["jqFilter"])
    return values


# ---- the node ------------------------------------------------------------------------------


def _load(node_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((node_dir / RECORD).read_text())
    except (OSError, ValueError):
        return {}


def _save(node_dir: Path, record: dict[str, Any]) -> None:
    node_dir.mkdir(parents=True, exist_ok=True)
    temp = node_dir / f".{RECORD}.tmp"
    temp.write_text(json.dumps(record))
    temp.replace(node_dir / RECORD)


def check(body: ResourceTemplate, template: dict[str, Any]) -> list[str]:
    """What Argo refuses in a resource template, each as "field: why"."""
    faults = []
    if body.action not in ACTIONS:
        faults.append(f"action: {body.action!r} is not one of {', '.join(ACTIONS)}")
    strategy = body.merge_strategy or "strategic"
    if strategy not in PATCH_TYPES:
        faults.append(f"mergeStrategy: {strategy!r} is not one of {', '.join(PATCH_TYPES)}")
    has_outputs = bool((template.get("outputs") or {}).get("parameters"))
    if body.action == "delete" and (body.success_condition or body.failure_condition
                                    or has_outputs):
        faults.append("action: successCondition, failureCondition and outputs are not "
                      "supported for the delete action")
    if not (body.manifest or "").strip() and not body.flags and body.manifest_from is None:
        faults.append("manifest: must provide at least one of flags or manifest")
    return faults


async def run(ctx: NodeContext) -> Outcome:
    stop = asyncio.Event()
    try:
        req, conditions = _request(ctx)
        cluster = await asyncio.to_thread(Cluster)
    except NodeError as exc:  # as Argo's kubectl failing in the step's pod: the node fails
        return Outcome("Failed", str(exc))
    try:
        return await _run(ctx, cluster, req, conditions, stop.is_set)
    except NodeError as exc:
        return Outcome("Failed", str(exc))
    except asyncio.CancelledError:
        stop.set()
        raise
    finally:
        cluster.api.close()


def _request(ctx: NodeContext) -> tuple[Request, Conditions]:
    """The node's call and conditions, as substituted; what Argo would refuse raises."""
    body: ResourceTemplate = ctx.body
    faults = check(body, ctx.raw)
    if body.manifest_from is not None:  # lint says so too
        faults.insert(0, "manifestFrom: manifestFrom is not supported here: there are no input "
                      "artifacts to read it from yet")
    if faults:
        raise NodeError(f"resource.{faults[0]}")
    strategy = body.merge_strategy or "strategic"
    req = Request(body.action, parse_manifest(body.manifest, body.action, strategy),
                  parse_flags(body.flags or [], body.action), strategy, ctx.namespace,
                  f"{ctx.workflow['metadata']['uid']}/{ctx.node.id}",
                  ctx.workflow_name if body.set_owner_reference else None)
    return req, parse_conditions(body)


async def _run(ctx: NodeContext, cluster: Cluster, req: Request, conditions: Conditions,
               stopped: Callable[[], bool]) -> Outcome:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    node_dir, record = ctx.node_dir, _load(ctx.node_dir)
    try:
        if "ref" in record:  # the action was done before a restart: re-attach
            ref = Ref(**record["ref"])
            obj = await asyncio.to_thread(
                lambda: cluster.by_kind(ref.api_version, ref.kind).get(
                    name=ref.name, namespace=ref.namespace).to_dict())
            log = f"{ref.text} (re-attached)"
        else:
            ref, obj, log = await asyncio.to_thread(act, cluster, req, node_dir)
            if ref is not None:
                _save(node_dir, {"ref": ref.__dict__})
        if ref is None or obj is None:
            return Outcome("Succeeded", log=log + "\n")
        phase, message = "Succeeded", ""
        if not conditions.empty:
            obj, phase, message = await asyncio.to_thread(
                wait_for, cluster, ref, conditions, obj, stopped)
    except ApiException as exc:
        return Outcome("Failed", _api_error(exc))
    except HTTPError as exc:
        return Outcome("Failed", f"the API server could not be reached: {exc}")
    outputs = output_values(ctx.raw, obj) if phase == "Succeeded" else {}
    return Outcome(phase, message, outputs=outputs, log=f"{log}\n")


def validate(body: ResourceTemplate, path: str) -> list[Fault]:
    faults = []
    for text in check(body, {}):
        where, _, message = text.partition(": ")
        faults.append(Fault(f"{path}.{where}", message))
    for name, text in (("successCondition", body.success_condition),
                       ("failureCondition", body.failure_condition)):
        if text and "{{" not in text:
            try:
                parse_requirements(text)
            except SelectorError as exc:
                faults.append(Fault(f"{path}.{name}", f"{text!r} failed to parse: {exc}"))
    return faults


@hookimpl
def argosy_template_types() -> list[TemplateType]:
    return [TemplateType("resource", "Pod", run, ResourceTemplate, validate)]
