"""The ``containerSet`` template type: the containers of one pod, with dependencies between them.

Node shape as Argo's: the template's node is a ``Pod``; each container gets a ``Container`` node
named ``<pod node>.<container>``, a child of the pod node when it has no dependencies and of each
of its dependencies otherwise. A container starts once its dependencies succeeded; when one
fails, the pod is terminated as Argo's controller does: running containers are killed and those
not started never run. The container named ``main`` gives the pod its ``outputs.result``,
``exitCode`` and output parameters.

An executor that makes pods (``run_container_set``, as the kubernetes one) runs the set as one
pod whose containers share its volumes, and orders them itself.

Sharing files: in a pod the containers share its volumes. The local executor mounts no volumes,
so the containers of a set share the pod's private /tmp instead: each container's node dir gets a
``tmp`` symlink to the pod node's ``tmp``. A file one container writes under /tmp is seen by the
next, and the pod's ``valueFrom.path`` outputs read that shared /tmp. A volume mounted under /tmp
is a directory of it, made before the first container starts; volume mounts elsewhere are
refused rather than run against the host's filesystem.

``containerSet.retryStrategy`` re-runs a failed container's command in place, as Argo's emissary
does: ``retries`` is the number of attempts (Argo's ``wait.Backoff{Steps: retries}``; at least
one), ``duration`` the pause between them. Each attempt gets its own process dir, so a restarted
engine re-adopts the attempt that was running and replays those that finished.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import Field

from argosy.plugin import (
    ArgoModel,
    Fault,
    NodeContext,
    NodeError,
    NodeStatus,
    Outcome,
    ProcessRequest,
    TemplateType,
    hookimpl,
    parse_go_duration,
)
from argosy.plugins.container import Container, argv_for, request_of
from argosy.plugins.pod import end_pod, share_tmp
from argosy.plugins.volumes import volume_mounts

MAIN = "main"
# Names Argo keeps for its own containers in the pod.
RESERVED = ("wait", "supervisor")
RESERVED_PREFIX = "artifact-plugin-"
_NAME = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")


class ContainerNode(Container):
    name: str = ""
    dependencies: list[str] | None = None
    volume_mounts: list[dict[str, Any]] | None = Field(None, alias="volumeMounts")


class ContainerSetRetryStrategy(ArgoModel):
    retries: int | str | None = None
    duration: str | None = None


class ContainerSet(ArgoModel):
    containers: list[ContainerNode] = []
    volume_mounts: list[dict[str, Any]] | None = Field(None, alias="volumeMounts")
    retry_strategy: ContainerSetRetryStrategy | None = Field(None, alias="retryStrategy")

    def mounts(self) -> list[dict[str, Any]]:
        """Every volumeMount of the pod: the set's, then each container's."""
        return [*(self.volume_mounts or []),
                *(m for c in self.containers for m in c.volume_mounts or [])]


# ---- validation (Argo's ContainerSetTemplate.Validate) -------------------------------------


def validate(body: ContainerSet, path: str) -> list[Fault]:
    if not body.containers:
        return [Fault(f"{path}.containers", "containers must have at least one container")]
    faults = _name_faults(body, path)
    names = {c.name for c in body.containers}
    for i, c in enumerate(body.containers):
        for dep in c.dependencies or []:
            if dep not in names:
                faults.append(Fault(f"{path}.containers[{i}].dependencies",
                                    f"containers.{c.name} dependency '{dep}' not defined"))
    cycle = _cycle({c.name: list(c.dependencies or []) for c in body.containers})
    if cycle:
        faults.append(Fault(f"{path}.containers",
                            f"dependency cycle detected: {'->'.join(cycle)}"))
    seen: dict[str, str] = {}
    for i, mount in enumerate(body.volume_mounts or []):
        mount_path = str(mount.get("mountPath", ""))
        if mount_path in seen:
            faults.append(Fault(f"{path}.volumeMounts[{i}].mountPath",
                                f"'{mount_path}' already mounted in {seen[mount_path]}"))
        seen[mount_path] = f"volumeMounts.{mount.get('name')}"
    if body.retry_strategy is not None:
        faults.extend(_retry_faults(body.retry_strategy, f"{path}.retryStrategy"))
    return faults


def _name_faults(body: ContainerSet, path: str) -> list[Fault]:
    faults, seen = [], set()
    for i, c in enumerate(body.containers):
        where = f"{path}.containers[{i}].name"
        if not c.name:
            faults.append(Fault(where, "name is required"))
        elif len(c.name) > 128 or not _NAME.fullmatch(c.name):
            faults.append(Fault(where, f"'{c.name}' is invalid: name must consist of "
                                "alpha-numeric characters or '-', and must start with an "
                                "alpha-numeric character"))
        elif c.name in seen:
            faults.append(Fault(where, f"'{c.name}' is not unique"))
        elif c.name in RESERVED or c.name.startswith(RESERVED_PREFIX):
            faults.append(Fault(where, f"{c.name!r} is a reserved Argo container name"))
        seen.add(c.name)
    return faults


def _cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """The first dependency cycle, as ``[a, b, a]``, visiting names in sorted order as Argo."""
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> list[str] | None:
        for dep in graph.get(name, []):
            if dep in trail:
                return [*trail[trail.index(dep):], dep]
            if dep not in done and dep in graph:
                found = visit(dep, [*trail, dep])
                if found:
                    return found
        done.add(name)
        return None

    for name in sorted(graph):
        if name not in done:
            found = visit(name, [name])
            if found:
                return found
    return None


def _retry_faults(strategy: ContainerSetRetryStrategy, path: str) -> list[Fault]:
    faults = []
    if strategy.retries is not None and not str(strategy.retries).strip().isdigit():
        faults.append(Fault(f"{path}.retries", f"invalid retries {strategy.retries!r}"))
    if strategy.duration:
        try:
            if parse_go_duration(strategy.duration).total_seconds() < 0:
                faults.append(Fault(f"{path}.duration", "duration has to be positive"))
        except ValueError as exc:
            faults.append(Fault(f"{path}.duration", str(exc)))
    return faults


# ---- running -------------------------------------------------------------------------------


@dataclass
class Ended:
    """How one container ended; ``outcome`` is None when its command never ran. ``log``: its
    attempts' logs, texts or files, in order."""

    phase: str
    message: str = ""
    outcome: Outcome | None = None
    log: list[str | Path] = field(default_factory=list)


class PodRun:
    """One run (or replay) of a container set's pod."""

    def __init__(self, ctx: NodeContext, body: ContainerSet, one_pod: bool = False) -> None:
        self.ctx = ctx
        self.body = body
        self.containers = {c.name: c for c in body.containers}
        # Fails before any node; a pod's containers run their images' entrypoints themselves.
        self.argv = {} if one_pod else {c.name: argv_for(ctx, c) for c in body.containers}
        self.request: ProcessRequest | None = None  # one of the pod's, once one was made
        self.nodes = self._ensure_nodes()
        self.ended: dict[str, asyncio.Future[Ended]] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.started: set[str] = set()
        self.failed: str | None = None
        self.attempts, self.pause = _retry(body.retry_strategy)

    def _ensure_nodes(self) -> dict[str, NodeStatus]:
        """Every container's node, Pending, created parents first so the edges are Argo's."""
        pod = self.ctx.node
        nodes: dict[str, NodeStatus] = {}
        for c in _topological(self.body.containers):
            parents = [nodes[d].id for d in c.dependencies or []] or [pod.id]
            nodes[c.name] = self.ctx.add_node(f"{pod.name}.{c.name}", c.name, "Container",
                                              parents, template_name=pod.template_name)
        return nodes

    async def run_in_one_pod(self) -> Outcome:
        """Every container in one pod of the executor's, which orders them by their
        dependencies; each container's node ends as its container did."""
        for node in self.nodes.values():
            if node.phase == "Pending":
                self.ctx.set_phase(node, "Running")
        first = self.body.containers[0]
        request = request_of(self.ctx, next(
            (c for c in self.body.containers if c.name == MAIN), first), [], self.ctx.node_dir)
        outcomes = await self.ctx.executor.run_container_set(request)
        loop = asyncio.get_running_loop()
        self.ended = {name: loop.create_future() for name in self.containers}
        for name, node in self.nodes.items():
            outcome = outcomes[name]
            logs = outcome.log_parts
            message = f"{name}: {outcome.message}" if outcome.phase != "Succeeded" else ""
            ran = outcome if outcome.exit_code is not None else None
            self._record(name, node, Ended(outcome.phase, message, ran, logs))
        return self._outcome()

    async def run(self) -> Outcome:
        loop = asyncio.get_running_loop()
        self.ended = {name: loop.create_future() for name in self.containers}
        self.tasks = {name: asyncio.create_task(self._container(name))
                      for name in self.containers}
        try:
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        except asyncio.CancelledError:  # deadline or shutdown: the whole pod goes
            for task in self.tasks.values():
                task.cancel()
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)
            self.ctx.keep_log([part for f in self.ended.values() if f.done()
                               for part in f.result().log])
            raise
        for task in self.tasks.values():
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        return self._outcome()

    async def _container(self, name: str) -> None:
        node = self.nodes[name]
        try:
            ended = await self._run_container(name, node)
        except asyncio.CancelledError:
            why = f'container "{self.failed}" failed' if self.failed else "pod terminated"
            self._record(name, node, Ended("Failed", f"{name}: terminated: {why}",
                                           log=self._printed(node)))
            raise
        except NodeError as exc:
            ended = Ended("Error", f"{name}: {exc}")
        self._record(name, node, ended)
        if ended.phase != "Succeeded" and self.failed is None:
            self.failed = name
            # Argo terminates the pod once a container failed: kill the running ones; those
            # waiting end through their dependencies, those not started never start.
            for other in self.started - {name}:
                if not self.ended[other].done():
                    self.tasks[other].cancel()

    async def _run_container(self, name: str, node: NodeStatus) -> Ended:
        if node.fulfilled:
            return await self._replay(name, node)
        for dep in self.containers[name].dependencies or []:
            ended = await asyncio.shield(self.ended[dep])
            if ended.phase != "Succeeded":
                return Ended("Failed", _dependency_message(name, dep, ended))
        if self.failed is not None and node.phase == "Pending":
            return Ended("Failed", f'{name}: not started: container "{self.failed}" failed')
        self.started.add(name)
        if node.phase == "Pending":
            self.ctx.set_phase(node, "Running")
        return await self._attempts(name, node)

    async def _replay(self, name: str, node: NodeStatus) -> Ended:
        """A container that ended before an engine restart."""
        if node.phase != "Succeeded":
            if self.failed is None:
                self.failed = name
            return Ended(node.phase, node.message or "")
        # Its process left a record: asking again reads it back (result, files) without a rerun.
        return await self._attempts(name, node)

    async def _attempts(self, name: str, node: NodeStatus) -> Ended:
        container = self.containers[name]
        logs: list[str | Path] = []
        outcome = Outcome("Error", "no attempt")
        for attempt in range(self.attempts):
            node_dir = self._process_dir(node, attempt)
            if attempt and not node_dir.exists():
                await self.ctx.wait(self.pause)
            self._share_tmp(node_dir)
            request = self.request = self._request(container, node_dir)
            outcome = await self.ctx.executor.run_process(request)
            logs += outcome.log_parts
            # As Argo's emissary: a command that cannot be found, or an executor error, is not
            # worth retrying.
            if outcome.phase == "Succeeded" or outcome.exit_code is None or (
                    outcome.exit_code == 127 and outcome.message):
                break
        message = f"{name}: {outcome.message}" if outcome.phase != "Succeeded" else ""
        return Ended(outcome.phase, message, outcome, logs)

    def _request(self, container: ContainerNode, node_dir: Path) -> ProcessRequest:
        request = request_of(self.ctx, container, self.argv[container.name], node_dir)
        raw = next(c for c in self.ctx.raw["containerSet"]["containers"]
                   if c.get("name") == container.name)
        if not _in_images(self.ctx):  # its own resources.limits, not the template's
            return replace(request, container=raw)
        # Each container in its image, with the volumes the set and it mount.
        mounts = [*(self.body.volume_mounts or []), *(container.volume_mounts or [])]
        return replace(request, container=raw, volumes=tuple(volume_mounts(self.ctx, mounts)))

    def _printed(self, node: NodeStatus) -> list[str | Path]:
        """What a killed container's attempts printed, from their files."""
        files = getattr(self.ctx.executor, "log_files", None)
        if files is None:
            return []
        return [f for attempt in range(self.attempts)
                for f in files(self._process_dir(node, attempt)) if f.exists()]

    def _process_dir(self, node: NodeStatus, attempt: int) -> Path:
        base = self.ctx.dir_of(node)
        return base if attempt == 0 else base / f"attempt-{attempt}"

    def _share_tmp(self, node_dir: Path) -> None:
        share_tmp(self.ctx.node_dir, node_dir)
        # Its volumes are directories of that /tmp (see _check), there before any container
        # starts, as a kubelet mounts a pod's volumes before its containers run.
        shared = self.ctx.node_dir / "tmp"
        for mount in self.body.mounts():
            (shared / str(mount["mountPath"])[len("/tmp"):].lstrip("/")).mkdir(
                parents=True, exist_ok=True)

    def _record(self, name: str, node: NodeStatus, ended: Ended) -> None:
        if not node.fulfilled:
            if ended.outcome is not None or ended.log:
                self.ctx.keep_log(ended.log, node)
            self.ctx.finish(node, ended.phase, ended.message or None)
        future = self.ended[name]
        if not future.done():
            future.set_result(ended)

    def _outcome(self) -> Outcome:
        ended = {name: f.result() for name, f in self.ended.items()}
        main = ended.get(MAIN)
        ran = main.outcome if main is not None else None
        parts = [part for e in ended.values() for part in e.log]
        texts = "".join(p for p in parts if isinstance(p, str))
        log = {"log": texts, "log_files": [p for p in parts if isinstance(p, Path)]}
        outcome = Outcome("Succeeded", **log)
        if ran is not None:
            outcome = Outcome(ran.phase, result=ran.result, exit_code=ran.exit_code,
                              read_file=ran.read_file, **log)
        failure = self._failure(ended)
        outcome.phase = "Succeeded" if failure is None else failure.phase
        outcome.message = "" if failure is None else failure.message
        return outcome

    def _failure(self, ended: dict[str, Ended]) -> Ended | None:
        """The pod's failure: the first container, in spec order, that failed by itself."""
        own = [e for e in ended.values() if e.phase != "Succeeded" and e.outcome is not None]
        anyone = [e for e in ended.values() if e.phase != "Succeeded"]
        found = (own or anyone or [None])[0]
        if found is not None and any(e.phase == "Error" for e in anyone):
            found = Ended("Error", found.message, found.outcome)
        return found


def _retry(strategy: ContainerSetRetryStrategy | None) -> tuple[int, float]:
    if strategy is None or strategy.retries is None:
        return 1, 0.0
    attempts = max(1, int(str(strategy.retries).strip()))
    pause = parse_go_duration(strategy.duration).total_seconds() if strategy.duration else 0.0
    return attempts, max(0.0, pause)


def _dependency_message(name: str, dep: str, ended: Ended) -> str:
    code = ended.outcome.exit_code if ended.outcome is not None else None
    if code is not None:
        return f'{name}: dependency "{dep}" exited with non-zero code: {code}'
    return f'{name}: dependency "{dep}" did not succeed'


def _topological(containers: list[ContainerNode]) -> list[ContainerNode]:
    """Containers with each after its dependencies, otherwise in spec order."""
    placed: dict[str, ContainerNode] = {}
    pending = list(containers)
    while pending:
        ready = [c for c in pending if all(d in placed for d in c.dependencies or [])]
        if not ready:
            raise NodeError(f"containers: dependency cycle among "
                            f"{', '.join(c.name for c in pending)}")
        for c in ready:
            placed[c.name] = c
        pending = [c for c in pending if c.name not in placed]
    return list(placed.values())


def _check(ctx: NodeContext, body: ContainerSet, one_pod: bool) -> None:
    """Faults lint cannot see from the body alone, and what this executor cannot do."""
    faults = validate(body, "containerSet")
    if faults:
        raise NodeError("; ".join(f"{f.path}: {f.message}" for f in faults))
    tmpl = ctx.template
    if (tmpl.outputs.parameters or tmpl.outputs.artifacts or tmpl.inputs.artifacts) and \
            MAIN not in {c.name for c in body.containers}:
        raise NodeError('containerSet.containers must have a container named "main" for input '
                        "or output")
    if one_pod:
        return  # the containers share the pod's volumes, as in Argo
    for mount in [] if _in_images(ctx) else body.mounts():  # containers of their own mount them
        path = str(mount.get("mountPath", ""))
        if path != "/tmp" and not path.startswith("/tmp/"):
            raise NodeError(f"volumeMounts: mountPath {path!r} is not supported by this "
                            "executor: the containers of a set share the pod's /tmp, so "
                            "mount the volume under /tmp")
        for key in ("subPath", "readOnly"):
            if mount.get(key):
                raise NodeError(f"volumeMounts: {key} is not supported in a containerSet by "
                                "this executor: its mounts are the node's shared /tmp")


def _in_images(ctx: NodeContext) -> bool:
    """Whether the executor runs each container of the pod in its image (podman)."""
    return getattr(ctx.executor, "runs_pod_containers", False)


async def run(ctx: NodeContext) -> Outcome:
    body: ContainerSet = ctx.body
    # An executor that makes pods runs the whole set as one, as Argo does.
    one_pod = hasattr(ctx.executor, "run_container_set")
    _check(ctx, body, one_pod)
    pod = PodRun(ctx, body, one_pod)
    if one_pod:
        return await pod.run_in_one_pod()
    try:
        return await pod.run()
    finally:
        await end_pod(ctx, pod.request)


@hookimpl
def argosy_template_types() -> list[TemplateType]:
    return [TemplateType("containerSet", "Pod", run, ContainerSet, validate)]
