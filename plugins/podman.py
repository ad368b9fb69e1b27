"""The ``podman`` and ``docker`` executors: each container or script node runs in its image.

Select one with ``--executor podman`` (or ``docker``; ``container`` picks whichever is
installed, podman first), ``executor:`` in ``$ARGOSY_HOME/config.yaml``, or per workflow with
the annotation ``argosy.io/executor``. Both speak the same command line; only the binary differs,
and docker has no pods (templates that need one are rejected by the docker executor).

* The container is made as a kubelet makes a pod's main container: the image's entrypoint and
  cmd combined with ``command`` and ``args`` as Kubernetes combines them (``command`` replaces
  the entrypoint and drops the cmd, ``args`` alone replace the cmd), ``env``/``envFrom`` (values
  handed to the runtime in a file of the node's, never on its command line), ``workingDir``
  (made when the image lacks it), ``volumeMounts`` bound from host directories (``emptyDir``,
  ``hostPath``, claims: ``argosy.plugins.volumes``), ``resources.limits`` as ``--memory`` and
  ``--cpus``, ``securityContext`` (users, read-only root, privileges, capabilities), and
  ``imagePullPolicy`` (default IfNotPresent, as ``podman run`` and ``docker run`` pull).
* No network (``--network none``) unless the workflow sets ``spec.hostNetwork: true`` or has a
  daemon: then the host's, as the local executor's processes have.
* Init containers, sidecars and container sets: ``argosy.plugins.pod`` and
  ``argosy.plugins.container_set`` drive them, one request per container, and the containers
  join a podman pod of the node's (``podman pod create``) sharing its network; their volumes
  are bound into each. Exec probes run in the container (``exec``).
* A script's source is saved in the node's directory, bound read-only at ``/argo/staging`` and
  its path appended to the command, as Argo does.
* Durable: the container's name is deterministic (workflow uid and node id) and it carries the
  token kept in the node's directory, so a restarted engine finds it again and waits for it
  (or starts it, if it was created but not started) instead of running the step twice; one left
  by an earlier run of the node (``argosy retry``) is removed and made again. While it runs,
  its logs are followed into the node's ``stdout``/``stderr`` files; when it ended, they are read
  whole again, the declared output files are copied out (``cp``; output artifacts into the node's
  ``outputs/``, input artifacts are bound in as volumes) and it is removed; stop,
  terminate and deadlines stop it (SIGTERM, then SIGKILL after the grace period) and keep its
  log.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import re
import secrets
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from argosy.plugin import ArgosyError, Outcome, ProcessRequest, hookimpl
from argosy.plugins.container import result_of

log = logging.getLogger(__name__)

GRACE_SECONDS = 5  # how long stop and terminate give a container after SIGTERM
SCRIPT_DIR = "/argo/staging"  # where Argo's executor saves a script's source
COLLECTED_FILE = "container-outcome.json"  # how it ended, kept once it was collected
OUTPUTS = "outputs"  # the output artifacts copied out of the container, as outputs/N
ENV_FILE = "container-env"  # the env values, in the node's directory while the container is made
TOKEN_LABEL = "argosy.io/node-token"
UID_LABEL = "argosy.io/workflow-uid"
NODE_LABEL = "argosy.io/node-id"
WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
_PULL = {"Always": "always", "IfNotPresent": "missing", "Never": "never"}
_CPU_UNITS = {"": 1.0, "m": 1e-3}
_BYTE_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
               "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}

_NOT_YET = "by the {name} executor yet: "
_NO_PODS = ("init containers, sidecars and container sets share a pod's network, and docker "
            "has no pods")
# What docker's CLI cannot do that podman's can.
DOCKER_REJECTED = {f"Template.{key}": _NO_PODS
                   for key in ("initContainers", "sidecars", "containerSet")}
# Fields Argo knows that these executors cannot honour yet, with why (lint says so).
REJECTED_REASONS = {
    **{f"SecurityContext.{key}": "it applies runAsUser, runAsGroup, readOnlyRootFilesystem, "
       "privileged, allowPrivilegeEscalation and capabilities" for key in (
        "appArmorProfile", "procMount", "runAsNonRoot", "seLinuxOptions", "seccompProfile",
        "windowsOptions")},
    **{f"PodSecurityContext.{key}": "it applies runAsUser and runAsGroup" for key in (
        "appArmorProfile", "fsGroup", "fsGroupChangePolicy", "runAsNonRoot",
        "seLinuxChangePolicy", "seLinuxOptions", "seccompProfile", "supplementalGroups",
        "supplementalGroupsPolicy", "sysctls", "windowsOptions")},
}


# ---- the container's command line ------------------------------------------------------------


def _quantity(text: Any, units: dict[str, float], what: str) -> float:
    """A Kubernetes quantity (``512Mi``, ``1.5``, ``250m``) in base units."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z]*)\s*", str(text))
    if match is None or match.group(2) not in units:
        raise ArgosyError(f"{what}: {text!r} is not a quantity this executor understands "
                          f"(a number with one of the suffixes {', '.join(k for k in units if k)})")
    return float(match.group(1)) * units[match.group(2)]


def _main(request: ProcessRequest) -> dict[str, Any]:
    """The request's container as written, substituted: a sidecar's or init container's, else
    the template's container (or script)."""
    if request.container is not None:
        return request.container
    kind = "script" if "script" in request.template else "container"
    return request.template.get(kind) or {}


def _in_pod(request: ProcessRequest) -> bool:
    """Whether the node's pod has more containers than its main one (they share a pod)."""
    template = request.template
    return any(template.get(key) for key in ("initContainers", "sidecars", "containerSet"))


def _output_paths(request: ProcessRequest) -> list[str]:
    if (request.container or {}).get("name", "main") != "main":  # a sidecar's are not the node's
        return []
    params = (request.template.get("outputs") or {}).get("parameters") or []
    return [p["valueFrom"]["path"] for p in params if (p.get("valueFrom") or {}).get("path")]


def _artifact_paths(request: ProcessRequest) -> list[str]:
    if (request.container or {}).get("name", "main") != "main":  # a sidecar's are not the node's
        return []
    arts = (request.template.get("outputs") or {}).get("artifacts") or []
    return list(dict.fromkeys(str(a["path"]) for a in arts if a.get("path")))


def _network(workflow: dict[str, Any]) -> str:
    """The host's network when the workflow asks for it, or has a daemon: its clients reach it
    at its pod IP, which is the host's loopback (as under the local executor); else none."""
    spec = workflow.get("spec") or {}
    daemon = any(isinstance(t, dict) and t.get("daemon") is True
                 for t in spec.get("templates") or [])
    return "host" if spec.get("hostNetwork") is True or daemon else "none"


def _limits(main: dict[str, Any]) -> list[str]:
    limits = (main.get("resources") or {}).get("limits") or {}
    flags = []
    if limits.get("memory") not in (None, ""):
        memory = _quantity(limits["memory"], _BYTE_UNITS, "resources.limits.memory")
        flags.append(f"--memory={int(memory)}")
    if limits.get("cpu") not in (None, ""):
        cpus = _quantity(limits["cpu"], _CPU_UNITS, "resources.limits.cpu")
        flags.append(f"--cpus={cpus:g}")
    return flags


def _security(request: ProcessRequest, main: dict[str, Any]) -> list[str]:
    """``securityContext``: the container's over the pod's (the template's, else the
    workflow's), as a kubelet applies them."""
    template, spec = request.template, request.workflow.get("spec") or {}
    pod = template.get("securityContext") or spec.get("securityContext") or {}
    own = main.get("securityContext") or {}
    user, group = own.get("runAsUser", pod.get("runAsUser")), own.get("runAsGroup",
                                                                      pod.get("runAsGroup"))
    flags = []
    if user is not None:
        flags.append(f"--user={user}" + (f":{group}" if group is not None else ""))
    if own.get("readOnlyRootFilesystem") is True:
        flags.append("--read-only")
    if own.get("privileged") is True:
        flags.append("--privileged")
    if own.get("allowPrivilegeEscalation") is False:
        flags.append("--security-opt=no-new-privileges")
    capabilities = own.get("capabilities") or {}
    flags += [f"--cap-add={c}" for c in capabilities.get("add") or []]
    flags += [f"--cap-drop={c}" for c in capabilities.get("drop") or []]
    return flags


def create_args(request: ProcessRequest, name: str, token: str) -> list[str]:
    """``run --detach`` and its options for the node's container (env values: in a file)."""
    main = _main(request)
    policy = main.get("imagePullPolicy") or "IfNotPresent"
    if policy not in _PULL:
        raise ArgosyError(f"imagePullPolicy: {policy!r} is not one of {', '.join(_PULL)}")
    # A pod's containers share its network (given when the pod was made).
    network = f"--pod={pod_name(request)}" if _in_pod(request) \
        else f"--network={_network(request.workflow)}"
    args = ["run", "--detach", "--name", name, f"--pull={_PULL[policy]}", network,
            *_labels(request), "--label", f"{TOKEN_LABEL}={token}",
            *_limits(main), *_security(request, main)]
    if any("\n" not in value for value in request.env.values()):
        args.append(f"--env-file={Path(request.node_dir, ENV_FILE)}")
    # A value over several lines cannot be in the file: it comes from the runtime's environment.
    args += [f"--env={key}" for key, value in request.env.items() if "\n" in value]
    if main.get("workingDir"):
        args.append(f"--workdir={main['workingDir']}")
    for host, path, read_only in request.volumes:
        args.append(f"--mount=type=bind,source={host},destination={path}"
                    + (",ro=true" if read_only else ""))
    command, rest = main.get("command"), [str(a) for a in main.get("args") or []]
    if request.script is not None:
        staging = Path(request.node_dir, "staging")
        args.append(f"--mount=type=bind,source={staging},destination={SCRIPT_DIR},ro=true")
        rest.append(f"{SCRIPT_DIR}/script")
    if command:  # one program as the entrypoint (docker takes no list there), then the rest
        args.append(f"--entrypoint={command[0]}")
        rest = [*map(str, command[1:]), *rest]
    if not request.image:
        raise ArgosyError("the container has no image")
    return [*args, request.image, *rest]


def _labels(request: ProcessRequest) -> list[str]:
    meta = request.workflow.get("metadata") or {}
    return ["--label", f"{UID_LABEL}={meta.get('uid', '')}",
            "--label", f"{NODE_LABEL}={request.node.get('id', '')}",
            "--label", f"{WORKFLOW_LABEL}={meta.get('name', '')}"]


def container_name(request: ProcessRequest) -> str:
    """Deterministic per workflow, node and container, so a restarted engine finds it."""
    uid = str((request.workflow.get("metadata") or {}).get("uid") or "")
    node = re.sub(r"[^a-zA-Z0-9_.-]", "-", str(request.node.get("id") or "node"))
    name = f"argosy-{uid[:8]}-{node}" if uid else f"argosy-{node}"
    return f"{name}-{request.container['name']}" if request.container is not None else name


def pod_name(request: ProcessRequest) -> str:
    """The node's pod, when its template has init containers, sidecars or is a daemon."""
    return container_name(replace(request, container=None)) + "-pod"


# ---- the executor ------------------------------------------------------------------------------


class ContainerExecutor:
    """Runs each container and script node in its image with a container runtime's CLI."""

    pulls_images = True  # command and args reach it as written: the image's entrypoint applies
    binds_host_volumes = True  # ProcessRequest.volumes: host directories for volumeMounts
    wants_env = True  # ProcessRequest.env: the container's env, ConfigMaps and Secrets read
    runs_pod_containers = True  # a pod's init containers and sidecars: one request each

    def __init__(self, name: str, binaries: tuple[str, ...]) -> None:
        self.name = name
        self.binaries = binaries
        self.detached = False
        self.grace_seconds = GRACE_SECONDS
        reasons = {**REJECTED_REASONS, **(DOCKER_REJECTED if "podman" not in binaries else {})}
        self.rejects = {field: _NOT_YET.format(name=name) + why for field, why in reasons.items()}

    def binary(self) -> str:
        for binary in self.binaries:
            if path := shutil.which(binary):
                return path
        raise ArgosyError(f"the {self.name} executor needs {' or '.join(self.binaries)}, and "
                          "none is installed on this machine (see the README: install podman "
                          "or docker)")

    def log_files(self, node_dir: Path) -> list[Path]:
        """What the container printed, saved when it ended (or was stopped)."""
        return [Path(node_dir, "stdout"), Path(node_dir, "stderr")]

    async def run_process(self, request: ProcessRequest) -> Outcome:
        logs = self.log_files(request.node_dir)
        with contextlib.suppress(FileNotFoundError):  # collected, then the engine died
            return self._outcome(request.node_dir,
                                 json.loads(Path(request.node_dir, COLLECTED_FILE).read_text()))
        try:
            request.node_dir.mkdir(parents=True, exist_ok=True)
            cli = Cli(self.binary(), {k: v for k, v in request.env.items() if "\n" in v},
                      request.node_dir)
            name = container_name(request)
            token, fresh = _token(request.node_dir)
        except ArgosyError as exc:
            return Outcome("Error", str(exc), log_files=logs)
        follow: asyncio.Future[None] | None = None
        try:
            await self._ready(cli, name, token, fresh, request)
            if request.started is not None:
                request.started()
            # Its log reaches the node's files as it prints (`argosy logs -f` reads them).
            follow = asyncio.ensure_future(self._save_logs(cli, name, request.node_dir,
                                                           follow=True))
            await cli.run("wait", name)
            follow.cancel()  # _collect reads the whole log once it ended
        except ArgosyError as exc:  # it could not be made, or was removed by someone else
            return Outcome("Error", str(exc), log_files=logs)
        except asyncio.CancelledError:
            if follow is not None:
                follow.cancel()
            if not self.detached:  # stop, terminate, deadline: it goes, its log stays
                await asyncio.shield(self._stop(cli, name, request.node_dir))
            raise
        return await self._collect(cli, name, request)

    async def exec_process(self, request: ProcessRequest, argv: list[str]) -> int:
        """Run ``argv`` in the (running) container ``request`` made, as an exec probe does."""
        cli = Cli(self.binary(), {}, request.node_dir)
        # A probe past its timeout is cancelled: its exec goes with it.
        code, _out, _err = await cli.call("exec", container_name(request), *argv, kill=True)
        return code

    async def pod_ended(self, request: ProcessRequest) -> None:
        """All the pod's containers ended: the pod (its shared network) goes too."""
        with contextlib.suppress(ArgosyError, OSError):
            cli = Cli(self.binary(), {}, request.node_dir)
            await cli.call("pod", "rm", "--force", pod_name(request))

    # -- internals

    async def _ready(self, cli: Cli, name: str, token: str, fresh: bool,
                     request: ProcessRequest) -> None:
        """The node's container running: adopted when it is this node run's, else made (a
        ``fresh`` token, made just now, has no container yet: nothing to look for)."""
        if not fresh:
            state = await cli.inspect(name)
            if state is not None and (state["Config"].get("Labels") or {}).get(TOKEN_LABEL) \
                    == token:
                if state["State"].get("Status") in ("created", "configured"):
                    await self._start(cli, name, request, "")
                return
        if request.script is not None:
            _save_script(request.node_dir, request.script)
        if _in_pod(request):
            await _make_pod(cli, request)
        code, err = await self._run(cli, name, token, request)
        if code != 0 and "already in use" in err:
            log.info("removing container %s: it belongs to an earlier run of this node", name)
            await cli.run("rm", "--force", name)
            code, err = await self._run(cli, name, token, request)
        if code != 0:
            workdir = _main(request).get("workingDir")
            if not (workdir and "workdir" in err and "does not exist" in err):
                await cli.call("rm", "--force", name)  # whatever it made of it
                raise ArgosyError(_create_failure(request, err))
            await self._start(cli, name, request, workdir)

    async def _run(self, cli: Cli, name: str, token: str,
                   request: ProcessRequest) -> tuple[int, str]:
        """Create and start the container in one call (one less than create, then start)."""
        env_file = _save_env(request.node_dir, request.env)
        try:
            code, _out, err = await cli.call(*create_args(request, name, token))
        finally:
            env_file.unlink(missing_ok=True)
        return code, err

    async def _start(self, cli: Cli, name: str, request: ProcessRequest, workdir: str) -> None:
        """Start a created container; ``workdir``: make it first (a kubelet's runtime makes a
        missing workingDir, podman refuses to start without it)."""
        if workdir:
            await cli.call("cp", "-", f"{name}:/", stdin=_directory_tar(workdir))
        code, _out, err = await cli.call("start", name)
        if code != 0:
            await self._save_logs(cli, name, request.node_dir)
            await cli.call("rm", "--force", name)
            raise ArgosyError(f"starting container {name}: {_last_line(err)}")

    async def _collect(self, cli: Cli, name: str, request: ProcessRequest) -> Outcome:
        """How the container ended, its logs and output files, recorded in the node's directory
        before the container is removed (an engine dying in between finds the record)."""
        state, _saved = await asyncio.gather(cli.inspect(name),
                                             self._save_logs(cli, name, request.node_dir))
        if state is None:
            return Outcome("Error", f"container {name} was removed before it was collected",
                           log_files=self.log_files(request.node_dir))
        status = state["State"]
        code = int(status.get("ExitCode") or 0)
        # conmon marks a kill for memory in its directory (the node's) where the runtime does
        # not tell it (cgroups v1).
        oom = status.get("OOMKilled") or Path(request.node_dir, "oom").exists()
        reason = "OOMKilled" if oom else "Error"
        record = {"exitCode": code,
                  "message": status.get("Error") or ("" if code == 0 else
                                                     f"{reason} (exit code {code})"),
                  "files": {path: await cli.read(name, path)
                            for path in _output_paths(request)},
                  "artifacts": {}}
        try:
            record["artifacts"] = await self._copy_artifacts(cli, name, request)
        except ArgosyError as exc:
            await cli.call("rm", "--force", name)
            return Outcome("Error", str(exc), exit_code=code,
                           log_files=self.log_files(request.node_dir))
        path = Path(request.node_dir, COLLECTED_FILE)
        path.with_suffix(".tmp").write_text(json.dumps(record))
        os.replace(path.with_suffix(".tmp"), path)
        await cli.call("rm", "--force", name)
        return self._outcome(request.node_dir, record)

    async def _copy_artifacts(self, cli: Cli, name: str,
                              request: ProcessRequest) -> dict[str, str | None]:
        """Each output artifact's path copied out of the ended container (streamed by the
        runtime) to outputs/N of the node's directory: path -> its copy (None: not there)."""
        copies: dict[str, str | None] = {}
        for n, path in enumerate(_artifact_paths(request)):
            dest = Path(request.node_dir, OUTPUTS, str(n))
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)  # a copy an engine that died left
            else:
                dest.unlink(missing_ok=True)
            code, _out, err = await cli.call("cp", f"{name}:{path}", str(dest))
            if code != 0 and "no such file" not in err.lower():
                raise ArgosyError(f"failed to save outputs: copying {path} out of container "
                                  f"{name}: {_last_line(err)}")
            copies[path] = str(dest) if code == 0 else None
        return copies

    def _outcome(self, node_dir: Path, record: dict[str, Any]) -> Outcome:
        logs = self.log_files(node_dir)
        code = record["exitCode"]
        copies = record.get("artifacts") or {}
        return Outcome("Succeeded" if code == 0 else "Failed", record["message"],
                       result=result_of(logs[0]), exit_code=code, read_file=record["files"].get,
                       log_files=logs, locate=lambda path: _path_or_none(copies.get(path)))

    async def _save_logs(self, cli: Cli, name: str, node_dir: Path,
                         follow: bool = False) -> None:
        """The container's stdout and stderr into the node's files (empty when it is gone):
        ``follow``ed as it prints, or read whole into files that replace those (a follower
        racing the container's end may have missed or repeated its last lines)."""
        node_dir.mkdir(parents=True, exist_ok=True)
        files = [node_dir / name for name in (("stdout", "stderr") if follow else
                                              ("stdout.whole", "stderr.whole"))]
        with open(files[0], "wb") as out, open(files[1], "wb") as err, \
                contextlib.suppress(ArgosyError):
            await cli.run("logs", *(["--follow"] if follow else []), name, stdout=out,
                          stderr=err)
        if not follow:
            for path in files:
                os.replace(path, path.with_suffix(""))

    async def _stop(self, cli: Cli, name: str, node_dir: Path) -> None:
        """SIGTERM, SIGKILL after the grace period; its log is kept and the container goes."""
        with contextlib.suppress(Exception):
            await cli.call("stop", f"--time={self.grace_seconds}", name)
            await self._save_logs(cli, name, node_dir)
            await cli.call("rm", "--force", name)


class Cli:
    """The runtime's command line, with the container's env values over several lines in its
    environment (so a Secret's value never shows in a process list)."""

    def __init__(self, binary: str, env: dict[str, str], cwd: Path) -> None:
        self.binary = binary
        self.env = {**os.environ, **env}
        self.cwd = cwd  # conmon leaves files (an "oom" marker) in the directory it started in

    async def call(self, *args: str, stdin: bytes | None = None,
                   kill: bool = False) -> tuple[int, bytes, str]:
        """Run a command; cancelled, it is let finish (what it makes is then there to stop),
        or killed (``kill``)."""
        proc = await asyncio.create_subprocess_exec(
            self.binary, *args, env=self.env, cwd=self.cwd,
            stdin=asyncio.subprocess.PIPE if stdin else
            asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await proc.communicate(stdin)
        except asyncio.CancelledError:
            if kill:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            await asyncio.shield(proc.wait())
            raise
        return proc.returncode or 0, out, err.decode(errors="replace")

    async def run(self, *args: str, stdout: Any = asyncio.subprocess.DEVNULL,
                  stderr: Any = None) -> None:
        """Run a command whose failure is an error; its output goes where it is asked."""
        proc = await asyncio.create_subprocess_exec(
            self.binary, *args, env=self.env, cwd=self.cwd, stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr if stderr is not None else asyncio.subprocess.PIPE)
        try:
            _out, err = await proc.communicate()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise
        if proc.returncode:
            text = err.decode(errors="replace") if err else ""
            raise ArgosyError(f"{Path(self.binary).name} {args[0]} {args[-1]}: "
                              f"{_last_line(text) or f'exit code {proc.returncode}'}")

    async def inspect(self, name: str) -> dict[str, Any] | None:
        code, out, err = await self.call("container", "inspect", name)
        if code != 0:
            if "no such" in err.lower():
                return None
            raise ArgosyError(f"inspecting container {name}: {_last_line(err)}")
        return json.loads(out)[0]

    async def read(self, name: str, path: str) -> str | None:
        """A file of the (ended) container, or None when it has none there."""
        import tarfile  # for a path read out of a container

        code, out, _err = await self.call("cp", f"{name}:{path}", "-")
        if code != 0:
            return None
        with contextlib.suppress(tarfile.TarError), \
                tarfile.open(fileobj=io.BytesIO(out)) as tar:
            member = next((m for m in tar.getmembers() if m.isfile()), None)
            if member is not None:
                data = tar.extractfile(member)
                return data.read().decode(errors="replace") if data else None
        return None


# Pods being made, each by the first of its containers to ask: podman says a pod exists
# before its infra container does, and a container created in it then fails.
_making: dict[tuple[asyncio.AbstractEventLoop, str], asyncio.Future[None]] = {}


async def _make_pod(cli: Cli, request: ProcessRequest) -> None:
    """The node's pod, made by whichever of its containers comes first; the others wait for
    it whole (shielded: one of them stopped does not stop the making)."""
    if Path(cli.binary).name != "podman":
        raise ArgosyError(f"{_NO_PODS}: run it with podman")
    key = (asyncio.get_running_loop(), pod_name(request))
    making = _making.get(key)
    if making is None:
        making = _making[key] = asyncio.ensure_future(_create_pod(cli, request, key[1]))
        making.add_done_callback(lambda _: _made(key))
    await asyncio.shield(making)


def _made(key: tuple[asyncio.AbstractEventLoop, str]) -> None:
    """Forget the making; its error is read here too, as every waiter may have been stopped."""
    making = _making.pop(key)
    if not making.cancelled():
        making.exception()


async def _create_pod(cli: Cli, request: ProcessRequest, name: str) -> None:
    code, _out, err = await cli.call("pod", "create", "--name", name, *_labels(request),
                                     f"--network={_network(request.workflow)}")
    if code != 0 and "exists" not in err:
        raise ArgosyError(f"creating pod {name}: {_last_line(err)}")


def _path_or_none(text: str | None) -> Path | None:
    return Path(text) if text else None


def _save_script(node_dir: Path, source: str) -> None:
    staging = Path(node_dir, "staging")
    staging.mkdir(parents=True, exist_ok=True)
    script = staging / "script"
    script.write_text(source)
    script.chmod(0o755)  # executable, as Argo's is: `command: [sh, -c]` runs it as a program


def _save_env(node_dir: Path, env: dict[str, str]) -> Path:
    """The env values of one line, as ``--env-file`` reads them (verbatim after the ``=``)."""
    node_dir.mkdir(parents=True, exist_ok=True)
    path = Path(node_dir, ENV_FILE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w") as out:
        out.writelines(f"{k}={v}\n" for k, v in env.items() if "\n" not in v)
    return path


def _directory_tar(path: str) -> bytes:
    """A tar holding only the directory ``path``: extracting it makes the missing parents and
    leaves existing ones (``/tmp``…) as they are."""
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(path.strip("/"))
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
    return buffer.getvalue()


def _create_failure(request: ProcessRequest, err: str) -> str:
    """Why the container could not be made, in the pod's terms where they fit."""
    policy = _main(request).get("imagePullPolicy") or "IfNotPresent"
    text = _last_line(err)
    lowered = err.lower()
    if policy == "Never" and ("image not known" in lowered or "no such image" in lowered):
        return (f'image "{request.image}" is not present on this machine and its '
                "imagePullPolicy is Never: pull or build it first")
    if any(word in lowered for word in ("pull", "registry", "manifest unknown",
                                        "image not known", "initializing source")):
        return f'image "{request.image}" cannot be pulled (imagePullPolicy {policy}): {text}'
    return f"creating the container: {text}"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1].removeprefix("Error: ") if lines else ""


def _token(node_dir: Path) -> tuple[str, bool]:
    """This node run's token, made once and kept in its directory (a retry empties that), and
    whether it was made just now."""
    path = Path(node_dir, "container-token")
    with contextlib.suppress(FileNotFoundError):
        if token := path.read_text().strip():
            return token, False
    node_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(token)
    os.replace(tmp, path)
    return token, True


@hookimpl
def argosy_executors() -> list[ContainerExecutor]:
    return [ContainerExecutor("podman", ("podman",)), ContainerExecutor("docker", ("docker",)),
            ContainerExecutor("container", ("podman", "docker"))]
