"""The node API a template type's ``run`` gets: :class:`NodeContext`, and :class:`NodeError`."""

from __future__ import annotations

import asyncio
import functools
from collections import ChainMap
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from argosy.errors import ArgosyError, ExpressionError
from argosy.expr.substitute import Scope, evaluate, substitute
from argosy.plugin import Executor, TemplateType
from argosy.spec.models import Arguments, LifecycleHook, NodeStatus, Step, Template

if TYPE_CHECKING:
    from argosy.engine.workflow import WorkflowRun


T = TypeVar("T")

# Children started per turn of the event loop by NodeContext.run_children.
FAN_OUT_BATCH = 256


class NodeError(ArgosyError):
    """A fault in running one node (bad input, unresolvable reference): the node ends Error."""


def _mentions_item(body: str) -> bool:
    return body == "item" or body.startswith("item.") or (body.startswith("=") and "item" in body)


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
    template_type: TemplateType | None = None
    #: The node's input artifacts, fetched: (host path, path in the node's view, read-only),
    #: for the executor to mount as it mounts volumes.
    artifact_mounts: tuple[tuple[str, str, bool], ...] = ()
    #: ProcessRequest.artifact_plan, when the executor moves the node's artifacts itself.
    artifact_plan: dict[str, Any] | None = None

    @property
    def executor(self) -> Executor:
        """The executor this workflow runs its processes with, for types that run one."""
        return self.run.executor

    @property
    def node_dir(self) -> Path:
        """A directory of the node's own that survives engine restarts (not its process's)."""
        return self.run.node_dir(self.node.id)

    @property
    def workflow_name(self) -> str:
        """The workflow's ``metadata.name``."""
        return self.run.name

    @property
    def config(self) -> dict[str, Any]:
        """The settings of the plugin providing this template type: its section of
        ``$ARGOSY_HOME/config.yaml`` (``plugins: {name: {…}}``), ``{}`` when it has none."""
        registry = self.run.engine.registry
        key = self.template_type.key if self.template_type else None
        plugin = registry.provider_of("template_types", key) if key else None
        return registry.config(plugin, self.run.store.home) if plugin else {}

    def dir_of(self, node: NodeStatus) -> Path:
        """:attr:`node_dir` of another node of this workflow (a child made by :meth:`add_node`)."""
        return self.run.node_dir(node.id)

    def artifact_keys(self, artifact: dict[str, Any]) -> list[str]:
        """The keys of the files the artifact repository ``artifact`` names holds under its
        key (all of them without one), sorted: a ``data`` template's ``artifactPaths``."""
        repository, key = self.run.repositories.resolve(artifact)
        listing = getattr(repository, "list", None)
        if listing is None:
            raise NodeError(f"artifact repository {type(repository).__name__} cannot list "
                            "its keys (no list method)")
        return sorted(listing(key or ""))

    def add_node(self, name: str, display_name: str, node_type: str, parents: list[str], *,
                 phase: str = "Pending", template_name: str | None = None) -> NodeStatus:
        """A node inside this one (a pod's containers), found by its id when it exists already
        (after a restart), else created and persisted. Move it on with :meth:`set_phase` and
        :meth:`finish`."""
        return self.run.ensure_node(name, display_name, node_type, phase,
                                    boundary_id=self.node.id, parents=parents,
                                    template_name=template_name)

    def set_phase(self, node: NodeStatus, phase: str, message: str | None = None) -> None:
        """Record a phase of a node this type made (``Running``) without finishing it."""
        self.run.set_phase(node, phase, message)

    def children_of(self, node: NodeStatus) -> list[NodeStatus]:
        """The child nodes of ``node``, in the order they were created."""
        return [self.run.nodes[c] for c in node.children or []]

    @property
    def namespace(self) -> str:
        """The workflow's namespace, where the objects it reads (ConfigMaps, Secrets) live."""
        return self.run.namespace

    @property
    def workflow(self) -> dict[str, Any]:
        """The Workflow as Argo's object: ``apiVersion``, ``kind``, ``metadata`` (with ``name``,
        ``namespace`` and ``uid``) and ``spec``, as submitted (before substitution)."""
        manifest, run = self.run.manifest, self.run
        return {"apiVersion": manifest.get("apiVersion"), "kind": manifest.get("kind"),
                "metadata": {**manifest.get("metadata", {}), "name": run.name,
                             "namespace": run.namespace, "uid": run.uid},
                "spec": manifest.get("spec", {})}

    def get_object(self, kind: str, name: str) -> dict[str, Any] | None:
        """An object of the workflow's namespace (``ConfigMap``, ``Secret``…) as stored, or
        None when there is none."""
        return self.run.store.get_object(kind, self.run.namespace, name)

    def claim_dir(self, name: str) -> Path:
        """The directory of the workflow's ``volumeClaimTemplates`` claim ``name``, shared by
        every node that mounts it; removed per ``volumeClaimGC``."""
        return self.run.store.claims_dir(self.run.uid) / name

    def volume_dir(self, claim: str) -> Path:
        """The directory of the persistent claim ``claim`` of the workflow's namespace, which
        outlives workflows (a ``persistentVolumeClaim`` volume)."""
        return self.run.store.home / "volumes" / self.run.namespace / claim

    def container_dir(self, container: str) -> Path:
        """The process directory of a container of this node (``main``, a sidecar, an init
        container), where ``argosy logs -c`` finds its log while it runs."""
        store = self.run.store
        return store.run_dir(self.run.uid) / store.container_log(self.node.id, container)[1]

    def keep_log(self, parts: list[str | Path], node: NodeStatus | None = None,
                 container: str = "") -> None:
        """Keep ``parts`` (texts, and files read piece by piece) as the log of ``node``
        (default: this node), or of its ``container``, as ``Outcome.log`` does for a node that
        returns. Nothing is kept once the workflow is deleted or the engine lets go of it."""
        run = self.run
        if run.deleted or run.engine.detached:
            return
        node_id = (node or self.node).id
        key = run.store.container_log(node_id, container)[0] if container else node_id
        run.store.keep_log(run.uid, key, parts)

    async def wait_for_resume(self, timeout: float | None = None) -> None:
        """Until ``argosy resume`` (or ``node set``) releases this node, or ``timeout``
        seconds pass (None: no limit)."""
        await self.run.wait_for_resume(self.node, timeout)

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
        """End a node this type made (a group, an :meth:`add_node` child) with ``phase``."""
        self.run.finish(node, phase, message)

    def daemoned(self, pod_ip: str | None = None) -> None:
        """A ``daemon: true`` node's process runs (and passed its readinessProbe): the node is
        Running and daemoned, and the steps or tasks after it go on while it serves. ``pod_ip``:
        where it serves (``{{steps.X.ip}}``), when its executor knows (else the host's)."""
        self.run.mark_daemoned(self.node, pod_ip)

    def outbound_of(self, node: NodeStatus) -> list[str]:
        """The ids of ``node``'s last nodes, which the nodes after it hang from (Argo's
        ``outboundNodes``)."""
        return self.run.outbound_of(node)

    def node_view(self, node: NodeStatus) -> Mapping[str, Any]:
        """What ``{{steps.x.…}}``/``{{tasks.x.…}}`` see of a finished child: ``outputs``,
        ``status``, ``exitCode``, ``startedAt``…"""
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
        """:meth:`node_view` of a loop's group: its children's outputs aggregated, as Argo's
        ``outputs.parameters`` of a ``withItems`` step."""
        return self.run.aggregate_view(group, children)

    def substitute(self, obj: Any, scope: Scope, *, defer_items: bool = False,
                   strict: bool = False) -> Any:
        """``obj`` with its ``{{…}}`` tags replaced from ``scope``; ``defer_items`` leaves
        ``{{item…}}`` for a loop to expand; ``strict`` raises on a tag it cannot resolve."""
        keep = _mentions_item if defer_items else None
        return substitute(obj, scope, keep=keep, strict=strict,
                          functions=self.run.functions)

    async def wait(self, seconds: float) -> None:
        """Sleep, cancellably (a stop, a deadline): use it instead of ``time.sleep``."""
        await asyncio.sleep(max(0.0, seconds))

    def child_slots(self) -> asyncio.Semaphore | None:
        """The template's ``parallelism``: how many children run at once (None: no limit)."""
        limit = self.template.parallelism
        return asyncio.Semaphore(int(limit)) if limit not in (None, "") else None

    async def run_children(self, children: Iterable[Awaitable[T]],
                           slots: asyncio.Semaphore | None = None) -> list[T]:
        """Await ``children`` (e.g. ``run_child`` calls) concurrently; their results in order.

        As ``asyncio.gather``, but ``children`` is drawn lazily, a batch per turn of the event
        loop: each batch has begun (created its nodes, run as far as it can) before the next is
        drawn, so a fan-out of 100,000 holds in memory the children still waiting, not 100,000
        coroutines yet to start. Every child still starts without waiting for another to end,
        except that under ``slots`` (the template's ``parallelism``, which the children take)
        the next batch is drawn once a slot is free. The first child to raise cancels the
        others and raises.
        """
        return await gather_lazily(children, room=functools.partial(self.room_to_launch, slots))

    async def room_to_launch(self, slots: asyncio.Semaphore | None = None) -> None:
        """Return once there is room for more children to start: one of ``slots`` free (the
        template's ``parallelism``, which the children take), queued behind the children
        already waiting for one, and room in the executor for more nodes waiting to start (at
        once where it does not say). A fan-out's launcher asks between batches, so the
        children not yet launched cost nothing: under a ``parallelism`` of 8, a fan-out of
        100,000 holds a batch of children waiting, not all of them."""
        if slots is not None:
            await slots.acquire()
            slots.release()  # at once: the launcher runs nothing
        wait = getattr(self.executor, "wait_for_room", None)
        if wait is not None:
            await wait()


async def gather_lazily(children: Iterable[Awaitable[T]], batch: int = FAN_OUT_BATCH,
                        room: Callable[[], Awaitable[None]] | None = None) -> list[T]:
    """:meth:`NodeContext.run_children`, for the engine's own fan-outs; ``room`` is awaited
    between batches."""
    results: list[Any] = []
    running: set[asyncio.Future[T]] = set()
    settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    launching = True

    def settle(index: int, task: asyncio.Future[T]) -> None:
        running.discard(task)  # a finished child's task is not kept, only its result
        if settled.done():
            return
        if task.cancelled():
            settled.cancel()
        elif task.exception() is not None:
            settled.set_exception(task.exception())  # type: ignore[arg-type]
        else:
            results[index] = task.result()
            if not running and not launching:
                settled.set_result(None)

    try:
        for index, child in enumerate(children):
            if settled.done():  # one raised: start no more
                if asyncio.iscoroutine(child):
                    child.close()
                break
            results.append(None)
            task = asyncio.ensure_future(child)
            running.add(task)
            task.add_done_callback(functools.partial(settle, index))
            if index % batch == batch - 1:
                await asyncio.sleep(0)
                if room is not None:
                    await room()
        launching = False
        if not running and not settled.done():
            settled.set_result(None)
        await settled
    except BaseException:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        raise
    return results
