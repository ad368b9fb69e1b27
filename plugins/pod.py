"""A container or script template's pod beyond its main container: ``initContainers``,
``sidecars`` and ``daemon: true``, as Argo runs them, with local processes.

* Init containers run one after another, each to its end, before anything else starts; the
  first that fails fails the node with Argo's message (``NAME: Error (exit code N)``).
* Sidecars start with the main container and are killed (SIGTERM, then SIGKILL after the grace
  period) once it has exited; the node's outcome is the main container's, unless a sidecar
  failed by itself before (an exit code other than 0, 137 or 143), which fails it as in Argo.
* A daemon's node is daemoned once its main container runs and every container with a
  ``readinessProbe`` (``exec``, ``httpGet`` or ``tcpSocket``) passed it; the engine then lets
  its scope go on, and kills it when that scope ends. A daemon that exits by itself fails, even
  with exit code 0, as in Argo: it was meant to serve.

The containers of a pod share its volumes; here they share the main container's private
``/tmp`` (each container's process dir links ``tmp`` to it, as a container set's do) and the
host's network, so ``localhost`` reaches a sidecar as it does in a pod. Each container's log is
kept apart, under the node's id and the container's name (``argosy logs WF NODE -c NAME``).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import Field

from argosy.plugin import POD_IP, NodeContext, NodeError, Outcome, ProcessRequest, remove_tree
from argosy.plugins.container import Container, argv_for, request_of
from argosy.plugins.volumes import volume_mounts

# Exit codes of a sidecar killed by SIGKILL or SIGTERM, which Argo does not count as failures.
KILLED = (137, 143)
# Kubernetes' Probe defaults.
PERIOD_SECONDS = 10.0
TIMEOUT_SECONDS = 1.0


class UserContainer(Container):
    name: str = ""
    readiness_probe: dict[str, Any] | None = Field(None, alias="readinessProbe")
    ports: list[dict[str, Any]] | None = None


def share_tmp(pod_dir: Path, node_dir: Path) -> None:
    """Point a process dir's private /tmp at its pod's, shared by all the pod's containers."""
    shared = pod_dir / "tmp"
    shared.mkdir(parents=True, exist_ok=True)
    node_dir.mkdir(parents=True, exist_ok=True)
    link = node_dir / "tmp"
    if not link.is_symlink():
        link.symlink_to(os.path.relpath(shared, node_dir))


def has_pod_extras(raw: dict[str, Any]) -> bool:
    return bool(raw.get("initContainers") or raw.get("sidecars") or raw.get("daemon") is True)


class Pod:
    """One run (or replay: every process is re-adopted or read back) of a pod."""

    def __init__(self, ctx: NodeContext, main: ProcessRequest) -> None:
        self.ctx = ctx
        self.main = main
        self.daemon = ctx.raw.get("daemon") is True
        self.inits = _containers(ctx.raw, "initContainers")
        self.sidecars = _containers(ctx.raw, "sidecars")
        kind = "script" if "script" in ctx.raw else "container"
        self.main_container = UserContainer.model_validate(
            {**ctx.raw[kind], "name": "main"} if isinstance(ctx.raw.get(kind), dict)
            else {"name": "main"})
        self.argv = {c.name: argv_for(ctx, c) for c in [*self.inits, *self.sidecars]}
        self.raw = {c["name"]: c for key in ("initContainers", "sidecars")
                    for c in ctx.raw.get(key) or []}
        self.requests: dict[str, ProcessRequest] = {"main": main}
        if self.daemon:  # a probe that cannot run fails the node now, not the wait forever
            for c in [self.main_container, *self.sidecars]:
                _check_probe(c)
        self.started: dict[str, asyncio.Event] = {}

    async def run(self) -> Outcome:
        try:
            return await self._run()
        finally:
            await end_pod(self.ctx, self.main)

    async def _run(self) -> Outcome:
        for init in self.inits:
            outcome = await self._container(init)
            if outcome.phase != "Succeeded":  # main never runs: the node has no exit code
                return Outcome("Failed", f"{init.name}: {outcome.message}")
        sidecars = [asyncio.ensure_future(self._container(c)) for c in self.sidecars]
        ready = asyncio.ensure_future(self._ready()) if self.daemon else None
        try:
            outcome = await self.ctx.executor.run_process(self._with_started(self.main, "main"))
            # Those that ended before main did ended by themselves, not killed by us.
            ended = [(c, t.result()) for c, t in zip(self.sidecars, sidecars, strict=True)
                     if t.done() and not t.cancelled() and t.exception() is None]
        finally:
            for task in [*sidecars, *([ready] if ready else [])]:
                task.cancel()
            await asyncio.gather(*sidecars, *([ready] if ready else []),
                                 return_exceptions=True)
        if self.daemon and outcome.phase == "Succeeded":
            outcome.phase = "Failed"  # a daemon is meant to serve until its scope ends
        failed = [f"{c.name}: {o.message}" for c, o in ended
                  if o.phase != "Succeeded" and o.exit_code not in KILLED]
        if outcome.phase == "Succeeded" and failed:
            # As Argo's inferFailedReason: a sidecar that failed by itself fails the pod.
            outcome.phase, outcome.message = "Failed", failed[0]
        return outcome

    async def _container(self, container: UserContainer) -> Outcome:
        """Run one init container or sidecar to its end; its log kept under its name."""
        node_dir = self.ctx.container_dir(container.name)
        share_tmp(self.ctx.node_dir, node_dir)
        request = self._with_started(self._request(container, node_dir), container.name)
        self.requests[container.name] = request
        outcome: Outcome | None = None
        try:
            outcome = await self.ctx.executor.run_process(request)
            return outcome
        finally:
            self._keep_log(container.name, node_dir, outcome)

    def _keep_log(self, name: str, node_dir: Path, outcome: Outcome | None) -> None:
        parts: list[str | Path] = []
        if outcome is not None:
            parts = outcome.log_parts
        else:
            files = getattr(self.ctx.executor, "log_files", None)
            parts = [f for f in (files(node_dir) if files else []) if f.exists()]
        self.ctx.keep_log(parts, container=name)

    def _request(self, container: UserContainer, node_dir: Path) -> ProcessRequest:
        """An init container's or sidecar's process, with the pod's volumes it mounts."""
        request = request_of(self.ctx, container, self.argv[container.name], node_dir)
        volumes = ()
        if getattr(self.ctx.executor, "binds_host_volumes", False):
            volumes = tuple(volume_mounts(self.ctx, container.volume_mounts))
        return replace(request, volumes=volumes, container=self.raw[container.name])

    def _with_started(self, request: ProcessRequest, name: str) -> ProcessRequest:
        return replace(request, started=self.started.setdefault(name, asyncio.Event()).set)

    async def _ready(self) -> None:
        """Daemoned once every container runs and passed its readinessProbe, if it has one."""
        containers = [self.main_container, *self.sidecars]
        for c in containers:
            self.started.setdefault(c.name, asyncio.Event())
        await asyncio.gather(*(self._probe(c) for c in containers))
        self.ctx.daemoned()

    async def _probe(self, container: UserContainer) -> None:
        await self.started[container.name].wait()
        probe = container.readiness_probe
        if not probe:
            return
        await asyncio.sleep(float(probe.get("initialDelaySeconds") or 0))
        period = float(probe.get("periodSeconds") or PERIOD_SECONDS)
        timeout = float(probe.get("timeoutSeconds") or TIMEOUT_SECONDS)
        needed, passed, attempt = int(probe.get("successThreshold") or 1), 0, 0
        while True:
            attempt += 1
            try:
                ok = await asyncio.wait_for(self._check(container, probe, attempt, timeout),
                                            timeout)
            except (TimeoutError, OSError):
                ok = False
            passed = passed + 1 if ok else 0
            if passed >= needed:
                return
            await asyncio.sleep(period)

    async def _check(self, container: UserContainer, probe: dict[str, Any], attempt: int,
                     timeout: float) -> bool:
        if probe.get("httpGet"):
            return await asyncio.to_thread(_http_get, probe["httpGet"], container, timeout)
        if probe.get("tcpSocket"):
            action = probe["tcpSocket"]
            _, writer = await asyncio.open_connection(action.get("host") or POD_IP,
                                                      _port(action, container))
            writer.close()
            return True
        return await self._exec(container, probe["exec"], attempt)

    async def _exec(self, container: UserContainer, action: dict[str, Any],
                    attempt: int) -> bool:
        """Run the probe's command in the container (an executor that cannot enter it: in
        the container's view, its /tmp, env and workingDir)."""
        command = [str(a) for a in action.get("command") or []]
        exec_process = getattr(self.ctx.executor, "exec_process", None)
        if exec_process is not None:
            return await exec_process(self.requests[container.name], command) == 0
        node_dir = self.ctx.container_dir(f"probe-{container.name}-{attempt}")
        share_tmp(self.ctx.node_dir, node_dir)
        try:
            outcome = await self.ctx.executor.run_process(
                request_of(self.ctx, container, command, node_dir))
            return outcome.phase == "Succeeded"
        finally:
            remove_tree(node_dir)


async def end_pod(ctx: NodeContext, request: ProcessRequest | None) -> None:
    """Tell an executor that runs a pod's containers one by one that all of them ended
    (``request``: one of them), unless it is detached from them (engine shutdown)."""
    ended = getattr(ctx.executor, "pod_ended", None)
    if ended is not None and request is not None and not getattr(ctx.executor, "detached",
                                                                  False):
        await asyncio.shield(ended(request))


def _containers(raw: dict[str, Any], key: str) -> list[UserContainer]:
    items = raw.get(key) or []
    containers = [UserContainer.model_validate(c) for c in items]
    names = [c.name for c in containers]
    for i, name in enumerate(names):
        if not name:
            raise NodeError(f"{key}[{i}].name: {key} must all have container name")
    return containers


def _check_probe(container: UserContainer) -> None:
    probe = container.readiness_probe
    if not probe:
        return
    where = f"{container.name}: readinessProbe"
    if probe.get("httpGet"):
        _port(probe["httpGet"], container)
    elif probe.get("tcpSocket"):
        _port(probe["tcpSocket"], container)
    elif not isinstance(probe.get("exec"), dict) or not probe["exec"].get("command"):
        raise NodeError(f"{where} needs exec (with a command), httpGet or tcpSocket")


def _port(action: dict[str, Any], container: UserContainer) -> int:
    port = action.get("port")
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for entry in container.ports or []:
        if entry.get("name") == port and entry.get("containerPort") is not None:
            return int(entry["containerPort"])
    raise NodeError(f"{container.name}: readinessProbe port {port!r} is not a number nor the "
                    "name of one of the container's ports")


def _http_get(action: dict[str, Any], container: UserContainer, timeout: float) -> bool:
    import ssl  # with urllib.request, only for a pod with an httpGet probe
    import urllib.error
    import urllib.request

    scheme = str(action.get("scheme") or "HTTP").lower()
    host = action.get("host") or POD_IP
    path = "/" + str(action.get("path") or "").lstrip("/")
    url = f"{scheme}://{host}:{_port(action, container)}{path}"
    headers = {str(h.get("name")): str(h.get("value", ""))
               for h in action.get("httpHeaders") or []}
    request = urllib.request.Request(url, headers=headers)
    # As the kubelet: a probe does not check the server's certificate.
    context = ssl._create_unverified_context() if scheme == "https" else None
    try:
        with urllib.request.urlopen(request, timeout=timeout,
                                    context=context) as response:
            return 200 <= response.status < 400
    except (urllib.error.URLError, OSError, ValueError):
        return False


async def run_pod(ctx: NodeContext, main: ProcessRequest) -> Outcome:
    return await Pod(ctx, main).run()


__all__ = ["Pod", "UserContainer", "end_pod", "has_pod_extras", "run_pod", "share_tmp"]
