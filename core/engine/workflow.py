"""WorkflowRun: one workflow's templates run as coroutines, durable by replay.

Every node transition is written to the store before it is acted on. After a crash the engine
re-runs each unfinished workflow's coroutines from the top: ``run_child`` finds a child by its
deterministic id, returns a finished child's recorded outcome at once, and re-attaches to a
running one, so nothing that finished runs twice. Composite templates take no clock or random
input except through recorded node state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from argosy.engine.actions import Actions
from argosy.engine.artifacts import ArtifactIO, with_from_tags
from argosy.engine.daemons import Daemons
from argosy.engine.lifecycle import WorkflowLifecycle
from argosy.engine.nodes import NodeBook
from argosy.engine.outputs import Outputs
from argosy.engine.selection import executor_of
from argosy.engine.templates import TemplateLifecycle
from argosy.spec.models import NodeStatus, Template, Workflow
from argosy.store import WorkflowRecord

if TYPE_CHECKING:
    from argosy.engine.controller import Engine


@dataclass
class Listener:
    """In-process observer of one run (the CLI's live view)."""

    on_node: Callable[[WorkflowRun, NodeStatus], None] | None = None
    on_workflow: Callable[[WorkflowRun], None] | None = None


class WorkflowRun(WorkflowLifecycle, Actions, TemplateLifecycle, Daemons, NodeBook, Outputs,
                  ArtifactIO):
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
        self.executor = engine.executor_named(executor_of(record.manifest, engine.executor_name))
        self.templates = {t.get("name"): with_from_tags(t)
                          for t in record.manifest["spec"].get("templates", [])}
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
        # Daemons serving, by the boundary (steps or dag node) whose end kills them.
        self.daemons: dict[str | None, dict[str, asyncio.Task[NodeStatus]]] = {}

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
