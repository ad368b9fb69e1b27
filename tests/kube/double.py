"""A Kubernetes API server double, faithful where real clients look, with a simulated kubelet.

    python -m tests.kube.double --port PORT --kubeconfig FILE

serves on 127.0.0.1:PORT and writes a kubeconfig for kubectl and argosy at FILE. It speaks the
API server's JSON over HTTP/1.1 (chunked streams for watches and followed logs): discovery,
the core, apps, batch, coordination, rbac and apiextensions kinds, custom resources from CRDs,
resourceVersions, selectors, the three patch types, server-side Table printing for kubectl, and
garbage collection through ownerReferences. Pods really run, each container in a sandbox of
argosy's local executor (kubelet.py).

Not modelled, on purpose: authentication and RBAC (every request is allowed), schemas (the
server accepts fieldValidation but checks only the required fields clients rely on), conversion
between a CRD's versions, field ownership in server-side apply (an apply patch creates, or
merges as a strategic or merge patch would), Foreground deletion (treated as Background), any
controller but the kubelet's and Jobs' (Deployments are stored only), resource limits, probes,
and the timestamps/sinceSeconds parameters of logs.

It is built on the standard library's threading HTTP server rather than the project's ASGI stack:
the store, the watches and the kubelet are threads blocking on one condition variable, which a
handler thread can simply wait on, and the wire format (status codes, chunked bodies, content
types) stays exactly as written here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonpath
import yaml

from argosy.plugins.container import IMAGES_ENV

from .kinds import (
    ACCESS_REVIEW,
    Kind,
    api_group,
    group_list,
    openapi_v3,
    openapi_v3_root,
    resource_list,
)
from .kubelet import Kubelet, PodRun
from .patch import APPLY_PATCH
from .store import (
    ApiError,
    Obj,
    Store,
    Watch,
    bad_request,
    details,
    field_selector,
    label_selector,
    not_served,
)

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0", "gitCommit": "argosy-double",
           "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23",
           "compiler": "gc", "platform": "linux/amd64"}
DEFAULT_WATCH_SECONDS = 1800  # the real server's --min-request-timeout
TRUE = ("true", "True", "1")


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                    "requested resource", {})


# ---- access reviews: the double authorizes every request ---------------------------------------

ACCESS_REVIEWS = "authorization.k8s.io/v1/selfsubjectaccessreviews"
PROTOBUF = "application/vnd.kubernetes.protobuf"


def access_review(body: Any) -> Obj:
    """A SelfSubjectAccessReview's answer (kubectl auth can-i): allowed, whatever it asks."""
    spec = body.get("spec", {}) if isinstance(body, dict) else {}
    return {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None}, "spec": spec,
            "status": {"allowed": True, "reason": "the API double authorizes every request"}}


# ---- tables for kubectl get ----------------------------------------------------------------------


def _age(stamp: str | None) -> str:
    """A duration as kubectl prints it: 45s, 3m20s, 5h, 12d."""
    if not stamp:
        return "<unknown>"
    then = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    s = max(0, int((datetime.now(UTC) - then).total_seconds()))
    if s < 120:
        return f"{s}s"
    if s < 600:
        return f"{s // 60}m{s % 60}s" if s % 60 else f"{s // 60}m"
    if s < 3 * 3600:
        return f"{s // 60}m"
    if s < 48 * 3600:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def _column(name: str, type_: str = "string", description: str = "", priority: int = 0,
            format_: str = "") -> Obj:
    return {"name": name, "type": type_, "format": format_, "description": description,
            "priority": priority}


def _pod_cells(pod: Obj) -> list[Any]:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    reason = status.get("reason") or status.get("phase", "")
    for c in statuses:
        state = c.get("state") or {}
        detail = (state.get("waiting") or {}).get("reason") or (
            state.get("terminated") or {}).get("reason")
        if detail and reason in ("Pending", "Running", "Failed", "Succeeded"):
            reason = detail
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    restarts = sum(c.get("restartCount", 0) for c in statuses)
    total = len((pod.get("spec") or {}).get("containers") or [])
    return [f"{ready}/{total}", reason, restarts]


def _pod_wide_cells(pod: Obj) -> list[Any]:
    """kubectl get -o wide's extra pod columns."""
    return [(pod.get("status") or {}).get("podIP") or "<none>",
            (pod.get("spec") or {}).get("nodeName") or "<none>", "<none>", "<none>"]


def _job_cells(job: Obj) -> list[Any]:
    status = job.get("status") or {}
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    state = ("Complete" if conditions.get("Complete") == "True" else
             "Failed" if conditions.get("Failed") == "True" else "Running")
    return [state, f"{status.get('succeeded', 0)}/{job['spec'].get('completions', 1)}"]


def _custom_cell(obj: Obj, column: Obj) -> Any:
    found = jsonpath.findall("$" + column.get("jsonPath", ""), obj)
    value = found[0] if found else None
    if value is not None and column.get("type") == "date":
        return _age(str(value))
    return value


def table(kind: Kind, objs: list[Obj], meta: Obj, include: str) -> Obj:
    """The meta.k8s.io/v1 Table the real server prints for ``Accept: ...;as=Table``."""
    name = _column("Name", format_="name", description="Name must be unique within a namespace.")
    age = _column("Age", description="CreationTimestamp is a timestamp representing the server "
                  "time when this object was created.")
    wide: Callable[[Obj], list[Any]] = lambda o: []  # noqa: E731
    if kind.columns:
        columns = [name] + [_column(c["name"], c.get("type", "string"), c.get("description", ""),
                                    c.get("priority", 0), c.get("format", ""))
                            for c in kind.columns]
        extra = lambda o: [_custom_cell(o, c) for c in kind.columns]  # noqa: E731
    elif kind.kind == "Pod" and not kind.group:
        columns = [name, _column("Ready"), _column("Status"), _column("Restarts", "string"), age,
                   *(_column(c, priority=1) for c in ("IP", "Node", "Nominated Node",
                                                       "Readiness Gates"))]
        extra = _pod_cells
        wide = _pod_wide_cells
    elif kind.kind == "Job" and kind.group == "batch":
        columns = [name, _column("Status"), _column("Completions"), age]
        extra = _job_cells
    else:
        columns, extra = [name, age], lambda o: []
    rows = []
    for obj in objs:
        cells = [obj["metadata"]["name"], *extra(obj)]
        if age in columns:
            cells.append(_age(obj["metadata"].get("creationTimestamp")))
        cells += wide(obj)
        row: Obj = {"cells": cells}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj["metadata"]}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": columns, "rows": rows}


# ---- the server ----------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that closed a kept-alive connection: as an API server, no noise
        super().handle_error(request, client_address)


class Double:
    """The API server double and its kubelet; start() serves in background threads."""

    def __init__(self, port: int = 0, root: Path | None = None, window: int = 1000,
                 bookmark_every: float = 60.0, pod_ip: str = "127.0.0.1") -> None:
        self.store = Store(window)
        self.httpd = _Server(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.httpd.double = self  # type: ignore[attr-defined]
        self.bookmark_every = bookmark_every
        self._tmp = None if root is not None else tempfile.TemporaryDirectory(prefix="kube-")
        self.root = root or Path(self._tmp.name)  # type: ignore[union-attr]
        self.kubelet = Kubelet(self.store, self.root, {
            "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(self.port)},
            pod_ip)
        self._threads: list[threading.Thread] = []
        # Every request as (method, path, query): tests check how clients use the server.
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        # Answers an overloaded or broken server gives: (code, method or None, Retry-After),
        # one per request to come that matches.
        self.failures: list[tuple[int, str | None, str | None]] = []
        self.failing = threading.Lock()

    def fail_next(self, code: int, count: int = 1, method: str | None = None,
                  retry_after: str | None = None) -> None:
        """Answer the next ``count`` requests (those with ``method`` only, if given) with
        ``code`` (429 Too Many Requests, 500…) and a Status, as an overloaded server does."""
        with self.failing:
            self.failures += [(code, method, retry_after)] * count

    def failure_for(self, method: str) -> tuple[int, str | None] | None:
        with self.failing:
            for i, (code, wanted, retry_after) in enumerate(self.failures):
                if wanted in (None, method):
                    del self.failures[i]
                    return code, retry_after
        return None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kubeconfig(self) -> Obj:
        name = "argosy-double"
        return {"apiVersion": "v1", "kind": "Config", "current-context": name,
                "clusters": [{"name": name, "cluster": {"server": self.url}}],
                "users": [{"name": name, "user": {}}],
                "contexts": [{"name": name, "context": {"cluster": name, "user": name,
                                                        "namespace": "default"}}]}

    def write_kubeconfig(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.kubeconfig(), sort_keys=False))
        return path

    def start(self) -> Double:
        for target in (self.httpd.serve_forever, self.kubelet.serve):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self.kubelet.stop()
        self.store.close()
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Double:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "argosy-kube-double"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK stall every response by some 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def double(self) -> Double:
        return self.server.double  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read the responses, not an access log

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ---- plumbing

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self.double.requests.append((method, url.path, self.query))
        if (failure := self.double.failure_for(method)) is not None:
            self._fail(*failure)
            return
        try:
            body = self._body()
            result = self._route(method, [p for p in url.path.split("/") if p], body)
            if result is not None:
                code, obj = result
                self._send_json(code, obj)
        except ApiError as exc:
            self._send_json(exc.code, exc.status)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug in the double: say so, as the real server would
            traceback.print_exc()
            error = ApiError(500, "InternalError", f"Internal error occurred: {exc}")
            self._send_json(500, error.status)

    def _fail(self, code: int, retry_after: str | None) -> None:
        reason = {429: "TooManyRequests", 503: "ServiceUnavailable"}.get(code, "InternalError")
        error = ApiError(code, reason, f"the server answers {code} (a test asked it to)")
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(error.status).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        if self._content_type() == PROTOBUF:
            return PROTOBUF  # undecodable here; an access review needs no body
        try:
            if self._content_type() == APPLY_PATCH:
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request(f"the body of the request was not valid: {exc}") from None

    def _content_type(self) -> str:
        return (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()

    def _send_json(self, code: int, obj: Any) -> None:
        data = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, content_type: str, chunks: Iterator[bytes]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()
        for chunk in chunks:
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _flag(self, name: str) -> bool:
        return self.query.get(name) in TRUE

    def _int(self, name: str, default: int = 0) -> int:
        value = self.query.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except ValueError:
            raise bad_request(f'invalid value for {name}: "{value}" is not an integer') from None

    # ---- routing

    def _route(self, method: str, parts: list[str], body: Any) -> tuple[int, Any] | None:
        store = self.double.store
        if parts == ["version"]:
            return 200, VERSION
        if parts == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs":
                         [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:"
                           f"{self.double.port}"}]}
        if parts == ["apis"]:
            return 200, group_list(self._discovered())
        if parts == ["openapi", "v3"]:
            return 200, openapi_v3_root(store.all_kinds())
        if parts[:2] == ["openapi", "v3"] and (doc := openapi_v3(
                "/".join(parts[2:]), store.all_kinds())) is not None:
            return 200, doc
        if parts == ["apis", *ACCESS_REVIEWS.split("/")] and method == "POST":
            return 201, access_review(body)
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        elif len(parts) == 2 and parts[0] == "apis":
            versions = [k.version for k in self._discovered() if k.group == parts[1]]
            if not versions:
                raise not_served()
            return 200, api_group(parts[1], list(dict.fromkeys(versions)))
        else:
            raise not_served()
        if not rest:
            kinds = [k for k in self._discovered() if (k.group, k.version) == (group, version)]
            if not kinds:
                raise not_served()
            return 200, resource_list(f"{group}/{version}" if group else version, kinds)
        return self._resource(method, group, version, rest, body)

    def _discovered(self) -> list[Kind]:
        return [*self.double.store.all_kinds(), ACCESS_REVIEW]

    def _resource(self, method: str, group: str, version: str, rest: list[str],
                  body: Any) -> tuple[int, Any] | None:
        store = self.double.store
        if body is PROTOBUF:
            raise ApiError(415, "UnsupportedMediaType", 'the body of the request was in an '
                           'unknown format - accepted media types include: application/json, '
                           'application/yaml', {})
        watching = rest[0] == "watch"
        rest = rest[1:] if watching else rest
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces" and (group, version, rest[2]) in store.kinds:
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise not_served()
        kind = store.kind(group, version, rest[0])
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if (namespace is not None and not kind.namespaced) or (sub and sub not in
                                                                 kind.subresources):
            raise not_served()
        if kind.namespaced and name is not None and namespace is None:
            raise not_served()
        if name is None:
            return self._collection(method, kind, namespace, body, watching)
        return self._object(method, kind, namespace, name, sub, body)

    def _collection(self, method: str, kind: Kind, namespace: str | None, body: Any,
                    watching: bool) -> tuple[int, Any] | None:
        store = self.double.store
        labels = label_selector(self.query.get("labelSelector"))
        fields = field_selector(kind, self.query.get("fieldSelector"))

        def match(obj: Obj) -> bool:
            return labels(obj) and fields(obj)
        if method == "POST":
            if kind.namespaced and namespace is None:
                raise method_not_allowed()
            created = store.create(kind, namespace, body, dry_run=bool(self.query.get("dryRun")))
            return 201, created
        if method == "DELETE":
            listed = store.list(kind, namespace, match)
            for obj in listed["items"]:
                meta = obj["metadata"]
                store.delete(kind, meta.get("namespace"), meta["name"], body)
            return 200, listed
        if method != "GET":
            raise method_not_allowed()
        if watching or self._flag("watch"):
            self._watch(kind, namespace, match)
            return None
        listed = store.list(kind, namespace, match, self._int("limit"), self.query.get("continue"))
        return 200, self._maybe_table(kind, listed["items"], listed["metadata"], listed)

    def _maybe_table(self, kind: Kind, items: list[Obj], meta: Obj, plain: Obj) -> Obj:
        if "as=Table" not in (self.headers.get("Accept") or ""):
            return plain
        return table(kind, items, meta, self.query.get("includeObject", "Metadata"))

    def _watch(self, kind: Kind, namespace: str | None, match: Any) -> None:
        spec = Watch(kind, namespace, match, self.query.get("resourceVersion"),
                     float(self._int("timeoutSeconds", DEFAULT_WATCH_SECONDS)),
                     self._flag("allowWatchBookmarks"), self.double.bookmark_every,
                     self._flag("sendInitialEvents"))
        events = self.double.store.watch(spec)
        if "as=Table" in (self.headers.get("Accept") or ""):
            events = self._table_events(kind, events)
        self._stream("application/json", (json.dumps(e, separators=(",", ":")).encode() + b"\n"
                                          for e in events))

    def _table_events(self, kind: Kind, events: Iterator[Obj]) -> Iterator[Obj]:
        """kubectl get --watch: each object as a one-row Table, columns in the first only."""
        first = True
        for event in events:
            obj = event["object"]
            if event["type"] in ("ERROR", "BOOKMARK"):
                yield event
                continue
            rows = table(kind, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]},
                         self.query.get("includeObject", "Metadata"))
            if not first:
                rows["columnDefinitions"] = []
            first = False
            yield {"type": event["type"], "object": rows}

    def _object(self, method: str, kind: Kind, namespace: str | None, name: str,
                sub: str | None, body: Any) -> tuple[int, Any] | None:
        store = self.double.store
        dry_run = bool(self.query.get("dryRun"))
        if sub == "log":
            if method != "GET":
                raise method_not_allowed()
            self._logs(kind, namespace, name)
            return None
        if method == "GET":
            obj = store.get(kind, namespace, name)
            return 200, self._maybe_table(kind, [obj], {"resourceVersion": obj["metadata"][
                "resourceVersion"]}, obj)
        if method == "PUT":
            return 200, store.replace(kind, namespace, name, body, sub, dry_run)
        if method == "PATCH":
            patched = store.patch(kind, namespace, name, self._content_type(), body, sub, dry_run,
                                  self.query.get("fieldManager"))
            return 200, patched
        if method == "DELETE":
            options = dict(body or {})
            for key in ("gracePeriodSeconds", "propagationPolicy"):
                if key in self.query:
                    options[key] = (int(self.query[key]) if key == "gracePeriodSeconds" else
                                    self.query[key])
            deleted = store.delete(kind, namespace, name, options)
            if deleted["metadata"].get("deletionTimestamp") or kind.returns_deleted:
                return 200, deleted
            return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Success",
                         "details": details(kind, name, uid=deleted["metadata"]["uid"])}
        raise method_not_allowed()

    # ---- logs

    def _logs(self, kind: Kind, namespace: str | None, name: str) -> None:
        pod = self.double.store.get(kind, namespace, name)
        run = self.double.kubelet.run_of(pod["metadata"]["uid"])
        container = self._log_container(pod)
        waiting = f'container "{container}" in pod "{name}" is waiting to start: ' + \
            "ContainerCreating"
        c = run.container(container) if run is not None else None
        if c is None or not c.log_path().exists():
            raise bad_request(waiting)
        previous = self._flag("previous")
        if previous and c.restarts == 0:
            raise bad_request(f'previous terminated container "{container}" in pod "{name}" '
                              "not found")
        path = c.log_path(previous)
        data = path.read_bytes() if path.exists() else b""
        tail = self.query.get("tailLines")
        if tail not in (None, ""):
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[len(lines) - min(len(lines), self._int("tailLines")):])
        limit = self._int("limitBytes")
        if not self._flag("follow") or previous:
            if limit:
                data = data[:limit]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self._stream("text/plain", _follow(run, c, path, data,
                                           path.stat().st_size if path.exists() else 0))

    def _log_container(self, pod: Obj) -> str:
        spec = pod.get("spec") or {}
        names = [c["name"] for c in spec.get("containers") or []]
        inits = [c["name"] for c in spec.get("initContainers") or []]
        container = self.query.get("container")
        name = pod["metadata"]["name"]
        if not container:
            if len(names) == 1:
                return names[0]
            message = (f"a container name must be specified for pod {name}, choose one of: "
                       f"[{' '.join(names)}]")
            if inits:
                message += f" or one of the init containers: [{' '.join(inits)}]"
            raise bad_request(message)
        if container not in names + inits:
            raise bad_request(f"container {container} is not valid for pod {name}")
        return container


def _follow(run: PodRun, container: Any, path: Path, head: bytes, offset: int
            ) -> Iterator[bytes]:
    """The log so far, then what the container writes until it has exited."""
    yield head
    while True:
        exited = "terminated" in container.state or run.done.is_set()  # before the last read
        size = path.stat().st_size if path.exists() else 0
        if size > offset:
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read(size - offset)
            offset += len(data)
            yield data
        elif exited:
            return
        else:
            time.sleep(0.05)


# ---- command line --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.kube.double",
        description="A Kubernetes API server double with a simulated kubelet, on loopback.")
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1 (0: any)")
    parser.add_argument("--kubeconfig", type=Path, required=True,
                        help="where to write a kubeconfig for kubectl and argosy")
    parser.add_argument("--root", type=Path, help="directory for the pods' files "
                        "(default: a temporary one, removed on exit)")
    parser.add_argument("--watch-window", type=int, default=1000,
                        help="events kept for watches; older resourceVersions get 410 Gone")
    parser.add_argument("--images", type=Path, action="append", default=[],
                        help="a file mapping images to host commands, for containers without a "
                        "command (argosy's images.yaml format; repeatable)")
    args = parser.parse_args(argv)
    if args.images:  # argosy's own image mapping reads them, after $ARGOSY_HOME/images.yaml
        files = [os.environ.get(IMAGES_ENV, ""), *map(str, args.images)]
        os.environ[IMAGES_ENV] = os.pathsep.join(f for f in files if f)
    double = Double(args.port, args.root, args.watch_window)
    double.write_kubeconfig(args.kubeconfig)
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    with double:
        print(f"serving the Kubernetes API double at {double.url}; kubeconfig: {args.kubeconfig}",
              flush=True)
        stopped.wait()
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
