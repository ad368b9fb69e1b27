"""The engine: executes workflows from the store, each as a ``WorkflowRun`` under a lease.

Argo's workflow controller, in one process: it adopts workflows no live engine holds.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import time
import uuid
from functools import partial
from typing import Any

from pydantic import ValidationError

from argosy.artifact_repositories import Repositories
from argosy.artifacts import delete_workflow_artifacts
from argosy.cron import Clock, CronScheduler, utc_now
from argosy.engine.selection import configured_executor
from argosy.engine.sync import SyncManager
from argosy.engine.workflow import Listener, WorkflowRun
from argosy.errors import ArgosyError
from argosy.plugin import Executor
from argosy.registry import Registry, default_registry
from argosy.store import EngineLock, Store, WorkflowRecord, log_limit, now_rfc3339

log = logging.getLogger(__name__)


LEASE_SECONDS = 15.0


class Busy(ArgosyError):
    """Another live engine is executing the workflow."""


class Engine:
    """Executes workflows from the store; many at once, each under a lease.

    A lease (renewed by a heartbeat) tells other engines a workflow is taken; when an engine
    dies its leases lapse, or are freed at once when its pid is seen gone, and another engine
    adopts the workflows by replay.
    """

    def _repositories(self, namespace: str, spec: dict[str, Any]) -> Repositories:
        return Repositories(self.registry, self.store, namespace, spec)

    def __init__(self, store: Store, registry: Registry | None = None,
                 executor: str | None = None, *, serving: bool = False,
                 clock: Clock | None = None) -> None:
        self.store = store
        self.registry = registry or default_registry()
        # The default for workflows that do not choose one (EXECUTOR_ANNOTATION).
        self.executor_name = executor or configured_executor(self.registry, store.home)
        # Nodes are many small long-lived objects: at Python's default young-generation
        # threshold (700) the collector rescans them constantly (~20% of a 10,000-node run),
        # and at 10,000 still ~10% of a fan-out of processes, whose hundreds of nodes in
        # flight (~100 objects each) outlive many collections. Garbage is mostly freed by
        # reference counts; this only spaces the scans for cycles.
        if gc.get_threshold()[0] < 100_000:
            gc.set_threshold(100_000, 10, 10)
        self.id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.serving = serving
        self.detached = False
        # The executors are the process's (one registry): an engine that detached before this
        # one left them letting go of what they run; this one kills what it cancels again.
        for backend in self.registry.loaded_executors():
            if hasattr(backend, "detached"):
                backend.detached = False
        self.runs: dict[str, asyncio.Task[WorkflowRecord]] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        # Locks live in this process: holders recorded in the store are restored on start.
        self.sync = SyncManager(store.home / "semaphores.yaml",
                                configmaps=partial(store.get_object, "ConfigMap"))
        log_limit()  # a bad setting stops the engine as it starts, not a node as it ends
        store.sweep_runtime()
        self.memo = store.memo_cache()
        self.crons = CronScheduler(store, clock or utc_now)
        for record in store.active():
            self.sync.restore(record.status_extra.get("synchronization"))

    @property
    def executor(self) -> Executor:
        return self.executor_named(self.executor_name)

    def executor_named(self, name: str) -> Executor:
        try:
            return self.registry.executors[name]
        except KeyError:
            raise ArgosyError(f"no executor named {name!r}; loaded: "
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
                    delete_workflow_artifacts(self.store, self._repositories, uid)
                    self.store.delete(uid)
                self.crons.tick()
                for uid in self.store.claimable():
                    if uid in self.runs or not self._has_room(uid, parallelism,
                                                              namespace_parallelism):
                        continue
                    self.runs[uid] = asyncio.ensure_future(self._run_quietly(uid))
                if self.runs:
                    idle_since = time.monotonic()
                elif self.crons.pending():
                    idle_since = time.monotonic()  # a CronWorkflow still has runs to start
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
        for executor in self.registry.loaded_executors():
            if hasattr(executor, "detached"):
                executor.detached = True

    def _reap(self) -> None:
        for uid, task in list(self.runs.items()):
            if not task.done():
                continue
            del self.runs[uid]
            error = None if task.cancelled() else task.exception()
            if isinstance(error, self.store.failure):
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
