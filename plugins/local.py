"""The ``local`` executor: runs a template's process on this machine.

Every process

* sees a private ``/tmp`` (the host directory ``node_dir/tmp``) through its own mount namespace,
  so parallel nodes writing the same absolute path never collide, and an empty read-only
  directory in place of ``$ARGOSY_HOME`` and the runtime directory of every node;
* runs in a PID namespace of its own, under a small init: it can signal only its node's
  processes, and they all end with it; that namespace's ``pid_max`` (its own on Linux 6.14 and
  later) bounds how many it may have at once (``ARGOSY_PIDS_LIMIT``), so a fork bomb stops
  there;
* sees the host's files through a writable layer of its own (an overlay of each writable disk,
  upper layers in ``node_dir/layers/<mount point quoted>/upper``): what it writes outside
  ``/tmp`` lands there, never on the host, and goes with the node's directory; a missing
  ``workingDir`` is made in that view. Kernel views and RAM disks (``/dev``, ``/sys``) are the
  host's, bound, and other containers' roots (overlays below ``/``) bound read-only;
  ``/dev/shm`` is a 64 MiB tmpfs of its own, as Docker gives one. In a user namespace the
  mounts under ``/`` are locked to it, so ``/`` cannot be one overlay: the root is then a
  directory of the node's holding an overlay of each top-level directory;
* gets its template's env over the host's basics (``_INHERITED``), nothing of argosy's own;
* runs in its own session with stdout/stderr going straight to files (no pipes through the
  engine), so it outlives an engine crash and a restarted engine re-adopts it; ``node_dir/pid``
  holds the pid and the process start time, to tell the process from a later one that reused its
  pid, and ``node_dir/rc`` its exit code once it ended.

Files in ``node_dir``: ``stdout``, ``stderr``, ``pid``, ``rc``, ``tmp/``, ``root/`` (its view's
mount point), ``layers/`` and, when the spec has stdin, ``stdin``.

How processes are started: a fork server
-----------------------------------------
Processes are not started by the engine but by one small helper per engine process, the fork
server (``python -I -S``, stdlib only, ~10 MB), which the engine talks to over Unix sockets,
one per event loop, with requests pipelined: the engine goes on scheduling while the server
starts processes, and what piled up meanwhile the server reads at once and answers in one
message (one wake-up of the engine for them all). For each process the server

1. creates the node's directories and opens its stdout/stderr/stdin files,
2. lays the node's view out as a plan: the list of mounts that make it (private ``/``, an
   overlay of each writable disk, binds of the kernel's views, the private ``/tmp``, ``/proc``,
   ``pivot_root``), computed once per mount table, with the node's volumes added;
3. asks ``argosy-sandbox-init`` (``_sandbox.c``, built at install; one the server started,
   serving it over a socket), which forks the node's init into a PID namespace and a mount
   namespace of its own (``CLONE_NEWPID | CLONE_NEWNS``, and ``CLONE_PARENT``: the init is
   the server's child) and reports its pid: the init carries the plan out, starts the
   command there as a session leader with the files as fds 0-2, forwards SIGTERM/SIGINT to
   it, reaps orphans and exits with its status; that exit ends every process of the
   namespace (``setsid``, daemons), and ``kill -9 -1`` in a step reaches only the node's own
   processes;
4. replies with the init's pid, its start time and the read end of a "done" pipe;

and when the step exits, its init kills what is left of the node, writes ``rc`` and closes
the done pipe (it holds its only write end), so the engine waits for that pipe and finds the
exit code recorded, without waiting for the kernel to tear the node's namespaces down;
unisolated, the server writes ``rc`` and closes the pipe. Why, measured on a 2-vCPU VM (best
of several rounds, ``tests/executor/bench_spawn.py``; ``Popen(["true"]).wait()`` takes 0.6 ms
there):

* ``posix_spawn`` is a vfork: no page tables are copied, so it costs the same from any process.
  The former ``preexec_fn`` (unshare + mount in the child) made the engine ``fork()`` instead,
  whose cost grows with the engine's resident memory: ``true`` took 3.7 ms at 31 MB and 25 ms
  at 330 MB. For the same reason the node's init is a small C program, not the server's
  ~10 MB Python forked: that fork cost ~1.5 ms of CPU a node (page tables, and a copy of each
  page either side then wrote), and the init's Python ~2 ms more. The C program runs once per
  server and forks each node's init from itself (~1 MB): spawned for each node, its exec and
  the C library's start-up (which asks the CPU for its features, a trap to the hypervisor in
  a VM) cost ~0.5 ms of CPU a node more (2.3 against 1.8 ms for init, mounts and ``true``;
  spawned for a node only when its request is too big for one socket message). Where no C
  compiler was at install, or with ``ARGOSY_SANDBOX_INIT=python``, the server forks an init
  in Python that carries out the same plan (``run_plan``).
* As a user but root, the server's user namespace gives it the capabilities to mount; they
  survive the init's exec only as ambient capabilities, which the server raises and the init
  clears before it starts the step.
* No ``sh`` wrapper (its extra exec + fork cost ~1.2 ms): the init records the command's exit
  code (128+N for signal N) before it exits, and the server, the init's parent, records it if
  the init was killed first; both before the init is reaped, so whoever sees the process gone
  also sees ``rc``. Unisolated, the server spawns the command itself, with no init.
* The server parses the mount table a node's view is laid out from, and makes the plan, once,
  and again only when the table changed, rather than each init parsing its copy (~0.7 ms of
  CPU per node).
* If the engine dies, the server keeps running until the processes it started have ended and
  their codes are recorded, then exits; a restarted engine re-adopts them through the pid file
  (pidfd) and ``rc``. If the server dies, the engine starts another on the next request;
  the nodes the dead one started still record their exit codes; unisolated processes run on
  unrecorded and end as :class:`ProcessLost`.
* Without CAP_SYS_ADMIN (any user but root), the server first moves into a user namespace of
  its own (``unshare(CLONE_NEWUSER | CLONE_NEWNS)``, its uid and gid mapped to themselves):
  there it may make mount namespaces and return to its base one, so the steps get the same
  private ``/tmp`` and still run as the engine's user. Where that fails too, the engine says so
  once and runs processes unisolated; ``ARGOSY_SANDBOX=off`` asks for that.
* When the process exits, what it left goes with it (``cmd &``, nohup, setsid), as a
  container's processes end with its main one: the namespace ends with its init, and,
  unisolated, the server SIGKILLs the process group before recording ``rc``.
* Cancellation SIGTERMs the process group (the command gets its grace period, as in a pod)
  and SIGKILLs it after the grace period.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import fcntl
import functools
import logging
import marshal
import os
import posixpath
import re
import shutil
import signal
import socket
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from argosy.plugin import ArgosyError, Outcome, ProcessRequest, hookimpl
from argosy.plugins.cgroups import Cgroups, find_cgroups, limits_of, remove_cgroups
from argosy.plugins.podman import _main

__all__ = ["LocalExecutor", "ProcessLost", "ProcessResult", "ProcessSpec"]

log = logging.getLogger(__name__)

# Set to off to run steps unisolated (no private /tmp) on purpose; to tmp for a private /tmp
# and PID namespace but the host's other files writable, as before nodes had a layer of their own.
SANDBOX_ENV = "ARGOSY_SANDBOX"
_SETTINGS = {"on": "on", "1": "on", "true": "on", "yes": "on", "tmp": "tmp",
             "off": "off", "0": "off", "false": "off", "no": "off"}

# How long a re-adopter waits, after the process ended, for its recorder to write ``rc``.
_RECORD_TIMEOUT = 10.0


class ProcessLost(ArgosyError):
    """A process was started for this node but is gone without having recorded its exit code."""


@dataclass(frozen=True)
class ProcessSpec:
    argv: list[str]  # command + args, already substituted
    env: dict[str, str]  # laid over the host's basics (PATH, HOME, locale: _INHERITED)
    working_dir: str | None  # as the process sees it; None: its private /tmp
    node_dir: Path  # owned by the executor for this node; survives engine restarts
    stdin: str | None = None  # fed to the process on stdin; None: /dev/null
    started: Callable[[], None] | None = None  # called once the process runs (or is re-adopted)
    # (host path, mount path, read-only) bound into the node's view: its volumeMounts.
    volumes: tuple[tuple[str, str, bool], ...] = ()
    cgroups: tuple[str, ...] = ()  # cgroup directories the node's processes start in (limits)


# Argo's outputs.result is the last 256 kB of stdout once one final newline is trimmed.
RESULT_BYTES = 256 << 10


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int  # 128+N when killed by signal N, like a shell / Kubernetes reports
    stdout: str  # the last RESULT_BYTES + 1 bytes: the whole log is in the node's files
    stderr: str  # the same
    started_at: float
    finished_at: float
    message: str = ""


class LocalExecutor:
    name = "local"

    def __init__(self, isolate_tmp: bool | None = None, grace_seconds: float = 5.0) -> None:
        """``isolate_tmp`` None: as ``ARGOSY_SANDBOX`` says (on unless it says off)."""
        self.grace_seconds = grace_seconds
        self._wanted = isolate_tmp
        self._isolate: bool | None = None  # None: not decided yet
        self._pids: int | None = None  # a node's process bound; None: not decided yet
        # Set when the engine shuts down without stopping its workflows (Engine.detach).
        self.detached = False
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _StartSlots] = \
            weakref.WeakKeyDictionary()

    async def run(self, spec: ProcessSpec) -> ProcessResult:
        """Run ``spec`` to completion; idempotent per ``node_dir`` (re-adopts or replays)."""
        if not spec.argv:
            raise ValueError("empty argv")
        node = Path(spec.node_dir)
        if not os.path.isdir(node):  # never asked for: no process to re-adopt or replay
            return await self._start(spec)
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
            await _recorded(node, pidfd)
        finally:
            os.close(pidfd)
        _record_kill(node, sig)

    def log_files(self, node_dir: Path) -> list[Path]:
        """What the node's process printed: its stdout, then its stderr."""
        return [Path(node_dir, "stdout"), Path(node_dir, "stderr")]

    def host_path(self, spec: ProcessSpec, path: str) -> Path:
        """Where ``path``, as the process sees it, is on the host: in its private /tmp, in the
        upper layer of the file system it is on if the node wrote it, else the host's file."""
        if not self._isolated():
            cwd = spec.working_dir or os.path.join(spec.node_dir, "tmp")
            return Path(posixpath.normpath(posixpath.join(cwd, path)))
        full = posixpath.normpath(posixpath.join(spec.working_dir or "/tmp", path))
        mounted = [(mount.rstrip("/") or "/", source) for source, mount, _ro in spec.volumes
                   if full == mount or full.startswith(mount.rstrip("/") + "/")]
        if mounted:  # a volume (or input artifact) bound there: its host directory or file
            mount, source = max(mounted, key=lambda m: len(m[0]))
            return Path(source, full[len(mount):].lstrip("/")) if full != mount else Path(source)
        if full == "/tmp" or full.startswith("/tmp/"):
            return Path(spec.node_dir, "tmp", full[len("/tmp/"):])
        # The deepest layer holding it: a mount point made for a volume in a top-level
        # directory's layer (user namespaces) leaves that layer beside the one of /.
        for point in _layered_mounts(Path(spec.node_dir)):
            if full == point or full.startswith(point.rstrip("/") + "/"):
                upper = Path(spec.node_dir, "layers", _layer_name(point), "upper",
                             full[len(point):].lstrip("/"))
                if os.path.lexists(upper):
                    return upper
        return Path(full)

    def read_file(self, spec: ProcessSpec, path: str) -> str | None:
        try:
            return self.host_path(spec, path).read_text(errors="replace")
        except FileNotFoundError:
            return None

    def write_file(self, spec: ProcessSpec, path: str, content: str) -> None:
        target = self.host_path(spec, path)
        if self._layered(Path(spec.node_dir)) and not target.is_relative_to(spec.node_dir):
            # Before it starts: into the upper layer of /, never onto the host's file.
            full = posixpath.normpath(posixpath.join(spec.working_dir or "/tmp", path))
            target = Path(spec.node_dir, "layers", _layer_name("/"), "upper", full.lstrip("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)

    # -- internals ------------------------------------------------------------------------

    def _isolated(self) -> bool:
        if self._isolate is None:
            wanted = _sandbox_setting() != "off" if self._wanted is None else self._wanted
            reason = _probe_private_tmp() if wanted else None
            if reason:
                log.warning("argosy: steps run unisolated, without a private /tmp, because %s "
                            "(set %s=off to choose this and silence the notice)",
                            reason, SANDBOX_ENV)
            self._isolate = wanted and reason is None
            if self._isolate and _native_init() is None and not _python_init_chosen():
                log.warning("argosy: the sandbox's C init was not built when argosy was "
                            "installed (no C compiler?), so each node costs about 3 ms more "
                            "CPU; reinstall with a C compiler to build it (set %s=python to "
                            "choose this and silence the notice)", NATIVE_ENV)
        return self._isolate

    def _pids_limit(self) -> int:
        """How many processes a node may have (0: no bound), said once where it cannot be."""
        if self._pids is None:
            self._pids = pids_limit()
            if self._pids and not _fork_server.pids_bounded():
                log.warning("argosy: a step's process count is not bounded (%s), as this kernel "
                            "gives a PID namespace no pid_max of its own (Linux 6.14 does)",
                            PIDS_LIMIT_ENV)
                self._pids = 0
        return self._pids

    def _starting(self) -> _StartSlots:
        """The running loop's slots for processes being started (asked of the fork server and
        not yet reported started)."""
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = _StartSlots(max_starting())
        return slots

    async def wait_for_room(self) -> None:
        """Return once few enough processes wait for a start slot (the engine's launchers of
        wide fan-outs ask between batches, so a fan-out of 100,000 slow starts holds a few
        hundred nodes waiting here, not 100,000)."""
        await self._starting().room()

    def _layered(self, node: Path) -> bool:
        """Whether the node gets a writable layer of its own over the host's files."""
        return self._isolated() and _sandbox_setting() != "tmp"

    async def _start(self, spec: ProcessSpec) -> ProcessResult:
        node = Path(spec.node_dir)
        tmp = node / "tmp"  # the fork server creates it
        isolate = self._isolated()
        layered = self._layered(node)
        if spec.working_dir and not isolate:  # a container runtime creates a missing
            self.host_path(spec, spec.working_dir).mkdir(parents=True, exist_ok=True)  # one
        stdin = None
        if spec.stdin is not None:
            node.mkdir(parents=True, exist_ok=True)
            (node / "stdin").write_text(spec.stdin)
            stdin = "stdin"
        env = {**_inherited_env(), **({} if isolate else {"TMPDIR": str(tmp)}), **spec.env}
        cwd = spec.working_dir or ("/tmp" if isolate else str(tmp))
        started = time.time()
        keep = _host_tmp_subtrees(env.get("PATH", "")) if isolate else ()
        # A slot first: a node cancelled while it waits for one (a stopped fan-out) was never
        # asked of the server, so it is never started only to be killed.
        slots = self._starting()
        await slots.acquire()
        # A task of its own, shielded: once the request is out the server starts the process
        # whatever happens to us, so a cancellation waits for it and stops it like any other.
        spawning = asyncio.ensure_future(_fork_server.spawn(
            spec.argv, env, cwd, node, isolate, stdin, keep, _hidden() if isolate else (),
            layered, spec.volumes, self._pids_limit() if isolate else 0,
            spec.cgroups if isolate else ()))
        spawning.add_done_callback(lambda _: slots.release())
        try:
            spawned = await asyncio.shield(spawning)
        except asyncio.CancelledError:
            await self._stop_spawned(node, spawning)
            raise
        if spawned is not None:  # None: it could not be executed, and said so in rc and stderr
            pid, _start, done = spawned
            try:
                if spec.started is not None:
                    spec.started()
                await self._wait_done(node, pid, done)
            finally:
                os.close(done)
        recorded = _read_rc(node)
        if recorded is None:
            if spawned is None:
                raise ProcessLost(f"{spec.argv[0]!r} could not be executed; no rc in {node}")
            return await self._adopt(spec, *spawned[:2])  # the fork server died before it ended
        return self._result(spec, *recorded, started, time.time())

    async def _stop_spawned(self, node: Path,
                            spawning: asyncio.Future[tuple[int, str, int] | None]) -> None:
        with contextlib.suppress(Exception):
            spawned = await spawning
            if spawned is not None:
                pid, _start, done = spawned
                try:
                    if not self.detached:
                        _record_kill(node, await _terminate(pid, done, self.grace_seconds))
                finally:
                    os.close(done)

    async def _wait_done(self, node: Path, pid: int, done: int) -> None:
        """Wait until the fork server recorded the exit; on cancellation kill the group first."""
        try:
            await _readable(done)
        except asyncio.CancelledError:
            if not self.detached:  # a detaching engine leaves the process to its successor
                _record_kill(node, await _terminate(pid, done, self.grace_seconds))
            raise

    async def _adopt(self, spec: ProcessSpec, pid: int, start: str) -> ProcessResult:
        """Wait for a process an earlier engine started, and return what it recorded."""
        node = Path(spec.node_dir)
        pidfd = _open_pidfd(pid, start)
        if pidfd is not None:
            try:
                if spec.started is not None:
                    spec.started()
                await _readable(pidfd)
                await _recorded(node, pidfd)
            except asyncio.CancelledError:
                if not self.detached:
                    sig = await _terminate(pid, pidfd, self.grace_seconds)
                    await _recorded(node, pidfd)
                    _record_kill(node, sig)
                raise
            finally:
                os.close(pidfd)
        recorded = _read_rc(node)
        if recorded is None:
            _killpg(pid, signal.SIGKILL)  # members that outlived the leader have nobody to wait
            raise ProcessLost(f"process {pid} of {node} ended without recording its exit code")
        return self._result(spec, *recorded, _mtime(node / "pid"), _mtime(node / "rc"))

    def _result(self, spec: ProcessSpec, code: int, message: str, started: float,
                finished: float) -> ProcessResult:
        if code == 127 and not message:
            message = self._not_found(spec)
        stdout, stderr = (_read_tail(os.path.join(spec.node_dir, name))
                          for name in ("stdout", "stderr"))
        return ProcessResult(code, stdout, stderr, started, finished, message)

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


# -- the fork server ------------------------------------------------------------------------

# Its source, fed on stdin to ``python -I -S`` named ``argosy-forkserver`` (that is what ps
# shows): stdlib only and no site, so it starts in ~30 ms and stays ~10 MB. fd 3 is its first
# connection to the engine; frames are marshal blobs behind a 4-byte length, answered in order
# on the connection they came on (all a read brought, in one message; a descriptor goes with
# the message its reply's frame is in). Requests: ("probe",) -> (reason or None); ("attach",)
# + a socket -> ("attached",), and the socket is one more connection; ("spawn", argv, env,
# cwd, node_dir, private /tmp?, stdin name or None, keep, hide) -> ("started", pid, start
# time) + the done pipe's read end, or ("finished",) when exec failed (rc and stderr say
# why), or ("error", message).
_FORK_SERVER = r"""
import os

os.closerange(4, os.sysconf("SC_OPEN_MAX"))  # the engine's inheritable fds are not ours to pass
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)  # was this source, read to its end
os.close(null)
import ctypes, errno, fcntl, gc, marshal, re, select, signal, socket, stat, sys

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID = 0x20000, 0x10000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_BIND, MS_REC, MS_PRIVATE, MS_REMOUNT = 0x1000, 0x4000, 0x40000, 0x20
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                       ctypes.c_void_p]
# clone(2) as a fork into new namespaces. PyDLL: the GIL stays held across it, so the child
# resumes with it as the parent does (we have no other thread).
SYS_CLONE = {"x86_64": 56, "aarch64": 220}.get(os.uname().machine)
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine)
SYS_CAPGET, SYS_CAPSET = {"x86_64": (125, 126), "aarch64": (90, 91)}.get(os.uname().machine,
                                                                          (None, None))
PR_CAP_AMBIENT = 47
MNT_DETACH = 2
OVERLAY_OPTIONS = (",volatile", "", ",volatile,userxattr", ",userxattr")
# File systems a node sees as the host's (bound, not layered): kernel views and RAM disks.
VIRTUAL = {"proc", "sysfs", "devtmpfs", "devpts", "tmpfs", "ramfs", "cgroup", "cgroup2",
           "mqueue", "securityfs", "debugfs", "tracefs", "bpf", "pstore", "configfs",
           "fusectl", "hugetlbfs", "autofs", "binfmt_misc", "efivarfs", "nsfs", "rpc_pipefs"}
pylibc = ctypes.PyDLL(None, use_errno=True)
pylibc.syscall.restype = ctypes.c_long
host_ns = None  # the mount namespace we return to after each spawn, once set up
PID_MAX = "/proc/sys/kernel/pid_max"
per_ns_pid_max = None  # whether a PID namespace has its own pid_max; None: not tried yet
sandbox = None  # why processes cannot be isolated here, "" if they can; None: not tried yet
libc.prctl(15, b"argosy-forkserver", 0, 0, 0)  # PR_SET_NAME, for ps -e and top
os.set_inheritable(3, False)  # the engine's end, never the processes' we start
# Our connections to the engine, each with what it sent that is not yet a whole request and
# the descriptors that came with it not yet taken.
engines = {socket.socket(fileno=3): (bytearray(), [])}
MAX_FDS = 64  # descriptors per message, both ways (local.py's _MAX_FDS)
# Every signal default for the process, as a shell gives it (this server ignores SIGPIPE,
# SIGXFSZ, SIGINT). glibc's posix_spawn leaves its own two (32, 33) ignored; glibc and musl
# install their handlers for those when they need them.
default = signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}  # what a node's init forwards to its step
children = {}  # pid -> (node_dir, write end of its done pipe)
euid = os.geteuid()  # a user namespace of ours maps it to itself
# The C init (_sandbox.c), whose path the engine passes as our first argument; None: run_plan.
native = sys.argv[1] if len(sys.argv) > 1 and os.access(sys.argv[1], os.X_OK) and \
    SYS_CAPGET is not None else None


def check(failed, what):
    if failed:
        err = ctypes.get_errno()
        raise OSError(err, what + ": " + os.strerror(err))


def enter_private_tmp():
    check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    # Private first, or a mount would propagate back into the host's namespace.
    check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "making / private")


def unescape(text):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def mount_table():
    # (id, parent id, mount point, file system type, read-only?, device, the directory of
    # its file system it shows) from /proc/self/mountinfo.
    table = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f.read().decode("utf-8", "surrogateescape").splitlines():
            fields = line.split(" ")
            fstype = fields[fields.index("-") + 1]
            table.append((fields[0], fields[1], unescape(fields[4]), fstype,
                          "ro" in fields[5].split(","), fields[2], unescape(fields[3])))
    return table


def own_layer(mount, parent):
    # Whether ``mount`` gets an overlay of its own in a node's view. Not kernel views, RAM
    # disks and read-only mounts (bound as they are), nor other containers' root file systems
    # (overlays below /: bound read-only, not layered once per node each), nor a directory
    # bound onto itself on the file system of the mount it is on (as container engines bind
    # their storage): that mount's overlay shows it already.
    _id, _parent, point, fstype, ro, device, shown = mount
    if fstype in VIRTUAL or ro or (fstype == "overlay" and point != "/"):
        return False
    return parent is None or parent[5] != device or \
        shown != parent[6].rstrip("/") + point[len(parent[2].rstrip("/")):]


mounts = [None, None, None]  # /proc/self/mountinfo open, its namespace, its (top, children)


def host_mounts():
    # The tree a node's view is laid out from, as (root mount, children by parent id): parsed
    # here, in the server, and again only when the mount table changed, which the kernel
    # flags on an open mountinfo as an exceptional condition (proc(5)). A node's namespace is
    # a copy of ours, so the tree is its own.
    here = os.readlink("/proc/self/ns/mnt")  # the user namespace probe() may have entered
    fd, ns, tree = mounts
    if ns != here:
        if fd is not None:
            os.close(fd)
        fd, tree = os.open("/proc/self/mountinfo", os.O_RDONLY | os.O_CLOEXEC), None
    if tree is None or select.select([], [], [fd], 0)[2]:  # polled first: no change missed
        table = mount_table()
        ids = set(m[0] for m in table)
        children = {}
        for m in table:
            children.setdefault(m[1], []).append(m)
        top = [m for m in table if m[2] == "/" and m[1] not in ids][-1:] or \
            [m for m in table if m[2] == "/"][-1:]
        tree = top[0], children
        plans.clear()
    mounts[:] = fd, here, tree
    return tree


# -- a node's view, as a plan ------------------------------------------------------------------
# The mounts that make a node's view are decided here, once per mount table (and what is kept
# and hidden), as a list of operations the node's init carries out: the C init
# (plugins/_sandbox.c documents the operations) or, without it, run_plan below. Paths are
# relative to the node's directory, the init's working directory until pivot ("C").

plans = {}  # (layered, keep, hide) -> (head, tail) of the plan, for the current mount table
overlay_ok = None  # whether / can be one overlay here (not in a user namespace); None: not tried


def layer_dir(point):
    # A layer's directory under node_dir/layers: its mount point quoted (local.py's
    # _layer_name), so no overlay option needs escaping.
    for c in "%/,:\\":
        point = point.replace(c, "%%%02X" % ord(c))
    return "layers/" + point


def bind_ops(source, target, read_only=False, flags=""):
    return [("B" + flags, source, target)] + ([("R", target)] if read_only else [])


def overlay_ops(point, target, flags=""):
    # Flag 8, for /: never the host's / bound in its place, where the node's writes would land.
    name = layer_dir(point)
    flags = str(int(flags or 0) | (8 if point == "/" else 0))
    return [("D", name + "/upper"), ("D", name + "/work"),
            ("O" + flags, point, target, name, "|".join(OVERLAY_OPTIONS))]


def layer_ops(mount, children, root, ops, parent=None):
    # ``mount`` at root + its mount point: an overlay with an upper layer of the node's own if
    # it is a writable disk (the host's, bound, where the kernel refuses one), else the host's,
    # bound (see own_layer). A mount that vanishes before the node starts is skipped ("2").
    point, fstype = mount[2], mount[3]
    target = root + point.rstrip("/")
    flags = "" if parent is None else "2"
    if not own_layer(mount, parent):
        if fstype in VIRTUAL or mount[4] or fstype == "overlay":
            ops += bind_ops(point, target, fstype == "overlay" and not mount[4], flags)
        else:  # shown by its parent's overlay; what is mounted on it is not
            layer_children(mount, children, root, ops)
        return
    if point == "/" and not overlay_ok:
        layer_entries(children.get(mount[0], ()), root, ops)
        return
    ops += overlay_ops(point, target, flags)
    layer_children(mount, children, root, ops)


def layer_children(mount, children, root, ops):
    for child in children.get(mount[0], ()):  # an overlay shows no mounts of its lower
        # Not what the node's own /proc and /tmp cover (podman's overlays under /tmp): bound
        # there, they would only be hidden, at a cost, or fail the node when they vanish.
        if not child[2].startswith(("/proc/", "/tmp/")) and child[2] not in ("/proc", "/tmp"):
            layer_ops(child, children, root, ops, mount)


def layer_entries(mounts, root, ops):
    # When / cannot be one overlay (in a user namespace its mounts are locked to it): the
    # node's root is a directory of its own, holding an overlay (or, where refused, a bind) of
    # each of the host's top-level directories, and its symlinks and files.
    base = layer_dir("/") + "/upper"
    ops += [("D", base), ("B", base, root)]
    points = dict((m[2], m) for m in mounts)
    for entry in sorted(os.listdir("/")):
        path, target = "/" + entry, root + "/" + entry
        if entry in ("proc", "tmp"):
            ops.append(("D", target))
        elif os.path.islink(path):
            ops.append(("L", target, os.readlink(path)))
        elif os.path.isdir(path):
            ops.append(("D", target))
            mount = points.get(path)
            if mount is not None and (mount[3] in VIRTUAL or mount[4]):
                ops += bind_ops(path, target)
            else:
                ops += overlay_ops(path, target)
        else:
            ops += [("F", target)] + bind_ops(path, target)


def view_plan(layered, keep, hide):
    # The node-independent (head, tail) of a plan: the node's volumes go between them.
    tree = host_mounts() if layered else None  # first: a changed mount table clears plans
    key = (layered, keep, hide)
    if key in plans:
        return plans[key]
    ops = [("P",)]
    proc = str(MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if layered:
        top, children = tree
        ops.append(("D", "root"))
        layer_ops(top, children, "root", ops)
        ops += bind_ops("tmp", "root/tmp")
        for name in keep:  # the host's /tmp subtrees the engine lives in stay visible
            ops += [("D", "root/tmp/" + name)] + bind_ops("/tmp/" + name, "root/tmp/" + name)
        # A container's own /dev/shm, with Docker's default size.
        ops.append(("M1", "shm", "root/dev/shm", "tmpfs", str(MS_NOSUID | MS_NODEV), "size=64m"))
        ops += hide_ops("root", hide)
        tail = [("M", "proc", "root/proc", "proc", proc, ""), ("C", "root")]
    else:
        for name in keep:  # bound into the private /tmp first: its bind then carries them
            ops += [("D", "tmp/" + name)] + bind_ops("/tmp/" + name, "tmp/" + name)
        ops += bind_ops("tmp", "/tmp")
        # argosy's own files (the store, its tokens, other nodes' directories): an empty,
        # read-only directory in their place, after the volumes (one may live under the store).
        tail = hide_ops("", hide)
        # A /proc of the node's PID namespace, where the kernel allows it: ps shows the node's
        # processes only; else the host's, whose pids mean nothing here.
        tail.append(("M4", "proc", "/proc", "proc", proc, ""))
    plans[key] = ops, tail
    return ops, tail


def hide_ops(root, hide):
    # An empty, read-only directory in place of each of ``hide`` that is one in the view.
    return [("M1", "none", root + path, "tmpfs", str(MS_RDONLY), "size=4k,mode=0555")
            for path in hide]


def volume_ops(root, volumes):
    # The node's volumeMounts: each host path bound at root + its mount path, read-only when
    # asked (the host's paths are still there, under the node's view).
    ops = []
    for source, target, read_only in volumes:
        make = "D" if os.path.isdir(source) else "F"
        ops += [(make, root + target)] + bind_ops(source, root + target, read_only)
    return ops


def volume_point_ops(volumes):
    # Each volume's mount point made in the upper layer that will show it, before the
    # overlays are mounted: in a user namespace the host's directories (/mnt, owned by root)
    # are not ours to make entries in through the overlay.
    if not volumes:
        return []
    table = [m for ms in host_mounts()[1].values() for m in ms]
    ids = dict((m[0], m) for m in table)
    points = [m[2] for m in table if own_layer(m, ids.get(m[1]))]  # those with a layer
    return [("D" if os.path.isdir(source) else "F", layer + "/upper/" + path)
            for source, target, _read_only in volumes
            for layer, path in volume_layers(target, points)]


def volume_layers(target, points):
    # The upper layers (and paths in them) that show ``target``: the deepest of the layered
    # mount ``points``', and its top-level directory's when / is made of those (layer_entries).
    point = max((p for p in points if target.startswith(p.rstrip("/") + "/")), key=len,
                default="/")
    rel = target[len(point.rstrip("/")) + 1:]
    places = [(point, rel)]
    if point == "/" and "/" in rel:
        first, rest = rel.split("/", 1)
        places.append(("/" + first, rest))
    return [(layer_dir(where), path) for where, path in places]


def node_plan(layered, keep, hide, volumes, pids, cgroup):
    head, tail = view_plan(layered, keep, hide)
    ops = []
    if pids:  # the node's PID namespace allocates pids below this: a fork bomb stops there
        ops.append(("W", PID_MAX, str(pids)))
    for group in cgroup or ():  # its limits: the step and all it starts are born in them
        ops.append(("W", os.path.join(group, "cgroup.procs"), "0"))
    if layered:
        ops += volume_point_ops(volumes)
    return ops + head + volume_ops("root" if layered else "", volumes) + tail


def run_plan(ops):
    # The plan carried out in Python, where the C init is not built (see _sandbox.c).
    for op in ops:
        code, flags, args = op[0][0], int(op[0][1:] or 0), op[1:]
        target = args[1] if code in "BMO" else args[0] if args else "/"
        if flags & 1 and not os.path.isdir(target):
            continue
        try:
            plan_step(code, flags, args)
        except OSError as e:
            if not (flags & 4 or (flags & 2 and e.errno == errno.ENOENT)):
                raise OSError(e.errno, "%s %s: %s" % (code, target, e.strerror))


def plan_step(code, flags, args):
    if code == "P":
        check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "making / private")
    elif code == "W":
        with open(args[0], "w") as f:
            f.write(args[1])
    elif code == "D":
        os.makedirs(args[0], exist_ok=True)
    elif code == "F":
        if not os.path.exists(args[0]):
            os.makedirs(os.path.dirname(args[0]) or ".", exist_ok=True)
            open(args[0], "a").close()
    elif code == "L":
        if not os.path.lexists(args[0]):
            os.symlink(args[1], args[0])
    elif code == "B":
        mount(args[0], args[1], None, MS_BIND | MS_REC, None)
    elif code == "R":
        kept = os.statvfs(args[0]).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)
        mount(None, args[0], None, MS_BIND | MS_REMOUNT | MS_RDONLY | kept, None)
    elif code == "M":
        mount(args[0] or None, args[1], args[2] or None, int(args[3]), args[4] or None)
    elif code == "O":
        lower = args[0].replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")
        data = "lowerdir=%s,upperdir=%s/upper,workdir=%s/work" % (lower, args[2], args[2])
        for extra in args[3].split("|"):
            if not libc.mount(b"overlay", os.fsencode(args[1]), b"overlay", 0,
                              os.fsencode(data + extra)):
                return
        check(flags & 8, "overlay")
        mount(args[0], args[1], None, MS_BIND | MS_REC, None)
    elif code == "C":
        os.chdir(args[0])
        check(SYS_PIVOT_ROOT is None or pylibc.syscall(SYS_PIVOT_ROOT, b".", b".") < 0,
              "pivot_root")
        check(libc.umount2(b".", MNT_DETACH), "detaching the host's /")
        os.chdir("/")


def mount(source, target, fstype, flags, data):
    enc = lambda s: None if s is None else os.fsencode(s)  # noqa: E731
    check(libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), "mount")


def probe_overlay(node):
    # Whether / can be one overlay in a node's namespace (not where a user namespace locks
    # its mounts), tried once in a throwaway mount namespace on scratch directories.
    global overlay_ok
    if overlay_ok is None:
        scratch = os.path.join(node, ".overlay-probe")
        for name in ("upper", "work", "root"):
            os.makedirs(os.path.join(scratch, name), exist_ok=True)
        pid = clone(CLONE_NEWNS)
        if pid == 0:
            code = 1
            try:
                os.chdir(scratch)
                # A node's overlay of /, as its plan makes it, in scratch's upper and work.
                run_plan([("P",), ("O8", "/", "root", ".", "|".join(OVERLAY_OPTIONS))])
                code = 0
            finally:
                os._exit(code)
        overlay_ok = os.waitpid(pid, 0)[1] == 0
        try:  # overlayfs leaves work/work mode 000: its owner could not remove it
            os.chmod(os.path.join(scratch, "work", "work"), 0o700)
        except OSError:
            pass
        remove_tree(scratch)
    return overlay_ok


def remove_tree(path):
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            remove_tree(entry.path)
        else:
            os.unlink(entry.path)
    os.rmdir(path)


def clone(flags):
    # A fork into new namespaces: 0 in the child, its pid in the parent.
    if SYS_CLONE is None:
        raise OSError(errno.ENOSYS, "no clone(2) number known for " + os.uname().machine)
    pid = pylibc.syscall(SYS_CLONE, ctypes.c_ulong(flags | signal.SIGCHLD), None, None, None,
                         None)
    check(pid < 0, "clone(CLONE_NEWPID)")
    return pid


def start_node(argv, env, cwd, node, layered, keep, hide, fds, volumes, pids, cgroup):
    # The node's init: PID 1 of a PID namespace and in a mount namespace of its own.
    if layered:
        probe_overlay(node)
    ops = node_plan(layered, keep, hide, volumes, pids, cgroup)
    if native is not None:
        return native_start(argv, env, cwd, node, fds, ops)
    # SIGTERM and SIGINT blocked across the clone: as PID 1 of its namespace the init would
    # drop one that came before its handler (as _sandbox.c does).
    before = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        pid = clone(CLONE_NEWPID | CLONE_NEWNS)
        if pid == 0:
            node_init(argv, env, cwd, node, fds, ops)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
    return pid


launcher = []  # the C init serving requests, as its socket; empty until the first node


def native_start(argv, env, cwd, node, fds, ops):
    # The C init (_sandbox.c) forks the node's init as our child and reports its pid: one of
    # it serving requests (no exec of it per node), or, where that fails, one spawned for it.
    fields = [field for op in ops for field in op]
    args = [node, cwd, env.get("PATH", os.defpath), str(len(fields)), *fields, *argv]
    request = launcher_request(args, env)
    for retry in (False, True):
        try:
            sock = launcher_socket()
            socket.send_fds(sock, [request], fds)
            break
        except OSError as e:  # nothing started: too big for one message, or it is gone
            if e.errno == errno.EMSGSIZE or retry:
                return spawn_init(args, env, fds)
            stop_launcher()
    report = sock.recv(8)
    if len(report) != 8:  # it died serving us: the node's init may or may not have started
        stop_launcher()
    return init_pid(report)


def launcher_socket():
    if not launcher:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            # No environment: each node's init has its step's; ours (argosy's) is nobody's
            # to see in /proc/1/environ.
            os.posix_spawn(native, ["argosy-sandbox-init", "--serve"], {},
                           file_actions=[(os.POSIX_SPAWN_DUP2, theirs.fileno(), 3)])
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        launcher.append(ours)
    return launcher[0]


def stop_launcher():
    if launcher:
        launcher.pop().close()  # it exits on our hang-up; reap() reaps it


def launcher_request(args, env):
    # One message: the count of args, the args, then the environment, each NUL-terminated,
    # as posix_spawn would take them (no NUL inside, no "=" in a name).
    items = [b"%d" % len(args), *map(os.fsencode, args),
             *(os.fsencode(k) + b"=" + os.fsencode(v) for k, v in env.items())]
    request = b"\0".join(items) + b"\0"
    if request.count(b"\0") != len(items) or any("=" in k for k in env):
        raise OSError(errno.EINVAL, "a NUL in an argument, or an environment name with '='")
    return request


def init_pid(report):
    pid = int.from_bytes(report, "little", signed=True) if len(report) == 8 else -errno.EIO
    if pid < 0:
        raise OSError(-pid, "clone(CLONE_NEWPID): " + os.strerror(-pid))
    return pid


def spawn_init(args, env, fds):
    # The C init spawned for this node: its fds 0-5 are dup2'd from fds above them (or already
    # in place), so none is overwritten before it is copied: one below 6 elsewhere is copied
    # above first.
    r, w = os.pipe()
    copies = []
    try:
        sources = []
        for i, fd in enumerate((*fds, w)):
            if fd != i and fd < 6:
                fd = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 6)
                copies.append(fd)
            sources.append(fd)
        os.posix_spawn(native, ["argosy-sandbox-init", *args], env,
                       file_actions=[(os.POSIX_SPAWN_DUP2, fd, i) for i, fd in enumerate(sources)])
        os.close(w)
        w = None
        report = os.read(r, 8)
    finally:
        for fd in copies:
            os.close(fd)
        if w is not None:
            os.close(w)
        os.close(r)
    return init_pid(report)


def node_init(argv, env, cwd, node, fds, ops):
    # PID 1 of the node, in Python (without the C init; _sandbox.c does the same): carries
    # out the plan of its view, starts the step, forwards SIGTERM and SIGINT to it (PID 1
    # gets no signal it has no handler for), reaps what is orphaned in the namespace and,
    # once the step ended, kills what is left in it (`cmd &`, setsid, nohup), as a
    # container's end does, records the step's status and exits with it. Never returns into
    # the server's loop, whatever happens. fds: stdin, stdout, stderr, the node's directory
    # and the write end of its done pipe.
    code, reason = 125, ""
    try:
        gc.disable()  # a collection would write to (so copy) the server's pages
        # Not dumpable: the step cannot reach our fds (the node's directory, on the host's side
        # of its view) through /proc/1/fd.
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()  # the engine signals the node as a process group
        fds = [fcntl.fcntl(fd, fcntl.F_DUPFD, len(fds)) for fd in fds]  # none dup2'd over
        for i, fd in enumerate(fds):
            os.dup2(fd, i, inheritable=i < 3)
        os.closerange(5, os.sysconf("SC_OPEN_MAX"))  # the engine's sockets, other nodes' pipes
        os.chdir(node)  # by path: fd 3 is of the server's mount namespace (see _sandbox.c)
        run_plan(ops)
        os.makedirs(cwd, exist_ok=True)  # as a container runtime creates a missing workingDir
        os.chdir(cwd)
        step = []
        pending = []

        def forward(sig, _frame):
            if step:
                try:
                    os.killpg(step[0], sig)
                except OSError:
                    pass
            else:
                pending.append(sig)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked since the clone
        try:
            step.append(os.posix_spawn(resolve(argv[0], env), argv, env, setsid=True,
                                       setsigdef=default, setsigmask=()))
        except OSError as e:  # as sh reports it: 127 not found, 126 not executable
            os.write(2, ("argosy: %s: %s\n" % (argv[0], e.strerror)).encode())
            code = 127 if e.errno == errno.ENOENT else 126
            return
        for sig in pending:
            forward(sig, None)
        while True:
            pid, status = os.waitpid(-1, 0)
            if pid == step[0]:
                code = os.waitstatus_to_exitcode(status)
                code = code if code >= 0 else 128 - code
                return
    except BaseException as e:
        reason = "setting up the node failed: %s" % e
        try:
            os.write(2, ("argosy: %s\n" % reason).encode())
        except BaseException:
            pass
    finally:
        node_done(code, reason)


def node_done(code, reason=""):
    # The node's end, before its namespaces are torn down (its mounts unmounted, its layers
    # let go of: milliseconds the engine need not wait for): nothing of it runs any more once
    # rc says how it ended and the done pipe closes.
    try:
        os.kill(-1, signal.SIGKILL)  # as PID 1: every other process of the namespace
    except OSError:
        pass
    try:
        while True:
            os.waitpid(-1, 0)
    except OSError:  # ChildProcessError: none left
        pass
    try:
        fd = os.open("rc", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=3)
        # One write: a reader never sees half a line. The reason is the node's message.
        os.write(fd, ("%d\n%s" % (code, reason + "\n" if reason else "")).encode())
    except OSError:
        pass  # the node's directory is gone: nobody is left to read it
    os._exit(code)  # closes the done pipe's last write end


def leave_private_tmp():
    # The spawned process alone keeps the namespace alive. Stuck in it, we must not go on.
    if libc.setns(host_ns, CLONE_NEWNS):
        raise SystemExit("argosy fork server: setns: " + os.strerror(ctypes.get_errno()))


def resolve(cmd, env):
    # PATH lookup in the process's namespace and cwd, with its PATH, as execvp would.
    if "/" in cmd:
        return cmd
    for d in env.get("PATH", os.defpath).split(os.pathsep):  # os.get_exec_path imports warnings
        path = os.path.join(d, cmd)
        try:
            if stat.S_ISREG(os.stat(path).st_mode) and os.access(path, os.X_OK):
                return path
        except OSError:
            pass
    raise OSError(errno.ENOENT, "not found")


def record(node, code, unless_recorded=False):
    flags = os.O_WRONLY | os.O_CREAT | (0 if unless_recorded else os.O_TRUNC)
    try:
        fd = os.open(node + "/rc", flags, 0o644)
    except OSError:
        return  # the node's directory is gone: nobody is left to read it
    try:
        if not (unless_recorded and os.fstat(fd).st_size):
            os.write(fd, b"%d\n" % code)  # one write: a reader never sees half a line
    finally:
        os.close(fd)


def start_time(pid):
    # Plain os calls (as in write_pid): a buffered open costs five system calls more.
    fd = os.open("/proc/%d/stat" % pid, os.O_RDONLY)
    try:
        stat_ = os.read(fd, 4096)
    finally:
        os.close(fd)
    return stat_[stat_.rindex(b")") + 2:].split()[19].decode()


def make_node_dirs(node):
    # node_dir and its tmp, made here, not in the engine (off its critical path): two mkdirs
    # in the usual case of a new node whose parent exists.
    try:
        os.mkdir(node)
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(node, exist_ok=True)
    try:
        os.mkdir(node + "/tmp")
    except FileExistsError:
        pass


def write_pid(node, pid, start):
    # Atomic, so a reader never sees a half-written pid file.
    fd = os.open(node + "/pid.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, b"%d %s\n" % (pid, start.encode()))
    finally:
        os.close(fd)
    os.replace(node + "/pid.tmp", node + "/pid")


def spawn(argv, env, cwd, node, private_tmp, stdin, keep=(), hide=(), layered=False,
          volumes=(), pids=0, cgroup=None):
    make_node_dirs(node)
    if private_tmp and probe() is not None:  # the engine probed another server, where it worked
        raise OSError(errno.EPERM, "no private /tmp here: " + sandbox)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    # Opened first: node_dir may lie under the /tmp the mount hides. Without stdin, our own
    # fd 0, /dev/null, is the step's (never closed below).
    fds = [os.open(node + "/" + stdin, os.O_RDONLY) if stdin else 0,
           os.open(node + "/stdout", flags, 0o644),
           os.open(node + "/stderr", flags, 0o644)]
    failed = None
    r, w = os.pipe()
    try:
        if private_tmp:
            # The init records rc (in this directory, hidden from its view) and holds the
            # done pipe's only write end.
            fds += [os.open(node, os.O_PATH | os.O_DIRECTORY), w]
            w = None  # closed with fds
            if pids and not pid_max_per_namespace():
                pids = 0  # the engine said so once (``("pids",)``)
            pid = start_node(argv, env, cwd, node, layered, keep, hide, fds, volumes, pids,
                             cgroup)
        else:
            try:
                os.chdir(cwd)
                ambient_capabilities(False)
                pid = os.posix_spawn(
                    resolve(argv[0], env), argv, env, setsid=True, setsigdef=default,
                    setsigmask=(), file_actions=[(os.POSIX_SPAWN_DUP2, fd, i)
                                                 for i, fd in enumerate(fds)])
            except OSError as e:
                failed = e
                os.write(fds[2], ("argosy: %s: %s\n" % (argv[0], e.strerror)).encode())
            finally:
                os.chdir("/")
                if ambient:
                    ambient_capabilities(True)
    except BaseException:
        os.close(r)
        if w is not None:
            os.close(w)
        raise
    finally:
        for fd in fds:
            if fd:  # 0: our /dev/null
                os.close(fd)
    if failed is not None:  # as sh reports it: 127 not found, 126 not executable
        record(node, 127 if failed.errno == errno.ENOENT else 126)  # back on the host's /tmp
        os.close(r)
        os.close(w)
        return ("finished",), None
    children[pid] = (node, w)
    start = start_time(pid)
    # Recorded here, before the reply: an engine killed before it reads the reply still
    # finds the process and adopts it instead of starting it again.
    write_pid(node, pid, start)
    return ("started", pid, start), r


def pid_max_per_namespace():
    # Whether /proc/sys/kernel/pid_max is a PID namespace's own (Linux 6.14 on): a node's init
    # then bounds how many processes its node may have. Before, it is the machine's: never
    # written on such kernels, and checked in a throwaway namespace, where a machine-wide
    # value would show as changed here (and be put back).
    global per_ns_pid_max
    if per_ns_pid_max is None:
        per_ns_pid_max = False
        release = re.match(r"(\d+)\.(\d+)", os.uname().release)
        if release and tuple(map(int, release.groups())) >= (6, 14):
            with open(PID_MAX) as f:
                ours = f.read()
            pid = clone(CLONE_NEWPID)
            if pid == 0:
                code = 1
                try:
                    with open(PID_MAX, "w") as f:
                        f.write(str(int(ours) - 1))
                    with open(PID_MAX) as f:
                        code = 0 if int(f.read()) == int(ours) - 1 else 1
                finally:
                    os._exit(code)
            written = os.waitpid(pid, 0)[1] == 0
            with open(PID_MAX) as f:
                per_ns_pid_max = written and f.read() == ours
            if not per_ns_pid_max:
                with open(PID_MAX, "w") as f:
                    f.write(ours)
    return per_ns_pid_max


def probe():
    # Why processes cannot get a private /tmp here, or None; sets up what they need, once.
    global sandbox
    if sandbox is None:
        reason = try_private_tmp()
        if reason is not None:
            # Not allowed to make mount namespaces (not root, or no CAP_SYS_ADMIN): in a user
            # namespace of our own we are, with our uid and gid mapped to themselves.
            reason = enter_user_namespace(reason) or try_private_tmp()
            if reason is None and native is not None:
                ambient_capabilities(True)
        sandbox = reason or ""
    return sandbox or None


ambient = []  # the capabilities raised ambient (ambient_capabilities), while they are


def ambient_capabilities(raised):
    # As a user but root, what our user namespace lets us do (mount) would not survive the
    # exec of the C init, unless ambient; the init clears them before it starts the step. A
    # process this server spawns itself (unisolated) gets them cleared first, and raised after.
    if not raised:
        if ambient:
            libc.prctl(PR_CAP_AMBIENT, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL
        return
    if not ambient:
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, us
        data = (ctypes.c_uint32 * 6)()  # (effective, permitted, inheritable) x 2 words
        check(pylibc.syscall(SYS_CAPGET, header, data) < 0, "capget")
        data[2], data[5] = data[1], data[4]  # inheritable: all we are permitted
        check(pylibc.syscall(SYS_CAPSET, header, data) < 0, "capset")
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
        ambient.extend(c for c in range(last + 1) if (data[1 + 3 * (c // 32)] >> c % 32) & 1)
    for cap in ambient:
        libc.prctl(PR_CAP_AMBIENT, 2, cap, 0, 0)  # PR_CAP_AMBIENT_RAISE


def try_private_tmp():
    global host_ns
    if host_ns is not None:
        os.close(host_ns)  # the namespace we were in before entering a user namespace
    host_ns = os.open("/proc/self/ns/mnt", os.O_RDONLY)
    here = os.readlink("/proc/self/ns/mnt")
    try:
        enter_private_tmp()
    except OSError as e:
        return str(e)
    finally:
        if os.readlink("/proc/self/ns/mnt") != here:
            leave_private_tmp()
    try:
        pid = clone(CLONE_NEWPID | CLONE_NEWNS)
    except OSError as e:
        return "no PID namespace: " + str(e)
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return None


def enter_user_namespace(why):
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS):
        return "%s, and no user namespace: %s" % (why, os.strerror(ctypes.get_errno()))
    # From here on there is no way back: without our ids mapped we could not go on.
    try:
        for name, text in (("uid_map", "%d %d 1" % (uid, uid)), ("setgroups", "deny"),
                           ("gid_map", "%d %d 1" % (gid, gid))):
            with open("/proc/self/" + name, "w") as f:
                f.write(text)
    except OSError as e:
        raise SystemExit("argosy fork server: mapping ids in a user namespace: %s" % e)
    return None


def reap():
    while True:
        try:  # WNOWAIT: record first, so the pid outlives the moment rc appears
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None:
            return
        status = info.si_status
        code = status if info.si_code == os.CLD_EXITED else 128 + status
        node, done = children.pop(info.si_pid, (None, None))
        if node is not None:
            # As a container's processes end with its main one: what it left in its process
            # group (`cmd &`, nohup) goes too. Its group cannot be reused while it is unreaped.
            try:
                os.killpg(info.si_pid, signal.SIGKILL)
            except OSError:
                pass
            # A node's init records rc itself (and the engine may have added how it killed
            # it); this is for an init that was killed before it could.
            record(node, code, unless_recorded=done is None)
            if done is not None:  # else the init closed it, after it recorded rc
                os.close(done)  # the engine's wait ends with rc on disk
            if euid != 0:
                open_work_dirs(node)
        os.waitpid(info.si_pid, 0)


def open_work_dirs(node):
    # overlayfs leaves its work/work directory mode 000: the node's owner could not remove it.
    try:
        names = os.listdir(os.path.join(node, "layers"))
    except OSError:
        return
    for name in names:
        try:
            os.chmod(os.path.join(node, "layers", name, "work", "work"), 0o700)
        except OSError:
            pass


def serve(request, fds):
    try:
        if request[0] == "probe":
            return probe(), None
        if request[0] == "pids":
            return pid_max_per_namespace(), None
        if request[0] == "attach":
            engines[socket.socket(fileno=fds.pop(0))] = (bytearray(), [])
            return ("attached",), None
        return spawn(*request[1:])
    except OSError as e:
        return ("error", str(e)), None


def answer(engine):
    # Every request the engine sent so far, read at once (they pile up while we start
    # processes), answered in order in one message: the engine wakes once for them all.
    # Descriptors come in order with the requests that carry one (attach).
    buffer, fds = engines[engine]
    try:
        data, got = socket.recv_fds(engine, 1 << 16, MAX_FDS, socket.MSG_CMSG_CLOEXEC)[:2]
    except OSError:  # ConnectionResetError: the engine died with a reply unread
        return False
    fds += got
    buffer += data
    replies = []
    while len(buffer) >= 4 and len(buffer) >= 4 + int.from_bytes(buffer[:4], "little"):
        end = 4 + int.from_bytes(buffer[:4], "little")
        replies.append(serve(marshal.loads(buffer[4:end]), fds))
        del buffer[:end]
    return send(engine, replies) and bool(data)


def send(engine, replies):
    # The replies' frames, each "started" one's done pipe going with the message its frame
    # is in (at most MAX_FDS a message: the engine's buffer for them holds no more).
    while replies:
        batch, fds = [], []
        while replies and len(fds) < MAX_FDS:
            reply, fd = replies.pop(0)
            data = marshal.dumps(reply)
            batch.append(len(data).to_bytes(4, "little") + data)
            if fd is not None:
                fds.append(fd)
        frames = b"".join(batch)
        try:
            sent = socket.send_fds(engine, [frames], fds) if fds else 0
            if sent < len(frames):  # a signal cut it short, or no descriptor went with it
                engine.sendall(frames[sent:])
        except OSError:
            return False
        finally:
            for fd in fds:
                os.close(fd)
    return True


def main():
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the engine decides; it is the one to ask
    # Once the engine is gone, stay to record the exit codes of what we started.
    while engines or children:
        ready = select.select([wake_r, *engines], [], [])[0]
        if wake_r in ready:
            with __import__("contextlib").suppress(BlockingIOError):
                while os.read(wake_r, 512):
                    pass
            reap()
        for engine in ready:
            if engine is not wake_r and not answer(engine):
                for fd in engines.pop(engine)[1]:
                    os.close(fd)
                engine.close()


gc.freeze()  # what the server is made of: never walked again, in it or in a forked init
main()
"""


def _layer_name(point: str) -> str:
    """A layer's directory name under ``node_dir/layers``: its mount point, quoted (as the
    fork server's layer_dir quotes it: no overlay option needs escaping)."""
    for c in "%/,:\\":
        point = point.replace(c, f"%{ord(c):02X}")
    return point


def _layered_mounts(node: Path) -> list[str]:
    """The mount points the node has a layer of, the deepest first."""
    try:
        names = os.listdir(node / "layers")
    except OSError:
        return []
    points = [re.sub("%([0-9A-F]{2})", lambda m: chr(int(m[1], 16)), n) for n in names]
    return sorted(points, key=len, reverse=True)


# What a process inherits of the engine's environment: what programs need to run as this user,
# as an image's ENV gives a container its PATH. Nothing of argosy's own (ARGOSY_HOME, tokens).
_INHERITED = frozenset({b"PATH", b"HOME", b"USER", b"LOGNAME", b"SHELL", b"LANG", b"LANGUAGE",
                        b"TZ", b"TERM"})


def _inherited_env() -> dict[str, str]:
    # Through environb: os.environ decodes every name and value it walks (50 µs a node).
    env = os.environb
    return {os.fsdecode(k): os.fsdecode(env[k]) for k in env
            if k in _INHERITED or k.startswith(b"LC_")}


def _hidden() -> tuple[str, ...]:
    """What a node must not see: the store's home and every node's runtime directory."""
    return _hidden_for(os.environ.get("ARGOSY_HOME"), os.environ.get("ARGOSY_RUNTIME_DIR"),
                       os.getcwd(), os.path.expanduser("~"))


@functools.lru_cache(maxsize=8)
def _hidden_for(home: str | None, runtime: str | None, *needed: str) -> tuple[str, ...]:
    """Keyed on what decides it. Never a directory holding ``needed`` ones (the engine's
    working directory, the user's home): an ``ARGOSY_HOME=~`` must not hide the home."""
    from argosy.plugin import home as argosy_home
    from argosy.plugin import runtime_root

    places = [os.path.realpath(p) for p in (argosy_home(), runtime_root()) if p]
    needs = [os.path.realpath(p) for p in needed]
    return tuple(p for p in places
                 if not any(os.path.commonpath([p, n]) == p for n in needs))


@functools.lru_cache(maxsize=64)
def _host_tmp_subtrees(path: str) -> tuple[str, ...]:
    """Top-level names under the host's /tmp that hold the engine's Python or a directory on
    the process's PATH. A node's private /tmp keeps them visible, so a virtualenv that happens
    to live in /tmp still runs; nothing else of the host's /tmp (not the engine's working
    directory) is there: a step's /tmp starts empty, as a container's does."""
    places = [sys.prefix, os.path.dirname(sys.executable), *path.split(os.pathsep)]
    names = set()
    for place in places:
        parts = os.path.abspath(place or "/").split(os.sep)
        if len(parts) > 2 and parts[1] == "tmp" and parts[2] and not parts[2].startswith("."):
            names.add(parts[2])
    return tuple(sorted(names))


class ForkServerDied(ProcessLost):
    """The fork server died with a request in flight: whether it started the process is unknown."""


Reply = tuple[tuple, int | None]  # type: ignore[type-arg]  # a reply frame, and its descriptor


class _ForkServer:
    """The engine's end of the fork server: one server per engine process, started on first use.

    A blocking control connection probes and attaches; each event loop then gets a connection
    of its own (:class:`_Channel`) on which spawn requests are pipelined, so the engine goes on
    scheduling while the server starts processes, on the other core.
    """

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._pid = 0
        self._owner = 0  # the process that started it: a forked engine must start its own
        self._retired: set[int] = set()  # servers let go of, not yet reaped
        self._lock = threading.Lock()
        self._channels: dict[asyncio.AbstractEventLoop, _Channel] = {}

    async def spawn(self, argv: list[str], env: dict[str, str], cwd: str, node: Path,
                    private_tmp: bool, stdin: str | None, keep: tuple[str, ...] = (),
                    hide: tuple[str, ...] = (), layered: bool = False,
                    volumes: tuple[tuple[str, str, bool], ...] = (), pids: int = 0,
                    cgroup: tuple[str, ...] = ()) -> tuple[int, str, int] | None:
        """Start a process; (pid, start time, done fd), or None if it could not be executed."""
        request = ("spawn", argv, env, cwd, os.path.abspath(node), private_tmp, stdin, keep,
                   hide, layered, volumes, pids, cgroup)
        for retry in (False, True):
            channel = self._channel()
            try:
                reply, done = await channel.call(request)
                break
            except (BrokenPipeError, ConnectionResetError):
                # It died with (part of) the request unread: nothing of it happened.
                channel.close(ForkServerDied("the fork server died"))
                if retry:
                    raise
        if reply[0] == "started":
            if done is None:
                raise ForkServerDied("the fork server sent no done pipe")
            return reply[1], reply[2], done
        if reply[0] == "finished":
            return None
        raise OSError(f"starting {argv[0]!r} failed: {reply[1]}")

    def start(self) -> None:
        """Start the server ahead of the first request: it boots (a Python of its own) while
        the engine goes on starting."""
        with self._lock:
            self._connected()

    def probe(self) -> str | None:
        """Why a process cannot get a private /tmp here, or None if it can."""
        try:
            return self._call(("probe",))[0]
        except OSError as e:
            return f"the fork server failed: {e}"

    def pids_bounded(self) -> bool:
        """Whether a node's init can bound its processes (a PID namespace's own pid_max)."""
        return bool(self._call(("pids",))[0])

    def _channel(self) -> _Channel:
        """The running loop's connection, attached on first use (and after a server died)."""
        loop = asyncio.get_running_loop()
        channel = self._channels.get(loop)
        if channel is not None and channel.open and channel.owner == os.getpid():
            return channel
        for stale in [lp for lp, ch in self._channels.items() if lp.is_closed() or not ch.open]:
            self._channels.pop(stale).close(None)
        ours, theirs = socket.socketpair()
        try:
            self._call(("attach",), theirs.fileno())
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        channel = self._channels[loop] = _Channel(loop, ours)
        return channel

    def _call(self, request: tuple[object, ...], fd: int | None = None) -> Reply:
        data = marshal.dumps(request)
        frame = len(data).to_bytes(4, "little") + data
        with self._lock:
            for retry in (False, True):
                sock = self._connected()
                try:
                    if fd is None:
                        sock.sendall(frame, socket.MSG_NOSIGNAL)
                    else:
                        sock.sendmsg([frame], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                                fd.to_bytes(4, sys.byteorder))],
                                     socket.MSG_NOSIGNAL)
                    return _receive(sock)
                except (BrokenPipeError, ConnectionResetError):
                    log.warning("the fork server (pid %d) died; starting another", self._pid)
                    self._close()
                    if retry:
                        raise
                except (OSError, EOFError, ValueError) as e:  # it read it, then died
                    self._close()
                    raise ForkServerDied(f"the fork server died serving a request: {e}") from e
        raise AssertionError("unreachable")

    def _connected(self) -> socket.socket:
        if self._owner != os.getpid():  # a forked engine: its parent's server is not its own
            self._sock, self._pid, self._retired, self._channels = None, 0, set(), {}
        self._retired = {pid for pid in self._retired if not _exited(pid)}
        if self._sock is not None:
            if not _exited(self._pid):
                return self._sock
            log.warning("the fork server (pid %d) died; starting another", self._pid)
            self._sock.close()
        ours, theirs = socket.socketpair()
        memfd = os.memfd_create("argosy-forkserver")
        peer, source = _above_3(theirs.fileno()), _above_3(memfd)
        os.close(memfd)
        try:
            os.write(source, _FORK_SERVER.encode())
            os.lseek(source, 0, os.SEEK_SET)
            self._pid = os.posix_spawn(
                sys.executable, ["argosy-forkserver", "-I", "-S", "-", _native_init() or ""],
                os.environ,
                file_actions=[(os.POSIX_SPAWN_DUP2, source, 0),
                              (os.POSIX_SPAWN_DUP2, peer, 3),
                              (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)],
                setsid=True)  # no terminal signals: Ctrl-C is the engine's to handle
        finally:
            theirs.close()
            os.close(peer)
            os.close(source)
        self._sock, self._owner = ours, os.getpid()
        return ours

    def _close(self) -> None:
        """Let go of the server: once every connection is closed it exits, after what it
        started has ended."""
        if self._owner != os.getpid():
            return
        for channel in self._channels.values():
            channel.close(None)
        self._channels = {}
        sock, self._sock = self._sock, None
        if sock is None:
            return
        sock.close()
        if not _exited(self._pid):
            self._retired.add(self._pid)  # reaped on a later request


NATIVE_ENV = "ARGOSY_SANDBOX_INIT"  # "python": the fork server's init in Python, not C
NATIVE_INIT = Path(__file__).with_name("argosy-sandbox-init")  # built from _sandbox.c


def _native_init() -> str | None:
    """The C init the fork server spawns for each node, or None: not built here (no C compiler
    when argosy was installed), or ``ARGOSY_SANDBOX_INIT=python`` asks for none."""
    if _python_init_chosen():
        return None
    return str(NATIVE_INIT) if os.access(NATIVE_INIT, os.X_OK) else None


def _python_init_chosen() -> bool:
    return os.environ.get(NATIVE_ENV, "").strip().lower() == "python"


def _above_3(fd: int) -> int:
    """A close-on-exec copy of ``fd`` numbered 4 or more: a spawn's dup2 of it onto 0-3 then
    always clears close-on-exec (a dup2 onto itself would not)."""
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 4)


class _Channel:
    """One event loop's connection to the fork server: requests go out as they come, and the
    replies, which the server sends in order, resolve them in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        self.loop, self.sock, self.owner = loop, sock, os.getpid()
        self.waiting: collections.deque[asyncio.Future[Reply]] = collections.deque()
        self.fds: collections.deque[int] = collections.deque()
        self.buffer = bytearray()
        # Frames not yet taken by the socket, in order. Never a blocking send: with thousands
        # of requests in one loop tick, the server could be blocked on replies we don't read.
        # A bytearray: appending to it and dropping what was sent cost no copy of the rest.
        self.outbox = bytearray()
        self.open = True
        loop.add_reader(sock.fileno(), self._read)

    def call(self, request: tuple[object, ...]) -> asyncio.Future[Reply]:
        """Queue ``request`` for the server. Raises BrokenPipeError if the server is found
        gone before any of it was sent (nothing happened); later, the future fails."""
        data = marshal.dumps(request)
        idle = not self.outbox
        self.outbox += len(data).to_bytes(4, "little")
        self.outbox += data
        if idle:
            try:
                self._flush(raising=True)
            except OSError:
                self.outbox.clear()
                raise
        future = self.loop.create_future()
        self.waiting.append(future)
        return future

    def _flush(self, raising: bool = False) -> None:
        try:
            sent = self.sock.send(self.outbox, socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
        except BlockingIOError:
            sent = 0
        except OSError as e:
            if raising:
                raise
            self.close(ForkServerDied(f"the fork server died: {e}"))
            return
        del self.outbox[:sent]
        if self.outbox:
            self.loop.add_writer(self.sock.fileno(), self._flush)
        else:
            self.loop.remove_writer(self.sock.fileno())

    def close(self, error: Exception | None) -> None:
        if not self.open:
            return
        self.open = False
        if not self.loop.is_closed():
            self.loop.remove_reader(self.sock.fileno())
            self.loop.remove_writer(self.sock.fileno())
        self.sock.close()
        for fd in self.fds:
            os.close(fd)
        for future in self.waiting:
            if not future.done():
                future.set_exception(error or ForkServerDied("the fork server connection closed"))
        self.waiting.clear()

    def _read(self) -> None:
        try:
            chunk, ancillary, _, _ = self.sock.recvmsg(
                65536, _FDS_SPACE, socket.MSG_CMSG_CLOEXEC | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            chunk, ancillary = b"", []
        self.fds.extend(_descriptors(ancillary))
        if not chunk:
            self.close(ForkServerDied("the fork server died serving a request"))
            return
        self.buffer += chunk
        while len(self.buffer) >= 4:
            end = 4 + int.from_bytes(self.buffer[:4], "little")
            if len(self.buffer) < end:
                return
            reply = marshal.loads(self.buffer[4:end])
            del self.buffer[:end]
            # Only "started" carries a descriptor, sent with the message its frame is in
            # (the server answers what it read at once in one message): in order.
            fd = self.fds.popleft() if reply[0] == "started" and self.fds else None
            future = self.waiting.popleft()
            if future.done():  # nobody is waiting for it any more
                if fd is not None:
                    os.close(fd)
            else:
                future.set_result((reply, fd))


# The most descriptors the fork server sends in one message (its MAX_FDS): more would be lost.
_MAX_FDS = 64
_FDS_SPACE = socket.CMSG_SPACE(4 * _MAX_FDS)


def _descriptors(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    fds = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += [int.from_bytes(payload[i:i + 4], sys.byteorder)
                    for i in range(0, len(payload) - len(payload) % 4, 4)]
    return fds


def _exited(pid: int) -> bool:
    """Reap our child ``pid`` if it has exited; True if it has."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] != 0
    except ChildProcessError:
        return True


def _receive(sock: socket.socket) -> Reply:
    """One reply frame and the descriptor sent with it, if any."""
    data, fds = b"", []
    while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "little"):
        chunk, ancillary, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(4),
                                              socket.MSG_CMSG_CLOEXEC)
        if not chunk:
            raise EOFError("no reply")
        data += chunk
        fds += _descriptors(ancillary)
    return marshal.loads(data[4:]), (fds[0] if fds else None)


_fork_server = _ForkServer()
atexit.register(_fork_server._close)


PIDS_LIMIT_ENV = "ARGOSY_PIDS_LIMIT"
DEFAULT_PIDS_LIMIT = 1024
_LEAST_PID_MAX = 301  # the kernel's PID_MAX_MIN


def pids_limit() -> int:
    """How many processes a node may have: ``$ARGOSY_PIDS_LIMIT``, 0 for no bound."""
    text = os.environ.get(PIDS_LIMIT_ENV, "").strip()
    if not text:
        return DEFAULT_PIDS_LIMIT
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value != 0 and not _LEAST_PID_MAX <= value <= 1 << 22:
        raise ArgosyError(f"{PIDS_LIMIT_ENV}={text!r}: expected a number of processes from "
                          f"{_LEAST_PID_MAX} (the kernel's least pid_max) to {1 << 22}, or 0 "
                          "for no bound")
    return value


STARTING_ENV = "ARGOSY_MAX_STARTING"
DEFAULT_STARTING = 128
# Nodes waiting for a start slot past which launchers wait (ask again below half of it).
BACKLOG = 512


class _StartSlots:
    """Slots for processes being started, and how many nodes wait for one."""

    def __init__(self, size: int) -> None:
        self._free = asyncio.Semaphore(size)
        self._waiting = 0
        self._room = asyncio.Event()
        self._room.set()

    async def acquire(self) -> None:
        self._waiting += 1
        if self._waiting >= BACKLOG:
            self._room.clear()
        try:
            await self._free.acquire()
        finally:
            self._waiting -= 1
            if self._waiting < BACKLOG // 2:
                self._room.set()

    def release(self) -> None:
        self._free.release()

    async def room(self) -> None:
        await self._room.wait()


def max_starting() -> int:
    """How many processes may be starting at once: ``$ARGOSY_MAX_STARTING``, by default
    ``DEFAULT_STARTING``. One fork server starts them in turn, however many CPUs there are;
    a queue this deep keeps it busy while the engine's loop turns, and lets it answer many
    requests a message (with 32, or 8, a 5,000-step fan-out took ~9%, or ~15%, longer).
    Deeper buys nothing: they only queue where a stopped node can no longer be withdrawn.
    Running processes are not counted: that is ``parallelism``'s, as in Argo."""
    text = os.environ.get(STARTING_ENV, "").strip()
    if not text:
        return DEFAULT_STARTING
    if not text.isdigit() or int(text) < 1:
        raise ArgosyError(f"{STARTING_ENV}={text!r}: expected a number of processes, 1 or more")
    return int(text)


def _sandbox_setting() -> str:
    value = os.environ.get(SANDBOX_ENV, "on")
    try:
        return _SETTINGS[value.strip().lower()]
    except KeyError:
        raise ArgosyError(f"{SANDBOX_ENV}={value!r}: expected on, tmp or off") from None


def _probe_private_tmp() -> str | None:
    """Why processes cannot get a private /tmp here, or None if they can."""
    return _fork_server.probe()


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


async def _recorded(node: Path, pidfd: int) -> None:
    """After the process ended: wait until its recorder wrote ``rc``, or is gone without.

    The fork server records the exit code before it reaps the process, so a reaped process
    with no ``rc`` had nobody left to record it.
    """
    deadline = time.monotonic() + _RECORD_TIMEOUT
    while _read_rc(node) is None and not _reaped(pidfd) and time.monotonic() < deadline:
        await asyncio.sleep(0.005)


def _reaped(pidfd: int) -> bool:
    try:
        signal.pidfd_send_signal(pidfd, 0)  # succeeds for a zombie
    except ProcessLookupError:
        return True
    return False


async def _terminate(pid: int, ended: int, grace: float) -> int:
    """SIGTERM the group led by ``pid``, SIGKILL after ``grace``; the signal that ended it.
    ``ended``: readable once ``pid`` has ended (its pidfd or its done pipe)."""
    _kill(pid, signal.SIGTERM)  # the node's init, even before it leads its group
    _killpg(pid, signal.SIGTERM)
    gone = False
    try:
        gone = await _readable(ended, grace)
    finally:
        if not gone:  # the init too, should it not lead its group yet (its first microseconds)
            _kill(pid, signal.SIGKILL)
        _killpg(pid, signal.SIGKILL)  # also members that outlived the leader, e.g. `sleep &`
    if gone:
        return signal.SIGTERM
    await _readable(ended)
    return signal.SIGKILL


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


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
    text = _read_small(os.path.join(node, "pid"))
    if text is None:
        return None
    try:
        pid, start = text.split()
    except ValueError as e:  # torn write: something was started, we cannot tell what
        raise ProcessLost(f"unreadable pid file in {node}") from e
    return int(pid), start.decode()


def _read_rc(node: Path) -> tuple[int, str] | None:
    """(exit code, message) once recorded; None while missing or half written."""
    text = _read_small(os.path.join(node, "rc"))
    if text is None or not text.endswith(b"\n"):
        return None
    code, _, message = text.decode(errors="replace").partition("\n")
    return int(code), message.strip()


def _read_small(path: str) -> bytes | None:
    """A small file's bytes, None if it is missing. Through os: a Path and a text file
    object cost four times the reading, several times per node."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        chunks = [os.read(fd, 4096)]
        while len(chunks[-1]) == 4096:  # a shorter read of a regular file is its end
            chunks.append(os.read(fd, 4096))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _record_rc(node: Path, code: int, message: str) -> None:
    tmp = node / "rc.tmp"
    with contextlib.suppress(FileNotFoundError):  # its directory is gone: nobody will read it
        tmp.write_text(f"{code}\n{message}\n")
        os.replace(tmp, node / "rc")


def _record_kill(node: Path, sig: int) -> None:
    """Record that we killed the node's process with ``sig``, keeping its own exit code if any.

    Its recorder wrote the code it ended with (e.g. 143, or the code a TERM handler chose);
    if nobody recorded one, the code is 128+sig.
    """
    recorded = _read_rc(node)
    code = recorded[0] if recorded else 128 + sig
    _record_rc(node, code, f"killed: {signal.Signals(sig).name}")


def _read_tail(path: str | Path, size: int = RESULT_BYTES + 1) -> str:
    """The last ``size`` bytes of a file: a process may print gigabytes."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return ""
    try:
        end = os.lseek(fd, 0, os.SEEK_END)
        return os.pread(fd, size, max(0, end - size)).decode("utf-8", errors="replace") \
            if end else ""
    finally:
        os.close(fd)


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

    binds_host_volumes = True  # ProcessRequest.volumes: host directories for volumeMounts

    _cgroups: Cgroups | None = None  # where nodes' cgroups go (no bases: nowhere); None: unknown

    def prepare(self) -> None:
        """Start the fork server now rather than on the first node."""
        _fork_server.start()

    async def run_process(self, request: ProcessRequest) -> Outcome:
        argv = list(request.argv)
        try:  # the request's own container's: a sidecar's or init container's are not main's
            groups = self._node_cgroups(request.node_dir, limits_of(_main(request)))
        except (ArgosyError, OSError) as e:
            return Outcome("Error", str(e))
        spec = ProcessSpec(argv=argv, env=request.env, working_dir=request.working_dir,
                           node_dir=request.node_dir, started=request.started,
                           volumes=request.volumes, cgroups=tuple(map(str, groups)))
        if spec.volumes and not self._isolated():
            return Outcome("Error", "volumeMounts need the node's own mount namespace, which "
                           f"{SANDBOX_ENV}=off or this kernel does not give it")
        if request.script is not None:
            # Inside the private /tmp when isolated; otherwise a file of the node's own.
            path = SCRIPT_FILE if self._isolated() else str(request.node_dir / "script")
            self.write_file(spec, path, request.script)
            # Executable, as Argo's is: `command: [sh, -c]` runs the file as a program.
            self.host_path(spec, path).chmod(0o755)
            spec = replace(spec, argv=[*argv, path])
        logs = self.log_files(request.node_dir)
        try:
            result = await self.run(spec)
        except ProcessLost as exc:
            return Outcome("Error", str(exc), log_files=logs)
        finally:  # a detaching engine leaves them to its successor, with the process
            oom = bool(groups) and not self.detached and await remove_cgroups(groups)
        ok = result.exit_code == 0
        message = result.message or ("" if ok else f"Error (exit code {result.exit_code})")
        if oom and not ok:  # as the kubelet reports a container the kernel killed for memory
            message = f"OOMKilled (exit code {result.exit_code})"
        stdout = result.stdout.removesuffix("\n").encode("utf-8", errors="surrogatepass")
        return Outcome("Succeeded" if ok else "Failed", message,
                       result=stdout[-RESULT_BYTES:].decode("utf-8", errors="replace"),
                       exit_code=result.exit_code,
                       read_file=lambda path: self.read_file(spec, path), log_files=logs,
                       locate=lambda path: self.host_path(spec, path))


    def _node_cgroups(self, node_dir: Path, limits: dict[str, float]) -> tuple[Path, ...]:
        """The node's cgroups with ``limits`` written; none if it has no limits or they cannot
        be enforced here (said once)."""
        if not limits:
            return ()
        if self._cgroups is None:
            found, why = find_cgroups() if self._isolated() else (None, "steps run unisolated")
            if found is None:
                log.warning("argosy: resources.limits are not enforced, because %s", why)
            self._cgroups = found or Cgroups(0, {})
        if not self._cgroups.bases:
            return ()
        return self._cgroups.make(node_dir, limits, pids_limit())


@hookimpl
def argosy_executors() -> list[LocalBackend]:
    return [LocalBackend()]
