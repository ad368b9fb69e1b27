"""The API server double's object store: resourceVersions, watches, selectors, garbage collection.

One global counter stamps every write, as etcd's revision does for the real server; a watch
replays the kept window of events after a resourceVersion and answers 410 Expired before it.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import itertools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argosy.spec.selectors import SelectorError, label_matcher

from . import defaults
from .kinds import BUILTIN, CRD_KIND, Kind, kinds_of_crd
from .patch import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_PATCH,
    PatchError,
    json_patch,
    merge_patch,
    strategic_merge,
)

Obj = dict[str, Any]
Matcher = Callable[[Obj], bool]
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# Field selectors the real server supports, beyond metadata.name and metadata.namespace.
FIELD_LABELS = {
    "Pod": {"status.phase", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
            "spec.serviceAccountName", "status.podIP", "status.nominatedNodeName"},
    "Event": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
              "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.fieldPath",
              "involvedObject.resourceVersion", "reason", "reportingComponent", "source", "type"},
    "Secret": {"type"},
    "Namespace": {"status.phase"},
    "Job": {"status.successful"},
}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- Status errors -----------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer; ``status`` is the Status object exactly as the real server shapes it."""

    def __init__(self, code: int, reason: str, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                            "status": "Failure", "message": message, "reason": reason,
                            "code": code}
        if details is not None:
            self.status["details"] = details


def details(kind: Kind, name: str, **extra: Any) -> dict[str, Any]:
    details = {"name": name, "group": kind.group, "kind": kind.plural, **extra}
    return {k: v for k, v in details.items() if v != ""}


def not_found(kind: Kind, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{kind.qualified()} "{name}" not found',
                    details(kind, name))


def conflict(kind: Kind, name: str) -> ApiError:
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {kind.qualified()} '
                    f'"{name}": the object has been modified; please apply your changes to the '
                    "latest version and try again", details(kind, name))


def invalid(kind: Kind, name: str, causes: list[dict[str, str]]) -> ApiError:
    said = [f"{c['field']}: {c['message']}" for c in causes]
    text = said[0] if len(said) == 1 else f"[{', '.join(said)}]"
    qualified = f"{kind.kind}.{kind.group}" if kind.group else kind.kind
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {text}',
                    {"name": name, "group": kind.group, "kind": kind.kind, "causes": causes}
                    if kind.group else {"name": name, "kind": kind.kind, "causes": causes})


def not_served() -> ApiError:
    """A path the server has no resource at."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


# ---- selectors ---------------------------------------------------------------------------------


def _path(obj: Obj, dotted: str) -> Any:
    value: Any = obj
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def label_selector(text: str | None) -> Matcher:
    try:
        match = label_matcher(text)
    except SelectorError as exc:
        raise bad_request(f"unable to parse requirement: {exc}") from None
    return lambda obj: match((obj.get("metadata") or {}).get("labels") or {})


def field_selector(kind: Kind, text: str | None) -> Matcher:
    terms: list[tuple[str, bool, str]] = []
    for term in filter(None, (t.strip() for t in (text or "").split(","))):
        for op in ("!=", "==", "="):
            field, found, value = term.partition(op)
            if found:
                break
        else:
            raise bad_request(f'invalid selector: \'{text}\'; can\'t understand \'{term}\'')
        field = field.strip()
        allowed = {"metadata.name", "metadata.namespace"} | FIELD_LABELS.get(kind.kind, set())
        if field not in allowed:
            raise bad_request(f"field label not supported: {field}")
        terms.append((field, op == "!=", value.strip()))

    def match(obj: Obj) -> bool:
        return all((str(_path(obj, f) or "") == v) != neg for f, neg, v in terms)
    return match


# ---- the store ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    rv: int
    key: tuple[str, str]
    type: str
    obj: Obj
    old: Obj | None


@dataclass
class Watch:
    """What a watch asks for: its kind, namespace, selectors and where to start."""

    kind: Kind
    namespace: str | None
    match: Matcher
    resource_version: str | None
    timeout: float
    bookmarks: bool = False
    bookmark_every: float = 60.0
    initial_events_end: bool = False  # sendInitialEvents: a bookmark marks the end of the state


class Store:
    def __init__(self, window: int = 1000) -> None:
        self.cond = threading.Condition(threading.RLock())
        self.rv = 0
        self.compacted = 0  # the newest resourceVersion no longer in the event window
        self.window = window
        self.events: deque[Event] = deque()
        self.objects: dict[tuple[str, str], dict[tuple[str, str], Obj]] = {}
        self.kinds: dict[tuple[str, str, str], Kind] = {}
        self.closed = False
        self._ips = itertools.count(1)
        # The kubelet's say on a graceful pod delete: True when it will finish the deletion.
        self.graceful_delete: Callable[[Obj], bool] = lambda pod: False
        for kind in BUILTIN:
            self.kinds[(kind.group, kind.version, kind.plural)] = kind
        for ns in INITIAL_NAMESPACES:
            self.create(self.kind("", "v1", "namespaces"), None, {"metadata": {"name": ns}})

    # ---- kinds

    def kind(self, group: str, version: str, plural: str) -> Kind:
        kind = self.kinds.get((group, version, plural))
        if kind is None:
            raise not_served()
        return kind

    def all_kinds(self) -> list[Kind]:
        with self.cond:
            return list(self.kinds.values())

    def _crd_changed(self, old: Obj | None, new: Obj | None) -> None:
        """Serve what a CRD now declares; its custom resources go when it goes."""
        old_kinds = kinds_of_crd(old) if old is not None else []
        if new is None and old_kinds:
            for obj in list(self.objects.get(old_kinds[0].key, {}).values()):
                self._remove(old_kinds[0], obj)
        for kind in old_kinds:
            self.kinds.pop((kind.group, kind.version, kind.plural), None)
        for kind in kinds_of_crd(new) if new is not None else []:
            self.kinds[(kind.group, kind.version, kind.plural)] = kind

    def _stored_kind(self, obj: Obj) -> Kind:
        group, _, version = obj["apiVersion"].rpartition("/")
        return next(k for k in self.kinds.values()
                    if k.group == group and k.version == version and k.kind == obj["kind"])

    # ---- writes

    def _commit(self, kind: Kind, type_: str, obj: Obj, old: Obj | None) -> Obj:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        bucket = self.objects.setdefault(kind.key, {})
        ident = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if type_ == "DELETED":
            bucket.pop(ident, None)
        else:
            bucket[ident] = obj
        self.events.append(Event(self.rv, kind.key, type_, copy.deepcopy(obj), old))
        while len(self.events) > self.window:
            self.compacted = self.events.popleft().rv
        self.cond.notify_all()
        return copy.deepcopy(obj)

    def create(self, kind: Kind, namespace: str | None, body: Obj, dry_run: bool = False) -> Obj:
        with self.cond:
            obj = self._new(kind, namespace, body)
            if kind is CRD_KIND:
                causes = defaults.validate_crd_name(obj)
                if causes:
                    raise invalid(kind, obj["metadata"]["name"], causes)
            n = next(self._ips)
            defaults.default(kind, obj, f"10.96.{n // 250}.{n % 250 + 1}")
            if dry_run:
                return obj
            created = self._commit(kind, "ADDED", obj, None)
            if kind is CRD_KIND:
                self._crd_changed(None, obj)
            if kind.kind == "Namespace" and not kind.group:  # as the service account controller
                self.create(self.kind("", "v1", "serviceaccounts"), obj["metadata"]["name"],
                            {"metadata": {"name": "default"}})
            return created

    def _new(self, kind: Kind, namespace: str | None, body: Obj) -> Obj:
        if not isinstance(body, dict):
            raise bad_request("the body of the request must be a JSON object")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if kind.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            meta["namespace"] = namespace
            if not self._exists_namespace(namespace):
                raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                               {"name": namespace, "kind": "namespaces"})
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
        causes = defaults.validate(kind, obj)
        if causes:
            raise invalid(kind, meta.get("name") or "", causes)
        if (meta.get("namespace", ""), meta["name"]) in self.objects.get(kind.key, {}):
            raise ApiError(409, "AlreadyExists",
                           f'{kind.qualified()} "{meta["name"]}" already exists',
                           details(kind, meta["name"]))
        for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        if kind.kind in ("Deployment", "Job", "CustomResourceDefinition") or kind.group not in (
                {k.group for k in BUILTIN}):
            meta["generation"] = 1
        if "status" in kind.subresources and kind.kind not in ("Pod",):
            obj.pop("status", None)
        return obj

    def _exists_namespace(self, name: str | None) -> bool:
        return ("", name or "") in self.objects.get(("", "namespaces"), {})

    def get(self, kind: Kind, namespace: str | None, name: str) -> Obj:
        with self.cond:
            return self._out(kind, self._stored(kind, namespace, name))

    def _stored(self, kind: Kind, namespace: str | None, name: str) -> Obj:
        obj = self.objects.get(kind.key, {}).get((namespace or "" if kind.namespaced else "",
                                                  name))
        if obj is None:
            raise not_found(kind, name)
        return obj

    def _out(self, kind: Kind, obj: Obj) -> Obj:
        """A copy as served at ``kind``'s version (custom resources are stored unconverted)."""
        out = copy.deepcopy(obj)
        out["apiVersion"] = kind.api_version
        return out

    def replace(self, kind: Kind, namespace: str | None, name: str, body: Obj,
                subresource: str | None = None, dry_run: bool = False) -> Obj:
        with self.cond:
            current = self._stored(kind, namespace, name)
            if not isinstance(body, dict):
                raise bad_request("the body of the request must be a JSON object")
            meta = body.get("metadata") or {}
            if meta.get("name") not in (None, name):
                raise bad_request("the name of the object does not match the name on the URL")
            wanted = meta.get("resourceVersion")
            if wanted and wanted != current["metadata"]["resourceVersion"]:
                raise conflict(kind, name)
            return self._update(kind, current, body, subresource, dry_run)

    def _update(self, kind: Kind, current: Obj, body: Obj, subresource: str | None,
                dry_run: bool) -> Obj:
        new = copy.deepcopy(body)
        old_meta = current["metadata"]
        meta = new.setdefault("metadata", {})
        for field in ("uid", "creationTimestamp", "name", "namespace", "generation",
                      "deletionTimestamp", "deletionGracePeriodSeconds"):
            if field in old_meta:
                meta[field] = old_meta[field]
            else:
                meta.pop(field, None)
        new["apiVersion"], new["kind"] = current["apiVersion"], current["kind"]
        if subresource == "status":
            new = {**copy.deepcopy(current), "status": new.get("status")}
        elif "status" in kind.subresources:
            new["status"] = copy.deepcopy(current.get("status"))
        if new.get("status") is None:
            new.pop("status", None)
        causes = defaults.validate(kind, new) + self._immutable(kind, current, new)
        if causes:
            raise invalid(kind, old_meta["name"], causes)
        defaults.default(kind, new, (current.get("spec") or {}).get("clusterIP", ""))
        if _spec_of(new) != _spec_of(current) and "generation" in old_meta:
            meta["generation"] = old_meta["generation"] + 1
        if dry_run:
            return new
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and not (
                kind.kind == "Pod" and self.graceful_delete(new)):
            return self._remove(kind, new)
        updated = self._commit(kind, "MODIFIED", new, copy.deepcopy(current))
        if kind is CRD_KIND:
            self._crd_changed(current, new)
        return self._out(kind, updated)

    def _immutable(self, kind: Kind, current: Obj, new: Obj) -> list[dict[str, str]]:
        if kind.kind != "Pod" or kind.group:
            return []
        spec = copy.deepcopy(new.get("spec") or {})
        defaults.pod_spec_defaults(spec)
        mutable = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")

        def fixed(s: Obj) -> Obj:
            s = {k: v for k, v in s.items() if k not in mutable}
            for field in ("initContainers", "containers"):
                s[field] = [{k: v for k, v in c.items() if k != "image"}
                            for c in s.get(field) or []]
            return s
        if fixed(spec) != fixed(current.get("spec") or {}):
            return [{"reason": "FieldValueForbidden", "field": "spec", "message":
                     "Forbidden: pod updates may not change fields other than "
                     "`spec.containers[*].image`,`spec.initContainers[*].image`,"
                     "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
                     "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to "
                     "be set to 1 if it was previously negative)"}]
        return []

    def patch(self, kind: Kind, namespace: str | None, name: str, content_type: str,
              patch: Any, subresource: str | None = None, dry_run: bool = False,
              field_manager: str | None = None) -> Obj:
        with self.cond:
            if content_type == APPLY_PATCH:
                if not field_manager:
                    raise bad_request("fieldManager is required for apply requests")
                ident = (namespace or "" if kind.namespaced else "", name)
                if ident not in self.objects.get(kind.key, {}):  # apply creates
                    return self.create(kind, namespace, patch, dry_run)
            current = self._stored(kind, namespace, name)
            merged = self._patched(kind, self._out(kind, current), content_type, patch)
            wanted = (patch.get("metadata") or {}).get("resourceVersion") if isinstance(
                patch, dict) else None
            if wanted and wanted != current["metadata"]["resourceVersion"]:
                raise conflict(kind, name)
            return self._update(kind, current, merged, subresource, dry_run)

    def _patched(self, kind: Kind, current: Obj, content_type: str, patch: Any) -> Obj:
        builtin = kind.group in ("", "batch", "apps", "coordination.k8s.io",
                                 "rbac.authorization.k8s.io", "apiextensions.k8s.io")
        try:
            if content_type == JSON_PATCH:
                merged = json_patch(current, patch)
            elif content_type == MERGE_PATCH:
                merged = merge_patch(current, patch)
            elif content_type in (STRATEGIC_PATCH, APPLY_PATCH) and builtin:
                merged = strategic_merge(current, patch)
            elif content_type == APPLY_PATCH:
                merged = merge_patch(current, patch)
            else:
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an "
                               f"unknown format - accepted media types include: {JSON_PATCH}, "
                               f"{MERGE_PATCH}, {APPLY_PATCH}"
                               + ("" if not builtin else f", {STRATEGIC_PATCH}"))
        except PatchError as exc:
            raise ApiError(422, "Invalid", str(exc)) from None
        if not isinstance(merged, dict):
            raise bad_request("the patch did not produce an object")
        return merged

    def delete(self, kind: Kind, namespace: str | None, name: str,
               options: Obj | None = None) -> Obj:
        """The object as deleted, or as marked for a deletion that finalizers or the kubelet
        hold; ``metadata.deletionTimestamp`` tells the two apart."""
        options = options or {}
        with self.cond:
            obj = self._stored(kind, namespace, name)
            wanted = (options.get("preconditions") or {}).get("resourceVersion")
            if wanted and wanted != obj["metadata"]["resourceVersion"]:
                raise conflict(kind, name)
            policy = options.get("propagationPolicy") or (
                "Orphan" if options.get("orphanDependents") or kind.kind == "Job" else
                "Background")
            meta = obj["metadata"]
            if meta.get("deletionTimestamp"):
                return self._out(kind, obj)
            grace = options.get("gracePeriodSeconds")
            marked = copy.deepcopy(obj)
            marked["metadata"]["deletionTimestamp"] = now()
            if kind.kind == "Pod" and not kind.group:
                if grace is None:
                    grace = (obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                marked["metadata"]["deletionGracePeriodSeconds"] = grace
                if grace > 0 and self.graceful_delete(marked):
                    return self._out(kind, self._commit(kind, "MODIFIED", marked,
                                                        copy.deepcopy(obj)))
            if meta.get("finalizers"):
                return self._out(kind, self._commit(kind, "MODIFIED", marked, copy.deepcopy(obj)))
            if policy == "Orphan":
                self._orphan(meta["uid"])
            if kind.kind == "Namespace":
                self._empty_namespace(name)
            return self._remove(kind, obj)

    def mutate(self, kind: Kind, namespace: str | None, name: str,
               change: Callable[[Obj], None]) -> Obj | None:
        """A controller's write (the kubelet's status, a Job's pods): no validation, no
        precondition; None when the object is gone."""
        with self.cond:
            try:
                current = self._stored(kind, namespace, name)
            except ApiError:
                return None
            new = copy.deepcopy(current)
            change(new)
            if new == current:
                return copy.deepcopy(current)
            return self._commit(kind, "MODIFIED", new, copy.deepcopy(current))

    def objects_of(self, kind: Kind) -> list[Obj]:
        with self.cond:
            return [copy.deepcopy(o) for o in self.objects.get(kind.key, {}).values()]

    def remove(self, kind: Kind, namespace: str | None, name: str) -> None:
        """Finish a deletion the kubelet held: the pod's processes are gone."""
        with self.cond, contextlib.suppress(ApiError):
            self._remove(kind, self._stored(kind, namespace, name))

    def _remove(self, kind: Kind, obj: Obj) -> Obj:
        gone = self._commit(kind, "DELETED", copy.deepcopy(obj), copy.deepcopy(obj))
        if kind is CRD_KIND:
            self._crd_changed(obj, None)
        self._collect(obj["metadata"]["uid"])
        return self._out(kind, gone)

    def _dependents(self, uid: str) -> Iterator[tuple[Kind, Obj]]:
        for bucket in list(self.objects.values()):
            for obj in list(bucket.values()):
                refs = obj["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == uid for r in refs):
                    yield self._stored_kind(obj), obj

    def _collect(self, uid: str) -> None:
        """Background cascading deletion: dependents whose owners are all gone go too."""
        alive = {o["metadata"]["uid"] for b in self.objects.values() for o in b.values()}
        for kind, obj in list(self._dependents(uid)):
            owners = {r.get("uid") for r in obj["metadata"]["ownerReferences"]}
            if not owners & alive:
                meta = obj["metadata"]
                self.delete(kind, meta.get("namespace"), meta["name"],
                            {"propagationPolicy": "Background"})

    def _orphan(self, uid: str) -> None:
        for kind, obj in list(self._dependents(uid)):
            new = copy.deepcopy(obj)
            new["metadata"]["ownerReferences"] = [
                r for r in obj["metadata"]["ownerReferences"] if r.get("uid") != uid]
            self._commit(kind, "MODIFIED", new, copy.deepcopy(obj))

    def _empty_namespace(self, name: str) -> None:
        for bucket in list(self.objects.values()):
            for obj in list(bucket.values()):
                if obj["metadata"].get("namespace") == name:
                    self._remove(self._stored_kind(obj), obj)

    # ---- reads

    def list(self, kind: Kind, namespace: str | None, match: Matcher, limit: int = 0,
             cont: str | None = None) -> Obj:
        with self.cond:
            start = _decode_continue(cont) if cont else ""
            items = sorted(
                (o for o in self.objects.get(kind.key, {}).values()
                 if (namespace is None or o["metadata"].get("namespace") == namespace)
                 and match(o)),
                key=_sort_key)
            items = [o for o in items if _sort_key(o) > start] if start else items
            meta: Obj = {"resourceVersion": str(self.rv)}
            if limit and len(items) > limit:
                meta["continue"] = _encode_continue(self.rv, _sort_key(items[limit - 1]))
                meta["remainingItemCount"] = len(items) - limit
                items = items[:limit]
            return {"kind": f"{kind.kind}List", "apiVersion": kind.api_version,
                    "metadata": meta, "items": [self._out(kind, o) for o in items]}

    def watch(self, spec: Watch) -> Iterator[Obj]:
        """Watch events as the real server streams them, ending at the timeout; a bad
        resourceVersion raises here, before anything is streamed."""
        since, initial = self._watch_start(spec)
        if spec.initial_events_end:
            end = self._bookmark(spec.kind, since)
            end["object"]["metadata"]["annotations"] = {"k8s.io/initial-events-end": "true"}
            initial.append(end)
        return self._events(spec, since, initial)

    def _events(self, spec: Watch, since: int, initial: list[Obj]) -> Iterator[Obj]:
        yield from initial
        deadline = time.monotonic() + spec.timeout
        next_bookmark = time.monotonic() + spec.bookmark_every
        while not self.closed:
            with self.cond:
                if since < self.compacted:
                    yield _expired_event(since, self.compacted)
                    return
                events = [e for e in self.events if e.rv > since]
                if not events:
                    left = min(deadline, next_bookmark) - time.monotonic()
                    if left > 0:
                        self.cond.wait(left)
                        continue
                since = max([since, *(e.rv for e in events)])
            for event in events:
                out = self._filter(spec, event)
                if out is not None:
                    yield out
            if spec.bookmarks and time.monotonic() >= next_bookmark:
                yield self._bookmark(spec.kind, since)
                next_bookmark = time.monotonic() + spec.bookmark_every
            if time.monotonic() >= deadline:
                return

    def _watch_start(self, spec: Watch) -> tuple[int, list[Obj]]:
        with self.cond:
            rv = spec.resource_version
            if rv in (None, "", "0"):
                listed = self.list(spec.kind, spec.namespace, spec.match)["items"]
                return self.rv, [{"type": "ADDED", "object": o} for o in listed]
            try:
                since = int(rv)
            except ValueError:
                raise bad_request(f'invalid resource version "{rv}"') from None
            return since, []

    def _filter(self, spec: Watch, event: Event) -> Obj | None:
        if event.key != spec.kind.key:
            return None

        def matches(obj: Obj | None) -> bool:
            return obj is not None and (
                spec.namespace is None or obj["metadata"].get("namespace") == spec.namespace
            ) and spec.match(obj)
        now_in, was_in = matches(event.obj), matches(event.old)
        type_ = event.type
        if type_ == "MODIFIED" and now_in != was_in:
            type_ = "ADDED" if now_in else "DELETED"
        elif not now_in:
            return None
        return {"type": type_, "object": self._out(spec.kind, event.obj)}

    def _bookmark(self, kind: Kind, rv: int) -> Obj:
        return {"type": "BOOKMARK", "object": {"kind": kind.kind, "apiVersion": kind.api_version,
                                               "metadata": {"resourceVersion": str(rv)}}}

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()


def _spec_of(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _sort_key(obj: Obj) -> str:
    return f"{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def _encode_continue(rv: int, key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"rv": rv, "start": key}).encode()).decode()


def _decode_continue(token: str) -> str:
    try:
        return str(json.loads(base64.urlsafe_b64decode(token.encode()))["start"])
    except (ValueError, KeyError, TypeError):
        raise bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                          "(version meta.k8s.io/v1)") from None


def _expired_event(since: int, compacted: int) -> Obj:
    error = expired(f"too old resource version: {since} ({compacted + 1})")
    return {"type": "ERROR", "object": error.status}
