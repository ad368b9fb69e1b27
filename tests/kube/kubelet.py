"""A simulated kubelet and Job controller for the API server double.

Every Pod is bound to one node and its containers really run on this host: init containers in
order (sidecars, i.e. init containers with ``restartPolicy: Always``, keep running), then the
containers side by side, each with its command, args, env and workingDir. Each container runs
in a node sandbox of argosy's local executor, as a local step does: a PID namespace of its own,
a private writable layer over the host's files (what it writes outside its volumes goes with
it), a private ``/tmp`` and a clean environment; as root, or as any user through a user
namespace, and unisolated, with the local executor's notice, where the kernel allows neither.
It also gets a ``/dev`` of its own, as a container runtime makes one: the usual devices bound
from the host's, the pod's ``/dev/shm`` (shared by its containers, as their IPC namespace is)
and room for the termination message, which is bound from a per-container file at its
``terminationMessagePath``; the pod's volumes are bound at their mount paths. Images are
not pulled: the host's files are the image, and a container without a command is resolved
through argosy's image mapping (``$ARGOSY_HOME/images.yaml``, ``$ARGOSY_IMAGE_ENTRYPOINTS``).
Logs, exit codes, messages, deadlines and kills (a container's every process) are real.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import posixpath
import re
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

from argosy.engine.run import NodeError
from argosy.plugins.container import Container, argv_of, image_config
from argosy.plugins.local import SANDBOX_ENV, LocalExecutor, ProcessLost, ProcessSpec

from .store import ApiError, Obj, Store, now

NODE = "argosy-double"
MESSAGE_CAP = 4096  # bytes of a termination message, as the kubelet keeps
FALLBACK_LINES, FALLBACK_BYTES = 80, 2048  # FallbackToLogsOnError's tail of the log
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
# A container's /dev, as runc makes it: these devices and /dev/pts bound from the host's,
# these links, and /dev/shm.
DEVICES = ("null", "zero", "full", "random", "urandom", "tty", "pts")
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
             "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"}
# The log is one stream, as the container runtime's: stderr joins stdout.
ONE_STREAM = ["/bin/sh", "-c", 'exec "$@" 2>&1', "sh"]

Bind = tuple[str, str, bool]  # host path, path in the container, read-only


def _expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) references; $$ escapes, an unknown reference stays as written."""
    return _REF.sub(lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
                    text)


class Sandbox:
    """argosy's local executor, run for the kubelet's threads on an event loop of its own."""

    def __init__(self) -> None:
        self.executor = LocalExecutor()
        self.loop = asyncio.new_event_loop()
        self.thread = _start(self.loop.run_forever)
        self.lock = threading.Lock()
        self.killing: set[asyncio.Future[None]] = set()

    def isolated(self) -> bool:
        """Whether containers get the sandbox here (the local executor says why not, once)."""
        with self.lock:
            isolated = self.executor._isolated()
        if isolated and os.environ.get(SANDBOX_ENV, "").strip().lower() == "tmp":
            raise NodeError(f"{SANDBOX_ENV}=tmp gives a container no layer of its own over the "
                            "host's files, which the API double's kubelet needs: set it to on "
                            "or off")
        return isolated

    def run(self, spec: ProcessSpec) -> int:
        """Run the container's process to its end; its exit code (128+N for signal N)."""
        return self._wait(self.executor.run(spec)).exit_code

    def kill(self, spec: ProcessSpec, grace: float) -> None:
        """SIGTERM, then SIGKILL after ``grace``: the container's PID namespace ends with it."""
        self._wait(self.executor.kill(spec, grace))

    def kill_soon(self, spec: ProcessSpec, grace: float) -> None:
        """``kill`` from the loop's own thread (a ``started`` callback), without waiting."""
        task = self.loop.create_task(self.executor.kill(spec, grace))
        self.killing.add(task)
        task.add_done_callback(self.killing.discard)

    def _wait(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        """Stop the loop once the kills it was given have ended (a pending one would be lost)."""
        async def settle() -> None:
            await asyncio.gather(*self.killing, return_exceptions=True)

        self._wait(settle())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class ContainerRun:
    """One container of a pod: its process, its node directory (one per restart, holding its
    log and its layer), its state."""

    def __init__(self, pod_run: PodRun, spec: Obj, init: bool) -> None:
        self.pod_run, self.spec, self.init = pod_run, spec, init
        self.name: str = spec["name"]
        self.sidecar = init and spec.get("restartPolicy") == "Always"
        self.dir = pod_run.dir / self.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.message_file = self.dir / "termination-log"
        self.lock = threading.Lock()  # orders a start against a kill
        self.live: ProcessSpec | None = None  # the process running now, if any
        self.restarts = 0
        self.last_state: Obj = {}
        waiting = "PodInitializing" if not init and pod_run.pod["spec"].get(
            "initContainers") else "ContainerCreating"
        self.state: Obj = {"waiting": {"reason": waiting}}
        self.killed = False

    def node_dir(self, previous: bool = False) -> Path:
        return self.dir / str(self.restarts - (1 if previous else 0))

    def log_path(self, previous: bool = False) -> Path:
        return self.node_dir(previous) / "stdout"

    @property
    def running(self) -> bool:
        return "running" in self.state

    def status(self) -> Obj:
        spec = self.spec
        status = {"name": self.name, "image": spec.get("image", ""), "imageID": "",
                  "ready": self.running, "restartCount": self.restarts, "state": self.state,
                  "started": self.running, "lastState": self.last_state}
        if "terminated" in self.state or "running" in self.state:
            status["containerID"] = f"argosy-double://{self.pod_run.uid}/{self.name}"
        return status

    def run(self) -> int:
        """Run (and restart, as the restart policy says) until done; the last exit code."""
        policy = self.spec.get("restartPolicy") or self.pod_run.restart_policy
        while True:
            code = self._run_once()
            if self.killed or self.pod_run.stopping.is_set():
                return code
            if not (policy == "Always" or (policy == "OnFailure" and code != 0)):
                return code
            self.last_state = self.state
            self.restarts += 1
            # The kubelet's back-off, scaled down (10 s doubling to 5 min there) to suit tests.
            backoff = min(0.1 * 2 ** self.restarts, 5.0)
            self.state = {"waiting": {"reason": "CrashLoopBackOff", "message":
                                      f"back-off {backoff:g}s restarting failed container="
                                      f"{self.name} pod={self.pod_run.name}_"
                                      f"{self.pod_run.namespace}({self.pod_run.uid})"}}
            self.pod_run.publish()
            self.pod_run.stopping.wait(backoff)

    def _run_once(self) -> int:
        started = now()
        try:
            spec = self._process()
        except NodeError as exc:
            return self._terminated(128, "StartError", str(exc), started)
        with self.lock:
            if self.killed:
                return self._terminated(137, "Error", "", started)
        try:
            code = self.pod_run.kubelet.sandbox.run(spec)
        except (OSError, ProcessLost) as exc:  # the sandbox failed it, before or after it ran
            reason = "Error" if self.running else "StartError"
            return self._terminated(128, reason, f"the sandbox failed: {exc}", started)
        finally:
            with self.lock:
                self.live = None
        reason = "Completed" if code == 0 else "Error"
        return self._terminated(code, reason, self._message(code), started)

    def _started(self, spec: ProcessSpec) -> None:
        """The process runs (called on the sandbox's loop): a kill that came first applies."""
        with self.lock:
            self.live, doomed = spec, self.killed
        if doomed:
            self.pod_run.kubelet.sandbox.kill_soon(spec, 0)
        self.state = {"running": {"startedAt": now()}}
        if not self.init and self.pod_run.phase == "Pending":
            self.pod_run.phase = "Running"  # a container has started: its log exists
        self.pod_run.publish()

    def _terminated(self, code: int, reason: str, message: str, started: str) -> int:
        terminated = {"exitCode": code, "reason": reason, "startedAt": started,
                      "finishedAt": now(), "containerID":
                      f"argosy-double://{self.pod_run.uid}/{self.name}"}
        if message:
            terminated["message"] = message
        self.state = {"terminated": terminated}
        self.pod_run.publish()
        return code

    def _message(self, code: int) -> str:
        data = self.message_file.read_bytes()[:MESSAGE_CAP] if self.message_file.exists() else b""
        if not data and code != 0 and self.spec.get(
                "terminationMessagePolicy") == "FallbackToLogsOnError":
            lines = self.log_path().read_bytes().splitlines(keepends=True)[-FALLBACK_LINES:]
            data = b"".join(lines)[-FALLBACK_BYTES:]
        return data.decode(errors="replace")

    def _process(self) -> ProcessSpec:
        """The container's process in its sandbox: its own /dev, its volumes, its message."""
        argv, env, cwd = self._command()
        volumes = self._volume_mounts()
        self.message_file.write_bytes(b"")
        binds: tuple[Bind, ...] = ()
        if self.pod_run.kubelet.sandbox.isolated():
            target = self.spec.get("terminationMessagePath") or "/dev/termination-log"
            binds = (*self._dev(), *volumes, (str(self.message_file), target, False))
        elif volumes:
            raise NodeError("volumes cannot be mounted here: containers run unisolated, "
                            "without a mount namespace of their own")
        elif cwd is not None and not os.path.isdir(cwd):
            raise NodeError(f'workingDir "{cwd}" does not exist on this host (containers run '
                            "unisolated here, so the host's file system is theirs)")
        missing = _not_found(argv[0], env.get("PATH", os.defpath), cwd, binds)
        if missing:
            raise NodeError(f"failed to start container: {missing}")
        spec = ProcessSpec(argv=[*ONE_STREAM, *argv], env=env, working_dir=cwd,
                           node_dir=self.node_dir(), volumes=binds)
        return replace(spec, started=functools.partial(self._started, spec))

    def _dev(self) -> list[Bind]:
        """The container's own /dev: a directory of its own over the host's, with the host's
        usual devices bound into it and the pod's shared memory."""
        dev = self.dir / "dev"
        if not dev.exists():
            dev.mkdir()
            for name, target in DEV_LINKS.items():
                (dev / name).symlink_to(target)
        shm = self.pod_run.dir / "shm"
        shm.mkdir(exist_ok=True)
        devices = [(f"/dev/{name}", f"/dev/{name}", False) for name in DEVICES
                   if os.path.exists(f"/dev/{name}")]
        return [(str(dev), "/dev", False), *devices, (str(shm), "/dev/shm", False)]

    def _volume_mounts(self) -> list[Bind]:
        """(host source, mountPath, readOnly) of each volumeMount, outer paths first."""
        binds = []
        for mount in self.spec.get("volumeMounts") or []:
            source = self.pod_run.volumes.get(mount.get("name"), "no such volume in the pod")
            if isinstance(source, str):
                raise NodeError(f'volumeMount "{mount.get("name")}": {source}')
            if mount.get("subPath"):
                source = source / mount["subPath"]
                if not (source.exists() or source.is_symlink()):  # a file is bound as a file
                    source.mkdir(parents=True)
            binds.append((str(source), mount["mountPath"], bool(mount.get("readOnly"))))
        return sorted(binds, key=lambda bind: bind[1].count("/"))

    def _command(self) -> tuple[list[str], dict[str, str], str | None]:
        spec = self.spec
        image = image_config(spec.get("image"))
        env = self.pod_run.env_of(spec, image.env if image is not None else {})
        container = Container.model_validate(
            {k: spec[k] for k in ("image", "command", "args") if spec.get(k) is not None})
        argv = [_expand(a, env) for a in argv_of(container)]
        return argv, env, spec.get("workingDir")

    def kill(self, grace: float) -> None:
        """SIGTERM to the container's processes, SIGKILL after the grace period."""
        with self.lock:
            self.killed = True
            live = self.live
        if live is not None:
            self.pod_run.kubelet.sandbox.kill(live, grace)


def _not_found(cmd: str, path: str, cwd: str | None, binds: tuple[Bind, ...]) -> str | None:
    """Why ``cmd`` cannot be executed in the container, as the runtime says it, or None. The
    container's files are the host's, but for its volumes."""
    candidates = [cmd] if "/" in cmd else [posixpath.join(d or ".", cmd)
                                           for d in path.split(os.pathsep)]
    for candidate in candidates:
        host = _on_host(posixpath.normpath(posixpath.join(cwd or "/tmp", candidate)), binds)
        if os.path.isfile(host) and os.access(host, os.X_OK):
            return None
    if "/" in cmd:
        return f'exec: "{cmd}": stat {cmd}: no such file or directory'
    return f'exec: "{cmd}": executable file not found in $PATH'


def _on_host(path: str, binds: tuple[Bind, ...]) -> str:
    """Where the container's ``path`` is on the host before it starts (a file the host has
    but its private /tmp lacks is then left to the sandbox to report, exit code 127)."""
    for source, target, _read_only in sorted(binds, key=lambda b: len(b[1]), reverse=True):
        if path == target or path.startswith(target.rstrip("/") + "/"):
            return source + path[len(target):]
    return path


class PodRun:
    """One pod on the simulated node, from binding to its last container's exit."""

    def __init__(self, kubelet: Kubelet, pod: Obj) -> None:
        self.kubelet = kubelet
        meta = pod["metadata"]
        self.namespace, self.name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.pod = pod
        self.dir = kubelet.root / f"{self.namespace}_{self.name}_{self.uid[:8]}"
        self.dir.mkdir(parents=True, exist_ok=True)
        spec = pod["spec"]
        self.restart_policy = spec.get("restartPolicy", "Always")
        self.volumes = {v.get("name"): self._volume(v) for v in spec.get("volumes") or []}
        self.inits = [ContainerRun(self, c, True) for c in spec.get("initContainers") or []]
        self.mains = [ContainerRun(self, c, False) for c in spec.get("containers") or []]
        self.stopping = threading.Event()
        self.done = threading.Event()
        self.phase, self.reason, self.message = "Pending", None, None
        self.started, self.started_clock = now(), time.monotonic()
        self.deleting = False
        self.lock = threading.Lock()

    def container(self, name: str) -> ContainerRun | None:
        return next((c for c in self.inits + self.mains if c.name == name), None)

    # ---- volumes

    def _volume(self, volume: Obj) -> Path | str:
        """The host directory backing a volume, or why there is none."""
        name = volume.get("name")
        own = self.dir / "volumes" / str(name)
        if "emptyDir" in volume:
            own.mkdir(parents=True, exist_ok=True)
            return own
        for key, plural in (("configMap", "configmaps"), ("secret", "secrets")):
            if key in volume:
                return self._projected(own, plural, volume[key])
        if "hostPath" in volume:
            path = Path(volume["hostPath"]["path"])
            if volume["hostPath"].get("type") == "DirectoryOrCreate":
                path.mkdir(parents=True, exist_ok=True)
            return path if path.exists() else f"hostPath {path} does not exist"
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"].get("claimName")
            if self.kubelet.claim(self.namespace, claim) is None:
                return f'persistentvolumeclaim "{claim}" not found'
            path = self.kubelet.root / "claims" / self.namespace / str(claim)
            path.mkdir(parents=True, exist_ok=True)
            return path
        kinds = sorted(set(volume) - {"name"})
        return f"{', '.join(kinds) or 'empty'} volumes are not supported by the API double"

    def _projected(self, own: Path, plural: str, source: Obj) -> Path | str:
        name = source.get("name") or source.get("secretName")
        data = self.kubelet.data_of(plural, self.namespace, name)
        if data is None and not source.get("optional"):
            return f'{plural[:-1]} "{name}" not found'
        own.mkdir(parents=True, exist_ok=True)
        items = source.get("items") or [{"key": k, "path": k} for k in data or {}]
        for item in items:
            if item["key"] in (data or {}):
                (own / item["path"]).parent.mkdir(parents=True, exist_ok=True)
                (own / item["path"]).write_text((data or {})[item["key"]])
        return own

    # ---- environment

    def env_of(self, spec: Obj, image_env: dict[str, str]) -> dict[str, str]:
        """The host's PATH and HOME, then the image's env, then the container's."""
        env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
               "HOME": os.environ.get("HOME", "/"), **image_env, "HOSTNAME": self.name,
               **self.kubelet.service_env}
        for source in spec.get("envFrom") or []:
            env.update(self._env_from(source))
        for var in spec.get("env") or []:
            if "valueFrom" in var:
                value = self._value_from(var["valueFrom"])
                if value is None:
                    continue
            else:
                value = _expand(str(var.get("value", "")), env)
            env[var["name"]] = value
        return env

    def _env_from(self, source: Obj) -> dict[str, str]:
        prefix = source.get("prefix", "")
        for key, plural in (("configMapRef", "configmaps"), ("secretRef", "secrets")):
            if key in source:
                data = self.kubelet.data_of(plural, self.namespace, source[key].get("name"))
                if data is None and not source[key].get("optional"):
                    raise NodeError(f'{plural[:-1]} "{source[key].get("name")}" not found')
                return {prefix + k: v for k, v in (data or {}).items()}
        return {}

    def _value_from(self, source: Obj) -> str | None:
        if "fieldRef" in source:
            return self._field(source["fieldRef"].get("fieldPath", ""))
        for key, plural in (("configMapKeyRef", "configmaps"), ("secretKeyRef", "secrets")):
            if key in source:
                ref = source[key]
                data = self.kubelet.data_of(plural, self.namespace, ref.get("name"))
                if (data is None or ref.get("key") not in data) and not ref.get("optional"):
                    raise NodeError(f'couldn\'t find key {ref.get("key")} in {plural[:-1]} '
                                    f'{self.namespace}/{ref.get("name")}')
                return (data or {}).get(ref.get("key"))
        return None

    def _field(self, path: str) -> str:
        meta = self.pod["metadata"]
        if m := re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path):
            return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
        values = {"metadata.name": self.name, "metadata.namespace": self.namespace,
                  "metadata.uid": self.uid, "spec.nodeName": NODE,
                  "spec.serviceAccountName": self.pod["spec"].get("serviceAccountName", ""),
                  "status.podIP": self.kubelet.pod_ip, "status.hostIP": "127.0.0.1"}
        return values.get(path, "")

    # ---- the pod's life

    def run(self) -> None:
        try:
            self._run()
        finally:
            for c in self.inits + self.mains:
                c.kill(0)
            self.done.set()
            self.publish()

    def _run(self) -> None:
        self.publish()
        sidecars: list[threading.Thread] = []
        for init in self.inits:
            if init.sidecar:
                sidecars.append(_start(init.run))
                continue
            if self.stopping.is_set() or init.run() != 0:
                self._finish("Failed")
                return
        if self.stopping.is_set():
            return
        threads = [_start(c.run) for c in self.mains]
        for thread in threads:
            thread.join()
        if self.reason is None:
            failed = any(c.state.get("terminated", {}).get("exitCode") != 0 for c in self.mains)
            self._finish("Failed" if failed else "Succeeded")

    def _finish(self, phase: str) -> None:
        self.phase = phase
        self.stopping.set()
        for c in self.inits:
            if c.sidecar:
                c.kill(self.grace())

    def grace(self) -> float:
        return float(self.pod["spec"].get("terminationGracePeriodSeconds", 30))

    def stop(self, grace: float, phase: str | None = None, reason: str | None = None,
             message: str | None = None) -> None:
        """Kill every container (deletion, deadline); the pod ends with ``phase``."""
        if reason is not None:
            self.phase, self.reason, self.message = phase or "Failed", reason, message
        self.stopping.set()
        threads = [_start(c.kill, grace) for c in self.inits + self.mains]
        for thread in threads:
            thread.join()

    def deadline_passed(self, pod: Obj) -> bool:
        deadline = pod["spec"].get("activeDeadlineSeconds")
        return deadline is not None and time.monotonic() - self.started_clock >= deadline

    def publish(self) -> None:
        """Write the pod's status as the kubelet sees it now."""
        with self.lock:
            self.kubelet.store.mutate(self.kubelet.pods, self.namespace, self.name,
                                      self._apply_status)

    def _apply_status(self, pod: Obj) -> None:
        if pod["metadata"]["uid"] != self.uid:
            return
        status = pod.setdefault("status", {})
        ready = self.phase == "Running" and all(c.running for c in self.mains)
        initialized = all(c.sidecar or "terminated" in c.state for c in self.inits) and bool(
            self.phase != "Pending" or not self.inits)
        status.update({
            "phase": self.phase, "hostIP": "127.0.0.1", "podIP": self.kubelet.pod_ip,
            "hostIPs": [{"ip": "127.0.0.1"}], "podIPs": [{"ip": self.kubelet.pod_ip}],
            "startTime": self.started,
            "conditions": self._conditions(status.get("conditions") or [], initialized, ready),
            "containerStatuses": [c.status() for c in self.mains]})
        if self.inits:
            status["initContainerStatuses"] = [c.status() for c in self.inits]
        for key, value in (("reason", self.reason), ("message", self.message)):
            if value is not None:
                status[key] = value

    def _conditions(self, old: list[Obj], initialized: bool, ready: bool) -> list[Obj]:
        before = {c["type"]: c for c in old}
        wanted = [("PodReadyToStartContainers", True), ("Initialized", initialized),
                  ("Ready", ready), ("ContainersReady", ready), ("PodScheduled", True)]
        owned = {t for t, _ in wanted}
        conditions = [c for c in old if c["type"] not in owned]  # e.g. readiness gates
        for type_, value in wanted:
            status = "True" if value else "False"
            previous = before.get(type_)
            if previous is not None and previous["status"] == status:
                conditions.append(previous)
                continue
            condition = {"type": type_, "status": status, "lastProbeTime": None,
                         "lastTransitionTime": now()}
            if not value and self.phase in ("Succeeded", "Failed"):
                condition["reason"] = "PodCompleted"
            conditions.append(condition)
        return conditions


def _start(target: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


class Kubelet:
    """Binds new pods to the one node, runs them, and finishes graceful deletions."""

    def __init__(self, store: Store, root: Path, service_env: dict[str, str],
                 pod_ip: str = "127.0.0.1") -> None:
        self.store, self.root, self.service_env = store, root, service_env
        # Every pod shares the host's network; any loopback address reaches it.
        self.pod_ip = pod_ip
        self.pods = store.kind("", "v1", "pods")
        self.runs: dict[str, PodRun] = {}
        self.sandbox = Sandbox()
        self.jobs = JobController(store)
        self.binding = threading.Lock()  # orders a bind against stop's list of the pods it ends
        self.stopped = False
        store.graceful_delete = self._will_delete

    def _will_delete(self, pod: Obj) -> bool:
        run = self.runs.get(pod["metadata"]["uid"])
        return run is not None and not run.done.is_set()

    def data_of(self, plural: str, namespace: str, name: str | None) -> dict[str, str] | None:
        obj = self._named(plural, namespace, name)
        if obj is None:
            return None
        if plural == "secrets":
            return {k: base64.b64decode(v).decode(errors="replace")
                    for k, v in (obj.get("data") or {}).items()}
        return dict(obj.get("data") or {})

    def claim(self, namespace: str, name: str | None) -> Obj | None:
        return self._named("persistentvolumeclaims", namespace, name)

    def _named(self, plural: str, namespace: str, name: str | None) -> Obj | None:
        try:
            return self.store.get(self.store.kind("", "v1", plural), namespace, str(name))
        except ApiError:
            return None

    def run_of(self, uid: str) -> PodRun | None:
        return self.runs.get(uid)

    def serve(self) -> None:
        """The controller loop: react to every change, and tick for deadlines."""
        seen = -1
        while not self.store.closed:
            with self.store.cond:
                if self.store.rv == seen:
                    self.store.cond.wait(0.2)
                seen = self.store.rv
            try:
                self.sync()
                self.jobs.sync()
            except Exception:  # a bug here must not stop every pod and job from progressing
                traceback.print_exc()

    def sync(self) -> None:
        pods = self.store.objects_of(self.pods)
        present = {p["metadata"]["uid"] for p in pods}
        for uid, run in list(self.runs.items()):
            if uid not in present and not run.deleting:  # force-deleted, or its namespace went
                run.deleting = True
                _start(run.stop, 0.0)
        for pod in pods:
            uid = pod["metadata"]["uid"]
            run = self.runs.get(uid)
            if run is None:
                if pod["metadata"].get("deletionTimestamp") is None and pod.get(
                        "status", {}).get("phase") == "Pending":
                    self._bind(pod)
                continue
            if pod["metadata"].get("deletionTimestamp") and not run.deleting:
                run.deleting = True
                _start(self._delete, run, pod)
            elif run.deadline_passed(pod) and not run.stopping.is_set():
                _start(run.stop, run.grace(), "Failed", "DeadlineExceeded", DEADLINE_MESSAGE)

    def _bind(self, pod: Obj) -> None:
        meta = pod["metadata"]
        with self.binding:
            if self.stopped:  # the pod would run on a sandbox about to close
                return
            self.store.mutate(self.pods, meta["namespace"], meta["name"],
                              lambda p: p["spec"].__setitem__("nodeName", NODE))
            pod["spec"]["nodeName"] = NODE
            run = PodRun(self, pod)
            self.runs[meta["uid"]] = run
        _start(run.run)

    def _delete(self, run: PodRun, pod: Obj) -> None:
        grace = pod["metadata"].get("deletionGracePeriodSeconds", run.grace())
        run.stop(float(grace))
        run.done.wait()
        self.store.remove(self.pods, run.namespace, run.name)

    def stop(self) -> None:
        with self.binding:
            self.stopped = True
            runs = list(self.runs.values())
        for run in runs:
            run.stop(0)
        end = time.monotonic() + 10  # their last steps (recording the exit) need the sandbox
        for run in runs:
            run.done.wait(max(0.0, end - time.monotonic()))
        self.sandbox.close()


class JobController:
    """batch/v1 Jobs: runs pods from the template until completions succeed or the backoff
    limit is passed, and keeps the Job's status and conditions as the real controller does."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.kind = store.kind("batch", "v1", "jobs")
        self.pods = store.kind("", "v1", "pods")

    def sync(self) -> None:
        pods = self.store.objects_of(self.pods)
        for job in self.store.objects_of(self.kind):
            if not _finished(job) and not job["spec"].get("suspend"):
                self._sync_job(job, [p for p in pods if _owned_by(p, job)])

    def _sync_job(self, job: Obj, pods: list[Obj]) -> None:
        spec, meta = job["spec"], job["metadata"]
        phases = [p.get("status", {}).get("phase") for p in pods]
        succeeded, failed = phases.count("Succeeded"), phases.count("Failed")
        active = [p for p, ph in zip(pods, phases, strict=True) if ph not in ("Succeeded",
                                                                              "Failed")]
        conditions: list[Obj] = []
        if succeeded >= spec.get("completions", 1):
            conditions = _conditions(("SuccessCriteriaMet", "CompletionsReached",
                                      "Reached expected number of succeeded pods"),
                                     ("Complete", "CompletionsReached",
                                      "Reached expected number of succeeded pods"))
        elif failed > spec.get("backoffLimit", 6):
            conditions = _conditions(("FailureTarget", "BackoffLimitExceeded",
                                      "Job has reached the specified backoff limit"),
                                     ("Failed", "BackoffLimitExceeded",
                                      "Job has reached the specified backoff limit"))
        else:
            want = min(spec.get("parallelism", 1), spec.get("completions", 1) - succeeded)
            for _ in range(want - len(active)):
                active.append(self._create_pod(job))
        if conditions:
            for pod in active:
                self.store.delete(self.pods, meta["namespace"], pod["metadata"]["name"])
            active = []

        counts = {"active": len(active), "succeeded": succeeded, "failed": failed}

        def change(obj: Obj) -> None:
            status = obj.setdefault("status", {})
            status.setdefault("startTime", now())
            for key, count in counts.items():  # the real controller omits zero counts
                if count:
                    status[key] = count
                else:
                    status.pop(key, None)
            status.update({"ready": sum(_ready(p) for p in active), "terminating": 0})
            if conditions:
                status["conditions"] = conditions
                if conditions[-1]["type"] == "Complete":
                    status["completionTime"] = now()
        self.store.mutate(self.kind, meta["namespace"], meta["name"], change)

    def _create_pod(self, job: Obj) -> Obj:
        meta, template = job["metadata"], job["spec"]["template"]
        owner = {"apiVersion": "batch/v1", "kind": "Job", "name": meta["name"],
                 "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}
        # The real controller names pods after the Job, whatever name the template gives.
        pod_meta = {**{k: v for k, v in (template.get("metadata") or {}).items() if k != "name"},
                    "generateName": f"{meta['name']}-", "ownerReferences": [owner]}
        return self.store.create(self.pods, meta["namespace"],
                                 {"metadata": pod_meta, "spec": template["spec"]})


def _conditions(*entries: tuple[str, str, str]) -> list[Obj]:
    stamp = now()
    return [{"type": t, "status": "True", "reason": r, "message": m, "lastProbeTime": stamp,
             "lastTransitionTime": stamp} for t, r, m in entries]


def _finished(job: Obj) -> bool:
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or [])


def _owned_by(pod: Obj, job: Obj) -> bool:
    return any(r.get("uid") == job["metadata"]["uid"]
               for r in pod["metadata"].get("ownerReferences") or [])


def _ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])
