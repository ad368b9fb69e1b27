"""The engine: runs a workflow's templates as coroutines, durable by replay.

Every node transition is written to the store before it is acted on. After a crash the engine
re-runs each unfinished workflow's coroutines from the top: ``run_child`` finds a child by its
deterministic id, returns a finished child's recorded outcome at once, and re-attaches to a
running one, so nothing that finished runs twice. Composite templates take no clock or random
input except through recorded node state.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import shutil
import socket
import sqlite3
import time
import uuid
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from argosy.engine.memo import MemoCache, MemoError, memoization_status
from argosy.engine.metrics import MetricError
from argosy.engine.metrics import evaluate as emit_metrics
from argosy.engine.metrics import to_row as metric_row
from argosy.engine.retry import decide, last_retry
from argosy.engine.sync import SyncError, SyncManager, holder_key
from argosy.errors import ArgosyError, ExpressionError
from argosy.expr.substitute import (
    MISSING,
    Lazy,
    Leaf,
    Scope,
    evaluate,
    go_str,
    loads,
    references,
    substitute,
    to_json,
)
from argosy.plugin import Executor, Outcome, TemplateType
from argosy.registry import Registry, default_registry
from argosy.spec.durations import DurationError, parse_duration, parse_time, seconds_since
from argosy.spec.models import (
    Arguments,
    LifecycleHook,
    NodeStatus,
    RetryStrategy,
    Step,
    Template,
    Workflow,
    failed_or_error,
)
from argosy.spec.selectors import node_matcher
from argosy.store import EngineLock, Store, WorkflowRecord, log_limit, now_rfc3339

# References resolved later than template entry: by each step, task or loop iteration.
DEFERRED = ("steps", "tasks", "item")
HOST = socket.gethostname()


class NodeError(ArgosyError):
    """A fault in running one node (bad input, unresolvable reference): the node ends Error."""


def fnv32a(text: str) -> int:
    h = 0x811C9DC5
    for byte in text.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def node_id(workflow_name: str, node_name: str) -> str:
    """Argo's node id: the workflow name for the root, else ``<wf>-<fnv32a(name)>``."""
    if node_name == workflow_name:
        return workflow_name
    return f"{workflow_name}-{fnv32a(node_name)}"


def _mentions_item(body: str) -> bool:
    return body == "item" or body.startswith("item.") or (body.startswith("=") and "item" in body)


def _deferred(body: str) -> bool:
    head = body.lstrip("= ").split(".", 1)[0].split("[", 1)[0]
    return head in DEFERRED or any(f"{name}." in body for name in ("steps", "tasks")) or (
        body.startswith("=") and "item" in body)


@dataclass
class Listener:
    """In-process observer of one run (the CLI's live view)."""

    on_node: Callable[[WorkflowRun, NodeStatus], None] | None = None
    on_workflow: Callable[[WorkflowRun], None] | None = None


log = logging.getLogger(__name__)

LEASE_SECONDS = 15.0
ACTION_POLL_SECONDS = 0.2


class Busy(ArgosyError):
    """Another live engine is executing the workflow."""


class Engine:
    """Executes workflows from the store; many at once, each under a lease.

    A lease (renewed by a heartbeat) tells other engines a workflow is taken; when an engine
    dies its leases lapse, or are freed at once when its pid is seen gone, and another engine
    adopts the workflows by replay.
    """

    def __init__(self, store: Store, registry: Registry | None = None,
                 executor: str = "local", *, serving: bool = False) -> None:
        self.store = store
        self.registry = registry or default_registry()
        self.executor_name = executor
        # Nodes are many small long-lived objects: at Python's default young-generation
        # threshold (700) the collector rescans them constantly (~20% of a 10,000-node run).
        if gc.get_threshold()[0] < 10_000:
            gc.set_threshold(10_000, 10, 10)
        self.id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.serving = serving
        self.detached = False
        self.runs: dict[str, asyncio.Task[WorkflowRecord]] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        # Locks live in this process: holders recorded in the store are restored on start.
        self.sync = SyncManager(store.home / "semaphores.yaml")
        log_limit()  # a bad setting stops the engine as it starts, not a node as it ends
        store.sweep_runtime()
        self.memo = MemoCache(store.db)
        for record in store.active():
            self.sync.restore(record.status_extra.get("synchronization"))

    @property
    def executor(self) -> Executor:
        try:
            return self.registry.executors[self.executor_name]
        except KeyError:
            raise ArgosyError(f"no executor named {self.executor_name!r}; loaded: "
                              f"{', '.join(self.registry.executors) or 'none'}") from None

    async def run(self, uid: str, listener: Listener | None = None) -> WorkflowRecord:
        """Execute one workflow to its end (or adopt it where another engine left off)."""
        if not self.store.claim(uid, self.id, LEASE_SECONDS):
            record = self.store.get(uid)
            if record.phase not in ("Pending", "Running"):
                return record
            raise Busy(f"workflow {record.name} is being executed by another engine "
                       f"({record.owner})")
        self._start_heartbeat()
        try:
            record = self.store.get(uid)
            try:
                run = WorkflowRun(self, record, listener or Listener())
            except ValidationError as exc:
                # A row today's submit refuses (stored by an older argosy, e.g. with number
                # labels): it ends in Error once instead of failing every poll, forever.
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err.get("loc", ()))
                self.store.update_status(uid, phase="Error", finished_at=now_rfc3339(),
                                         message=f"invalid workflow: {where}: {err['msg']}")
                return self.store.get(uid)
            return await run.execute()
        finally:
            self.store.release(uid, self.id)

    def _start_heartbeat(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self.store.heartbeat(self.id, LEASE_SECONDS, serving=self.serving)
            self._heartbeat = asyncio.ensure_future(self._beat())

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            self.store.heartbeat(self.id, LEASE_SECONDS, serving=self.serving)

    async def serve(self, *, poll: float = 0.5, exit_when_idle: float | None = None,
                    parallelism: int | None = None, namespace_parallelism: int | None = None,
                    lock: EngineLock | None = None) -> None:
        """Adopt and execute every workflow no live engine holds, until cancelled.

        ``parallelism`` bounds the workflows running at once, ``namespace_parallelism`` those of
        one namespace; the rest wait Pending, oldest first. ``lock``: the background engine's
        lock, held until this engine exits when idle.
        """
        self.serving = True
        self._start_heartbeat()
        idle_since = time.monotonic()
        try:
            while True:
                self._reap()
                for uid in self.store.expired():
                    self.store.delete(uid)
                for uid in self.store.claimable():
                    if uid in self.runs or not self._has_room(uid, parallelism,
                                                              namespace_parallelism):
                        continue
                    self.runs[uid] = asyncio.ensure_future(self._run_quietly(uid))
                if self.runs:
                    idle_since = time.monotonic()
                elif exit_when_idle is not None and time.monotonic() - idle_since > exit_when_idle:
                    if self._retire(lock):
                        return
                    idle_since = time.monotonic()
                await asyncio.sleep(poll)
        finally:
            # Shutting down is not stopping: the workflows stay Running, their processes
            # keep running, and the next engine adopts both (the leases are freed here).
            self.detach()
            for task in self.runs.values():
                task.cancel()
            if self.runs:
                await asyncio.gather(*self.runs.values(), return_exceptions=True)
            if self._heartbeat:
                self._heartbeat.cancel()
            self.store.engine_gone(self.id)

    def _retire(self, lock: EngineLock | None) -> bool:
        """Stop serving, idle: True to exit. A workflow submitted meanwhile is not left behind:
        its submitter saw this engine serving (and it is claimable below), or saw none and
        started another, which then holds the lock."""
        if self._heartbeat:
            self._heartbeat.cancel()
            self._heartbeat = None
        self.store.engine_gone(self.id)
        if lock is not None:
            lock.release()
        if not self.store.claimable():
            return True
        if lock is not None:
            if not lock.acquire():
                return True  # another engine was started for them
            lock.name_holder(os.getpid())
        self._start_heartbeat()
        return False

    def detach(self) -> None:
        """From now on, cancelling a run leaves its workflow and processes to a later engine."""
        self.detached = True
        for executor in self.registry.executors.values():
            if hasattr(executor, "detached"):
                executor.detached = True

    def _reap(self) -> None:
        for uid, task in list(self.runs.items()):
            if not task.done():
                continue
            del self.runs[uid]
            error = None if task.cancelled() else task.exception()
            if isinstance(error, sqlite3.Error):
                raise error  # the store fails (damaged, full): stop rather than run it again
            if error is not None:  # a fault of the engine's: end the workflow, do not loop
                log.error("workflow %s: engine error", uid, exc_info=error)
                self.store.update_status(uid, phase="Error", finished_at=now_rfc3339(),
                                         message=f"argosy engine error: {error}")

    def _has_room(self, uid: str, limit: int | None, per_namespace: int | None) -> bool:
        if limit is not None and len(self.runs) >= limit:
            return False
        if per_namespace is None:
            return True
        namespace = self.store.get(uid).namespace
        same = sum(1 for other in self.runs if self.store.get(other).namespace == namespace)
        return same < per_namespace

    async def _run_quietly(self, uid: str) -> WorkflowRecord:
        try:
            return await self.run(uid)
        except Busy:
            return self.store.get(uid)


@dataclass
class NodeContext:
    """What a template type's ``run`` gets: its node, its template, its scope, the node API."""

    run: WorkflowRun
    node: NodeStatus
    template: Template
    raw: dict[str, Any]
    body: Any
    scope: Scope
    outbound: list[str] = field(default_factory=list)

    @property
    def executor(self) -> Executor:
        return self.run.engine.executor

    @property
    def node_dir(self) -> Path:
        return self.run.node_dir(self.node.id)

    @property
    def workflow_name(self) -> str:
        return self.run.name

    async def run_child(self, name: str, template: str | dict[str, Any],
                        arguments: Arguments | None = None, *, display_name: str | None = None,
                        parents: list[str] | None = None) -> NodeStatus:
        """Run ``template`` (a name, or an inline template) as the child node ``name``."""
        return await self.run.execute_node(
            name, self.run.resolve_template(template), arguments or Arguments(),
            display_name=display_name, boundary_id=self.node.id,
            parents=parents if parents is not None else [self.node.id])

    def group(self, name: str, display_name: str, node_type: str,
              parents: list[str], template_name: str | None = None) -> NodeStatus:
        """A grouping node (StepGroup, TaskGroup), Running until :meth:`finish`."""
        return self.run.ensure_node(name, display_name, node_type, "Running",
                                    boundary_id=self.node.id, parents=parents,
                                    template_name=template_name)

    def skip(self, name: str, display_name: str, phase: str, message: str,
             parents: list[str], template_name: str | None = None) -> NodeStatus:
        """A node that did not run: ``Skipped`` (when false, empty loop) or ``Omitted``."""
        return self.run.ensure_node(name, display_name, "Skipped", phase,
                                    boundary_id=self.node.id, parents=parents,
                                    template_name=template_name, message=message, finished=True)

    def finish(self, node: NodeStatus, phase: str, message: str | None = None) -> None:
        self.run.finish(node, phase, message)

    def outbound_of(self, node: NodeStatus) -> list[str]:
        return self.run.outbound_of(node)

    def node_view(self, node: NodeStatus) -> Mapping[str, Any]:
        return self.run.node_view(node)

    async def run_hooks(self, step: Step, node: NodeStatus, scope: Scope, kind: str) -> None:
        """A finished step's or task's hooks: ``exit`` (or ``onExit``) always, as node
        ``<node>.onExit``; expression hooks when true, as ``<node>.hooks.<name>``."""
        hooks = dict(step.hooks or {})
        if step.on_exit and "exit" not in hooks:
            hooks["exit"] = LifecycleHook(template=step.on_exit)
        if not hooks:
            return
        siblings = scope.get(kind) or {}
        local = scope.child({kind: ChainMap({step.name: self.node_view(node)}, siblings)})
        for hook_name, hook in hooks.items():
            if hook_name == "exit":
                name = f"{node.name}.onExit"
            else:
                name = f"{node.name}.hooks.{hook_name}"
                try:
                    if not hook.expression or not evaluate(hook.expression, local,
                                                           self.run.functions):
                        continue
                except ExpressionError:
                    continue
            arguments = Arguments.model_validate(
                self.substitute(hook.arguments.dump(), local))
            hooked = await self.run.execute_node(
                name, self.run.resolve_template(hook.template or ""), arguments,
                display_name=name.rsplit(".", 1)[-1] if hook_name == "exit" else name,
                boundary_id=self.node.id, parents=[node.id])
            if hooked.node_flag is None:
                hooked.node_flag = {"hooked": True}
                self.run.persist(hooked)

    def aggregate_view(self, group: NodeStatus, children: list[NodeStatus]) -> Mapping[str, Any]:
        return self.run.aggregate_view(group, children)

    def substitute(self, obj: Any, scope: Scope, *, defer_items: bool = False,
                   strict: bool = False) -> Any:
        keep = _mentions_item if defer_items else None
        return substitute(obj, scope, keep=keep, strict=strict,
                          functions=self.run.functions)

    async def wait(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def child_slots(self) -> asyncio.Semaphore | None:
        """The template's ``parallelism``: how many children run at once (None: no limit)."""
        limit = self.template.parallelism
        return asyncio.Semaphore(int(limit)) if limit not in (None, "") else None


class WorkflowRun:
    """One workflow being executed: its spec, its nodes in memory, and their persistence."""

    def __init__(self, engine: Engine, record: WorkflowRecord, listener: Listener) -> None:
        self.engine = engine
        self.store = engine.store
        self.record = record
        self.listener = listener
        self.uid = record.uid
        self.name = record.name
        self.namespace = record.namespace
        self.manifest = record.manifest
        self.wf = Workflow.model_validate(record.manifest)
        self.templates = {t.get("name"): t for t in record.manifest["spec"].get("templates", [])}
        self.types = engine.registry.template_types
        self.functions = engine.registry.expression_functions
        self.nodes: dict[str, NodeStatus] = {}
        for nid, body in self.store.nodes(self.uid).items():
            self.nodes[nid] = NodeStatus.model_validate(body)
        parallelism = self.wf.spec.parallelism
        self.pod_slots = asyncio.Semaphore(parallelism) if parallelism else None
        self.leaves_total = 0
        self.leaves_done = 0
        for n in self.nodes.values():
            self._count_leaf(n, created=True)
        self.globals = self._global_scope()
        spec = self.manifest["spec"]
        self.shutdown: str | None = spec.get("shutdown")
        self.running_allowed = asyncio.Event()
        if not spec.get("suspend"):
            self.running_allowed.set()
        self.main_task: asyncio.Future[tuple[str, str | None]] | None = None
        self.resume_waiters: dict[str, asyncio.Future[None]] = {}
        self.stop_message: str | None = None
        self.deleted = False
        self.applied_action = record.applied_action
        self._model_cache: dict[int, Template] = {}
        self._defaults_cache: dict[int, dict[str, Any]] = {}
        self._static: dict[int, tuple[dict[str, Any], Template, Any]] = {}
        self._children_sets: dict[str, set[str]] = {}

    # ---- workflow -----------------------------------------------------------------------------

    async def execute(self) -> WorkflowRecord:
        if self.record.phase not in ("Pending", "Running"):
            return self.record
        started = self.record.started_at or now_rfc3339()
        if not self.record.started_at:
            try:
                self._apply_workflow_metadata()
            except (ArgosyError, ExpressionError) as exc:
                self._update(started_at=started)
                self._finish_workflow("Error", f"spec.workflowMetadata: {exc}")
                return self.store.get(self.uid)
        if not await self._workflow_lock(started):
            return self.store.get(self.uid)
        self._update(phase="Running", started_at=started)
        self._emit_workflow("started")
        control = asyncio.ensure_future(self._control_loop())
        try:
            await self._apply_actions()
            phase, message = await self._main()
            if self.deleted:
                return self.record
            if self.shutdown != "Terminate":
                await self._run_exit_handler(phase)
                await self._workflow_hooks(phase)
        except asyncio.CancelledError:
            if not self.engine.detached and not self.deleted:
                self._stop_running("Stopped: interrupted")
                self._finish_workflow("Failed", "Stopped: interrupted")
            raise
        finally:
            control.cancel()
        self._finish_workflow(phase, message)
        return self.store.get(self.uid)

    async def _workflow_lock(self, started: str) -> bool:
        """``spec.synchronization``: the workflow waits Pending until it holds its locks."""
        sync = self.manifest["spec"].get("synchronization")
        if not sync:
            return True

        def waiting(message: str) -> None:
            self._update(phase="Pending", message=message)
            self._sync_status()

        try:
            await self.engine.sync.acquire(holder_key(self.namespace, self.name), sync,
                                           on_wait=waiting, **self._sync_args())
        except SyncError as exc:
            self._update(started_at=started)
            self._finish_workflow("Failed", f"Failed to acquire the synchronization lock. {exc}")
            return False
        self._update(message=None)
        self._sync_status()
        return True

    async def _main(self) -> tuple[str, str | None]:
        """The entrypoint as a task that ``stop`` and ``terminate`` can cancel."""
        if self.shutdown:
            return self._shut_down()
        await self._workflow_hooks()
        self.main_task = asyncio.ensure_future(self._execute_entrypoint())
        try:
            return await asyncio.shield(self.main_task)
        except asyncio.CancelledError:
            if self.shutdown and self.main_task.cancelled():
                return self._shut_down()
            # Cancelled from outside (Ctrl-C): let the nodes kill their processes first.
            self.main_task.cancel()
            with contextlib.suppress(BaseException):
                await self.main_task
            raise

    def _shut_down(self) -> tuple[str, str]:
        message = f"Stopped with strategy '{self.shutdown}'"
        # `stop --message` is for the nodes that were running, as in Argo.
        self._stop_running(self.stop_message or message)
        self.running_allowed.set()  # exit handlers run even in a suspended workflow
        return "Failed", message

    # ---- control: verbs from other processes arrive as actions in the store ------------------

    async def _control_loop(self) -> None:
        while True:
            await asyncio.sleep(ACTION_POLL_SECONDS)
            await self._apply_actions()

    async def _apply_actions(self) -> None:
        if not self.store.exists(self.uid):
            # Deleted while running: terminate, and write nothing more about it.
            self.deleted = True
            if self.main_task is not None and not self.main_task.done():
                self.shutdown = "Terminate"
                self.main_task.cancel()
            return
        for action_id, kind, payload in self.store.actions_after(self.uid, self.applied_action):
            self.apply_action(kind, payload)
            self.applied_action = action_id
            self.store.set_applied_action(self.uid, action_id)

    def apply_action(self, kind: str, payload: dict[str, Any]) -> None:
        """Argo's suspend / resume / stop / terminate / node set, applied in this engine."""
        spec = self.manifest["spec"]
        if kind == "suspend":
            spec["suspend"] = True
            self.running_allowed.clear()
        elif kind == "resume":
            spec.pop("suspend", None)
            self.running_allowed.set()
            for node in self._select(payload.get("nodeFieldSelector")):
                if node.type == "Suspend" and not node.fulfilled:
                    self.resume_node(node)
        elif kind in ("stop", "terminate"):
            self.shutdown = "Stop" if kind == "stop" else "Terminate"
            self.stop_message = payload.get("message") or None
            spec["shutdown"] = self.shutdown
            if self.main_task is not None and not self.main_task.done():
                self.main_task.cancel()
        elif kind == "set":
            for node in self._select(payload.get("nodeFieldSelector")):
                self.set_node(node, payload)
        self.store.update_manifest(self.uid, self.manifest)
        if self.listener.on_workflow:
            self.listener.on_workflow(self)

    def _select(self, selector: str | None) -> list[NodeStatus]:
        match = node_matcher(selector)
        return [n for n in self.nodes.values()
                if match(n.model_dump(by_alias=True, exclude_none=True))]

    def resume_node(self, node: NodeStatus) -> None:
        """Release a suspend node, durably: it is Succeeded before its coroutine knows."""
        self.finish(node, "Succeeded")
        waiter = self.resume_waiters.pop(node.id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def set_node(self, node: NodeStatus, payload: dict[str, Any]) -> None:
        """``argo node set``: output parameters, message, phase of a node."""
        params = payload.get("outputParameters") or {}
        if params:
            outputs = dict(node.outputs or {})
            current = {p["name"]: p for p in outputs.get("parameters", [])}
            for key, value in params.items():
                current[key] = {"name": key, "value": str(value)}
            outputs["parameters"] = list(current.values())
            node.outputs = outputs
        if payload.get("message") is not None:
            node.message = payload["message"]
        phase = payload.get("phase")
        if phase and node.type == "Suspend" and not node.fulfilled:
            node.message = node.message if payload.get("message") else None
            self.resume_node(node)
            if phase != "Succeeded":
                self.finish(node, phase, payload.get("message"))
        elif phase:
            self.finish(node, phase, payload.get("message"))
        else:
            self.persist(node)

    async def wait_for_resume(self, node: NodeStatus, timeout: float | None = None) -> None:
        """Until ``resume`` (or ``node set``) releases this suspend node, or ``timeout``."""
        if node.fulfilled:
            return
        waiter = self.resume_waiters.setdefault(
            node.id, asyncio.get_running_loop().create_future())
        if timeout is None:
            await waiter
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiter), max(0.0, timeout))

    async def _execute_entrypoint(self) -> tuple[str, str | None]:
        """Run the entrypoint under ``spec.activeDeadlineSeconds``; the workflow's phase."""
        spec = self.wf.spec
        deadline = spec.active_deadline_seconds
        run = self.execute_node(self.name, self.resolve_template(spec.entrypoint or ""),
                                spec.arguments, display_name=self.name, boundary_id=None,
                                parents=[], root=True)
        try:
            if deadline is None:
                root = await run
            else:
                remaining = float(deadline) - seconds_since(self.record.started_at)
                root = await asyncio.wait_for(run, max(0.0, remaining))
        except TimeoutError:
            self._stop_running("Step exceeded its deadline")
            return "Failed", "Step exceeded its deadline"
        except ArgosyError as exc:
            return "Error", str(exc)
        if root.phase in ("Succeeded", "Failed", "Error"):
            return root.phase, root.message
        return ("Succeeded", None) if root.phase in ("Skipped", "Omitted") else ("Error",
                                                                               root.message)

    def _apply_workflow_metadata(self) -> None:
        """``spec.workflowMetadata``: labels and annotations, ``labelsFrom`` expressions."""
        wm = self.manifest["spec"].get("workflowMetadata") or {}
        if not wm:
            return
        meta = self.manifest.setdefault("metadata", {})
        labels = dict(meta.get("labels") or {}) | dict(wm.get("labels") or {})
        for key, source in (wm.get("labelsFrom") or {}).items():
            labels[key] = go_str(evaluate(source.get("expression", ""), self.globals,
                                          self.functions))
        meta["labels"] = labels
        meta["annotations"] = dict(meta.get("annotations") or {}) | dict(
            wm.get("annotations") or {})
        self.globals.data["workflow"]["labels"] = labels
        self.globals.data["workflow"]["annotations"] = meta["annotations"]
        self.store.update_manifest(self.uid, self.manifest)

    async def _run_exit_handler(self, phase: str) -> None:
        """``spec.onExit`` / ``spec.hooks.exit``: runs whatever the outcome, as node <wf>.onExit."""
        spec = self.manifest["spec"]
        hook = (spec.get("hooks") or {}).get("exit") or (
            {"template": spec["onExit"]} if spec.get("onExit") else None)
        if not hook:
            return
        self._set_status_variables(phase)
        with contextlib.suppress(ArgosyError):
            arguments = Arguments.model_validate(
                substitute(hook.get("arguments") or {}, self.globals, functions=self.functions))
            await self.execute_node(f"{self.name}.onExit",
                                    self.resolve_template(hook.get("template") or ""), arguments,
                                    display_name=f"{self.name}.onExit", boundary_id=None,
                                    parents=[])

    def _set_status_variables(self, phase: str) -> None:
        self.globals.set("workflow.status", phase)
        self.globals.set("workflow.failures", to_json(self._failures()))
        elapsed = seconds_since(self.record.started_at)
        self.globals.set("workflow.duration", go_str(float(elapsed)))

    async def _workflow_hooks(self, phase: str = "Running") -> None:
        """Expression hooks of ``spec.hooks``, checked when the workflow starts and ends."""
        hooks = {k: v for k, v in (self.manifest["spec"].get("hooks") or {}).items()
                 if k != "exit" and v.get("expression")}
        if not hooks:
            return
        self._set_status_variables(phase)
        for hook_name, hook in hooks.items():
            name = f"{self.name}.hooks.{hook_name}"
            if node_id(self.name, name) in self.nodes:
                continue
            with contextlib.suppress(ArgosyError, ExpressionError):
                if evaluate(hook["expression"], self.globals, self.functions):
                    arguments = Arguments.model_validate(substitute(
                        hook.get("arguments") or {}, self.globals, functions=self.functions))
                    await self.execute_node(name, self.resolve_template(hook["template"]),
                                            arguments, display_name=name, boundary_id=None,
                                            parents=[])

    def _failures(self) -> list[dict[str, Any]]:
        return [{"displayName": n.display_name, "message": n.message or "",
                 "templateName": n.template_name or "", "phase": n.phase,
                 "podName": n.id, "finishedAt": n.finished_at or ""}
                for n in self.nodes.values()
                if failed_or_error(n.phase) and n.type in ("Pod", "Container")]

    def _retention(self, phase: str) -> None:
        """``ttlStrategy``: when the workflow may be deleted."""
        ttl = self.manifest["spec"].get("ttlStrategy") or {}
        key = "secondsAfterSuccess" if phase == "Succeeded" else "secondsAfterFailure"
        seconds = ttl.get(key, ttl.get("secondsAfterCompletion"))
        if seconds is not None:
            self.store.set_expiry(self.uid, time.time() + float(seconds))

    def _emit_metrics(self, metrics: dict[str, Any], scope: Scope) -> str | None:
        """Evaluate and keep ``metrics.prometheus``; a faulty metric is reported, not fatal."""
        try:
            samples = emit_metrics(metrics.get("prometheus") or [], scope, self.functions)
        except (MetricError, ExpressionError) as exc:
            return f"metric: {exc}"
        if samples:
            self.store.add_metrics(self.uid, [metric_row(s) for s in samples])
        return None

    def _finish_workflow(self, phase: str, message: str | None) -> None:
        self.engine.sync.release_workflow(self.namespace, self.name)
        self._sync_status()
        if self.manifest["spec"].get("metrics"):
            self._set_status_variables(phase)
            self._emit_metrics(self.manifest["spec"]["metrics"], self.globals)
        self._retention(phase)
        exit_node = self.nodes.get(node_id(self.name, f"{self.name}.onExit"))
        if exit_node is not None and failed_or_error(exit_node.phase) and phase == "Succeeded":
            phase, message = exit_node.phase, exit_node.message
        extra = dict(self.record.status_extra)
        outputs = self.globals.data.get("_outputs")
        if outputs:
            extra["outputs"] = {"parameters": [{"name": k, "value": v}
                                               for k, v in outputs.items()]}
        self._update(phase=phase, finished_at=now_rfc3339(), message=message,
                     progress=self.progress(), status_extra=extra)
        # Its pods are gone, as under any podGC: what they left that lasts (outputs, logs)
        # is in the store now.
        shutil.rmtree(self.store.run_dir(self.uid), ignore_errors=True)
        self._emit_workflow("finished")

    def _stop_running(self, message: str) -> None:
        for node in list(self.nodes.values()):
            if not node.fulfilled:
                # Its processes are killed by now: what they printed is its log, as a killed
                # pod's is.
                logs = self._process_log(node)
                if logs and not self.deleted:
                    self.store.keep_log(self.uid, node.id, logs)
                self.finish(node, "Failed", message)

    def _process_log(self, node: NodeStatus) -> list[Path]:
        """The files holding what the node's process printed, for a node that ends without
        its outcome (stopped, terminated, past its deadline, interrupted)."""
        try:
            files = getattr(self.engine.executor, "log_files", None)
        except ArgosyError:
            return []
        if files is None or node.type not in ("Pod", "Container"):
            return []
        return [f for f in files(self.node_dir(node.id)) if f.exists()]

    def _update(self, **fields: Any) -> None:
        if self.deleted:
            return
        self.store.update_status(self.uid, **fields)
        for key, value in fields.items():
            setattr(self.record, key, value)
        if self.listener.on_workflow:
            self.listener.on_workflow(self)

    def _emit_workflow(self, event: str) -> None:
        hook = self.engine.registry.pm.hook.argosy_workflow_event
        hook(event=event, workflow={"metadata": {"name": self.name, "namespace": self.namespace,
                                                 "uid": self.uid},
                                    "status": self.record.status()})

    def to_dict(self, nodes: bool = True) -> dict[str, Any]:
        """The Workflow in Argo's shape, from memory (O(nodes): call it sparingly)."""
        wf = dict(self.manifest)
        wf["metadata"] = dict(wf.get("metadata", {}), name=self.name, namespace=self.namespace,
                              uid=self.uid, creationTimestamp=self.record.created_at)
        status = self.record.status()
        status["progress"] = self.progress()
        if nodes and self.nodes:
            status["nodes"] = {nid: n.model_dump(by_alias=True, exclude_none=True)
                               for nid, n in self.nodes.items()}
        wf["status"] = status
        return wf

    def progress(self) -> str:
        return f"{self.leaves_done}/{self.leaves_total}"

    def _global_scope(self) -> Scope:
        meta = self.manifest.get("metadata", {})
        params = {p.name: go_str(p.value) for p in self.wf.spec.arguments.parameters
                  if p.value is not None}
        created = meta.get("creationTimestamp") or self.record.created_at
        params_json = to_json([{"name": k, "value": v} for k, v in params.items()])
        scope = Scope({"workflow": {
            "name": self.name, "namespace": self.namespace, "uid": self.uid,
            "serviceAccountName": self.wf.spec.service_account_name or "default",
            "mainEntrypoint": self.wf.spec.entrypoint or "",
            "creationTimestamp": _timestamp_view(created),
            # workflow.parameters.json: all of them as one JSON text (Argo's variable).
            "parameters": Leaf(params_json, {"json": params_json} | params),
            "labels": dict(meta.get("labels") or {}),
            "annotations": dict(meta.get("annotations") or {}),
            "status": "Running",
            "outputs": {"parameters": {}},
        }})
        return scope

    # ---- templates ----------------------------------------------------------------------------

    def resolve_template(self, ref: str | dict[str, Any]) -> dict[str, Any]:
        if isinstance(ref, dict):
            return ref
        try:
            return self.templates[ref]
        except KeyError:
            raise NodeError(f"template {ref!r} not found") from None

    def template_type(self, template: dict[str, Any]) -> TemplateType:
        keys = [k for k in template if k in self.types]
        if len(keys) != 1:
            name = template.get("name", "<inline>")
            if not keys:
                raise NodeError(f"template {name!r} has no template type "
                                f"(known: {', '.join(sorted(self.types))})")
            raise NodeError(f"template {name!r} has more than one type: {', '.join(keys)}")
        return self.types[keys[0]]

    def model(self, template: dict[str, Any]) -> Template:
        key = id(template)
        cached = self._model_cache.get(key)
        if cached is None:
            cached = self._model_cache[key] = Template.model_validate(template)
        return cached

    # ---- nodes --------------------------------------------------------------------------------

    def node_dir(self, nid: str) -> Path:
        return self.store.run_dir(self.uid) / nid

    def ensure_node(self, name: str, display_name: str, node_type: str, phase: str, *,
                    boundary_id: str | None, parents: list[str], template_name: str | None,
                    message: str | None = None, finished: bool = False,
                    inputs: dict[str, Any] | None = None) -> NodeStatus:
        """Find the node by its deterministic id, or create and persist it."""
        nid = node_id(self.name, name)
        node = self.nodes.get(nid)
        if node is not None:
            return node
        now = now_rfc3339()
        node = NodeStatus(id=nid, name=name, displayName=display_name, type=node_type,
                          templateName=template_name, phase=phase, boundaryID=boundary_id,
                          startedAt=now, finishedAt=now if finished else None, message=message,
                          inputs=inputs)
        if node_type in ("Pod", "Container"):
            node.host_node_name = HOST
        self.nodes[nid] = node
        self._count_leaf(node, created=True)
        edges = []
        for parent_id in parents:
            parent = self.nodes.get(parent_id)
            if parent is None:
                continue
            # A node created just now cannot be anyone's child yet: no need to search.
            children = parent.children if parent.children is not None else []
            edges.append((parent_id, len(children), nid))
            children.append(nid)
            parent.children = children
            if parent_id in self._children_sets:
                self._children_sets[parent_id].add(nid)
        self.persist(node, edges)
        return node

    def _link(self, node: NodeStatus, parents: list[str]) -> None:
        """Hang a node found already done (carried over by a memoized resubmit) from its
        parents, which were created after it."""
        edges = []
        for parent_id in parents:
            parent = self.nodes.get(parent_id)
            if parent is None:
                continue
            known = self._children_sets.get(parent_id)
            if known is None:
                known = self._children_sets[parent_id] = set(parent.children or [])
            if node.id in known:
                continue
            known.add(node.id)
            parent.children = [*(parent.children or []), node.id]
            edges.append((parent_id, len(parent.children) - 1, node.id))
        if edges:
            self.store.add_edges(self.uid, edges)

    def _count_leaf(self, node: NodeStatus, *, created: bool = False) -> None:
        if node.type not in ("Pod", "Container"):
            return
        if created:
            self.leaves_total += 1
        if node.phase == "Succeeded":
            self.leaves_done += 1

    def set_phase(self, node: NodeStatus, phase: str, message: str | None = None) -> None:
        node.phase = phase
        if message is not None:
            node.message = message
        self.persist(node)

    def finish(self, node: NodeStatus, phase: str, message: str | None = None) -> None:
        node.phase = phase
        if message:
            node.message = message
        node.finished_at = now_rfc3339()
        if node.type in ("Pod", "Container"):
            node.progress = "1/1" if phase == "Succeeded" else "0/1"
            if phase == "Succeeded":
                self.leaves_done += 1
        self.persist(node)

    def persist(self, node: NodeStatus, edges: list[tuple[str, int, str]] | None = None) -> None:
        if self.deleted:
            return
        body = node.model_dump_json(by_alias=True, exclude_none=True, exclude={"children"})
        self.store.put_node(self.uid, node.id, body, edges)
        if self.listener.on_node:
            self.listener.on_node(self, node)
        hook = self.engine.registry.pm.hook.argosy_node_event
        if hook.get_hookimpls():
            hook(workflow_name=self.name, namespace=self.namespace,
                 node=node.model_dump(by_alias=True, exclude_none=True))

    def outbound_of(self, node: NodeStatus) -> list[str]:
        """Argo's getOutboundNodes: the nodes a successor hangs from."""
        children = [self.nodes[c] for c in node.children or [] if c in self.nodes]
        if node.type in ("Skipped", "Suspend", "HTTP", "Plugin") or (
                node.type == "Pod" and not any(c.type == "Container" for c in children)):
            return [node.id]
        # A containerSet's pod is a group of its containers; a container whose child lies
        # outside its pod is the deepest node of the set.
        if node.type in ("TaskGroup", "Container", "Pod"):
            if not children:
                return [node.id]
            out: list[str] = []
            for child in children:
                if node.type == "Container" and child.boundary_id != node.boundary_id:
                    out.append(node.id)
                else:
                    out.extend(self.outbound_of(child))
            return list(dict.fromkeys(out))
        if node.type == "Retry" and node.children:
            return [node.children[-1]]
        out = [o for nid in node.outbound_nodes or [] for o in self.outbound_of(self.nodes[nid])]
        return out or [node.id]

    # ---- executing one node -------------------------------------------------------------------

    async def execute_node(self, name: str, template: dict[str, Any], arguments: Arguments, *,
                           display_name: str | None, boundary_id: str | None,
                           parents: list[str], root: bool = False) -> NodeStatus:
        nid = node_id(self.name, name)
        existing = self.nodes.get(nid)
        if existing is not None and existing.fulfilled:
            self._link(existing, parents)
            return existing
        display = display_name or name.rsplit(".", 1)[-1]
        template = self.with_defaults(template)
        try:
            ttype = self.template_type(template)
            tmpl = self.model(template)
        except (NodeError, ValidationError) as exc:
            return self._error_node(name, display, boundary_id, parents, str(exc), template)
        # As in Argo, spec.retryStrategy is the retryStrategy of every template without one.
        strategy = tmpl.retry_strategy
        if strategy is None:
            strategy = self.wf.spec.retry_strategy
        if strategy is not None:
            return await self._execute_retry(name, display, template, ttype, tmpl, strategy,
                                             arguments, boundary_id, parents)
        return await self._execute_once(name, display, template, ttype, tmpl, arguments,
                                        boundary_id, parents)

    async def _execute_once(self, name: str, display: str, template: dict[str, Any],
                            ttype: TemplateType, tmpl: Template, arguments: Arguments,
                            boundary_id: str | None, parents: list[str],
                            retries: int | None = None) -> NodeStatus:
        existing = self.nodes.get(node_id(self.name, name))
        if existing is not None and existing.fulfilled:
            return existing
        if existing is None:
            await self.running_allowed.wait()  # a suspended workflow starts no new node
        # Like Argo, a pod beyond spec.parallelism gets no node until a slot frees up.
        slots = self.pod_slots if ttype.node_type == "Pod" else None
        async with slots or contextlib.nullcontext():
            node = existing
            if node is None:
                try:
                    inputs = self.resolve_inputs(tmpl, arguments)
                except (NodeError, ExpressionError) as exc:
                    return self._error_node(name, display, boundary_id, parents, str(exc),
                                            template, ttype.node_type)
                # A leaf waits Pending only for its locks; otherwise it starts right away.
                waits = ttype.leaf and bool(template.get("synchronization"))
                node = self.ensure_node(
                    name, display, ttype.node_type, "Pending" if waits else "Running",
                    boundary_id=boundary_id, parents=parents, template_name=tmpl.name,
                    inputs=_inputs_status(inputs))
            inputs = {p["name"]: p.get("value")
                      for p in (node.inputs or {}).get("parameters", [])}
            scope = self.node_scope(node, tmpl, inputs, retries)
            await self._synchronized(node, template, ttype, tmpl, scope, new=existing is None)
        return node

    async def _synchronized(self, node: NodeStatus, template: dict[str, Any],
                            ttype: TemplateType, tmpl: Template, scope: Scope,
                            new: bool) -> None:
        """Run a node under its template's mutexes/semaphores, and through its memo cache.

        Argo's order: parallelism slot, then locks, then the memoization lookup.
        """
        lease = None
        sync = template.get("synchronization")
        if sync:
            holder = holder_key(self.namespace, self.name, node.id)

            def waiting(message: str) -> None:
                node.synchronization_status = {"waiting": self.engine.sync.waiting_for(holder)}
                self.set_phase(node, "Pending", message)
                self._sync_status()

            try:
                lease = await self.engine.sync.acquire(
                    holder, substitute(sync, scope, functions=self.functions),
                    on_wait=waiting, **self._sync_args())
            except SyncError as exc:
                self.finish(node, "Error", str(exc))
                return
            if node.synchronization_status is not None:
                node.synchronization_status, node.message = None, None
                self.persist(node)
            self._sync_status()
        try:
            memoized = template.get("memoize") and (new or lease is not None)
            if memoized and self._memo_hit(node, template, scope):
                return
            try:
                outcome = await self._run_type(ttype, node, template, scope)
            except (NodeError, ExpressionError, ValidationError, DurationError) as exc:
                outcome = Outcome("Error", str(exc))
            self.finish_outcome(node, tmpl, outcome, scope)
        finally:
            if lease is not None:
                await lease.release()
                self._sync_status()

    def _memo_hit(self, node: NodeStatus, template: dict[str, Any], scope: Scope) -> bool:
        """Look the node up in its memoize cache; on a hit it ends with the cached outputs."""
        memo = substitute(template["memoize"], scope, functions=self.functions)
        key = str(memo.get("key", ""))
        cache = ((memo.get("cache") or {}).get("configMap") or {}).get("name", "")
        try:
            entry = self.engine.memo.get(self.namespace, cache, key, memo.get("maxAge") or None)
        except MemoError as exc:
            self.finish(node, "Error", str(exc))
            return True
        node.memoization_status = memoization_status(entry is not None, key, cache)
        if entry is None:
            self.persist(node)
            return False
        node.outputs = entry.outputs or None
        for p in (entry.outputs or {}).get("parameters", []):
            if p.get("globalName"):
                self.export_global(p["globalName"], p.get("value", ""))
        self.finish(node, "Succeeded")
        return True

    def _sync_args(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "created": self.record.created_at,
                "priority": int(self.manifest["spec"].get("priority") or 0)}

    def _sync_status(self) -> None:
        """Mirror the locks held and awaited into ``status.synchronization``."""
        extra = dict(self.record.status_extra)
        now = self.engine.sync.status(self.namespace, self.name)
        if extra.get("synchronization", {}) == now:
            return
        if now:
            extra["synchronization"] = now
        else:
            extra.pop("synchronization", None)
        self._update(status_extra=extra)

    async def _execute_retry(self, name: str, display: str, template: dict[str, Any],
                             ttype: TemplateType, tmpl: Template, given: RetryStrategy,
                             arguments: Arguments, boundary_id: str | None,
                             parents: list[str]) -> NodeStatus:
        """A Retry node whose children ``name(0)``, ``name(1)``… are the attempts."""
        try:
            inputs = self.resolve_inputs(tmpl, arguments)
            strategy = RetryStrategy.model_validate(substitute(
                given.dump(),
                self.globals.child({"inputs": {"parameters": inputs}}),
                functions=self.functions))
        except (NodeError, ExpressionError, ValidationError) as exc:
            return self._error_node(name, display, boundary_id, parents, str(exc), template,
                                    "Retry")
        retry = self.ensure_node(name, display, "Retry", "Running", boundary_id=boundary_id,
                                 parents=parents, template_name=tmpl.name,
                                 inputs=_inputs_status(inputs))
        attempts: list[NodeStatus] = []
        while True:
            i = len(attempts)
            child = await self._execute_once(f"{name}({i})", f"{display}({i})", template, ttype,
                                             tmpl, arguments, boundary_id, [retry.id], i)
            attempts.append(child)
            if not failed_or_error(child.phase):
                return self._end_retry(retry, child, child.phase, None)
            try:
                decision = decide(strategy, attempts, self._retry_expression(strategy, attempts))
            except (ArgosyError, ExpressionError) as exc:
                return self._end_retry(retry, child, "Error", str(exc))
            if not decision.retry:
                return self._end_retry(retry, child, decision.phase, decision.message)
            if decision.wait > 0:
                self.set_phase(retry, "Running", f"Backoff for {go_str(decision.wait)}s")
                await asyncio.sleep(decision.wait)

    def _retry_expression(self, strategy: RetryStrategy,
                          attempts: list[NodeStatus]) -> bool | None:
        if not strategy.expression:
            return None
        scope = Scope({"lastRetry": last_retry(attempts), "retries": str(len(attempts) - 1)})
        return bool(evaluate(strategy.expression, scope, self.functions))

    def _end_retry(self, retry: NodeStatus, last: NodeStatus, phase: str,
                   message: str | None) -> NodeStatus:
        if last.outputs:
            retry.outputs = last.outputs
        self.finish(retry, phase, message)
        return retry

    def with_defaults(self, template: dict[str, Any]) -> dict[str, Any]:
        """``spec.templateDefaults`` under the template's own fields (cached per template)."""
        defaults = self.manifest["spec"].get("templateDefaults")
        if not defaults:
            return template
        key = id(template)
        merged = self._defaults_cache.get(key)
        if merged is None:
            own_type = [k for k in template if k in self.types]
            base = {k: v for k, v in defaults.items() if k not in self.types or k in own_type}
            merged = self._defaults_cache[key] = _merge(base, template)
        return merged

    def _error_node(self, name: str, display: str, boundary_id: str | None, parents: list[str],
                    message: str, template: dict[str, Any], node_type: str = "Pod") -> NodeStatus:
        node = self.ensure_node(name, display, node_type, "Error", boundary_id=boundary_id,
                                parents=parents, template_name=template.get("name"),
                                message=message)
        if not node.fulfilled:
            self.finish(node, "Error", message)
        return node

    async def _run_type(self, ttype: TemplateType, node: NodeStatus, template: dict[str, Any],
                        scope: Scope) -> Outcome:
        static = self._static.get(id(template))
        if static is not None:
            resolved, tmpl, body = static
        else:
            keep = _deferred if not ttype.leaf else None
            resolved = substitute(template, scope, keep=keep, functions=self.functions)
            tmpl = Template.model_validate(resolved)
            body = resolved[ttype.key]
            if ttype.body is not None:
                body = ttype.body.model_validate(body)
            if not _has_tags(template):
                # Nothing to substitute: every node of this template shares one parse.
                self._static[id(template)] = (template, tmpl, body)
        ctx = NodeContext(self, node, tmpl, resolved, body, scope)
        if node.phase == "Pending":
            self.set_phase(node, "Running")
        deadline = _deadline_of(tmpl)
        if deadline is None:
            return await ttype.run(ctx)
        try:
            return await asyncio.wait_for(ttype.run(ctx),
                                          max(0.0, deadline - seconds_since(node.started_at)))
        except TimeoutError:
            message = ("Pod was active on the node longer than the specified deadline"
                       if ttype.node_type == "Pod" else "Step exceeded its deadline")
            return Outcome("Failed", message, log_files=self._process_log(node))

    def resolve_inputs(self, tmpl: Template, arguments: Arguments) -> dict[str, Any]:
        """Input parameter values: the argument, else the input's value or default.

        An argument still naming another step's or task's output (one that did not run, so
        produced none) counts as not supplied: the input's default applies, as in Argo.
        """
        given = {p.name: p for p in arguments.parameters}
        values: dict[str, Any] = {}
        for p in tmpl.inputs.parameters:
            arg = given.get(p.name)
            absent = arg is not None and _unresolved_output(arg.value)
            if absent and p.value is None and p.default is None:
                raise NodeError(f"inputs.parameters.{p.name}: failed to resolve {arg.value}")
            if arg is not None and arg.value is not None and not absent:
                value = arg.value
            elif p.value is not None:
                value = p.value
            elif p.default is not None:
                value = p.default
            elif p.value_from is not None and p.value_from.supplied is not None:
                continue
            else:
                raise NodeError(f"inputs.parameters.{p.name} was not supplied")
            # As in Argo, a template input's enum is a hint for UIs, not checked at run time
            # (spec.arguments are checked against theirs when the workflow is submitted).
            values[p.name] = substitute(go_str(value), self.globals, functions=self.functions)
        return values

    def node_scope(self, node: NodeStatus, tmpl: Template, inputs: dict[str, Any],
                   retries: int | None = None) -> Scope:
        params = dict(inputs)
        extra = {"retries": str(retries)} if retries is not None else {}
        return self.globals.child(extra | {
            "inputs": {"parameters": Leaf(to_json(
                [{"name": k, "value": v} for k, v in params.items()]), params)},
            "node": {"name": node.name, "id": node.id},
            "pod": {"name": self.pod_name(node, tmpl)},
        })

    def pod_name(self, node: NodeStatus, tmpl: Template) -> str:
        if node.name == self.name:
            return self.name
        prefix = f"{self.name}-{tmpl.name}" if tmpl.name else self.name
        if len(prefix) > 52:
            prefix = prefix[:52]
        return f"{prefix}-{fnv32a(node.name)}"

    # ---- outputs ------------------------------------------------------------------------------

    def finish_outcome(self, node: NodeStatus, tmpl: Template, outcome: Outcome,
                       scope: Scope) -> None:
        phase, message = outcome.phase, outcome.message or None
        outputs: dict[str, Any] = {}
        if outcome.result is not None:
            outputs["result"] = outcome.result
        if outcome.exit_code is not None:
            outputs["exitCode"] = str(outcome.exit_code)
        if phase == "Succeeded" or outcome.read_file is not None:
            try:
                params = self._output_parameters(tmpl, outcome, scope, outputs)
            except (NodeError, ExpressionError) as exc:
                params, phase, message = [], "Error", str(exc)
            if params:
                outputs["parameters"] = params
        if outcome.artifacts:
            for name, (path, content) in outcome.artifacts.items():
                self.store.put_artifact(self.uid, node.id, name, path, content)
            outputs["artifacts"] = [{"name": name, "path": path}
                                    for name, (path, _) in outcome.artifacts.items()]
        if outputs:
            node.outputs = outputs
        if (outcome.log is not None or outcome.log_files) and not self.deleted:
            self.store.keep_log(self.uid, node.id, [
                *([outcome.log] if outcome.log is not None else []), *outcome.log_files])
        if tmpl.model_extra and tmpl.model_extra.get("metrics"):
            local = scope.child({"status": phase, "duration": go_str(float(
                seconds_since(node.started_at))), "exitCode": outputs.get("exitCode", ""),
                "outputs": {"result": outputs.get("result", ""), "parameters": {
                    p["name"]: p.get("value") for p in outputs.get("parameters", [])}}})
            message = self._emit_metrics(tmpl.model_extra["metrics"], local) or message
        memo = node.memoization_status
        if phase == "Succeeded" and memo and not memo.get("hit"):
            try:
                self.engine.memo.put(self.namespace, memo["cacheName"], memo["key"], node.id,
                                     outputs)
            except MemoError as exc:
                phase, message = "Error", str(exc)
        if node.type in ("Steps", "DAG") and not node.outbound_nodes:
            node.outbound_nodes = None
        self.finish(node, phase, message)

    def _output_parameters(self, tmpl: Template, outcome: Outcome, scope: Scope,
                           outputs: dict[str, Any]) -> list[dict[str, Any]]:
        params = []
        local = scope.child({"outputs": {"result": outputs.get("result"),
                                         "exitCode": outputs.get("exitCode")}})
        if outcome.scope is not None:
            local = outcome.scope.child(local.data)
        for p in tmpl.outputs.parameters:
            value = self._output_value(p, outcome, local)
            if value is None:
                continue
            params.append({"name": p.name, "value": value} |
                          ({"globalName": p.global_name} if p.global_name else {}))
            if p.global_name:
                self.export_global(p.global_name, value)
        return params

    def _output_value(self, p: Any, outcome: Outcome, scope: Scope) -> str | None:
        vf = p.value_from
        if vf is None:
            return go_str(p.value) if p.value is not None else None
        if vf.path:
            content = outcome.read_file(vf.path) if outcome.read_file else None
            if content is None:
                if vf.default is not None:
                    return go_str(vf.default).removesuffix("\n")
                if outcome.phase != "Succeeded":
                    return None
                raise NodeError(f"open {vf.path}: no such file or directory")
            return content.removesuffix("\n")
        if vf.expression:
            from argosy.expr.substitute import evaluate

            try:
                value = evaluate(vf.expression, scope, self.functions)
            except ExpressionError:
                if vf.default is not None:
                    return go_str(vf.default)
                raise
            return go_str(value) if value is not None else go_str(vf.default)
        if vf.parameter:
            value = substitute(vf.parameter, scope, functions=self.functions)
            if "{{" in value and vf.default is not None:
                return go_str(vf.default)
            return value
        if vf.supplied is not None:
            return outcome.outputs.get(p.name)
        if vf.default is not None:
            return go_str(vf.default)
        return None

    def export_global(self, name: str, value: str) -> None:
        self.globals.data["workflow"]["outputs"]["parameters"][name] = value
        self.globals.data.setdefault("_outputs", {})[name] = value

    # ---- references to other nodes ------------------------------------------------------------

    def node_view(self, node: NodeStatus) -> Mapping[str, Any]:
        """``steps.<name>.…`` / ``tasks.<name>.…`` for one node, computed when referenced."""

        def compute() -> Mapping[str, Any]:
            outs = node.outputs or {}
            params = {p["name"]: p.get("value") for p in outs.get("parameters", [])}
            if node.phase in ("Skipped", "Omitted") and not params:
                params = self._skipped_defaults(node)
            view: dict[str, Any] = {
                "id": node.id, "status": node.phase, "startedAt": node.started_at or "",
                "finishedAt": node.finished_at or "", "hostNodeName": node.host_node_name or "",
                "ip": "127.0.0.1",
                "outputs": {"parameters": Leaf(to_json(
                    [{"name": k, "value": v} for k, v in params.items()]), params)},
            }
            if "result" in outs:
                view["outputs"]["result"] = outs["result"]
            if "exitCode" in outs:
                view["exitCode"] = outs["exitCode"]
                view["outputs"]["exitCode"] = outs["exitCode"]
            return view

        return Lazy(compute)

    def _skipped_defaults(self, node: NodeStatus) -> dict[str, Any]:
        """A skipped or omitted node's declared outputs that have a ``valueFrom.default``:
        Argo lets consumers read those; other outputs stay absent."""
        template = self.templates.get(node.template_name or "")
        if not template:
            return {}
        params = (template.get("outputs") or {}).get("parameters") or []
        return {p["name"]: go_str(p["valueFrom"]["default"]) for p in params
                if isinstance(p.get("valueFrom"), dict) and "default" in p["valueFrom"]}

    def aggregate_view(self, group: NodeStatus, children: list[NodeStatus]) -> Mapping[str, Any]:
        """A loop's aggregated outputs: JSON lists over its succeeded iterations."""

        def compute() -> Mapping[str, Any]:
            results: list[Any] = []
            maps: list[dict[str, Any]] = []
            per_name: dict[str, list[str]] = {}
            for child in children:
                outs = child.outputs or {}
                if child.phase != "Succeeded" or not outs:
                    continue
                params = outs.get("parameters") or []
                if params:
                    maps.append({p["name"]: p.get("value") for p in params})
                    for p in params:
                        per_name.setdefault(p["name"], []).append(p.get("value"))
                if "result" in outs:
                    results.append(_json_or_text(outs["result"]))
            by_name = {k: to_json(_all_json_or_text(v)) for k, v in per_name.items()}
            return {
                "id": group.id, "status": group.phase, "startedAt": group.started_at or "",
                "finishedAt": group.finished_at or "",
                "outputs": {"result": to_json(results),
                            "parameters": Leaf(to_json(maps), by_name)},
            }

        return Lazy(compute)


def _deadline_of(tmpl: Template) -> float | None:
    """Seconds a node may run: the tighter of ``activeDeadlineSeconds`` and ``timeout``."""
    limits = []
    if tmpl.active_deadline_seconds not in (None, ""):
        try:
            limits.append(float(tmpl.active_deadline_seconds))  # type: ignore[arg-type]
        except ValueError:
            raise NodeError("activeDeadlineSeconds is not a number: "
                            f"{tmpl.active_deadline_seconds!r}") from None
    if tmpl.timeout not in (None, ""):
        limits.append(parse_duration(tmpl.timeout))  # type: ignore[arg-type]
    return min(limits) if limits else None


def _unresolved_output(value: Any) -> bool:
    return isinstance(value, str) and any(
        ref.startswith(("steps.", "tasks.")) for ref in references(value))


def _has_tags(obj: Any) -> bool:
    if isinstance(obj, str):
        return "{{" in obj
    if isinstance(obj, dict):
        return any(_has_tags(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_tags(v) for v in obj)
    return False


def _inputs_status(inputs: dict[str, Any]) -> dict[str, Any] | None:
    if not inputs:
        return None
    return {"parameters": [{"name": k, "value": v} for k, v in inputs.items()]}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _json_or_text(text: str) -> Any:
    try:
        return loads(text)
    except (ValueError, TypeError):
        return text


def _all_json_or_text(values: list[str]) -> list[Any]:
    # Argo's tryJSONUnmarshal: values become JSON only if every one is a JSON map or list.
    parsed = []
    for v in values:
        try:
            value = loads(v)
        except (ValueError, TypeError):
            return values
        if not isinstance(value, dict | list):
            return values
        parsed.append(value)
    return parsed


def _timestamp_view(text: str) -> Leaf:
    """``workflow.creationTimestamp`` and its strftime-style parts (``.Y``, ``.m``…)."""
    try:
        ts = parse_time(text)
    except ValueError:
        return Leaf(text, {})
    parts = {c: ts.strftime(f"%{c}") for c in "aAbBcCdDeFgGhHIjklmMnprRsStTuUVwWxXyYzZ"
             if c not in "n"}
    parts["s"] = str(int(ts.timestamp()))
    parts["RFC3339"] = text
    return Leaf(text, parts)


__all__ = ["MISSING", "Engine", "Listener", "NodeContext", "NodeError", "WorkflowRun",
           "node_id"]
