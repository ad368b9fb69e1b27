"""Tornado handlers: argo-server's REST API under ``/argosy/api/v1/…`` inside Jupyter
(workflows, WorkflowTemplates, ClusterWorkflowTemplates, CronWorkflows).

Behind Jupyter's own authentication (``@authenticated``: a token or the login cookie) and
XSRF check (every non-GET request made with the cookie). Two backends:

- local: the service layer (:class:`argosy.api.service.WorkflowService`) through the REST server's
  :class:`argosy.api.server.Api` (one worker thread for the store, the event hub), with the REST
  server's request models, filters, paging, log stream and event stream reused as they are;
- remote: every request forwarded to an ``argosy server`` with a bearer token, its response
  (status, body, streams) passed back unchanged.

Responses and errors have the REST server's shapes and status codes (``{code, message}``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any, TypeVar

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel, ValidationError
from tornado import httputil
from tornado.iostream import StreamClosedError

from argosy.api.cron_routes import CronRequest, Crons
from argosy.api.server import (
    GRPC_CODE,
    Api,
    BadRequest,
    Cleaner,
    LogQuery,
    LogStream,
    WorkflowCreateRequest,
    WorkflowLintRequest,
    WorkflowResubmitRequest,
    WorkflowResumeRequest,
    WorkflowRetryRequest,
    WorkflowSetRequest,
    WorkflowStopRequest,
    _event_frames,
    _namespace_of,
    _output_parameters,
    _pairs,
    added_frames,
    content_disposition,
    list_page,
    listed,
    take_snapshot,
    workflow_filter,
)
from argosy.api.template_routes import (
    CWFT,
    WFT,
    SubmitRequest,
    TemplateRequest,
    Templates,
    submit,
)
from argosy.errors import ArgosyError, InvalidName, InvalidWorkflow, NotFound
from argosy.store import AlreadyExists

log = logging.getLogger("argosy.jupyter")
M = TypeVar("M", bound=BaseModel)
PREFIX = "/argosy/api/v1"
VERBS = ("suspend", "resume", "stop", "terminate", "set", "retry", "resubmit")


def error_status(exc: BaseException) -> tuple[int, int, str]:
    """(HTTP status, gRPC code, message) as the REST server maps the exception."""
    if isinstance(exc, tornado.web.HTTPError):
        status = exc.status_code
        message = exc.log_message or exc.reason or httputil.responses.get(status, "")
        return status, GRPC_CODE.get(status, 2), message
    if isinstance(exc, NotFound):
        return 404, GRPC_CODE[404], str(exc)
    if isinstance(exc, AlreadyExists):
        return 409, GRPC_CODE[409], str(exc)
    if isinstance(exc, InvalidWorkflow | BadRequest | InvalidName):
        return 400, GRPC_CODE[400], str(exc)
    if isinstance(exc, ArgosyError):
        # A verb on a workflow in the wrong state: FailedPrecondition, 400 through the gateway.
        return 400, 9, str(exc)
    return 500, GRPC_CODE[500], f"internal error: {type(exc).__name__}"


def _model(kind: type[M], body: bytes, *, required: bool) -> M:
    """The request body as the REST server's request model; 400 naming the field at fault."""
    if not body.strip():
        if required:
            raise BadRequest("body: a JSON request body is required")
        return kind()
    try:
        return kind.model_validate_json(body)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                parts.append(f"malformed JSON body: {(err.get('ctx') or {}).get('error', '')}")
            else:
                loc = ".".join(str(p) for p in ("body", *err.get("loc", ())))
                parts.append(f"{loc}: {err.get('msg', 'invalid')}")
        raise BadRequest("; ".join(parts)) from None


class BaseHandler(APIHandler):
    """Jupyter's API handler with the REST server's error shape."""

    auth_resource = "argosy"

    def initialize(self, backend: Any) -> None:
        self.backend = backend
        self._closed = asyncio.Event()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        exc = exc_info[1] if exc_info else None
        if exc is None:
            status, code, message = status_code, GRPC_CODE.get(status_code, 2), self._reason
        else:
            status, code, message = error_status(exc)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"code": code, "message": message}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # A client's mistake is answered, not logged as a server fault; real bugs keep their
        # traceback in the server log.
        if isinstance(value, ArgosyError | tornado.web.HTTPError):
            return
        super().log_exception(typ, value, tb)

    def on_connection_close(self) -> None:
        self._closed.set()
        super().on_connection_close()

    def reply(self, obj: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(obj))

    async def stream(self, frames: AsyncIterator[str], media: str) -> None:
        """Write each frame as it comes until the stream ends or the client goes away."""
        self.set_header("Content-Type", media)
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            while True:
                step = asyncio.ensure_future(anext(frames))
                await asyncio.wait({step, closed}, return_when=asyncio.FIRST_COMPLETED)
                if not step.done():
                    step.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                        await step
                    return
                try:
                    chunk = step.result()
                except StopAsyncIteration:
                    break
                self.write(chunk)
                await self.flush()
            self.finish()
        except StreamClosedError:
            return
        finally:
            closed.cancel()
            await _aclose(frames)

    def query(self, name: str) -> str | None:
        return self.get_query_argument(name, None) or None

    def query_int(self, name: str, upper: int = 10**10) -> int | None:
        text = self.query(name)
        if text is None:
            return None
        try:
            value = int(text)
        except ValueError:
            raise BadRequest(f"{name}: not an integer: {text!r}") from None
        if not 0 <= value <= upper:
            raise BadRequest(f"{name}: must be between 0 and {upper}")
        return value

    def query_bool(self, name: str) -> bool:
        return (self.query(name) or "").lower() in ("true", "1", "yes")


async def _aclose(frames: AsyncIterator[str]) -> None:
    close = getattr(frames, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


# ---- local: the service layer ------------------------------------------------------------------


class LocalHandler(BaseHandler):
    backend: Any

    @property
    def api(self) -> Api:
        return self.backend.api

    async def prepare(self) -> None:
        # pytest-jupyter (and any host that skips the start hook) gets the engine on first use.
        self.backend.ensure_started()
        await super().prepare()

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await self.api.call(fn, *args, **kwargs)


class WorkflowsHandler(LocalHandler):
    """``/workflows`` and ``/workflows/{namespace}``: list; create."""

    @tornado.web.authenticated
    @authorized
    async def get(self, namespace: str | None = None) -> None:
        keep = workflow_filter(self.query("listOptions.labelSelector"),
                               self.query("listOptions.fieldSelector"))
        limit = self.query_int("listOptions.limit") or None
        # The REST server's own paging: keyset pages in SQL, the same continue tokens.
        body = await self.call(list_page, self.api.service.store, namespace or None, keep,
                               limit, self.query("listOptions.continue"),
                               self.query("namePrefix"), Cleaner.parse(self.query("fields")))
        self.set_header("Content-Type", "application/json")
        self.finish(body)

    @tornado.web.authenticated
    @authorized
    async def post(self, namespace: str | None = None) -> None:
        if not namespace:
            raise tornado.web.HTTPError(405, "POST needs a namespace: /workflows/{namespace}")
        body = _model(WorkflowCreateRequest, self.request.body, required=True)
        _namespace_of(body.workflow, namespace, body.namespace)
        dry = body.serverDryRun or "All" in ((body.createOptions and
                                              body.createOptions.dryRun) or [])
        from argosy.api.service import load_workflow

        if dry:
            wf = await self.call(load_workflow, body.workflow, self.api.service.registry,
                                 namespace=namespace)
        else:
            wf = await self.call(self.api.service.submit, body.workflow, namespace=namespace,
                                 start_engine=self.api.spawn_engine)
        self.reply(wf)


class WorkflowHandler(LocalHandler):
    """``/workflows/{namespace}/{name}``: get, delete; ``POST …/lint``."""

    @tornado.web.authenticated
    @authorized
    async def get(self, namespace: str, name: str) -> None:
        wf = await self.call(self.api.service.get, namespace, name)
        cleaner = Cleaner.parse(self.query("fields"))
        self.reply(cleaner.clean(wf) if cleaner else wf)

    @tornado.web.authenticated
    @authorized
    async def delete(self, namespace: str, name: str) -> None:
        await self.call(self.api.service.delete, namespace, name)
        self.reply({})

    @tornado.web.authenticated
    @authorized
    async def post(self, namespace: str, name: str) -> None:
        if name == "submit":
            body = _model(SubmitRequest, self.request.body, required=True)
            self.reply(await submit(self.api, namespace, body))
            return
        if name != "lint":
            raise tornado.web.HTTPError(405, "POST is for /workflows/{namespace}/lint or submit")
        from argosy.api.service import load_workflow

        body = _model(WorkflowLintRequest, self.request.body, required=True)
        _namespace_of(body.workflow, namespace, body.namespace)
        self.reply(await self.call(load_workflow, body.workflow, self.api.service.registry,
                                   namespace=namespace))


class ActionHandler(LocalHandler):
    """``PUT /workflows/{namespace}/{name}/{suspend|resume|stop|terminate|set|retry|resubmit}``."""

    @tornado.web.authenticated
    @authorized
    async def put(self, namespace: str, name: str, verb: str) -> None:
        svc, body = self.api.service, self.request.body
        spawn = self.api.spawn_engine
        if verb in ("suspend", "terminate"):
            fn = svc.suspend if verb == "suspend" else svc.terminate
            wf = await self.call(fn, namespace, name)
        elif verb == "resume":
            req = _model(WorkflowResumeRequest, body, required=False)
            wf = await self.call(svc.resume, namespace, name, req.nodeFieldSelector or None)
        elif verb == "stop":
            stop = _model(WorkflowStopRequest, body, required=False)
            wf = await self.call(svc.stop, namespace, name, stop.message)
        elif verb == "set":
            wf = await self._set(namespace, name, _model(WorkflowSetRequest, body,
                                                         required=False))
        elif verb == "retry":
            retry = _model(WorkflowRetryRequest, body, required=False)
            wf = await self.call(svc.retry, namespace, name,
                                 restart_successful=bool(retry.restartSuccessful),
                                 node_field_selector=retry.nodeFieldSelector or None,
                                 parameters=_pairs(retry.parameters), start_engine=spawn)
        else:
            again = _model(WorkflowResubmitRequest, body, required=False)
            wf = await self.call(svc.resubmit, namespace, name,
                                 parameters=_pairs(again.parameters),
                                 memoized=bool(again.memoized), start_engine=spawn)
        self.reply(wf)

    async def _set(self, namespace: str, name: str, req: WorkflowSetRequest) -> Any:
        if not req.nodeFieldSelector:
            raise BadRequest("nodeFieldSelector is required, e.g. displayName=approve")
        if req.phase not in (None, "", "Succeeded", "Failed", "Error"):
            raise BadRequest(f"phase must be Succeeded, Failed or Error, not {req.phase!r}")
        return await self.call(self.api.service.set_node, namespace, name,
                               req.nodeFieldSelector, phase=req.phase or None,
                               message=req.message,
                               output_parameters=_output_parameters(req.outputParameters))


class TemplatesHandler(LocalHandler):
    """``/workflow-templates/{namespace}[/{name}|/lint]`` and
    ``/cluster-workflow-templates[/{name}|/lint]``: the REST server's operations."""

    def initialize(self, backend: Any, kind: str = WFT) -> None:  # type: ignore[override]
        super().initialize(backend)
        self.kind = kind

    def _where(self, args: tuple[str, ...]) -> tuple[Templates, str | None, str | None]:
        """(the operations, namespace, name) from the path."""
        namespace = args[0] if self.kind == WFT else None
        rest = args[1:] if self.kind == WFT else args
        return Templates(self.api, self.kind), namespace, rest[0] if rest else None

    @tornado.web.authenticated
    @authorized
    async def get(self, *args: str) -> None:
        templates, namespace, name = self._where(args)
        self.reply(await (templates.get(name, namespace) if name else templates.list(namespace)))

    @tornado.web.authenticated
    @authorized
    async def post(self, *args: str) -> None:
        templates, namespace, name = self._where(args)
        if name not in (None, "lint"):
            raise tornado.web.HTTPError(405, "POST is to create a template, or to …/lint")
        body = _model(TemplateRequest, self.request.body, required=True)
        fn = templates.lint if name else templates.create
        self.reply(await fn(body, namespace))

    @tornado.web.authenticated
    @authorized
    async def put(self, *args: str) -> None:
        templates, namespace, name = self._where(args)
        if not name:
            raise tornado.web.HTTPError(405, "PUT updates a named template")
        body = _model(TemplateRequest, self.request.body, required=True)
        self.reply(await templates.update(name, body, namespace))

    @tornado.web.authenticated
    @authorized
    async def delete(self, *args: str) -> None:
        templates, namespace, name = self._where(args)
        if not name:
            raise tornado.web.HTTPError(405, "DELETE deletes a named template")
        self.reply(await templates.delete(name, namespace))


class CronsHandler(LocalHandler):
    """``/cron-workflows/{namespace}[/{name}[/suspend|/resume]|/lint]``."""

    @tornado.web.authenticated
    @authorized
    async def get(self, namespace: str, name: str | None = None) -> None:
        crons = Crons(self.api)
        self.reply(await (crons.get(namespace, name) if name else crons.list(namespace)))

    @tornado.web.authenticated
    @authorized
    async def post(self, namespace: str, name: str | None = None) -> None:
        if name not in (None, "lint"):
            raise tornado.web.HTTPError(405, "POST is to create a CronWorkflow, or to …/lint")
        body = _model(CronRequest, self.request.body, required=True)
        crons = Crons(self.api)
        self.reply(await (crons.lint(namespace, body) if name else crons.create(namespace, body)))

    @tornado.web.authenticated
    @authorized
    async def put(self, namespace: str, name: str | None = None, verb: str | None = None) -> None:
        if not name:
            raise tornado.web.HTTPError(405, "PUT updates a named CronWorkflow")
        crons = Crons(self.api)
        if verb:
            self.reply(await crons.suspend(namespace, name, verb == "suspend"))
            return
        body = _model(CronRequest, self.request.body, required=True)
        self.reply(await crons.update(namespace, name, body))

    @tornado.web.authenticated
    @authorized
    async def delete(self, namespace: str, name: str | None = None) -> None:
        if not name:
            raise tornado.web.HTTPError(405, "DELETE deletes a named CronWorkflow")
        self.reply(await Crons(self.api).delete(namespace, name))


class LogHandler(LocalHandler):
    """``/workflows/{namespace}/{name}[/{podName}]/log``: newline-delimited JSON, or SSE on
    ``Accept: text/event-stream``; ``logOptions.follow`` until the workflow ends."""

    @tornado.web.authenticated
    @authorized
    async def get(self, namespace: str, name: str, pod: str | None = None) -> None:
        sse = "text/event-stream" in self.request.headers.get("Accept", "")
        query = LogQuery(pod or self.query("podName"), self.query("grep"),
                         self.query_int("logOptions.tailLines", 10_000_000),
                         self.query_int("logOptions.sinceSeconds"),
                         self.query_bool("logOptions.follow"), sse,
                         self.query("logOptions.container") or "main",
                         self.query_bool("logOptions.timestamps"))
        logs = LogStream(self.api, namespace, name, query)
        first = await logs.snapshot()  # a missing workflow is a 404, before streaming
        await self.stream(logs.frames(first), "text/event-stream" if sse else "application/json")


class EventsHandler(LocalHandler):
    """``/workflow-events[/{namespace}]``: existing workflows as ADDED, then every change."""

    @tornado.web.authenticated
    @authorized
    async def get(self, namespace: str | None = None) -> None:
        keep = workflow_filter(self.query("listOptions.labelSelector"),
                               self.query("listOptions.fieldSelector"))
        cleaner = Cleaner.parse(self.query("fields"))
        timeout = self.query_int("listOptions.timeoutSeconds", 10**9)
        hub = self.api.hub
        sub = hub.subscribe()
        try:
            # The REST server's shared snapshot: one listing for every watcher that joins
            # between two changes.
            snap = await hub.snapshot(namespace or None, partial(
                self.api.call, take_snapshot, self.api.service, namespace or None))
            initial = await added_frames(snap, keep, cleaner)
        except BaseException:
            hub.unsubscribe(sub)
            raise
        frames = _event_frames(hub, sub, namespace or None, initial, listed(snap, keep), keep,
                               cleaner, timeout)
        await self.stream(frames, "text/event-stream")


class InfoHandler(LocalHandler):
    """``/info`` (argo-server's UI settings) and ``/version``."""

    @tornado.web.authenticated
    @authorized
    async def get(self, what: str) -> None:
        import platform
        import sys

        from argosy import __version__

        if what == "info":
            self.reply({"links": [], "columns": [], "modals": {}, "navColor": ""})
            return
        self.reply({"version": __version__, "buildDate": "", "gitCommit": "", "gitTag": "",
                    "gitTreeState": "", "goVersion": f"python{platform.python_version()}",
                    "compiler": platform.python_implementation().lower(),
                    "platform": f"{sys.platform}/{platform.machine()}"})


class ArtifactHandler(LocalHandler):
    """``/artifacts/{namespace}/{name}/{nodeId}/{artifactName}``: an output artifact's bytes
    (argo-server's GetOutputArtifact), e.g. a notebook step's executed notebook."""

    @tornado.web.authenticated
    @authorized
    async def get(self, namespace: str, name: str, node_id: str, artifact: str) -> None:
        file, content = await self.call(self.api.service.artifact_file, namespace, name,
                                        node_id, artifact)
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Disposition", content_disposition(file))
        self.finish(content)


def local_handlers(backend: Any) -> list[tuple[str, type, dict[str, Any]]]:
    kw = {"backend": backend}
    name = r"([^/]+)"
    return [
        (rf"{PREFIX}/workflows/?", WorkflowsHandler, kw),
        (rf"{PREFIX}/workflows/{name}/?", WorkflowsHandler, kw),
        (rf"{PREFIX}/workflows/{name}/{name}/?", WorkflowHandler, kw),
        (rf"{PREFIX}/workflows/{name}/{name}/({'|'.join(VERBS)})/?", ActionHandler, kw),
        (rf"{PREFIX}/workflows/{name}/{name}/log/?", LogHandler, kw),
        (rf"{PREFIX}/workflows/{name}/{name}/{name}/log/?", LogHandler, kw),
        (rf"{PREFIX}/workflow-templates/{name}/?", TemplatesHandler, kw),
        (rf"{PREFIX}/workflow-templates/{name}/{name}/?", TemplatesHandler, kw),
        (rf"{PREFIX}/cluster-workflow-templates/?", TemplatesHandler, dict(kw, kind=CWFT)),
        (rf"{PREFIX}/cluster-workflow-templates/{name}/?", TemplatesHandler,
         dict(kw, kind=CWFT)),
        (rf"{PREFIX}/cron-workflows/{name}/?", CronsHandler, kw),
        (rf"{PREFIX}/cron-workflows/{name}/{name}/?", CronsHandler, kw),
        (rf"{PREFIX}/cron-workflows/{name}/{name}/(suspend|resume)/?", CronsHandler, kw),
        (rf"{PREFIX}/workflow-events/?", EventsHandler, kw),
        (rf"{PREFIX}/workflow-events/{name}/?", EventsHandler, kw),
        (rf"{PREFIX}/(info|version)/?", InfoHandler, kw),
        (rf"{PREFIX}/artifacts/{name}/{name}/{name}/{name}/?", ArtifactHandler, kw),
    ]


# ---- remote: forwarded to an argosy server -------------------------------------------------------


HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length",
                         "content-encoding", "server", "date"})


class ForwardHandler(BaseHandler):
    """Any ``/argosy/api/v1/…`` request, sent on to the server's ``/api/v1/…``."""

    async def _forward(self, path: str) -> None:
        import httpx

        client: httpx.AsyncClient = self.backend.http
        headers = {"Accept": self.request.headers.get("Accept", "application/json")}
        if self.request.body:
            # The API takes JSON only (as the local routes do, whatever a client labels it).
            headers["Content-Type"] = "application/json"
        # argo-server serves artifacts beside its API, not under it.
        upstream = f"/{path}" if path.startswith("artifacts/") else f"/api/v1/{path}"
        request = client.build_request(self.request.method or "GET", upstream,
                                       params=self.request.query or None,
                                       content=self.request.body or None, headers=headers)
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise tornado.web.HTTPError(503, f"cannot reach {self.backend.url}: {exc}") from None
        try:
            self.set_status(response.status_code)
            for key, value in response.headers.items():
                if key.lower() not in HOP_HEADERS:
                    self.set_header(key, value)
            await self.stream(_decoded(response), response.headers.get("Content-Type",
                                                                       "application/json"))
        finally:
            await response.aclose()

    @tornado.web.authenticated
    @authorized
    async def get(self, path: str) -> None:
        await self._forward(path)

    @tornado.web.authenticated
    @authorized
    async def post(self, path: str) -> None:
        await self._forward(path)

    @tornado.web.authenticated
    @authorized
    async def put(self, path: str) -> None:
        await self._forward(path)

    @tornado.web.authenticated
    @authorized
    async def delete(self, path: str) -> None:
        await self._forward(path)


async def _decoded(response: Any) -> AsyncIterator[Any]:
    async for chunk in response.aiter_bytes():
        yield chunk


def remote_handlers(backend: Any) -> list[tuple[str, type, dict[str, Any]]]:
    return [(rf"{PREFIX}/(.*)", ForwardHandler, {"backend": backend})]


class UnavailableHandler(ForwardHandler):
    """Every route while the local store cannot be used (damaged): 503, saying why."""

    async def _forward(self, path: str) -> None:
        raise tornado.web.HTTPError(503, self.backend.problem)


def unavailable_handlers(backend: Any) -> list[tuple[str, type, dict[str, Any]]]:
    return [(rf"{PREFIX}/(.*)", UnavailableHandler, {"backend": backend})]
