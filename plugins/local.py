"""The ``local`` executor: runs a template's process on this machine.

Every process

* sees a private ``/tmp`` (the host directory ``node_dir/tmp``) through its own mount namespace,
  so parallel nodes writing the same absolute path never collide;
* runs in its own session with stdout/stderr going straight to files (no pipes through the
  engine), and records its exit code in ``node_dir/rc`` through a tiny ``sh`` wrapper, so it
  outlives an engine crash and a restarted engine re-adopts it; ``node_dir/pid`` holds the pid and
  the process start time, to tell the process from a later one that reused its pid.

Files in ``node_dir``: ``stdout``, ``stderr``, ``pid``, ``rc``, ``tmp/`` and, when the spec has
stdin, ``stdin``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import posixpath
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from argosy.errors import ArgosyError
from argosy.plugin import Outcome, ProcessRequest, hookimpl

__all__ = ["LocalExecutor", "ProcessLost", "ProcessResult", "ProcessSpec"]

log = logging.getLogger(__name__)

_CLONE_NEWNS = 0x00020000
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 0x40000

_libc = ctypes.CDLL(None, use_errno=True)
_libc.unshare.argtypes = [ctypes.c_int]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_void_p]

# The wrapper's stdin is an O_PATH descriptor of node_dir, so it reaches node_dir through
# /proc/self/fd/0 even when node_dir lies under the /tmp that the bind mount hides, and the
# command inherits nothing but fds 0-2. ``exec`` makes "echo", "exit", ... the programs a
# container would run, not dash builtins. ``echo`` writes "N\n" in one write(), so a reader that
# sees a newline-terminated rc has the whole code: no temp file + mv (one more exec) needed.
# The wrapper catches SIGTERM (a subshell resets caught traps, so the command still gets the
# default action): it outlives the command and the grace period is the command's, as in a pod.
_WRAPPER = 'trap : TERM; i=$1; shift; (exec "$@") <"$i"; r=$?; echo $r >/proc/self/fd/0/rc; exit $r'


class ProcessLost(ArgosyError):
    """A process was started for this node but is gone without having recorded its exit code."""


@dataclass(frozen=True)
class ProcessSpec:
    argv: list[str]  # command + args, already substituted
    env: dict[str, str]  # laid over os.environ
    working_dir: str | None  # as the process sees it; None: its private /tmp
    node_dir: Path  # owned by the executor for this node; survives engine restarts
    stdin: str | None = None  # fed to the process on stdin; None: /dev/null


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int  # 128+N when killed by signal N, like a shell / Kubernetes reports
    stdout: str
    stderr: str
    started_at: float
    finished_at: float
    message: str = ""


class LocalExecutor:
    name = "local"

    def __init__(self, isolate_tmp: bool = True, grace_seconds: float = 5.0) -> None:
        self.grace_seconds = grace_seconds
        self._isolate: bool | None = None if isolate_tmp else False  # None: not probed yet

    async def run(self, spec: ProcessSpec) -> ProcessResult:
        """Run ``spec`` to completion; idempotent per ``node_dir`` (re-adopts or replays)."""
        if not spec.argv:
            raise ValueError("empty argv")
        node = Path(spec.node_dir)
        recorded = _read_rc(node)
        if recorded is not None:
            return self._result(spec, *recorded, _mtime(node / "pid"), _mtime(node / "rc"))
        owner = _read_pid(node)
        if owner is not None:
            return await self._adopt(spec, *owner)
        return await self._start(spec)

    async def kill(self, spec: ProcessSpec, grace_seconds: float | None = None) -> None:
        """SIGTERM the node's process group, SIGKILL after the grace period; record the rc."""
        node = Path(spec.node_dir)
        owner = _read_pid(node)
        pidfd = _open_pidfd(*owner) if owner else None
        if pidfd is None:
            return
        try:
            sig = await _terminate(owner[0], pidfd, _or(grace_seconds, self.grace_seconds))
        finally:
            os.close(pidfd)
        _record_kill(node, sig)

    def host_path(self, spec: ProcessSpec, path: str) -> Path:
        """Where ``path``, as the process sees it, is on the host."""
        if not self._isolated():
            cwd = spec.working_dir or os.path.join(spec.node_dir, "tmp")
            return Path(posixpath.normpath(posixpath.join(cwd, path)))
        full = posixpath.normpath(posixpath.join(spec.working_dir or "/tmp", path))
        if full == "/tmp" or full.startswith("/tmp/"):
            return Path(spec.node_dir, "tmp", full[len("/tmp/"):])
        return Path(full)

    def read_file(self, spec: ProcessSpec, path: str) -> str | None:
        try:
            return self.host_path(spec, path).read_text(errors="replace")
        except FileNotFoundError:
            return None

    def write_file(self, spec: ProcessSpec, path: str, content: str) -> None:
        target = self.host_path(spec, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)

    # -- internals ------------------------------------------------------------------------

    def _isolated(self) -> bool:
        if self._isolate is None:
            reason = _probe_private_tmp()
            if reason:
                log.warning("running without a private /tmp: %s", reason)
            self._isolate = reason is None
        return self._isolate

    async def _start(self, spec: ProcessSpec) -> ProcessResult:
        node = Path(spec.node_dir)
        tmp = node / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        isolate = self._isolated()
        if spec.working_dir:  # a container runtime creates a missing workingDir, so do we
            self.host_path(spec, spec.working_dir).mkdir(parents=True, exist_ok=True)
        stdin = "/dev/null"
        if spec.stdin is not None:
            (node / "stdin").write_text(spec.stdin)
            stdin = "/proc/self/fd/0/stdin"
        env = None  # None inherits os.environ without copying it
        if spec.env or not isolate:
            env = {**os.environ, **({} if isolate else {"TMPDIR": str(tmp)}), **spec.env}
        started = time.time()
        proc = _spawn(
            ["/bin/sh", "-c", _WRAPPER, "argosy", stdin, *spec.argv], node, env,
            cwd=None if isolate else spec.working_dir or str(tmp),
            preexec=_private_tmp(tmp, spec.working_dir or "/tmp") if isolate else None,
        )
        pidfd = os.pidfd_open(proc.pid)
        try:
            # The process is ours until it is reaped, so its start time cannot change meanwhile.
            (node / "pid").write_text(f"{proc.pid} {_start_time(proc.pid)}\n")
            code = await self._wait_child(proc, pidfd, node)
        finally:
            os.close(pidfd)
        return self._result(spec, code, "", started, time.time())

    async def _wait_child(self, proc: subprocess.Popen[bytes], pidfd: int, node: Path) -> int:
        """Wait for our own child and reap it; on cancellation kill its group first."""
        try:
            await _readable(pidfd)
        except asyncio.CancelledError:
            sig = signal.SIGKILL
            try:
                sig = await _terminate(proc.pid, pidfd, self.grace_seconds)
            finally:
                proc.wait()  # SIGKILLed by now even if cancelled again: returns at once
                _record_kill(node, sig, _exit_code(proc.returncode))
            raise
        proc.poll()
        code = _exit_code(proc.returncode)
        if proc.returncode < 0:  # the wrapper itself was killed, so it recorded nothing
            _record_rc(node, code, f"killed: {signal.Signals(-proc.returncode).name}")
        return code

    async def _adopt(self, spec: ProcessSpec, pid: int, start: str) -> ProcessResult:
        """Wait for a process an earlier engine started, and return what it recorded."""
        node = Path(spec.node_dir)
        pidfd = _open_pidfd(pid, start)
        if pidfd is not None:
            try:
                await _readable(pidfd)
            except asyncio.CancelledError:
                _record_kill(node, await _terminate(pid, pidfd, self.grace_seconds))
                raise
            finally:
                os.close(pidfd)
        recorded = _read_rc(node)
        if recorded is None:
            raise ProcessLost(f"process {pid} of {node} ended without recording its exit code")
        return self._result(spec, *recorded, _mtime(node / "pid"), _mtime(node / "rc"))

    def _result(self, spec: ProcessSpec, code: int, message: str, started: float,
                finished: float) -> ProcessResult:
        node = Path(spec.node_dir)
        if code == 127 and not message:
            message = self._not_found(spec)
        return ProcessResult(code, _read_text(node / "stdout"), _read_text(node / "stderr"),
                             started, finished, message)

    def _not_found(self, spec: ProcessSpec) -> str:
        """Argo-style message if argv[0] does not resolve to a file (rc 127 alone is ambiguous)."""
        cmd = spec.argv[0]
        if "/" in cmd:
            missing = not self.host_path(spec, cmd).exists()
            return f'no such file or directory: "{cmd}"' if missing else ""
        path = spec.env.get("PATH", os.environ.get("PATH", os.defpath))
        if shutil.which(cmd, path=path):
            return ""
        return f'executable file not found in $PATH: "{cmd}"'


# -- spawning -----------------------------------------------------------------------------


def _spawn(argv: list[str], node: Path, env: dict[str, str] | None, cwd: str | None,
           preexec: Callable[[], None] | None) -> subprocess.Popen[bytes]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    out = os.open(node / "stdout", flags, 0o644)
    err = os.open(node / "stderr", flags, 0o644)
    here = os.open(node, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        proc = subprocess.Popen(argv, stdin=here, stdout=out, stderr=err, env=env, cwd=cwd,
                                preexec_fn=preexec, start_new_session=True)
    finally:
        os.close(out)
        os.close(err)
        os.close(here)
    return proc




def _private_tmp(tmp: Path, cwd: str) -> Callable[[], None]:
    """A preexec_fn giving the child a mount namespace with ``tmp`` bound onto /tmp."""
    source = os.fsencode(os.path.abspath(tmp))

    def enter() -> None:
        if _libc.unshare(_CLONE_NEWNS) != 0:
            _raise_errno("unshare(CLONE_NEWNS)")
        # Private first, or the bind mount would propagate back into the host's namespace.
        if _libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
            _raise_errno("making / private")
        if _libc.mount(source, b"/tmp", None, _MS_BIND | _MS_REC, None) != 0:
            _raise_errno("bind-mounting onto /tmp")
        os.chdir(cwd)  # after the mount: a cwd under /tmp must be the node's

    return enter


def _raise_errno(what: str) -> None:
    err = ctypes.get_errno()
    raise OSError(err, f"{what}: {os.strerror(err)}")


def _probe_private_tmp() -> str | None:
    """Why processes cannot get a private /tmp here, or None if they can."""
    enter = _private_tmp(Path("/tmp"), "/")
    r, w = os.pipe()

    def child() -> None:
        try:
            enter()
        except OSError as e:  # the parent only sees "Exception occurred in preexec_fn"
            os.write(w, str(e).encode())
            raise

    try:
        subprocess.run(["/bin/sh", "-c", ":"], preexec_fn=child, check=True)
        return None
    except (OSError, subprocess.SubprocessError) as e:
        os.close(w)
        w = -1
        return os.read(r, 4096).decode(errors="replace") or str(e)
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


# -- waiting and killing ------------------------------------------------------------------


async def _readable(fd: int, timeout: float | None = None) -> bool:
    """Wait until a pidfd is readable (its process exited); False on timeout.

    No child watcher: asyncio's makes a thread per child on 3.11.
    """
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def ready() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(fd, ready)
    try:
        async with asyncio.timeout(timeout):
            await done
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)


async def _terminate(pid: int, pidfd: int, grace: float) -> int:
    """SIGTERM the group led by ``pid``, SIGKILL after ``grace``; the signal that ended it."""
    sig = signal.SIGTERM
    _killpg(pid, signal.SIGTERM)
    try:
        if not await _readable(pidfd, grace):
            sig = signal.SIGKILL
    finally:
        _killpg(pid, signal.SIGKILL)  # also members that outlived the leader, e.g. `sleep &`
    if sig == signal.SIGKILL:
        await _readable(pidfd)
    return sig


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _open_pidfd(pid: int, start: str) -> int | None:
    """A pidfd for ``pid`` if it is still the process that was started, else None."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    # Checked after pidfd_open: the pidfd now pins the process the start time was read from.
    if _start_time(pid) != start:
        os.close(fd)
        return None
    return fd


# -- node_dir files -----------------------------------------------------------------------


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks since boot)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return None
    # comm (field 2) may hold spaces and parentheses: split after its closing one.
    return stat[stat.rindex(b")") + 2:].split()[19].decode()


def _read_pid(node: Path) -> tuple[int, str] | None:
    try:
        pid, start = (node / "pid").read_text().split()
    except FileNotFoundError:
        return None
    except ValueError as e:  # torn write: something was started, we cannot tell what
        raise ProcessLost(f"unreadable pid file in {node}") from e
    return int(pid), start


def _read_rc(node: Path) -> tuple[int, str] | None:
    """(exit code, message) once recorded; None while missing or half written."""
    try:
        text = (node / "rc").read_text()
    except FileNotFoundError:
        return None
    if not text.endswith("\n"):
        return None
    code, _, message = text.partition("\n")
    return int(code), message.strip()


def _record_rc(node: Path, code: int, message: str) -> None:
    tmp = node / "rc.tmp"
    tmp.write_text(f"{code}\n{message}\n")
    os.replace(tmp, node / "rc")


def _record_kill(node: Path, sig: int, code: int | None = None) -> None:
    """Record that we killed the node's process with ``sig``, keeping its own exit code if any.

    The wrapper records the command's code when it outlived the command (e.g. 143, or the code
    a TERM handler chose); if it was SIGKILLed, nothing was recorded and the code is 128+sig.
    """
    if code is None:
        recorded = _read_rc(node)
        code = recorded[0] if recorded else 128 + sig
    _record_rc(node, code, f"killed: {signal.Signals(sig).name}")


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


# -- the executor plugin ----------------------------------------------------------------------

SCRIPT_FILE = "/tmp/.argosy/script"


class LocalBackend(LocalExecutor):
    """The ``local`` executor as the engine sees it: a process request in, an Outcome out."""

    async def run_process(self, request: ProcessRequest) -> Outcome:
        argv = list(request.argv)
        spec = ProcessSpec(argv=argv, env=request.env, working_dir=request.working_dir,
                           node_dir=request.node_dir)
        if request.script is not None:
            # Inside the private /tmp when isolated; otherwise a file of the node's own.
            path = SCRIPT_FILE if self._isolated() else str(request.node_dir / "script")
            self.write_file(spec, path, request.script)
            # Executable, as Argo's is: `command: [sh, -c]` runs the file as a program.
            self.host_path(spec, path).chmod(0o755)
            spec = ProcessSpec(argv=[*argv, path], env=spec.env,
                               working_dir=spec.working_dir, node_dir=spec.node_dir)
        try:
            result = await self.run(spec)
        except ProcessLost as exc:
            return Outcome("Error", str(exc))
        ok = result.exit_code == 0
        message = result.message or ("" if ok else f"Error (exit code {result.exit_code})")
        return Outcome("Succeeded" if ok else "Failed", message,
                       result=result.stdout.removesuffix("\n"), exit_code=result.exit_code,
                       read_file=lambda path: self.read_file(spec, path),
                       log=result.stdout + result.stderr)


@hookimpl
def argosy_executors() -> list[LocalBackend]:
    return [LocalBackend()]
