"""The ``dag`` template type: tasks run as soon as what they depend on allows.

Scheduling is event-driven: when a task finishes, only its dependents are looked at, so a
10,000-task DAG costs O(tasks + edges), never a scan of every task per completion. Semantics
follow Argo's controller: enhanced ``depends`` (bare ``A`` means succeeded, skipped or daemoned,
widened by A's ``continueOn``), Omitted tasks, ``target``, ``failFast`` and the branch-phase rule
that decides the DAG's phase from its target tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import ChainMap
from dataclasses import dataclass, field
from typing import Any

from argosy.plugin import (
    ArgoModel,
    DAGTask,
    Depends,
    ExpressionError,
    Fault,
    LoopError,
    NodeContext,
    NodeError,
    NodeStatus,
    Outcome,
    TaskState,
    TemplateType,
    evaluate_when,
    expand,
    failed_or_error,
    hookimpl,
    parse_depends,
)

# Root tasks started per turn of the event loop.
ROOTS_BATCH = 256


class DAG(ArgoModel):
    tasks: list[dict[str, Any]] = []
    target: str | None = None
    fail_fast: bool | None = None

    model_config = ArgoModel.model_config | {"populate_by_name": True}

    def __init__(self, **data: Any) -> None:
        if "failFast" in data:
            data["fail_fast"] = data.pop("failFast")
        super().__init__(**data)


def depends_text(task: DAGTask) -> str:
    if task.depends:
        return task.depends
    return " && ".join(task.dependencies or [])


@dataclass
class Graph:
    tasks: dict[str, DAGTask]
    raw: dict[str, dict[str, Any]]
    depends: dict[str, Depends | None]
    static: set[str]
    dependents: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, raw_tasks: list[dict[str, Any]]) -> Graph:
        tasks = {t["name"]: DAGTask.model_validate(t) for t in raw_tasks}
        raw = {t["name"]: t for t in raw_tasks}
        static = {name for name, t in raw.items() if "{{" not in json.dumps(t)}
        depends: dict[str, Depends | None] = {}
        dependents: dict[str, list[str]] = {name: [] for name in tasks}
        for name, task in tasks.items():
            text = depends_text(task)
            depends[name] = parse_depends(text) if text else None
            for dep in sorted(depends[name].tasks) if depends[name] else ():
                if dep not in tasks:
                    raise NodeError(f"task {name!r} depends on unknown task {dep!r}")
                dependents[dep].append(name)
        return cls(tasks, raw, depends, static, dependents)

    def deps(self, name: str) -> list[str]:
        d = self.depends[name]
        return sorted(d.tasks) if d else []

    def targets(self, target: str | None) -> list[str]:
        if target:
            names = target.split()
            unknown = [n for n in names if n not in self.tasks]
            if unknown:
                raise NodeError(f"target task {unknown[0]!r} is not a task of this DAG")
            return names
        return sorted(n for n, ds in self.dependents.items() if not ds)

    def ancestors(self, names: list[str]) -> set[str]:
        seen: set[str] = set()
        stack = list(names)
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(self.deps(n))
        return seen


class DagRun:
    """One execution of a DAG template node."""

    def __init__(self, ctx: NodeContext, dag: DAG) -> None:
        self.ctx = ctx
        self.graph = Graph.build(dag.tasks)
        self.targets = self.graph.targets(dag.target)
        self.target_set = set(self.targets)
        self.needed = self.graph.ancestors(self.targets)
        self.fail_fast = dag.fail_fast is not False
        self.scope = ctx.scope.child({"tasks": {}})
        self.done: dict[str, NodeStatus] = {}
        # Each finished task's branch phase (Argo's assessDAGPhase): its own when it ran to a
        # verdict, else the failure it inherits from a dependency, as an omitted task does.
        # Known when it finishes, since its dependencies finished before it.
        self.branch: dict[str, str] = {}
        self.pending_deps = {n: len(self.graph.deps(n)) for n in self.needed}
        self.running: set[asyncio.Task[None]] = set()
        # Resolved when the last task settles or one raises: waiting on it costs O(1) per
        # completion, where asyncio.wait(self.running) would scan every task each time.
        self.settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.stopped = False
        self.launching = False
        self.slots = ctx.child_slots()

    async def execute(self) -> Outcome:
        try:
            await self.start_roots()
            if self.running:
                await self.settled
        finally:
            # Cancelled (deadline, stop): the tasks in flight go down with the DAG.
            for t in self.running:
                t.cancel()
            if self.running:
                await asyncio.gather(*self.running, return_exceptions=True)
        phase = self.assess()
        self.ctx.node.outbound_nodes = [o for n in self.targets if n in self.done
                                        for o in self.ctx.outbound_of(self.done[n])]
        if phase == "Succeeded":
            return Outcome("Succeeded", scope=self.scope)
        return Outcome(phase, self.failure_message(), scope=self.scope)

    async def start_roots(self) -> None:
        """Start the tasks that depend on nothing, a batch per turn of the event loop (as
        ``ctx.run_children``): 50,000 independent tasks are not 50,000 coroutines at once."""
        roots = [name for name in sorted(self.needed) if self.pending_deps[name] == 0]
        self.launching = True
        for index, name in enumerate(roots):
            if self.settled.done():
                break
            self.start(name)
            if index % ROOTS_BATCH == ROOTS_BATCH - 1:
                await asyncio.sleep(0)
                await self.ctx.room_to_launch(self.slots)
        self.launching = False
        if not self.running and not self.settled.done():
            self.settled.set_result(None)

    def start(self, name: str) -> None:
        task = asyncio.ensure_future(self.run_task(name))
        self.running.add(task)
        task.add_done_callback(self._settle)

    def _settle(self, task: asyncio.Task[None]) -> None:
        self.running.discard(task)
        if self.settled.done():
            return
        if not task.cancelled() and task.exception() is not None:
            self.settled.set_exception(task.exception())  # type: ignore[arg-type]
        elif not self.running and not self.launching:
            # Dependents start before their dependency's task ends.
            self.settled.set_result(None)

    async def run_task(self, name: str) -> None:
        node = await self.task_node(name)
        self.done[name] = node
        inherited = next((self.branch[d] for d in reversed(self.graph.deps(name))
                          if failed_or_error(self.branch.get(d, ""))), "Succeeded")
        self.branch[name] = node.phase if node.phase in ("Succeeded", "Failed", "Error") \
            else inherited
        # failFast: once a target's branch has failed, no further task starts.
        if self.fail_fast and self.fails(name):
            self.stopped = True
        for dependent in self.graph.dependents[name]:
            if dependent in self.pending_deps:
                self.pending_deps[dependent] -= 1
                if self.pending_deps[dependent] == 0 and not self.stopped:
                    self.start(dependent)

    async def task_node(self, name: str) -> NodeStatus:
        ctx, task = self.ctx, self.graph.tasks[name]
        node_name = f"{ctx.node.name}.{name}"
        parents = self.parents(name)
        depends = self.graph.depends[name]
        if depends is not None and not depends.evaluate(self.state):
            return ctx.skip(node_name, name, "Omitted", "omitted: depends condition not met",
                            parents, task.template)
        try:
            raw = self.graph.raw[name]
            if name in self.graph.static:
                resolved = raw  # no {{…}} in the task: its parsed form serves as is
            else:
                # `tasks.name` is the name of the task being resolved (Argo's variable).
                local = self.scope.child(
                    {"tasks": ChainMap({"name": name}, self.scope.data["tasks"])})
                resolved = ctx.substitute(raw, local, defer_items=True)
                task = DAGTask.model_validate(resolved)
            if task.loops:
                return await self.run_loop(name, node_name, resolved, task, parents)
        except (NodeError, ExpressionError, LoopError) as exc:
            return ctx.skip(node_name, name, "Error", str(exc), parents, task.template)
        node = await self.run_one(node_name, name, task, parents)
        self.scope.data["tasks"][name] = ctx.node_view(node)
        return node

    async def run_loop(self, name: str, node_name: str, resolved: dict[str, Any],
                       task: DAGTask, parents: list[str]) -> NodeStatus:
        ctx = self.ctx
        runs = expand(resolved, task, self.scope)
        if not runs:
            return ctx.skip(node_name, name, "Skipped", "Skipped, empty params", parents,
                            task.template)
        group = ctx.group(node_name, name, "TaskGroup", parents, task.template)
        children = await ctx.run_children((
            self.run_one(f"{node_name}{suffix}", f"{name}{suffix}",
                         DAGTask.model_validate(body), [group.id])
            for suffix, body in runs), slots=self.slots)
        if not group.fulfilled:
            phase = next((c.phase for c in reversed(children) if failed_or_error(c.phase)),
                         "Succeeded")
            ctx.finish(group, phase)
        self.scope.data["tasks"][name] = ctx.aggregate_view(group, list(children))
        return group

    async def run_one(self, node_name: str, display: str, task: DAGTask,
                      parents: list[str]) -> NodeStatus:
        ctx = self.ctx
        if task.when:
            try:
                proceed = evaluate_when(task.when)
            except ExpressionError as exc:
                return ctx.skip(node_name, display, "Error", str(exc), parents, task.template)
            if not proceed:
                return ctx.skip(node_name, display, "Skipped",
                                f"when '{task.when}' evaluated false", parents, task.template)
        template = task.inline.dump() if task.inline else task.template or ""
        async with self.slots or contextlib.nullcontext():
            node = await ctx.run_child(node_name, template, task.arguments,
                                       display_name=display, parents=parents)
        await ctx.run_hooks(task, node, self.scope, "tasks")
        return node

    def parents(self, name: str) -> list[str]:
        deps = self.graph.deps(name)
        if not deps:
            return [self.ctx.node.id]
        return [o for d in deps for o in self.ctx.outbound_of(self.done[d])]

    def state(self, name: str) -> TaskState:
        node = self.done[name]
        children: tuple[str, ...] = ()
        if node.type == "TaskGroup":
            children = tuple(c.phase for c in self.ctx.children_of(node))
        task = self.graph.tasks[name]
        phase, daemoned = node.phase, bool(node.daemoned)
        # Argo widens a bare reference by the dependency's continueOn: count it as succeeded.
        if task.continues_on(phase):
            return TaskState(phase, children, daemoned, continued=True)
        return TaskState(phase, children, daemoned)

    def fails(self, name: str) -> bool:
        """Whether target ``name`` has finished with a failed branch it does not continue on."""
        phase = self.branch.get(name, "")
        return (name in self.target_set and failed_or_error(phase)
                and not self.graph.tasks[name].continues_on(phase))

    def assess(self) -> str:
        """Argo's assessDAGPhase: the first target whose branch failed decides."""
        return next((self.branch[n] for n in self.targets if self.fails(n)), "Succeeded")

    def failure_message(self) -> str:
        for name in self.targets:
            node = self.done.get(name)
            if node is not None and failed_or_error(node.phase):
                return f"child '{node.id}' failed"
        failed = [n for n in self.done.values() if failed_or_error(n.phase)]
        return f"child '{failed[0].id}' failed" if failed else ""


async def run(ctx: NodeContext) -> Outcome:
    return await DagRun(ctx, ctx.body).execute()


def validate(body: DAG, path: str) -> list[Fault]:
    return []


@hookimpl
def argosy_template_types() -> list[TemplateType]:
    return [TemplateType("dag", "DAG", run, DAG, validate, leaf=False)]
