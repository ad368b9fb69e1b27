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
import json
import socket
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from argosy.durations import DurationError, parse_duration, parse_time, seconds_since
from argosy.errors import ArgosyError, ExpressionError
from argosy.models import (
    Arguments,
    LifecycleHook,
    NodeStatus,
    RetryStrategy,
    Step,
    Template,
    Workflow,
    failed_or_error,
)
from argosy.plugin import Executor, Outcome, TemplateType
from argosy.registry import Registry, default_registry
from argosy.retry import decide, last_retry
from argosy.store import Store, WorkflowRecord, now_rfc3339
from argosy.substitute import (
    MISSING,
    Lazy,
    Leaf,
    Scope,
    evaluate,
    go_str,
    substitute,
    to_json,
)

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


class Engine:
    def __init__(self, store: Store, registry: Registry | None = None,
                 executor: str = "local") -> None:
        self.store = store
        self.registry = registry or default_registry()
        self.executor_name = executor

    @property
    def executor(self) -> Executor:
        try:
            return self.registry.executors[self.executor_name]
        except KeyError:
            raise ArgosyError(f"no executor named {self.executor_name!r}; loaded: "
                              f"{', '.join(self.registry.executors) or 'none'}") from None

    async def run(self, uid: str, listener: Listener | None = None) -> WorkflowRecord:
        run = WorkflowRun(self, self.store.get(uid), listener or Listener())
        return await run.execute()


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
              parents: list[str]) -> NodeStatus:
        """A grouping node (StepGroup, TaskGroup), Running until :meth:`finish`."""
        return self.run.ensure_node(name, display_name, node_type, "Running",
                                    boundary_id=self.node.id, parents=parents,
                                    template_name=None)

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
        self._model_cache: dict[int, Template] = {}
        self._defaults_cache: dict[int, dict[str, Any]] = {}

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
        self._update(phase="Running", started_at=started)
        self._emit_workflow("started")
        await self._workflow_hooks()
        try:
            phase, message = await self._execute_entrypoint()
        except asyncio.CancelledError:
            self._stop_running("Stopped: interrupted")
            self._finish_workflow("Failed", "Stopped: interrupted")
            raise
        await self._run_exit_handler(phase)
        await self._workflow_hooks(phase)
        self._finish_workflow(phase, message)
        return self.store.get(self.uid)

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

    def _finish_workflow(self, phase: str, message: str | None) -> None:
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
        self._emit_workflow("finished")

    def _stop_running(self, message: str) -> None:
        for node in list(self.nodes.values()):
            if not node.fulfilled:
                self.finish(node, "Failed", message)

    def _update(self, **fields: Any) -> None:
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
        scope = Scope({"workflow": {
            "name": self.name, "namespace": self.namespace, "uid": self.uid,
            "serviceAccountName": self.wf.spec.service_account_name or "default",
            "mainEntrypoint": self.wf.spec.entrypoint or "",
            "creationTimestamp": _timestamp_view(created),
            "parameters": Leaf(to_json(
                [{"name": k, "value": v} for k, v in params.items()]), params),
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
            children = parent.children if parent.children is not None else []
            if nid not in children:
                edges.append((parent_id, len(children), nid))
                children.append(nid)
                parent.children = children
        self.persist(node, edges)
        return node

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
        if node.type in ("Skipped", "Suspend", "Pod", "HTTP", "Plugin"):
            return [node.id]
        if node.type in ("TaskGroup", "Container"):
            if not node.children:
                return [node.id]
            return [o for c in node.children for o in self.outbound_of(self.nodes[c])]
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
            return existing
        display = display_name or name.rsplit(".", 1)[-1]
        template = self.with_defaults(template)
        try:
            ttype = self.template_type(template)
            tmpl = self.model(template)
        except (NodeError, ValidationError) as exc:
            return self._error_node(name, display, boundary_id, parents, str(exc), template)
        if tmpl.retry_strategy is not None:
            return await self._execute_retry(name, display, template, ttype, tmpl, arguments,
                                             boundary_id, parents)
        return await self._execute_once(name, display, template, ttype, tmpl, arguments,
                                        boundary_id, parents)

    async def _execute_once(self, name: str, display: str, template: dict[str, Any],
                            ttype: TemplateType, tmpl: Template, arguments: Arguments,
                            boundary_id: str | None, parents: list[str],
                            retries: int | None = None) -> NodeStatus:
        existing = self.nodes.get(node_id(self.name, name))
        if existing is not None and existing.fulfilled:
            return existing
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
                node = self.ensure_node(
                    name, display, ttype.node_type, "Pending" if ttype.leaf else "Running",
                    boundary_id=boundary_id, parents=parents, template_name=tmpl.name,
                    inputs=_inputs_status(inputs))
            inputs = {p["name"]: p.get("value")
                      for p in (node.inputs or {}).get("parameters", [])}
            scope = self.node_scope(node, tmpl, inputs, retries)
            try:
                outcome = await self._run_type(ttype, node, template, scope)
            except (NodeError, ExpressionError, ValidationError, DurationError) as exc:
                outcome = Outcome("Error", str(exc))
            self.finish_outcome(node, tmpl, outcome, scope)
        return node

    async def _execute_retry(self, name: str, display: str, template: dict[str, Any],
                             ttype: TemplateType, tmpl: Template, arguments: Arguments,
                             boundary_id: str | None, parents: list[str]) -> NodeStatus:
        """A Retry node whose children ``name(0)``, ``name(1)``… are the attempts."""
        try:
            inputs = self.resolve_inputs(tmpl, arguments)
            strategy = RetryStrategy.model_validate(substitute(
                tmpl.retry_strategy.dump() if tmpl.retry_strategy else {},
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
        keep = _deferred if not ttype.leaf else None
        resolved = substitute(template, scope, keep=keep, functions=self.functions)
        tmpl = Template.model_validate(resolved)
        body = resolved[ttype.key]
        if ttype.body is not None:
            body = ttype.body.model_validate(body)
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
            return Outcome("Failed", message)

    def resolve_inputs(self, tmpl: Template, arguments: Arguments) -> dict[str, Any]:
        """Input parameter values: argument, else default; checked against ``enum``."""
        given = {p.name: p for p in arguments.parameters}
        values: dict[str, Any] = {}
        for p in tmpl.inputs.parameters:
            arg = given.get(p.name)
            if arg is not None and arg.value is not None:
                value = arg.value
            elif p.value is not None:
                value = p.value
            elif p.default is not None:
                value = p.default
            elif p.value_from is not None and p.value_from.supplied is not None:
                continue
            else:
                raise NodeError(f"inputs.parameters.{p.name} was not supplied")
            value = substitute(go_str(value), self.globals, functions=self.functions)
            if p.enum and value not in [go_str(e) for e in p.enum]:
                raise NodeError(f"inputs.parameters.{p.name}: value {value!r} is not one of "
                                f"the enum values {[go_str(e) for e in p.enum]}")
            values[p.name] = value
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
        if outputs:
            node.outputs = outputs
        if outcome.log is not None:
            self.store.put_log(self.uid, node.id, outcome.log)
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
                    return go_str(vf.default)
                if outcome.phase != "Succeeded":
                    return None
                raise NodeError(f"open {vf.path}: no such file or directory")
            return content.removesuffix("\n")
        if vf.expression:
            from argosy.substitute import evaluate

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
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text


def _all_json_or_text(values: list[str]) -> list[Any]:
    # Argo keeps the values as strings unless every one of them parses as JSON.
    parsed = []
    for v in values:
        try:
            parsed.append(json.loads(v))
        except (json.JSONDecodeError, TypeError):
            return values
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
