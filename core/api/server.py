"""``argosy server``: argo-server's REST API over the local store, with the engine in-process.

Paths and shapes are argo-server's (``server-swagger.json``): ``/api/v1/workflows/{namespace}``
(create, list), ``…/{name}`` (get, delete), ``…/{name}/{suspend|resume|stop|terminate|retry|
resubmit|set}``, ``…/{name}/log``, ``…/lint``, ``/api/v1/workflow-events/{namespace}`` (SSE),
``/api/v1/info``, ``/api/v1/version``; the OpenAPI document is at ``/openapi.json`` and
Prometheus text at ``/metrics``. Errors have argo-server's (grpc-gateway's) shape
``{"code": <gRPC code>, "message": "…"}``; a client's mistake is always a 4xx.

For the CLI (``argosy server``):

- ``main(host="127.0.0.1", port=2746, *, auth_mode="client", parallelism=None,
  namespace_parallelism=None, run_engine=True, home=None, max_body=MAX_BODY,
  log_level="info", allowed_hosts=(), store="local") -> None`` serves until interrupted
  (``store="kubernetes"``: a cluster's objects, see :mod:`argosy.api.cluster_server`).
  ``auth_mode`` is ``"client"`` (bearer tokens, the default; ``"server"`` is accepted as a
  synonym) or
  ``"none"``; ``"none"`` on a non-loopback host raises :class:`AuthModeRefused` (an
  ``ArgosyError``) before binding, and answers only requests whose Host is a loopback name or
  the bound address (DNS rebinding), plus ``allowed_hosts`` (``*``: any; given with tokens,
  the check applies there too).
  On first start it creates an admin token and prints it once.
- ``create_app(service, *, auth, engine=None, spawn_engine=None, parallelism=None,
  namespace_parallelism=None, max_body=MAX_BODY, allowed_hosts=None) -> FastAPI`` builds
  the app (``allowed_hosts`` None: any Host); ``engine`` is
  served by the app's lifespan. ``service`` and ``engine`` must not share a ``Store``
  (one SQLite connection per thread of use).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import ipaddress
import itertools
import json
import logging
import platform
import re
import socket
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from argosy import __version__
from argosy.api.auth import Auth, Grant
from argosy.api.service import (
    FINISHED,
    WorkflowService,
    _running_log,
    container_nodes,
    load_workflow,
    log_nodes,
    name_values,
    pod_container_log,
)
from argosy.cli.render import pod_name
from argosy.engine.run import Engine
from argosy.errors import ArgosyError, InvalidName, InvalidWorkflow, NotAvailable, NotFound
from argosy.registry import open_store
from argosy.spec.loader import TOO_DEEP, check_value
from argosy.spec.names import LABEL_MAX, RFC1123_LABEL, namespace_fault
from argosy.store import (
    AlreadyExists,
    Listed,
    ListKey,
    Store,
    StoreError,
    now_rfc3339,
    store_error,
)

log = logging.getLogger("argosy.api.server")
T = TypeVar("T")

MAX_BODY = 4 * 1024 * 1024
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Error")
EVENT_POLL_SECONDS = 0.05
# ADDED frames go out in chunks of about this many characters: one send per chunk.
FRAME_CHUNK = 64 * 1024
LOG_POLL_SECONDS = 0.25
SUBSCRIBER_QUEUE = 256
PUBLIC_PATHS = ("/api/v1/version", "/api/v1/info", "/openapi.json", "/docs", "/redoc",
                "/docs/oauth2-redirect")
# Not writes, though POSTed: a read-only token may lint (with POST: DELETE …/lint deletes).
READ_POSTS = re.compile(
    r"^/api/v1/(?:(?:workflows|workflow-templates|cron-workflows)/[^/]+|cluster-workflow-templates)"
    r"/lint/?$")
NAMESPACED = re.compile(
    r"^/(?:api/v1/(?:workflows|workflow-events|workflow-templates|cron-workflows)|artifacts|"
    r"artifact-files)(?:/([^/]*))?")
# Cluster-scoped objects: a token for all namespaces may reach them, one for some may not.
CLUSTER_SCOPED = re.compile(r"^/api/v1/cluster-workflow-templates(?:/|$)")

# gRPC status codes, as argo-server (through grpc-gateway) reports them.
GRPC_CODE = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 409: 6, 413: 8, 422: 3, 500: 13,
             501: 12, 503: 14}


class AuthModeRefused(ArgosyError):
    """``--auth-mode none`` on an address other machines can reach."""


class BadRequest(ArgosyError):
    """A request field the server cannot use (InvalidArgument)."""


# ---- errors ---------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    code: int
    message: str


def error_response(status: int, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": GRPC_CODE.get(status, 2), "message": message},
                        status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        if err.get("type") == "json_invalid":
            detail = (err.get("ctx") or {}).get("error", "")
            parts.append(f"malformed JSON body: {detail}".rstrip(": "))
        else:
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        from argosy.api.template_routes import not_implemented

        assert isinstance(exc, HTTPException)
        missing = exc.status_code in (404, 405) and not_implemented(request.url.path)
        if missing:
            return error_response(501, missing)
        if exc.status_code == 404 and exc.detail == "Not Found":
            return error_response(404, f"no such route: {request.method} {request.url.path}")
        return error_response(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(400, _validation_message(exc))

    async def argosy_error(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, StoreError):  # the server's fault to mend, not the client's
            return error_response(503, str(exc))
        if isinstance(exc, NotFound):
            return error_response(404, str(exc))
        if isinstance(exc, AlreadyExists):
            return error_response(409, str(exc))
        if isinstance(exc, NotAvailable):
            return error_response(501, str(exc))
        if isinstance(exc, InvalidWorkflow | BadRequest | InvalidName):
            return error_response(400, str(exc))
        # A verb on a workflow in the wrong state: FailedPrecondition, 400 through the gateway.
        return JSONResponse({"code": 9, "message": str(exc)}, status_code=400)

    async def store_fault(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, sqlite3.Error)
        problem = store_error(exc, request.app.state.api.service.store.path)
        log.error("%s", problem)
        return error_response(503, str(problem))

    async def server_fault(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error", exc_info=exc)
        return error_response(500, f"internal error: {type(exc).__name__}")

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(ArgosyError, argosy_error)
    app.add_exception_handler(sqlite3.Error, store_fault)
    app.add_exception_handler(Exception, server_fault)


# ---- authentication and body limits: before routing, so nothing leaks past them ----------------


def _bearer(scope: Scope) -> str | None:
    headers = dict(scope.get("headers") or [])
    value = headers.get(b"authorization", b"").decode("latin-1").strip()
    if not value:
        # EventSource cannot send headers: argo's UI keeps the token in this cookie.
        for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
            key, _, cookie = part.strip().partition("=")
            if key == "authorization":
                value = cookie.strip()
    scheme, _, token = value.partition(" ")
    if scheme.lower() == "bearer":
        return token.strip() or None
    return None


def _namespace_scope(path: str) -> tuple[bool, str | None]:
    """(does the path address workflows, the namespace or None for all namespaces)."""
    if path.rstrip("/") == "/metrics":
        return True, None
    if CLUSTER_SCOPED.match(path):
        return True, None
    m = NAMESPACED.match(path)
    if not m:
        return False, None
    return True, m.group(1) or None


class Guard:
    """In front of the whole app: the Host check, bearer tokens, the namespace in the path,
    and the request body (its size limit, JSON nesting and text)."""

    def __init__(self, app: ASGIApp, auth: Auth | None, max_body: int,
                 allowed_hosts: frozenset[str] | None = None) -> None:
        self.app = app
        self.auth = auth
        self.max_body = max_body
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refuse(scope)
        if refusal is None:
            body, refusal = await self._body(receive)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    def _refuse(self, scope: Scope) -> JSONResponse | None:
        headers = dict(scope.get("headers") or [])
        refusal = self._host_refusal(headers.get(b"host"))
        if refusal is not None:
            return refusal
        length = headers.get(b"content-length")
        if length is not None:
            try:
                if int(length) > self.max_body:
                    return self._too_large()
            except ValueError:
                return error_response(400, "invalid Content-Length header")
        if self.auth is not None and scope["path"] not in PUBLIC_PATHS:
            grant = self.auth.verify(_bearer(scope))
            if grant is None:
                return error_response(401, "token not valid: send 'Authorization: Bearer "
                                           "<token>'", {"WWW-Authenticate": "Bearer"})
            scope.setdefault("state", {})["grant"] = grant
            refusal = self._authorize(grant, scope)
            if refusal is not None:
                return refusal
        _, namespace = _namespace_scope(scope["path"])
        fault = namespace and namespace_fault(namespace)
        return error_response(400, fault) if fault else None

    def _host_refusal(self, host: bytes | None) -> JSONResponse | None:
        """DNS rebinding: a page of any site may resolve its name to 127.0.0.1, and a server
        without tokens must not answer it."""
        if self.allowed_hosts is None:
            return None
        name = host_name(host.decode("latin-1") if host else "")
        if name in self.allowed_hosts:
            return None
        return error_response(403, f"Host {name or '(none)'!r} is not allowed: this server "
                                   "answers only its own host names (see --allowed-hosts)")

    def _too_large(self) -> JSONResponse:
        return error_response(413, f"request body is larger than the limit of {self.max_body} "
                                   "bytes")

    @staticmethod
    def _authorize(grant: Grant, scope: Scope) -> JSONResponse | None:
        path, method = scope["path"], scope["method"]
        scoped, namespace = _namespace_scope(path)
        if scoped and not grant.may_access(namespace):
            where = f'namespace "{namespace}"' if namespace else "all namespaces"
            return error_response(403, f"token {grant.id} is not allowed in {where}")
        reads = method in ("GET", "HEAD", "OPTIONS") or (
            method == "POST" and READ_POSTS.match(path) is not None)
        if not reads and grant.read_only:
            return error_response(403, f"token {grant.id} is read-only: {method} is a write")
        return None

    async def _body(self, receive: Receive) -> tuple[bytes, JSONResponse | None]:
        """The whole body (at most max_body bytes), read before the app parses it, so that it
        is refused here rather than break a recursive walk (or a stored row) further in."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return b"", self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        fault = body_fault(body)
        return body, error_response(400, fault) if fault else None


def body_fault(body: bytes) -> str | None:
    """Why a JSON body is refused before routing: too deep to walk, or text that is not valid
    Unicode (a lone surrogate, which could be stored but never sent back). None when fine;
    malformed JSON is left to the route, whose parse error says where."""
    if not body.strip():
        return None
    try:
        value = json.loads(body)
    except RecursionError:
        return f"request body: {TOO_DEEP}"
    except ValueError:
        return None
    try:
        check_value(value, path="body")
    except InvalidWorkflow as exc:
        return str(exc)
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """The app's receive: the body read already, then the client's (its disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


# ---- request bodies: argo-server's ------------------------------------------------------------


class Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CreateOptions(Loose):
    dryRun: list[str] | None = None


class WorkflowCreateRequest(Loose):
    workflow: dict[str, Any]
    namespace: str | None = None
    serverDryRun: bool | None = None
    createOptions: CreateOptions | None = None


class WorkflowLintRequest(Loose):
    workflow: dict[str, Any]
    namespace: str | None = None


class WorkflowSuspendRequest(Loose):
    name: str | None = None
    namespace: str | None = None


class WorkflowTerminateRequest(WorkflowSuspendRequest):
    pass


class WorkflowResumeRequest(WorkflowSuspendRequest):
    nodeFieldSelector: str | None = None


class WorkflowStopRequest(WorkflowSuspendRequest):
    nodeFieldSelector: str | None = None
    message: str | None = None


class WorkflowSetRequest(WorkflowSuspendRequest):
    nodeFieldSelector: str | None = None
    message: str | None = None
    phase: str | None = None
    outputParameters: str | None = Field(None, description="JSON object of NAME: VALUE")


# Documented, not enforced by the model: the route's own check words the fault better.
PAIRS_SCHEMA = {"anyOf": [{"type": "array", "items": {"type": "string", "pattern": "^[^=]+="}},
                          {"type": "null"}]}


class WorkflowRetryRequest(WorkflowSuspendRequest):
    nodeFieldSelector: str | None = None
    restartSuccessful: bool | None = None
    parameters: list[str] | None = Field(None, description="NAME=VALUE pairs",
                                         json_schema_extra=PAIRS_SCHEMA)


class WorkflowResubmitRequest(WorkflowSuspendRequest):
    memoized: bool | None = None
    parameters: list[str] | None = Field(None, description="NAME=VALUE pairs",
                                         json_schema_extra=PAIRS_SCHEMA)


class Version(BaseModel):
    version: str
    buildDate: str
    gitCommit: str
    gitTag: str
    gitTreeState: str
    goVersion: str
    compiler: str
    platform: str


def _pairs(values: list[str] | None) -> dict[str, str] | None:
    if not values:
        return None
    try:
        return name_values(values)
    except ValueError as exc:
        raise BadRequest(f"parameters: expected NAME=VALUE, got {exc.args[0]!r}") from None


def _output_parameters(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise BadRequest(f"outputParameters: not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest("outputParameters: expected a JSON object of NAME: VALUE")
    try:
        check_value(value, path="outputParameters")
    except InvalidWorkflow as exc:
        raise BadRequest(str(exc)) from None
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


# ---- fields: argo's response trimming (``fields=metadata,items.metadata.name``) ---------------


@dataclass(frozen=True)
class Cleaner:
    """Keep (or with a leading ``-``, drop) dotted paths; lists are walked through."""

    fields: frozenset[str]
    exclude: bool
    # Every dotted prefix of a listed path: a lookup per key, however many paths are listed.
    above: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, spec: str | None) -> Cleaner | None:
        if not spec:
            return None
        exclude = spec.startswith("-")
        names = frozenset(f for f in spec.lstrip("-").split(",") if f)
        above = frozenset(name[:i] for name in names for i, ch in enumerate(name) if ch == ".")
        return cls(names, exclude, above) if names else None

    def clean(self, obj: Any, path: str = "") -> Any:
        if isinstance(obj, list):
            return [self.clean(item, path) for item in obj]
        if not isinstance(obj, dict):
            return obj
        out = {}
        for key, value in obj.items():
            here = f"{path}.{key}" if path else key
            listed = here in self.fields
            under = listed or here in self.above
            if self.exclude and not listed:
                out[key] = self.clean(value, here)
            elif not self.exclude and under:
                out[key] = value if listed else self.clean(value, here)
        return out


# ---- list paging --------------------------------------------------------------------------------


def _continue_token(key: ListKey) -> str:
    """Names the last workflow sent: ``[creationTimestamp, namespace, name]``."""
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _after_token(token: str) -> ListKey:
    try:
        created, namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(created), str(namespace), str(name)
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"listOptions.continue: invalid continue token: {exc}") from None


def list_page(store: Store, namespace: str | None, keep: WorkflowFilter, limit: int | None,
              cont: str | None, prefix: str | None,
              cleaner: Cleaner | None) -> bytes:
    """One page of the list as JSON: newest first, then by namespace and name.

    The store pages by key (``LIMIT n+1`` past the continue token's workflow) and filters on
    columns and labels before parsing, so a page costs its own rows, not the whole list.
    """
    after = _after_token(cont) if cont else None
    records = store.list(namespace, prefix=prefix, after=after,
                         limit=limit + 1 if limit else None,
                         where=keep.listed if keep.selects else None)
    token = None
    if limit and len(records) > limit:
        records = records[:limit]
        last = records[-1]
        token = _continue_token((last.created_at, last.namespace, last.name))
    items = [store.workflow(rec, nodes=False) for rec in records]
    result = {"metadata": {"continue": token} if token else {}, "items": items}
    return json_bytes(_dumped(result, cleaner))


def json_bytes(obj: Any) -> bytes:
    # As Starlette's JSONResponse renders, but on the caller's (worker) thread.
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, indent=None,
                      separators=(",", ":")).encode()


FIELD_KEYS = ("metadata.name", "metadata.namespace", "status.phase")


def _field_matcher(selector: str | None) -> Callable[[dict[str, str]], bool]:
    """Kubernetes field selectors over ``metadata.name`` / ``metadata.namespace`` /
    ``status.phase``, with ``=``, ``==`` and ``!=``."""
    if not selector or not selector.strip():
        return lambda values: True
    terms = []
    for term in selector.split(","):
        # The value is stripped after matching: "(.*?)\s*$" backtracks quadratically.
        m = re.match(r"^\s*([\w.]+)\s*(==|=|!=)(.*)$", term)
        if not m or m.group(1) not in FIELD_KEYS:
            raise BadRequest(f"listOptions.fieldSelector: unsupported term {term.strip()!r}; "
                              "use metadata.name, metadata.namespace or status.phase")
        terms.append((m.group(1), m.group(2), m.group(3).strip()))
    return lambda values: all((values[k] == v) == (op != "!=") for k, op, v in terms)


def _labels_of(labels: dict[str, str] | None, phase: str) -> dict[str, str]:
    """The workflow's labels plus those Argo's controller keeps (UI and CLI filter on them)."""
    out = dict(labels or {})
    out.setdefault("workflows.argoproj.io/phase", phase)
    out.setdefault("workflows.argoproj.io/completed", str(phase in FINISHED).lower())
    return out


@dataclass(frozen=True)
class WorkflowFilter:
    """A watch's or list's label and field selectors, over a workflow or a stored row."""

    labels: Callable[[dict[str, str]], bool]
    fields: Callable[[dict[str, str]], bool]
    selects: bool  # False: every workflow matches

    def match(self, namespace: str, name: str, phase: str,
              labels: dict[str, str] | None) -> bool:
        values = {"metadata.name": name, "metadata.namespace": namespace,
                  "status.phase": phase}
        return self.fields(values) and self.labels(_labels_of(labels, phase))

    def listed(self, row: Listed) -> bool:
        return self.match(row.namespace, row.name, row.phase, row.labels)

    def __call__(self, wf: dict[str, Any]) -> bool:
        meta = wf.get("metadata") or {}
        return self.match(str(meta.get("namespace", "")), str(meta.get("name", "")),
                          str((wf.get("status") or {}).get("phase", "Pending")),
                          meta.get("labels"))


def workflow_filter(label_selector: str | None, field_selector: str | None) -> WorkflowFilter:
    from argosy.spec.selectors import label_matcher

    try:
        labels = label_matcher(label_selector)
    except ArgosyError as exc:
        raise BadRequest(f"listOptions.labelSelector: {exc}") from None
    fields = _field_matcher(field_selector)
    selects = bool((label_selector or "").strip() or (field_selector or "").strip())
    return WorkflowFilter(labels, fields, selects)


# ---- the event hub: one poller, any number of watchers -----------------------------------------


@dataclass(eq=False)
class Event:
    type: str
    object: dict[str, Any]
    _data: str | None = None

    def data(self) -> str:
        # Serialised once, shared by every watcher that takes the event untrimmed.
        if self._data is None:
            self._data = json.dumps({"result": {"type": self.type, "object": self.object}})
        return self._data


@dataclass(eq=False)
class Subscriber:
    queue: asyncio.Queue[Event | None] = field(
        default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE))
    overflowed: bool = False


@dataclass(eq=False)
class Snapshot:
    """A namespace's workflows as a watch starts with them, and their ADDED frames rendered
    once: every watcher connecting before the next change shares them."""

    generation: int
    objects: list[dict[str, Any]]
    chunks: list[str]  # every ADDED frame, untrimmed, joined into chunks


def take_snapshot(service: WorkflowService, namespace: str | None,
                  generation: int) -> Snapshot:
    """On the API's worker thread: the listing and its serialisation stay off the loop."""
    objects = service.list(namespace, nodes=True)
    frames = [f"data: {Event('ADDED', wf).data()}\n\n" for wf in objects]
    return Snapshot(generation, objects, _chunks(frames))


class EventHub:
    """Polls the store's change counters and fans workflow events out to watchers.

    One poll serves every watcher, so fifty open event streams cost one query per tick. The
    poll runs in a thread with a connection of its own: ``PRAGMA data_version`` then tells at
    once whether anyone wrote since the last tick.
    """

    def __init__(self, home: Path | None, interval: float = EVENT_POLL_SECONDS) -> None:
        self.home = home
        self.interval = interval
        self.subscribers: set[Subscriber] = set()
        self.seen: dict[str, int] = {}
        self.known: dict[str, tuple[str, str, str]] = {}  # uid -> (namespace, name, phase)
        self.entered: Counter[tuple[str, str]] = Counter()  # (namespace, phase) entries
        self._version: int | None = None
        self._store: Store | None = None
        # Bumped by each poll that finds a workflow changed: a snapshot taken at generation G
        # holds every change published so far while the generation is still G.
        self.generation = 0
        self._snapshots: dict[str | None, asyncio.Task[Snapshot]] = {}
        self._wake: asyncio.Event | None = None
        # The poll thread writes the counts that /metrics reads on the API's worker thread.
        self._lock = threading.Lock()
        self._db_lock = threading.Lock()  # the poll thread and shutdown share the connection

    def subscribe(self) -> Subscriber:
        sub = Subscriber()
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def wake(self) -> None:
        """Poll now: this server just wrote (a submit, a delete, a verb)."""
        if self._wake is not None:
            self._wake.set()

    async def snapshot(self, namespace: str | None,
                       take: Callable[[int], Awaitable[Snapshot]]) -> Snapshot:
        """The namespace's snapshot at the current generation, taken once however many
        watchers ask for it; subscribe before asking, so no change falls in between."""
        task = self._snapshots.get(namespace)
        if task is None or task.get_name() != str(self.generation) or (
                task.done() and (task.cancelled() or task.exception() is not None)):
            task = asyncio.ensure_future(take(self.generation))
            task.set_name(str(self.generation))
            self._snapshots[namespace] = task
        return await asyncio.shield(task)

    async def run(self) -> None:
        self._store = open_store(self.home)
        self._wake = asyncio.Event()
        try:
            await asyncio.to_thread(self._poll)
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval)
                self._wake.clear()
                generation = self.generation
                try:
                    events = await asyncio.to_thread(self._poll)
                except Exception:  # a failed tick must not end every stream; retry next tick
                    log.exception("event poll failed")
                    continue
                if self.generation != generation:
                    self._snapshots.clear()  # stale: let them go
                self._publish(events)
        finally:
            # A cancelled to_thread() leaves its poll running: closing the connection under it
            # would crash the process, so close only once no poll holds the store.
            with self._db_lock:
                self._store.close()
                self._store = None

    def _poll(self) -> list[Event]:
        with self._db_lock:
            return [] if self._store is None else self._poll_store(self._store)

    def _poll_store(self, store: Store) -> list[Event]:
        version = store.db.execute("PRAGMA data_version").fetchone()[0]
        if version == self._version:
            return []
        first = self._version is None
        self._version = version
        counters = store.changes()
        changed = [uid for uid, seq in counters.items() if self.seen.get(uid) != seq]
        gone = [uid for uid in self.seen if uid not in counters]
        if changed or gone:
            self.generation += 1
        events = [] if first else self._events(store, changed, gone)
        with self._lock:
            for uid in changed:
                self._track(store, uid, counters[uid])
            for uid in gone:
                self.seen.pop(uid, None)
                self.known.pop(uid, None)
        return events

    def _track(self, store: Store, uid: str, seq: int) -> None:
        self.seen[uid] = seq
        row = store.db.execute("SELECT namespace, name, phase FROM workflows WHERE uid = ?",
                               (uid,)).fetchone()
        if row is None:
            return
        before = self.known.get(uid)
        if before is None or before[2] != row[2]:
            self.entered[(row[0], row[2])] += 1
        self.known[uid] = (row[0], row[1], row[2])

    def _events(self, store: Store, changed: list[str], gone: list[str]) -> list[Event]:
        if not self.subscribers:
            return []
        events = []
        for uid in changed:
            try:
                wf = store.workflow(store.get(uid))
            except NotFound:
                continue
            events.append(Event("MODIFIED" if uid in self.seen else "ADDED", wf))
        for uid in gone:
            namespace, name, phase = self.known.get(uid, ("", "", ""))
            events.append(Event("DELETED", {"metadata": {"name": name, "namespace": namespace,
                                                         "uid": uid},
                                            "status": {"phase": phase}}))
        return events

    def _publish(self, events: list[Event]) -> None:
        for sub in list(self.subscribers):
            for event in events:
                try:
                    sub.queue.put_nowait(event)
                except asyncio.QueueFull:
                    # A watcher this far behind is dropped; it reconnects and lists afresh.
                    sub.overflowed = True
                    self.unsubscribe(sub)
                    with contextlib.suppress(asyncio.QueueEmpty):
                        sub.queue.get_nowait()
                    sub.queue.put_nowait(None)
                    break

    def counts(self) -> tuple[Counter[str], dict[tuple[str, str], int]]:
        """Workflows by phase now, and phase entries by (namespace, phase) so far."""
        with self._lock:
            return (Counter(phase for _, _, phase in self.known.values()),
                    dict(self.entered))


# ---- logs -------------------------------------------------------------------------------------


@dataclass
class PodLog:
    pod: str
    lines: Iterable[str]  # complete lines; a long finished log's are read as they are sent
    finished: bool
    partial: str = ""  # a running pod's last line, until its newline arrives
    stamp: str | None = None  # a finished log's time (its node's end); else when a line is read


def _since(node: dict[str, Any], seconds: int | None) -> bool:
    finished = node.get("finishedAt")
    if seconds is None or not finished:
        return True
    at = datetime.strptime(finished, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (datetime.now(UTC) - at).total_seconds() <= seconds


def read_logs(service: WorkflowService, namespace: str, name: str, pod: str | None,
              since_seconds: int | None, container: str = "main") -> tuple[str, list[PodLog]]:
    """The workflow's phase and each selected pod's log so far, in start order."""
    store = service.store
    rec = service.record(namespace, name)
    out = []
    nodes = container_nodes(store, rec.uid, container)
    for node in log_nodes(store, rec.uid):
        pname = pod_name(rec.name, node)
        if pod and pod not in (pname, node.get("id"), node.get("name"), node.get("displayName")):
            continue
        if not _since(node, since_seconds):
            continue
        key, folder = pod_container_log(store, node, container, nodes)
        lines = store.log_lines(rec.uid, key)
        if lines is not None:
            out.append(PodLog(pname, lines, True, stamp=node.get("finishedAt")))
            continue
        *running, partial = _running_log(store.run_dir(rec.uid) / folder).split("\n")
        out.append(PodLog(pname, running, node.get("phase") in FINISHED, partial))
    return rec.phase, out


@dataclass
class LogQuery:
    pod: str | None
    grep: str | None
    tail: int | None
    since: int | None
    follow: bool
    sse: bool
    container: str = "main"
    timestamps: bool = False


class LogStream:
    """Argo's log stream: ``{"result": {"content", "podName"}}`` per line; ``follow`` until
    the workflow ends. Partial last lines of running pods wait until they are complete."""

    def __init__(self, api: Api, namespace: str, name: str, query: LogQuery) -> None:
        self.api, self.namespace, self.name, self.q = api, namespace, name, query
        self.sent: dict[str, int] = {}  # lines sent, by pod
        self.done: set[str] = set()  # pods whose whole log was sent

    def _lines(self, entry: PodLog) -> Iterator[str]:
        if entry.pod in self.done:
            return
        lines = entry.lines
        if entry.partial and (entry.finished or not self.q.follow):
            lines = itertools.chain(lines, [entry.partial])
        first = entry.pod not in self.sent
        start = self.sent.get(entry.pod, 0)
        count = 0

        def fresh() -> Iterator[str]:
            nonlocal count
            for line in lines:
                count += 1
                if count > start and (self.q.grep is None or self.q.grep in line):
                    yield line

        picked = fresh()
        if first and self.q.tail is not None:
            picked = iter(collections.deque(picked, maxlen=max(self.q.tail, 0)))
        yield from picked
        self.sent[entry.pod] = count
        if entry.finished:
            self.done.add(entry.pod)

    def _frame(self, entry: PodLog, line: str) -> str:
        if self.q.timestamps:  # as Kubernetes stamps them: the time, a space, the line
            line = f"{entry.stamp or now_rfc3339()} {line}"
        body = json.dumps({"result": {"content": line, "podName": entry.pod}})
        return f"data: {body}\n\n" if self.q.sse else body + "\n"

    async def snapshot(self) -> tuple[str, list[PodLog]]:
        return await self.api.call(self.api.read_logs, self.namespace, self.name,
                                   self.q.pod, self.q.since, self.q.container)

    async def frames(self, first: tuple[str, list[PodLog]]) -> AsyncIterator[str]:
        phase, entries = first
        while True:
            for entry in entries:
                for line in self._lines(entry):
                    yield self._frame(entry, line)
            if not self.q.follow or phase in FINISHED:
                return
            await asyncio.sleep(LOG_POLL_SECONDS)
            try:
                phase, entries = await self.snapshot()
            except NotFound:
                return


# ---- the API ----------------------------------------------------------------------------------


class Api:
    """The app's state: the service (used from one worker thread), the hub, the engine."""

    def __init__(self, service: WorkflowService, engine: Engine | None, spawn_engine: bool,
                 parallelism: int | None, namespace_parallelism: int | None) -> None:
        if engine is not None and engine.store is service.store:
            raise ValueError("the service and the engine need stores of their own")
        self.service = service
        self.engine = engine
        self.spawn_engine = spawn_engine
        self.parallelism = parallelism
        self.namespace_parallelism = namespace_parallelism
        # SQLite connections are not for concurrent use: every service call runs on this one
        # thread, off the event loop the engine runs on.
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="argosy-api")
        # A cluster (argosy server --store kubernetes) serves its lists, logs and events from
        # the Kubernetes API, and keeps the templates, CronWorkflows, ConfigMaps and Secrets.
        self.cluster = bool(getattr(type(service), "cluster", False))
        if self.cluster:
            from argosy.api import cluster_server

            self.objects = service.objects
            self.hub: EventHub = cluster_server.ClusterEventHub(service, EVENT_POLL_SECONDS)
            self.list_page = partial(cluster_server.list_page, service)
            self.read_logs = partial(cluster_server.read_logs, service)
        else:
            self.objects = service.store
            self.hub = EventHub(service.store.home)
            self.list_page = partial(list_page, service.store)
            self.read_logs = partial(read_logs, service)
        self.started = time.time()
        # Why the engine stopped, if it did; and who to tell (the server shuts down).
        self.engine_error: BaseException | None = None
        self.on_engine_stopped: Callable[[], None] | None = None

    def _engine_stopped(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        if isinstance(error, sqlite3.Error):
            error = store_error(error, self.service.store.path)
        self.engine_error = error
        log.error("the engine stopped: %s", error)
        if self.on_engine_stopped is not None:
            self.on_engine_stopped()

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.worker, partial(fn, *args, **kwargs))

    @contextlib.asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(self.hub.run(), name="argosy-events")]
        if self.engine is not None:
            tasks.append(asyncio.create_task(self.engine.serve(
                parallelism=self.parallelism,
                namespace_parallelism=self.namespace_parallelism), name="argosy-engine"))
            tasks[-1].add_done_callback(self._engine_stopped)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self.worker.shutdown(wait=True)


def _namespace_of(manifest: dict[str, Any], namespace: str, claimed: str | None) -> None:
    """The path's namespace is the one authorised: the body may repeat it, not change it."""
    meta = manifest.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise BadRequest("workflow.metadata: expected an object")
    spec = manifest.get("spec")
    if spec is not None and not isinstance(spec, dict):
        raise BadRequest("workflow.spec: expected an object")
    # argo-server's request carries a typed Workflow: apiVersion and kind go without saying.
    manifest.setdefault("apiVersion", "argoproj.io/v1alpha1")
    manifest.setdefault("kind", "Workflow")
    inner = (meta or {}).get("namespace")
    for where, value in (("namespace", claimed), ("workflow.metadata.namespace", inner)):
        if value and value != namespace:
            raise BadRequest(f'{where}: "{value}" does not match the request path\'s '
                              f'namespace "{namespace}"')


def _dumped(obj: Any, cleaner: Cleaner | None) -> Any:
    return cleaner.clean(obj) if cleaner else obj


Namespace = Annotated[str, PathParam(pattern=RFC1123_LABEL.pattern, max_length=LABEL_MAX,
                                description="a Kubernetes namespace (an RFC 1123 label)")]
LabelSelector = Annotated[str | None, Query(
    alias="listOptions.labelSelector",
    description="Kubernetes label selector: a=b, a==b, a!=b, a in (b,c), a notin (b,c), a, "
    "!a; terms joined by ','")]
_FIELD_TERM = r"\s*(metadata\.name|metadata\.namespace|status\.phase)\s*(==|=|!=)[^,\n]*"
FieldSelector = Annotated[str | None, Query(
    alias="listOptions.fieldSelector", description="metadata.name, metadata.namespace or "
    "status.phase with =, == or !=; terms joined by ','",
    json_schema_extra={"pattern": f"^(\\s*|{_FIELD_TERM}(,{_FIELD_TERM})*)$"})]
Limit = Annotated[int | None, Query(alias="listOptions.limit", ge=0, le=1_000_000)]
Continue = Annotated[str | None, Query(alias="listOptions.continue")]
Fields = Annotated[str | None, Query(
    description="paths to keep, or with a leading '-' to drop: metadata,items.metadata.name")]
NamePrefix = Annotated[str | None, Query(alias="namePrefix")]
TimeoutSeconds = Annotated[int | None, Query(alias="listOptions.timeoutSeconds", ge=0,
                                             le=10**9)]
PodName = Annotated[str | None, Query(alias="podName")]
Container = Annotated[str, Query(alias="logOptions.container")]
Follow = Annotated[bool, Query(alias="logOptions.follow")]
Timestamps = Annotated[bool, Query(alias="logOptions.timestamps")]
TailLines = Annotated[int | None, Query(alias="logOptions.tailLines", ge=0, le=10_000_000)]
SinceSeconds = Annotated[int | None, Query(alias="logOptions.sinceSeconds", ge=0, le=10**10)]
Grep = Annotated[str | None, Query()]

bearer = HTTPBearer(auto_error=False, description="argosy token: `argosy auth token`")
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409)}
Workflow = dict[str, Any]


def workflow_routes(api: Api) -> APIRouter:
    r = APIRouter(prefix="/api/v1", dependencies=[Depends(bearer)], responses=ERRORS)
    svc = api.service

    @r.post("/workflows/{namespace}", tags=["WorkflowService"], summary="CreateWorkflow")
    async def create_workflow(namespace: Namespace, body: WorkflowCreateRequest) -> Workflow:
        _namespace_of(body.workflow, namespace, body.namespace)
        dry = body.serverDryRun or "All" in ((body.createOptions and
                                              body.createOptions.dryRun) or [])
        if dry:
            return await api.call(load_workflow, body.workflow, svc.registry, api.objects,
                                  namespace=namespace)
        created = await api.call(svc.submit, body.workflow, namespace=namespace,
                                 start_engine=api.spawn_engine)
        api.hub.wake()
        return created

    async def list_in(namespace: str | None, label_selector: str | None,
                      field_selector: str | None, limit: int | None, cont: str | None,
                      fields: str | None, name_prefix: str | None) -> Response:
        keep = workflow_filter(label_selector, field_selector)
        body = await api.call(api.list_page, namespace, keep, limit, cont, name_prefix,
                              Cleaner.parse(fields))
        return Response(body, media_type="application/json")

    @r.get("/workflows/{namespace}", tags=["WorkflowService"], summary="ListWorkflows",
           response_model=dict[str, Any])
    async def list_workflows(
            namespace: Namespace,
            label_selector: LabelSelector = None, field_selector: FieldSelector = None,
            limit: Limit = None, cont: Continue = None, fields: Fields = None,
            name_prefix: NamePrefix = None) -> Response:
        return await list_in(namespace, label_selector, field_selector, limit, cont, fields,
                             name_prefix)

    @r.get("/workflows", tags=["WorkflowService"], summary="ListWorkflows (all namespaces)",
           response_model=dict[str, Any])
    async def list_all_workflows(
            label_selector: LabelSelector = None, field_selector: FieldSelector = None,
            limit: Limit = None, cont: Continue = None, fields: Fields = None,
            name_prefix: NamePrefix = None) -> Response:
        return await list_in(None, label_selector, field_selector, limit, cont, fields,
                             name_prefix)

    @r.post("/workflows/{namespace}/lint", tags=["WorkflowService"], summary="LintWorkflow")
    async def lint_workflow(namespace: Namespace, body: WorkflowLintRequest) -> Workflow:
        _namespace_of(body.workflow, namespace, body.namespace)
        return await api.call(load_workflow, body.workflow, svc.registry, api.objects,
                              namespace=namespace)

    @r.get("/workflows/{namespace}/{name}", tags=["WorkflowService"], summary="GetWorkflow")
    async def get_workflow(namespace: Namespace, name: str,
                           fields: Fields = None) -> Workflow:
        wf = await api.call(svc.get, namespace, name)
        return _dumped(wf, Cleaner.parse(fields))

    @r.delete("/workflows/{namespace}/{name}", tags=["WorkflowService"],
              summary="DeleteWorkflow")
    async def delete_workflow(namespace: Namespace, name: str) -> dict[str, Any]:
        await api.call(svc.delete, namespace, name)
        api.hub.wake()
        return {}

    lifecycle_routes(r, api)
    log_routes(r, api)
    return r


def lifecycle_routes(r: APIRouter, api: Api) -> None:
    svc = api.service
    tags = ["WorkflowService"]

    @r.put("/workflows/{namespace}/{name}/suspend", tags=tags, summary="SuspendWorkflow")
    async def suspend(namespace: Namespace, name: str,
                      body: Annotated[WorkflowSuspendRequest | None, Body()] = None) -> Workflow:
        return await api.call(svc.suspend, namespace, name)

    @r.put("/workflows/{namespace}/{name}/resume", tags=tags, summary="ResumeWorkflow")
    async def resume(namespace: Namespace, name: str,
                     body: Annotated[WorkflowResumeRequest | None, Body()] = None) -> Workflow:
        selector = body.nodeFieldSelector if body else None
        return await api.call(svc.resume, namespace, name, selector or None)

    @r.put("/workflows/{namespace}/{name}/stop", tags=tags, summary="StopWorkflow")
    async def stop(namespace: Namespace, name: str,
                   body: Annotated[WorkflowStopRequest | None, Body()] = None) -> Workflow:
        return await api.call(svc.stop, namespace, name, (body.message if body else None))

    @r.put("/workflows/{namespace}/{name}/terminate", tags=tags, summary="TerminateWorkflow")
    async def terminate(namespace: Namespace, name: str,
                        body: Annotated[WorkflowTerminateRequest | None, Body()] = None,
                        ) -> Workflow:
        return await api.call(svc.terminate, namespace, name)

    @r.put("/workflows/{namespace}/{name}/set", tags=tags, summary="SetWorkflow")
    async def set_node(namespace: Namespace, name: str,
                       body: Annotated[WorkflowSetRequest | None, Body()] = None) -> Workflow:
        body = body or WorkflowSetRequest()
        if not body.nodeFieldSelector:
            raise BadRequest("nodeFieldSelector is required, e.g. displayName=approve")
        if body.phase not in (None, "", "Succeeded", "Failed", "Error"):
            raise BadRequest(f"phase must be Succeeded, Failed or Error, not {body.phase!r}")
        return await api.call(svc.set_node, namespace, name, body.nodeFieldSelector,
                              phase=body.phase or None, message=body.message,
                              output_parameters=_output_parameters(body.outputParameters))

    @r.put("/workflows/{namespace}/{name}/retry", tags=tags, summary="RetryWorkflow")
    async def retry(namespace: Namespace, name: str,
                    body: Annotated[WorkflowRetryRequest | None, Body()] = None) -> Workflow:
        body = body or WorkflowRetryRequest()
        return await api.call(svc.retry, namespace, name,
                              restart_successful=bool(body.restartSuccessful),
                              node_field_selector=body.nodeFieldSelector or None,
                              parameters=_pairs(body.parameters),
                              start_engine=api.spawn_engine)

    @r.put("/workflows/{namespace}/{name}/resubmit", tags=tags, summary="ResubmitWorkflow")
    async def resubmit(namespace: Namespace, name: str,
                       body: Annotated[WorkflowResubmitRequest | None, Body()] = None) -> Workflow:
        body = body or WorkflowResubmitRequest()
        return await api.call(svc.resubmit, namespace, name, parameters=_pairs(body.parameters),
                              memoized=bool(body.memoized), start_engine=api.spawn_engine)


STREAM_DOC: dict[int | str, dict[str, Any]] = {200: {
    "description": "newline-delimited JSON (or server-sent events on Accept: "
                   "text/event-stream) of {result: {content, podName}}",
    "content": {"application/json": {"schema": {"type": "string"}},
                "text/event-stream": {"schema": {"type": "string"}}}}}


def log_routes(r: APIRouter, api: Api) -> None:
    async def stream_logs(request: Request, namespace: str, name: str,
                          query: LogQuery) -> StreamingResponse:
        stream = LogStream(api, namespace, name, query)
        first = await stream.snapshot()  # a missing workflow is a 404, before streaming
        media = "text/event-stream" if query.sse else "application/json"
        return StreamingResponse(stream.frames(first), media_type=media,
                                 headers={"Cache-Control": "no-cache"})

    def wants_sse(request: Request) -> bool:
        return "text/event-stream" in request.headers.get("accept", "")

    @r.get("/workflows/{namespace}/{name}/log", tags=["WorkflowService"],
           summary="WorkflowLogs", response_class=StreamingResponse, responses=STREAM_DOC)
    async def workflow_logs(request: Request, namespace: Namespace, name: str,
                            pod: PodName = None, container: Container = "main",
                            follow: Follow = False, tail: TailLines = None,
                            since: SinceSeconds = None, grep: Grep = None,
                            timestamps: Timestamps = False) -> StreamingResponse:
        query = LogQuery(pod or None, grep, tail, since, follow, wants_sse(request), container,
                         timestamps)
        return await stream_logs(request, namespace, name, query)

    @r.get("/workflows/{namespace}/{name}/{podName}/log", tags=["WorkflowService"],
           summary="PodLogs", response_class=StreamingResponse, responses=STREAM_DOC)
    async def pod_logs(request: Request, namespace: Namespace, name: str, podName: str,
                       container: Container = "main", follow: Follow = False,
                       tail: TailLines = None, since: SinceSeconds = None,
                       grep: Grep = None, timestamps: Timestamps = False) -> StreamingResponse:
        query = LogQuery(podName, grep, tail, since, follow, wants_sse(request), container,
                         timestamps)
        return await stream_logs(request, namespace, name, query)


def content_disposition(file: str) -> str:
    """An attachment header naming ``file``, safe for any name (RFC 6266)."""
    plain = file.encode("ascii", "replace").decode().replace('"', "'").replace("\\", "_")
    return f'attachment; filename="{plain}"; filename*=UTF-8\'\'{quote(file)}'


def artifact_routes(api: Api) -> APIRouter:
    """argo-server's ArtifactService for output artifacts; this store is the repository."""
    r = APIRouter(dependencies=[Depends(bearer)], responses=ERRORS)
    tags = ["ArtifactService"]
    doc: dict[int | str, dict[str, Any]] = {200: {
        "description": "An artifact file.",
        "content": {"application/octet-stream": {"schema": {"type": "string",
                                                            "format": "binary"}}}}}

    async def serve(namespace: str, name: str, node_id: str, artifact: str) -> Response:
        download = api.service.artifact_download(namespace, name, node_id, artifact)
        file, content = await api.call(download.__enter__)
        headers = {"Content-Disposition": content_disposition(file)}
        if isinstance(content, bytes):
            await api.call(download.__exit__, None, None, None)
            return Response(content, media_type="application/octet-stream", headers=headers)
        # Streamed from the file, whatever its size; its scratch copy goes once it is sent.
        return FileResponse(content, media_type="application/octet-stream", headers=headers,
                            background=BackgroundTask(download.__exit__, None, None, None))

    @r.get("/artifacts/{namespace}/{name}/{nodeId}/{artifactName}", tags=tags,
           summary="GetOutputArtifact", response_class=Response, responses=doc)
    async def output_artifact(namespace: Namespace, name: str, nodeId: str,
                              artifactName: str) -> Response:
        return await serve(namespace, name, nodeId, artifactName)

    @r.get("/artifact-files/{namespace}/{idDiscriminator}/{id}/{nodeId}/"
           "{artifactDiscriminator}/{artifactName}", tags=tags, summary="GetArtifactFile",
           response_class=Response, responses=doc)
    async def artifact_file(namespace: Namespace, idDiscriminator: str, id: str, nodeId: str,
                            artifactDiscriminator: str, artifactName: str) -> Response:
        if idDiscriminator != "workflow":
            raise NotFound(f'no {idDiscriminator} here: only "workflow" artifacts are kept')
        if artifactDiscriminator != "outputs":
            raise NotFound(f'no {artifactDiscriminator} artifacts here: only "outputs" are kept')
        return await serve(namespace, id, nodeId, artifactName)

    return r


def event_routes(api: Api) -> APIRouter:
    r = APIRouter(prefix="/api/v1", dependencies=[Depends(bearer)], responses=ERRORS)
    doc: dict[int | str, dict[str, Any]] = {200: {
        "description": "server-sent events: data: {result: {type, object}}",
        "content": {"text/event-stream": {"schema": {"type": "string"}}}}}

    async def watch(namespace: str | None, label_selector: str | None,
                    field_selector: str | None, fields: str | None,
                    timeout: int | None) -> StreamingResponse:
        keep = workflow_filter(label_selector, field_selector)
        cleaner = Cleaner.parse(fields)
        sub = api.hub.subscribe()
        try:
            snap = await api.hub.snapshot(namespace, partial(api.call, take_snapshot,
                                                             api.service, namespace))
            initial = await added_frames(snap, keep, cleaner)
        except BaseException:
            api.hub.unsubscribe(sub)
            raise
        return StreamingResponse(
            _event_frames(api.hub, sub, namespace, initial, listed(snap, keep), keep, cleaner,
                          timeout),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @r.get("/workflow-events/{namespace}", tags=["WorkflowService"], summary="WatchWorkflows",
           response_class=StreamingResponse, responses=doc)
    async def watch_workflows(namespace: Namespace,
                              label_selector: LabelSelector = None,
                              field_selector: FieldSelector = None, fields: Fields = None,
                              timeout: TimeoutSeconds = None) -> StreamingResponse:
        return await watch(namespace, label_selector, field_selector, fields, timeout)

    @r.get("/workflow-events", tags=["WorkflowService"],
           summary="WatchWorkflows (all namespaces)", response_class=StreamingResponse,
           responses=doc)
    async def watch_all(label_selector: LabelSelector = None,
                        field_selector: FieldSelector = None, fields: Fields = None,
                        timeout: TimeoutSeconds = None) -> StreamingResponse:
        return await watch(None, label_selector, field_selector, fields, timeout)

    return r


def _frame(event: Event, namespace: str | None, keep: WorkflowFilter,
           cleaner: Cleaner | None) -> str | None:
    obj = event.object
    if namespace and obj.get("metadata", {}).get("namespace") != namespace:
        return None
    if event.type != "DELETED" and not keep(obj):
        return None
    if cleaner is None:
        return f"data: {event.data()}\n\n"
    body: dict[str, Any] = {"result": {"type": event.type, "object": obj}}
    # argo's UI names the stream's paths (result.object.metadata.name); plain object
    # paths (metadata.name) are taken to mean the workflow's.
    if any(f.startswith("result") for f in cleaner.fields):
        body = cleaner.clean(body)
    else:
        body["result"]["object"] = cleaner.clean(obj)
    return f"data: {json.dumps(body)}\n\n"


def _chunks(frames: list[str]) -> list[str]:
    """Frames joined into chunks of about FRAME_CHUNK characters: fewer, larger sends."""
    out: list[str] = []
    batch: list[str] = []
    size = 0
    for text in frames:
        batch.append(text)
        size += len(text)
        if size >= FRAME_CHUNK:
            out.append("".join(batch))
            batch, size = [], 0
    if batch:
        out.append("".join(batch))
    return out


async def added_frames(snap: Snapshot, keep: WorkflowFilter,
                       cleaner: Cleaner | None) -> list[str]:
    """The snapshot's ADDED frames for one watcher, in chunks; shared ones when it takes
    everything untrimmed, else rendered for it off the event loop."""
    if not keep.selects and cleaner is None:
        return list(snap.chunks)

    def render() -> list[str]:
        events = (_frame(Event("ADDED", wf), None, keep, cleaner) for wf in snap.objects)
        return _chunks([text for text in events if text])

    return await asyncio.to_thread(render)


def listed(snap: Snapshot, keep: WorkflowFilter) -> set[str]:
    """The uids a watcher's initial listing sent it as ADDED."""
    return {wf["metadata"].get("uid") for wf in snap.objects if keep(wf)}


async def _event_frames(hub: EventHub, sub: Subscriber, namespace: str | None,
                        initial: list[str], sent: set[str], keep: WorkflowFilter,
                        cleaner: Cleaner | None, timeout: int | None) -> AsyncIterator[str]:
    """Existing workflows as ADDED (as a Kubernetes watch starts), then every change."""
    deadline = time.monotonic() + timeout if timeout else None
    try:
        yield ": argosy workflow events\n\n"
        while initial:
            # Popped as sent: the stream holds no reference to the listing once it is out.
            yield initial.pop(0)
        del initial
        while True:
            wait = 15.0 if deadline is None else min(15.0, deadline - time.monotonic())
            if wait <= 0:
                return
            try:
                event = await asyncio.wait_for(sub.queue.get(), wait)
            except TimeoutError:
                if deadline is not None and time.monotonic() >= deadline:
                    return
                yield ": keep-alive\n\n"
                continue
            if event is None:
                return
            if event.type == "ADDED" and event.object["metadata"].get("uid") in sent:
                # The hub had not polled it yet when this watcher's listing sent it: a watch
                # adds an object once, then modifies it.
                event = Event("MODIFIED", event.object)
            text = _frame(event, namespace, keep, cleaner)
            if text:
                yield text
    finally:
        hub.unsubscribe(sub)


# ---- info, version, metrics ---------------------------------------------------------------------


def info_routes(api: Api) -> APIRouter:
    r = APIRouter(prefix="/api/v1", tags=["InfoService"])

    @r.get("/info", summary="GetInfo")
    async def info() -> dict[str, Any]:
        return {"links": [], "columns": [], "modals": {}, "navColor": ""}

    @r.get("/version", summary="GetVersion")
    async def version() -> Version:
        return Version(version=__version__, buildDate="", gitCommit="", gitTag="",
                       gitTreeState="", goVersion=f"python{platform.python_version()}",
                       compiler=platform.python_implementation().lower(),
                       platform=f"{sys.platform}/{platform.machine()}")

    @r.get("/userinfo", summary="GetUserInfo", dependencies=[Depends(bearer)],
           responses=ERRORS)
    async def userinfo(request: Request) -> dict[str, Any]:
        grant: Grant | None = getattr(request.state, "grant", None)
        if grant is None:
            return {}
        return {"subject": grant.id, "groups": list(grant.namespaces),
                "readOnly": grant.read_only}

    return r


def _metric_lines(name: str, kind: str, help_text: str,
                  samples: list[tuple[dict[str, str], float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        lines.append(f"{name}{{{inner}}} {value:g}" if inner else f"{name} {value:g}")
    return lines


def metrics_text(api: Api) -> str:
    """argo's controller metrics (``argo_workflows_gauge``, ``…_total_count``) and the
    workflows' custom metrics (``metrics.prometheus``) as Prometheus text."""
    phases, entered = api.hub.counts()
    lines = _metric_lines("argo_workflows_gauge", "gauge",
                          "Number of workflows currently accessible by the controller by status",
                          [({"phase": p}, phases.get(p, 0)) for p in PHASES])
    lines += _metric_lines(
        "argo_workflows_total_count", "counter",
        "Total number of workflows that have entered each phase, by namespace",
        [({"namespace": ns, "phase": p}, n) for (ns, p), n in sorted(entered.items())])
    running = len(api.engine.runs) if api.engine is not None else 0
    lines += _metric_lines("argosy_engine_running_workflows", "gauge",
                           "Workflows this server's engine is executing", [({}, running)])
    lines += _metric_lines("argosy_event_watchers", "gauge",
                           "Open workflow event streams", [({}, len(api.hub.subscribers))])
    lines += _metric_lines("argo_workflows_version", "gauge", "Build metadata for this server",
                           [({"version": __version__}, 1)])
    if api.cluster:  # its custom metrics are argosy controller's (on its /metrics)
        return "\n".join(lines) + "\n"
    return "\n".join(lines) + "\n" + custom_metrics(api.service.store)


def custom_metrics(store: Store) -> str:
    """Samples the engine recorded from ``metrics.prometheus`` (when the store keeps them)."""
    rows = getattr(store, "metrics", None)
    if rows is None:
        return ""
    try:
        from argosy.engine.metrics import exposition
    except ImportError:
        return ""
    return exposition(rows())


def metrics_routes(api: Api) -> APIRouter:
    r = APIRouter(dependencies=[Depends(bearer)], responses=ERRORS)

    @r.get("/metrics", response_class=PlainTextResponse, tags=["Metrics"],
           summary="Prometheus metrics",
           responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def metrics() -> PlainTextResponse:
        text = await api.call(metrics_text, api)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return r


# ---- assembly ---------------------------------------------------------------------------------


def create_app(service: WorkflowService, *, auth: Auth | None, engine: Engine | None = None,
               spawn_engine: bool | None = None, parallelism: int | None = None,
               namespace_parallelism: int | None = None, max_body: int = MAX_BODY,
               allowed_hosts: frozenset[str] | None = None) -> FastAPI:
    """The REST app. ``auth`` None serves without tokens (loopback only: see :func:`main`).

    ``engine`` is served by the app's lifespan with the parallelism limits; without one,
    ``spawn_engine`` (default: yes) starts a background ``argosy engine`` on submit, as the
    CLI does, and ``spawn_engine=False`` leaves execution to an engine run elsewhere.
    """
    spawn = (engine is None) if spawn_engine is None else spawn_engine
    api = Api(service, engine, spawn, parallelism, namespace_parallelism)
    app = FastAPI(title="argosy", version=__version__, lifespan=api.lifespan,
                  description="Argo Workflows' REST API (argo-server's paths and shapes), "
                              "served by argosy.")
    app.state.api = api
    install_error_handlers(app)
    from argosy.api.cron_routes import cron_routes
    from argosy.api.template_routes import template_routes

    app.include_router(template_routes(api))  # before /workflows/{namespace}/{name}
    app.include_router(cron_routes(api))
    app.include_router(workflow_routes(api))
    app.include_router(event_routes(api))
    app.include_router(artifact_routes(api))
    app.include_router(info_routes(api))
    app.include_router(metrics_routes(api))
    app.add_middleware(Guard, auth=auth, max_body=max_body, allowed_hosts=allowed_hosts)
    app.openapi = partial(honest_openapi, app, app.openapi)  # type: ignore[method-assign]
    return app


# Every request passes the Guard: a bad body or Content-Length (400), a foreign Host (403), a
# body over the limit (413).
GUARD_ERRORS = {"400": "Bad Request", "403": "Forbidden", "413": "Content Too Large"}


def honest_openapi(app: FastAPI, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """FastAPI's document, saying what the server answers: errors are always ErrorBody JSON
    (whatever the route's own media type), a request that fails validation is a 400 (never
    the 422 FastAPI documents), and every route may meet the Guard's refusals."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = build()
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for operations in doc.get("paths", {}).values():
        for op in operations.values():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            for code, description in GUARD_ERRORS.items():
                responses.setdefault(code, {"description": description})
            for code, response in responses.items():
                if code >= "400":
                    response["content"] = error
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.setdefault("ErrorBody", ErrorBody.model_json_schema())
    return doc


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def host_name(header: str) -> str:
    """The host name of a Host header (``name``, ``name:port``, ``[::1]:port``), lower-case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    if header.count(":") == 1:
        header = header.partition(":")[0]
    return header.rstrip(".")


def allowed_host_names(host: str, auth: bool,
                       extra: Iterable[str] = ()) -> frozenset[str] | None:
    """The Host names the server answers: without tokens, only loopback names and its own
    address unless ``extra`` adds some; ``*`` (or tokens and no ``extra``): any."""
    names = {host_name(name) for name in extra if name.strip()}
    if "*" in names or (auth and not names):
        return None
    return frozenset(LOOPBACK_NAMES | {host_name(host)} | names)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_auth_mode(host: str, auth_mode: str) -> bool:
    """True when tokens are required; refuses ``none`` beyond loopback."""
    if auth_mode in ("client", "server"):
        return True
    if auth_mode != "none":
        raise ArgosyError(f"unknown auth mode {auth_mode!r}: use client or none")
    if not is_loopback(host):
        raise AuthModeRefused(f"--auth-mode none is refused on {host}: without tokens the "
                              "server may only listen on loopback (127.0.0.1, ::1)")
    return False


def main(host: str = "127.0.0.1", port: int = 2746, *, auth_mode: str = "client",
         parallelism: int | None = None, namespace_parallelism: int | None = None,
         run_engine: bool = True, home: Path | str | None = None, max_body: int = MAX_BODY,
         log_level: str = "info", allowed_hosts: Iterable[str] = (),
         announce: Callable[[str], Awaitable[None] | None] = print,
         store: str = "local") -> None:
    """Serve until interrupted: the API, and (``run_engine``) an engine executing workflows;
    ``store="kubernetes"``: the cluster's objects, which ``argosy controller`` runs (tokens
    are still ``home``'s)."""
    import uvicorn

    tokens = check_auth_mode(host, auth_mode)
    service: Any
    if store == "kubernetes":
        from argosy.api.cluster import ClusterService
        from argosy.store import argosy_home

        service, home, run_engine = ClusterService(), Path(home or argosy_home()), False
    sock = listen(host, port)  # before anything is announced: a taken port fails here
    port = sock.getsockname()[1]
    if store != "kubernetes":
        service = WorkflowService(open_store(home))
        home = service.store.home
    auth = None
    if tokens:
        auth = Auth(home)
        token = auth.ensure_admin()
        if token:
            announce(f"Created the admin token (shown only now; kept hashed in "
                     f"{auth.path}):\n{token}")
    engine = Engine(open_store(home), serving=True) if run_engine else None
    app = create_app(service, auth=auth, engine=engine,
                     spawn_engine=False if not run_engine else None, parallelism=parallelism,
                     namespace_parallelism=namespace_parallelism, max_body=max_body,
                     allowed_hosts=allowed_host_names(host, tokens, allowed_hosts))
    served = "the cluster's workflows" if store == "kubernetes" else "the local store"
    announce(f"argosy server on http://{host}:{port} (auth: {'tokens' if auth else 'none'}; "
             f"{served})")
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level))
    api: Api = app.state.api
    api.on_engine_stopped = lambda: setattr(server, "should_exit", True)
    server.run(sockets=[sock])
    if isinstance(api.engine_error, StoreError):
        raise api.engine_error


class PortUnavailable(ArgosyError):
    """The server's address cannot be listened on (taken, or not this host's)."""


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, as uvicorn would bind it."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise PortUnavailable(f"cannot listen on {host}:{port}: "
                              f"{exc.strerror or exc}") from None
    return sock



def openapi_document() -> dict[str, Any]:
    """The OpenAPI document the server serves at ``/openapi.json``, built without serving, over
    an empty throwaway store: the docs' REST reference and the schemathesis test read it."""
    import tempfile

    with tempfile.TemporaryDirectory() as home:
        store = Store(home)
        try:
            return create_app(WorkflowService(store), auth=None).openapi()
        finally:
            store.close()


if __name__ == "__main__":  # pragma: no cover - `argosy server` is the entry point
    main()
