"""The local executor against real processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from argosy.plugin import ArgosyError
from argosy.plugins import local
from argosy.plugins.local import (
    STARTING_ENV,
    LocalExecutor,
    ProcessLost,
    ProcessResult,
    ProcessSpec,
    _native_init,
)
from tests.conftest import REPO


def spec(tmp_path: Path, argv: list[str], node: str = "node", **kw: object) -> ProcessSpec:
    return ProcessSpec(argv=argv, env=kw.pop("env", {}), working_dir=kw.pop("working_dir", None),
                       node_dir=tmp_path / node, **kw)  # type: ignore[arg-type]


def run(ex: LocalExecutor, s: ProcessSpec) -> ProcessResult:
    return asyncio.run(ex.run(s))


@pytest.fixture
def ex() -> LocalExecutor:
    executor = LocalExecutor(grace_seconds=0.5)
    if not executor._isolated():
        pytest.skip("no mount namespaces here (needs root)")
    return executor


def sleeps_gone(marker: str, within: float = 5.0) -> list[int]:
    """``sleeps(marker)`` once it is empty, or what is left after ``within`` seconds: a
    group-wide SIGKILL reaches every member, but not at the same instant."""
    deadline = time.monotonic() + within
    while (left := sleeps(marker)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


def sleeps(marker: str) -> list[int]:
    """Pids of live (non-zombie) ``sleep <marker>`` processes."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if cmdline == f"sleep\0{marker}\0".encode() and state != b"Z":
            found.append(int(entry))
    return found


# What the executor starts, by the name the kernel gives it: a fork server, and the steps
# these tests run. Only such zombies are the executor's: a test worker also runs other
# suites' processes, one of which may have ended a moment ago, not yet reaped.
EXECUTOR_COMMS = {b"argosy-forkserv", b"argosy-sandbox-", b"sh", b"sleep", b"true"}


def zombie_children() -> list[int]:
    """This process's zombies of the executor's making."""
    return zombie_children_of(os.getpid(), EXECUTOR_COMMS)


def zombie_children_of(parent: int, comms: set[bytes] | None = None) -> list[int]:
    """``parent``'s zombie children, only those named one of ``comms`` if given."""
    zombies = []
    for entry in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
            comm, rest = stat[stat.index(b"(") + 1:].rsplit(b")", 1)
            fields = rest.split()
        except (OSError, ValueError):
            continue
        if fields[0] == b"Z" and int(fields[1]) == parent and (comms is None or comm in comms):
            zombies.append(int(entry))
    return zombies


def wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_stdout_and_stderr_are_captured(ex: LocalExecutor, tmp_path: Path) -> None:
    r = run(ex, spec(tmp_path, ["sh", "-c", "echo out; echo err >&2"]))
    assert (r.exit_code, r.stdout, r.stderr, r.message) == (0, "out\n", "err\n", "")
    assert r.started_at <= r.finished_at


def test_echo_is_the_program_not_the_shell_builtin(ex: LocalExecutor, tmp_path: Path) -> None:
    # dash's builtin echo would turn \n into a newline; a container runs /bin/echo.
    assert run(ex, spec(tmp_path, ["echo", "a\\nb"])).stdout == "a\\nb\n"


@pytest.mark.parametrize("code", [0, 1, 123])
def test_exit_codes(ex: LocalExecutor, tmp_path: Path, code: int) -> None:
    r = run(ex, spec(tmp_path, ["sh", "-c", f"exit {code}"]))
    assert r.exit_code == code
    assert (tmp_path / "node" / "rc").read_text().split()[0] == str(code)


def test_command_not_found(ex: LocalExecutor, tmp_path: Path) -> None:
    r = run(ex, spec(tmp_path, ["no-such-command-argosy"]))
    assert r.exit_code == 127
    assert r.message == 'executable file not found in $PATH: "no-such-command-argosy"'


def test_exit_127_from_an_existing_command_has_no_not_found_message(
    ex: LocalExecutor, tmp_path: Path
) -> None:
    r = run(ex, spec(tmp_path, ["sh", "-c", "exit 127"]))
    assert (r.exit_code, r.message) == (127, "")


def test_each_node_has_a_private_tmp(ex: LocalExecutor, tmp_path: Path) -> None:
    name = f"/tmp/argosy-num-{uuid.uuid4().hex}"
    script = f"echo $V > {name}; sleep 0.2; cat {name}"
    a = spec(tmp_path, ["sh", "-c", script], "a", env={"V": "1"})
    b = spec(tmp_path, ["sh", "-c", script], "b", env={"V": "2"})

    async def both() -> list[ProcessResult]:
        return list(await asyncio.gather(ex.run(a), ex.run(b)))

    ra, rb = asyncio.run(both())
    assert (ra.stdout, rb.stdout) == ("1\n", "2\n")
    assert (ex.read_file(a, name), ex.read_file(b, name)) == ("1\n", "2\n")
    assert ex.host_path(a, name) == tmp_path / "a" / "tmp" / name[len("/tmp/"):]
    assert not os.path.exists(name)
    assert ex.read_file(a, "/tmp/never-written") is None


def test_write_file_is_seen_by_the_process(ex: LocalExecutor, tmp_path: Path) -> None:
    s = spec(tmp_path, ["sh", "/tmp/staging/script"])
    ex.write_file(s, "/tmp/staging/script", "cat /tmp/staging/input\n")
    ex.write_file(s, "/tmp/staging/input", "hello")
    assert run(ex, s).stdout == "hello"


def test_stdin(ex: LocalExecutor, tmp_path: Path) -> None:
    assert run(ex, spec(tmp_path, ["cat"], stdin="fed")).stdout == "fed"
    assert run(ex, spec(tmp_path, ["cat"], "none")).stdout == ""  # /dev/null, never blocks


def test_working_dir(ex: LocalExecutor, tmp_path: Path) -> None:
    r = run(ex, spec(tmp_path, ["sh", "-c", "pwd; echo x > rel"], working_dir="/tmp/w/d"))
    assert r.stdout == "/tmp/w/d\n"
    assert (tmp_path / "node" / "tmp" / "w" / "d" / "rel").read_text() == "x\n"
    assert run(ex, spec(tmp_path, ["pwd"], "default")).stdout == "/tmp\n"
    assert run(ex, spec(tmp_path, ["pwd"], "host", working_dir="/")).stdout == "/\n"


def test_writes_outside_tmp_land_in_the_nodes_own_layer(ex: LocalExecutor,
                                                         tmp_path: Path) -> None:
    # As in a container: the host's files are there to read, what a node writes anywhere
    # is its own, and a workingDir outside /tmp is made in its view.
    top, src = f"/argosy-test-{uuid.uuid4().hex}", f"/argosy-src-{uuid.uuid4().hex}"
    write = spec(tmp_path, ["sh", "-c", f"mkdir -p {top} && echo a > {top}/a && pwd && "
                                        f"echo etc >> /etc/hostname-argosy && head -c3 "
                                        f"/etc/passwd"], "write", working_dir=src)
    r = run(ex, write)
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"{src}\nroo", "")
    assert not Path(top).exists() and not Path(src).exists()
    assert not Path("/etc/hostname-argosy").exists()
    assert ex.read_file(write, f"{top}/a") == "a\n"  # outputs are read from its layer
    other = run(ex, spec(tmp_path, ["sh", "-c", f"ls {top} {src} 2>&1 | wc -l"], "other"))
    assert other.stdout.strip() == "2"  # two "No such file" lines: not the first node's


def test_the_nodes_layers_are_volatile(ex: LocalExecutor, tmp_path: Path) -> None:
    # Scratch space, like a container's: its end must not sync the host's disk (that sync
    # was most of a node's cost).
    r = run(ex, spec(tmp_path, ["cat", "/proc/self/mountinfo"]))
    overlays = [line for line in r.stdout.splitlines()  # the node's own, not the host's
                if " - overlay " in line and "upperdir=layers/" in line]
    assert overlays, r.stdout
    options = [set(line.split(" - ")[1].split(" ")[2].split(",")) for line in overlays]
    assert all(o & {"volatile", "fsync=volatile"} for o in options), overlays


def test_write_file_outside_tmp_goes_into_the_nodes_layer(ex: LocalExecutor,
                                                          tmp_path: Path) -> None:
    path = f"/argosy-test-{uuid.uuid4().hex}/in"
    s = spec(tmp_path, ["cat", path])
    ex.write_file(s, path, "input\n")
    assert not Path(path).exists()
    assert run(ex, s).stdout == "input\n"


def test_env_is_laid_over_the_hosts_basics(ex: LocalExecutor, tmp_path: Path) -> None:
    s = spec(tmp_path, ["sh", "-c", 'echo "$FOO $HOME $PATH"'], env={"FOO": "bar", "HOME": "/x"})
    assert run(ex, s).stdout == f"bar /x {os.environ['PATH']}\n"


def test_cancellation_kills_the_process_group(ex: LocalExecutor, tmp_path: Path) -> None:
    marker = f"100.{uuid.uuid4().int % 10**9}"  # a unique sleep duration to find them by
    s = spec(tmp_path, ["sh", "-c", f"sleep {marker} & sleep {marker}"])

    async def cancel() -> None:
        task = asyncio.create_task(ex.run(s))
        while len(sleeps(marker)) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(cancel())
    assert sleeps_gone(marker) == []
    assert (tmp_path / "node" / "rc").read_text().split()[0] == "143"
    assert zombie_children() == []
    # The recorded result is what a later run returns, without starting anything.
    r = run(ex, s)
    assert (r.exit_code, r.message) == (143, "killed: SIGTERM")
    assert sleeps_gone(marker) == []


def test_sigkill_after_the_grace_period(ex: LocalExecutor, tmp_path: Path) -> None:
    marker = f"100.{uuid.uuid4().int % 10**9}"
    s = spec(tmp_path, ["sh", "-c", f"trap '' TERM; sleep {marker}; sleep {marker}"])

    async def cancel() -> float:
        task = asyncio.create_task(ex.run(s))
        while not sleeps(marker):
            await asyncio.sleep(0.01)
        t0 = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - t0

    assert asyncio.run(cancel()) >= 0.5
    assert sleeps_gone(marker) == []
    assert (tmp_path / "node" / "rc").read_text() == "137\nkilled: SIGKILL\n"


def test_a_stop_ends_a_process_that_leads_no_group_yet() -> None:
    # A node's init in its first microseconds, as a stop at once finds it: not yet the leader
    # of a group, and no SIGTERM handler (as PID 1 it drops the signal). The SIGKILL after the
    # grace period must reach it anyway, not only its group.
    proc = subprocess.Popen(["sh", "-c", "trap '' TERM; echo ready; exec sleep 60"],
                            stdout=subprocess.PIPE, text=True)
    pidfd = os.pidfd_open(proc.pid)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        sig = asyncio.run(asyncio.wait_for(local._terminate(proc.pid, pidfd, 0), 20))
    finally:
        os.close(pidfd)
        proc.kill()
        proc.wait()
    assert (sig, proc.returncode) == (signal.SIGKILL, -signal.SIGKILL)


def test_the_grace_period_lets_the_command_clean_up(ex: LocalExecutor, tmp_path: Path) -> None:
    marker = f"100.{uuid.uuid4().int % 10**9}"
    cleanup = "sleep 0.2; echo cleaned; exit 3"
    s = spec(tmp_path, ["sh", "-c", f"trap '{cleanup}' TERM; sleep {marker} & wait"])

    async def cancel() -> None:
        task = asyncio.create_task(ex.run(s))
        while not sleeps(marker):
            await asyncio.sleep(0.01)
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(cancel())
    r = run(ex, s)
    assert (r.exit_code, r.stdout, r.message) == (3, "cleaned\n", "killed: SIGTERM")


def test_run_is_idempotent_per_node_dir(ex: LocalExecutor, tmp_path: Path) -> None:
    s = spec(tmp_path, ["sh", "-c", "echo ran >> /tmp/count; echo out; exit 5"])
    first = run(ex, s)
    second = run(LocalExecutor(), s)
    assert ex.read_file(s, "/tmp/count") == "ran\n"
    assert (second.exit_code, second.stdout) == (first.exit_code, first.stdout) == (5, "out\n")


def test_a_second_executor_adopts_a_running_process(ex: LocalExecutor, tmp_path: Path) -> None:
    s = spec(tmp_path, ["sh", "-c", "sleep 0.3; echo done; exit 7"])

    async def both() -> tuple[ProcessResult, ProcessResult]:
        first = asyncio.create_task(ex.run(s))
        while not (tmp_path / "node" / "pid").exists():
            await asyncio.sleep(0.01)
        adopted = await LocalExecutor().run(s)
        return await first, adopted

    first, adopted = asyncio.run(both())
    assert (adopted.exit_code, adopted.stdout) == (first.exit_code, first.stdout) == (7, "done\n")


ENGINE = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from argosy.plugins.local import LocalExecutor, ProcessSpec
    spec = ProcessSpec(sys.argv[2:], {}, None, Path(sys.argv[1]))
    asyncio.run(LocalExecutor().run(spec))
""")


def crash_engine_while_running(s: ProcessSpec) -> None:
    """Start ``s`` from an engine process, then SIGKILL the engine while ``s`` still runs."""
    engine = subprocess.Popen([sys.executable, "-c", ENGINE, str(s.node_dir), *s.argv])
    try:
        wait_for(lambda: (Path(s.node_dir) / "pid").exists())
    finally:
        engine.kill()
        engine.wait()


def test_a_process_outlives_an_engine_crash_and_is_readopted(
    ex: LocalExecutor, tmp_path: Path
) -> None:
    s = spec(tmp_path, ["sh", "-c", "sleep 0.5; echo survived; echo >/tmp/f x; exit 7"])
    crash_engine_while_running(s)
    assert not (tmp_path / "node" / "rc").exists()
    r = run(ex, s)
    assert (r.exit_code, r.stdout, ex.read_file(s, "/tmp/f")) == (7, "survived\n", "x\n")


def test_kill_an_adopted_process(ex: LocalExecutor, tmp_path: Path) -> None:
    marker = f"100.{uuid.uuid4().int % 10**9}"
    s = spec(tmp_path, ["sh", "-c", f"sleep {marker} & sleep {marker}"])
    crash_engine_while_running(s)
    wait_for(lambda: len(sleeps(marker)) == 2)
    asyncio.run(ex.kill(s))
    assert sleeps_gone(marker) == []
    assert run(ex, s).exit_code == 143


def test_process_lost_when_pid_is_gone_without_rc(ex: LocalExecutor, tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    node = tmp_path / "node"
    node.mkdir()
    (node / "pid").write_text(f"{gone.pid} 12345\n")
    with pytest.raises(ProcessLost):
        run(ex, spec(tmp_path, ["true"]))


def test_process_lost_when_pid_was_reused(ex: LocalExecutor, tmp_path: Path) -> None:
    node = tmp_path / "node"
    node.mkdir()
    (node / "pid").write_text(f"{os.getpid()} 1\n")  # alive, but started at another time
    with pytest.raises(ProcessLost):
        run(ex, spec(tmp_path, ["true"]))


def test_no_leaked_descriptors_or_zombies(ex: LocalExecutor, tmp_path: Path) -> None:
    async def many() -> set[tuple[str, str]]:
        # One loop throughout: each event loop has its own connection to the fork server.
        await ex.run(spec(tmp_path, ["true"], "warm"))  # the probe and lazy imports happen once
        before = open_descriptors()
        await asyncio.gather(*(ex.run(spec(tmp_path, ["true"], f"n{i}")) for i in range(20)))
        # Only new descriptors count: what earlier tests in this worker left may close meanwhile.
        return open_descriptors() - before

    assert asyncio.run(many()) == set()
    assert zombie_children() == []


def open_descriptors() -> set[tuple[str, str]]:
    """This process's open descriptors, each with what it refers to."""
    fds = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):
            fds.add((fd, os.readlink(f"/proc/self/fd/{fd}")))
    return fds


def test_without_isolation_tmpdir_is_the_nodes(tmp_path: Path) -> None:
    ex = LocalExecutor(isolate_tmp=False)
    s = spec(tmp_path, ["sh", "-c", 'echo "$TMPDIR"; pwd; echo x > rel'])
    r = run(ex, s)
    tmp = tmp_path / "node" / "tmp"
    assert r.stdout == f"{tmp}\n{tmp}\n"
    assert ex.read_file(s, "rel") == "x\n"
    assert ex.host_path(s, "/tmp/x") == Path("/tmp/x")  # unisolated: /tmp is the host's


def test_probe_failure_warns_once_and_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from argosy.plugins import local

    monkeypatch.setattr(local, "_probe_private_tmp", lambda: "unshare: Operation not permitted")
    ex = LocalExecutor()
    for name in ("a", "b"):
        r = run(ex, spec(tmp_path, ["sh", "-c", 'echo "$TMPDIR"'], name))
        assert r.stdout == f"{tmp_path / name / 'tmp'}\n"
    warnings = [m for m in caplog.messages if "unisolated" in m]
    assert warnings == ["argosy: steps run unisolated, without a private /tmp, because unshare: "
                        "Operation not permitted (set ARGOSY_SANDBOX=off to choose this and "
                        "silence the notice)"]


def test_an_install_without_the_c_init_says_so_once(
    ex: LocalExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(local, "NATIVE_INIT", tmp_path / "not-built")
    said = {}
    for wanted in ("", "python"):  # python: chosen, so silent
        monkeypatch.setenv("ARGOSY_SANDBOX_INIT", wanted)
        caplog.clear()
        executor = LocalExecutor()
        for name in ("a", "b"):
            assert run(executor, spec(tmp_path, ["true"], wanted + name)).exit_code == 0
        said[wanted] = [m for m in caplog.messages if "C init" in m]
    assert len(said[""]) == 1 and "reinstall with a C compiler" in said[""][0]
    assert said["python"] == []


def test_signal_of_the_command_is_reported_as_128_plus_n(ex: LocalExecutor, tmp_path: Path) -> None:
    r = run(ex, spec(tmp_path, ["sh", "-c", f"kill -{int(signal.SIGUSR1)} $$"]))
    assert r.exit_code == 128 + signal.SIGUSR1


# -- the fork server ----------------------------------------------------------------------------


def fork_server_pid(ex: LocalExecutor, tmp_path: Path) -> int:
    from argosy.plugins import local

    run(ex, spec(tmp_path, ["true"], "start-the-server"))
    return local._fork_server._pid


def test_the_process_gets_default_signals_and_only_stdio(ex: LocalExecutor, tmp_path: Path) -> None:
    # As from a shell or a container runtime: no standard signal ignored or blocked (Python
    # ignores SIGPIPE and SIGXFSZ), no descriptor of the engine or the fork server, even one
    # the engine inherited without close-on-exec.
    stray = os.open(os.devnull, os.O_RDONLY)
    os.set_inheritable(stray, True)
    try:
        kill_fork_server(ex, tmp_path)  # the next one starts with the stray fd inherited
        status = run(ex, spec(tmp_path, ["cat", "/proc/self/status"], "status")).stdout
        fds = run(ex, spec(tmp_path, ["ls", "/proc/self/fd"], "fds")).stdout
    finally:
        os.close(stray)
    masks = dict(line.split(":\t") for line in status.splitlines() if line.startswith("Sig"))
    standard = (1 << 31) - 1  # signals 1-31; glibc keeps its internal 32 and 33 ignored
    assert (int(masks["SigBlk"], 16), int(masks["SigIgn"], 16) & standard) == (0, 0)
    assert fds == "0\n1\n2\n3\n"  # 3 is ls's own, reading the directory


def test_the_process_leads_its_own_session(ex: LocalExecutor, tmp_path: Path) -> None:
    r = run(ex, spec(tmp_path, ["sh", "-c", "echo $$; cat /proc/$$/stat"]))
    pid, stat = r.stdout.split("\n", 1)
    fields = stat.rsplit(")", 1)[1].split()
    assert (fields[2], fields[3]) == (pid, pid)  # process group, session


def test_the_process_has_a_pid_namespace_of_its_own(ex: LocalExecutor, tmp_path: Path) -> None:
    # Its node's init is 1 and the process 2; /proc shows the node's processes only, so a
    # step can signal nothing of the host's.
    r = run(ex, spec(tmp_path, ["sh", "-c", "echo $$; ls -d /proc/[0-9]*"]))
    assert r.stdout.split() == ["2", "/proc/1", "/proc/2"]  # init, and sh become ls


def test_setsid_leftovers_end_with_the_node(ex: LocalExecutor, tmp_path: Path) -> None:
    # A session of its own leaves the process group, not the node's PID namespace.
    marker = f"600.{uuid.uuid4().int % 10**9}"
    r = run(ex, spec(tmp_path, ["sh", "-c", f"setsid sleep {marker} >/dev/null 2>&1 & "
                                            f"setsid -f sleep {marker}; echo started"]))
    assert (r.exit_code, r.stdout) == (0, "started\n")
    assert sleeps_gone(marker) == []


def test_a_file_that_is_not_executable_exits_126(ex: LocalExecutor, tmp_path: Path) -> None:
    s = spec(tmp_path, ["/tmp/data"])
    ex.write_file(s, "/tmp/data", "not a program\n")
    r = run(ex, s)
    assert (r.exit_code, r.message, r.stderr) == (126, "", "argosy: /tmp/data: Permission denied\n")


def test_the_fork_server_leaves_no_zombies(ex: LocalExecutor, tmp_path: Path) -> None:
    server = fork_server_pid(ex, tmp_path)

    async def many() -> None:
        await asyncio.gather(*(ex.run(spec(tmp_path, ["true"], f"n{i}")) for i in range(20)))

    asyncio.run(many())
    wait_for(lambda: zombie_children_of(server) == [])


def test_a_thousand_spawns_in_one_tick_all_complete(ex: LocalExecutor, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # Requests are pipelined: far more than the socket buffers hold are queued at once, while
    # the server's replies pile up unread until the loop gets back to them.
    monkeypatch.setenv(STARTING_ENV, "100000")
    async def many() -> list[ProcessResult]:
        return await asyncio.gather(*(ex.run(spec(tmp_path, ["sh", "-c", f"echo {i}"], f"n{i}"))
                                      for i in range(1000)))

    results = asyncio.run(asyncio.wait_for(many(), 120))
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(1000)]


def test_starts_in_flight_are_capped(ex: LocalExecutor, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STARTING_ENV, "3")
    spawn, in_flight, most = local._fork_server.spawn, [0], [0]

    async def counted(*args: object, **kw: object) -> object:
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        try:
            return await spawn(*args, **kw)  # type: ignore[arg-type]
        finally:
            in_flight[0] -= 1

    monkeypatch.setattr(local._fork_server, "spawn", counted)

    async def many() -> list[ProcessResult]:
        return await asyncio.gather(*(ex.run(spec(tmp_path, ["echo", str(i)], f"n{i}"))
                                      for i in range(40)))

    results = asyncio.run(asyncio.wait_for(many(), 60))
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(40)]
    assert most[0] == 3  # as many as allowed, pipelined, and never more


def test_a_stopped_fan_out_starts_no_more_processes(ex: LocalExecutor, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Nodes cancelled while they wait for a slot were never asked of the fork server: of a
    # fan-out of 200 stopped once its first process runs, only those in flight started.
    monkeypatch.setenv(STARTING_ENV, "2")

    async def fan_out() -> None:
        nodes: list[asyncio.Future[ProcessResult]] = []

        def stop() -> None:
            for node in nodes:
                node.cancel()

        nodes += [asyncio.ensure_future(ex.run(spec(tmp_path, ["sleep", "30"], f"n{i}",
                                                    started=stop)))
                  for i in range(200)]
        await asyncio.gather(*nodes, return_exceptions=True)

    asyncio.run(asyncio.wait_for(fan_out(), 60))
    started = [i for i in range(200) if (tmp_path / f"n{i}" / "pid").exists()]
    assert 1 <= len(started) <= 6, started  # uncapped, all 200 were asked for at once


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_a_bad_max_starting_is_refused_by_name(value: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STARTING_ENV, value)
    with pytest.raises(ArgosyError, match=f"ARGOSY_MAX_STARTING={value!r}: expected"):
        local.max_starting()


def kill_fork_server(ex: LocalExecutor, tmp_path: Path) -> int:
    server = fork_server_pid(ex, tmp_path)
    os.kill(server, signal.SIGKILL)
    wait_for(lambda: server in zombie_children())  # dead, not merely exiting
    return server


def test_prepare_starts_the_fork_server_ahead_of_the_first_node(
    ex: LocalExecutor, tmp_path: Path
) -> None:
    from argosy.plugins import local

    dead = kill_fork_server(ex, tmp_path)
    local.LocalBackend().prepare()
    server = local._fork_server._pid
    assert server != dead
    # The spawn returns once the server's exec replaced its memory, a moment before the
    # kernel set its arguments there: until then its cmdline reads empty.
    wait_for(lambda: Path(f"/proc/{server}/cmdline").read_bytes() != b"")
    assert Path(f"/proc/{server}/cmdline").read_bytes().startswith(b"argosy-forkserver\0")
    assert fork_server_pid(ex, tmp_path) == server  # the first node's, not another


def test_a_dead_fork_server_is_replaced(
    ex: LocalExecutor, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = kill_fork_server(ex, tmp_path)
    r = run(ex, spec(tmp_path, ["sh", "-c", "echo again"]))
    assert (r.exit_code, r.stdout) == (0, "again\n")
    assert f"the fork server (pid {server}) died; starting another" in caplog.messages
    assert zombie_children() == []  # the dead one reaped, and the new one alive


def launchers(server: int) -> list[int]:
    """The fork server's children serving it node inits (the C init, ``--serve``)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            if int(stat[1]) == server and cmdline.endswith(b"\0--serve\0") and stat[0] != b"Z":
                found.append(int(entry))
    return found


def the_launcher(server: int) -> int:
    """The fork server's one launcher, once the node inits it forked are gone: each is the
    same program (its cmdline too) and, by CLONE_PARENT, the server's child, and the last
    node's may still be exiting when its node is done."""
    deadline = time.monotonic() + 10
    while len(found := launchers(server)) > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    [launcher] = found
    return launcher


def test_a_killed_init_launcher_is_replaced(ex: LocalExecutor, tmp_path: Path) -> None:
    if local._native_init() is None:
        pytest.skip("the C init is not built here")
    server = fork_server_pid(ex, tmp_path)
    launcher = the_launcher(server)
    os.kill(launcher, signal.SIGKILL)
    r = run(ex, spec(tmp_path, ["sh", "-c", "echo again"]))
    assert (r.exit_code, r.stdout) == (0, "again\n")
    assert the_launcher(server) != launcher


def test_an_env_too_big_for_one_request_still_starts(ex: LocalExecutor, tmp_path: Path) -> None:
    # More than a socket message holds: the C init is spawned for that node instead.
    env = {name: "x" * 100_000 for name in ("A", "B", "C")}
    r = run(ex, spec(tmp_path, ["sh", "-c", "echo ${#A} ${#B} ${#C}"], env=env))
    assert (r.exit_code, r.stdout) == (0, "100000 100000 100000\n")


def kill_server_midway(ex: LocalExecutor, s: ProcessSpec, server: int, marker: str
                       ) -> ProcessResult:
    async def run_and_kill() -> ProcessResult:
        task = asyncio.create_task(ex.run(s))
        while not sleeps(marker):
            await asyncio.sleep(0.01)
        os.kill(server, signal.SIGKILL)
        return await task

    return asyncio.run(run_and_kill())


def test_a_node_whose_fork_server_died_records_its_exit_code(
    ex: LocalExecutor, tmp_path: Path
) -> None:
    # A node's init records rc itself, so the server's death loses nothing.
    server = fork_server_pid(ex, tmp_path)
    marker = f"0.2{uuid.uuid4().int % 10**6}"
    s = spec(tmp_path, ["sh", "-c", f"sleep {marker}; sleep {marker}; exit 3"])
    assert kill_server_midway(ex, s, server, marker).exit_code == 3
    assert sleeps_gone(marker) == []


def test_an_unisolated_process_whose_fork_server_died_is_lost(tmp_path: Path) -> None:
    ex = LocalExecutor(isolate_tmp=False)
    server = fork_server_pid(ex, tmp_path)
    marker = f"0.2{uuid.uuid4().int % 10**6}"
    s = spec(tmp_path, ["sh", "-c", f"sleep {marker}; sleep {marker}"])
    with pytest.raises(ProcessLost, match="ended without recording its exit code"):
        kill_server_midway(ex, s, server, marker)
    assert sleeps_gone(marker) == []


def test_the_fork_server_has_a_short_command_line(ex: LocalExecutor, tmp_path: Path) -> None:
    # What ps shows: its name, not its source.
    server = fork_server_pid(ex, tmp_path)
    init = _native_init()  # its one argument: the C init it spawns for each node, if built
    assert Path(f"/proc/{server}/cmdline").read_bytes() == \
        b"argosy-forkserver\0-I\0-S\0-\0" + os.fsencode(init or "") + b"\0"
    assert Path(f"/proc/{server}/comm").read_text() == "argosy-forkserv\n"  # 15 bytes at most


def test_the_process_gets_its_own_env_and_the_hosts_basics_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As a container gets its image's ENV and the template's env: nothing of argosy's own.
    for name, value in {"ARGOSY_HOME": str(tmp_path), "ARGOSY_TOKEN": "secret",
                        "AWS_SECRET_ACCESS_KEY": "secret", "LC_ALL": "C", "LANG": "C"}.items():
        monkeypatch.setenv(name, value)
    r = run(LocalExecutor(), spec(tmp_path, ["env"], env={"MINE": "1", "LANG": "C.UTF-8"}))
    env = dict(line.split("=", 1) for line in r.stdout.splitlines())
    assert "secret" not in r.stdout
    assert {k for k in env if k.startswith("ARGOSY_")} == set()
    assert (env["MINE"], env["LANG"], env["LC_ALL"], env["PATH"]) == (
        "1", "C.UTF-8", "C", os.environ["PATH"])
    assert set(env) <= {"MINE", "LANG", "LC_ALL", "PATH", "HOME", "USER", "LOGNAME", "SHELL",
                        "LANGUAGE", "TZ", "TERM", "TMPDIR"}


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A directory outside /tmp, which a node's private /tmp would cover."""
    if not Path("/var/tmp").is_dir():
        pytest.skip("needs /var/tmp for a directory outside /tmp")
    path = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="argosy-test-"))
    yield path
    shutil.rmtree(path)


def test_the_store_and_other_nodes_files_are_hidden(
        ex: LocalExecutor, tmp_path: Path, outside_tmp: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from argosy.store import runtime_root

    home = outside_tmp
    (home / "argosy.db").write_text("the store")
    monkeypatch.setenv("ARGOSY_HOME", str(home))
    other = (runtime_root() or home / "runs") / f"other-{uuid.uuid4().hex}"
    other.mkdir(parents=True)
    (other / "stdout").write_text("another node's")
    s = spec(tmp_path, ["sh", "-c", f"cat {home}/argosy.db {other}/stdout; "
                        f"touch {home}/x || echo cannot write; echo mine > /tmp/f; ls {home}"])
    r = run(ex, s)
    assert "the store" not in r.stdout and "another node's" not in r.stdout
    assert r.stdout == "cannot write\n"
    assert ex.read_file(s, "/tmp/f") == "mine\n"  # its own /tmp stays its own
    assert sorted(os.listdir(home)) == ["argosy.db"]
    shutil.rmtree(other)


def test_argosy_sandbox_tmp_leaves_the_hosts_other_files_writable(
        tmp_path: Path, outside_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGOSY_SANDBOX", "tmp")
    ex = LocalExecutor(grace_seconds=0.5)
    if not ex._isolated():
        pytest.skip("no mount namespaces here")
    r = run(ex, spec(tmp_path, ["sh", "-c", f"echo host > {outside_tmp}/f; echo mine > /tmp/f; "
                                            "echo $$"]))
    assert r.stdout == "2\n"  # its own PID namespace still
    assert (outside_tmp / "f").read_text() == "host\n"
    assert (tmp_path / "node" / "tmp" / "f").read_text() == "mine\n"


def test_a_store_in_the_users_home_does_not_hide_the_home(
        ex: LocalExecutor, tmp_path: Path, outside_tmp: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    home = outside_tmp
    (home / "data").write_text("the user's\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ARGOSY_HOME", str(home))  # ARGOSY_HOME=~
    r = run(ex, spec(tmp_path, ["cat", str(home / "data")]))
    assert (r.exit_code, r.stdout) == (0, "the user's\n")


def test_what_a_process_leaves_in_its_group_ends_with_it(ex: LocalExecutor,
                                                         tmp_path: Path) -> None:
    # As a container's processes end with its main process: `cmd &` and nohup included.
    marker = f"600.{uuid.uuid4().int % 10**9}"
    r = run(ex, spec(tmp_path, ["sh", "-c", f"sleep {marker} & nohup sleep {marker} "
                                            ">/dev/null 2>&1 & echo started"]))
    assert (r.exit_code, r.stdout) == (0, "started\n")
    assert sleeps_gone(marker) == []


# A node's view, as a step sees it: written to where it lands, on the host or in its layer.
VIEW = textwrap.dedent("""
    import asyncio, json, os, sys
    from pathlib import Path
    from argosy.plugins.local import LocalExecutor, ProcessSpec

    node, outside = Path(sys.argv[1]), sys.argv[2]
    script = (f"echo hi > {outside}; cat /proc/1/comm; set -- /proc/[0-9]*; echo $#; ls -A /tmp;"
              f" pwd; grep -c -F {node} /proc/1/cmdline; sleep 1000 & exit 3")
    r = asyncio.run(LocalExecutor(grace_seconds=0.5).run(
        ProcessSpec(["sh", "-c", script], {"PATH": os.environ["PATH"]}, "/work/dir", node)))
    layer = node / "layers" / "%2F" / "upper" / outside.lstrip("/")
    print(json.dumps([r.exit_code, r.stdout, r.stderr, os.path.exists(outside), layer.read_text()]))
""")


@pytest.mark.parametrize("init", ["c", "python"])
def test_the_c_and_the_python_init_give_a_node_the_same_view(
        ex: LocalExecutor, tmp_path: Path, init: str) -> None:
    # The C init is what runs where argosy was built with a C compiler; the Python one, its
    # fallback, carries out the same plan. A fresh engine (and fork server) for each.
    if init == "c" and _native_init() is None:
        pytest.skip("the C init is not built here (no C compiler at install)")
    outside = f"/argosy-test-{uuid.uuid4().hex}"
    env = {**os.environ, "ARGOSY_SANDBOX_INIT": init, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", VIEW, str(tmp_path / "node"), outside],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    code, stdout, stderr, on_host, layered = json.loads(proc.stdout)
    comm = "argosy-sandbox-" if init == "c" else "argosy-forkserv"
    # Its own PID 1 and processes (init and sh, counted by sh itself: a pipe's ends are
    # forked one after the other), an empty /tmp, its workingDir
    # made, nothing of the host's paths in its init's arguments, its write in its layer, the
    # exit code recorded with the sleep left behind killed.
    assert (code, stdout, stderr, on_host, layered) == (3, f"{comm}\n2\n/work/dir\n0\n", "",
                                                        False, "hi\n")


SETUP_FAILS = """
import asyncio, json, sys
from pathlib import Path
from argosy.plugins.local import LocalExecutor, ProcessSpec
ex = LocalExecutor()
result = asyncio.run(ex.run(ProcessSpec(["true"], {}, sys.argv[2], Path(sys.argv[1]))))
print(json.dumps([result.exit_code, result.message]))
"""


@pytest.mark.parametrize("init", ["c", "python"])
def test_a_node_whose_setup_fails_says_why_in_its_message(
        ex: LocalExecutor, tmp_path: Path, init: str) -> None:
    # Exit code 125 alone ("Error (exit code 125)") tells a user nothing: the init's reason,
    # recorded with the code, becomes the node's message. A fresh fork server for each init.
    if init == "c" and _native_init() is None:
        pytest.skip("the C init is not built here (no C compiler at install)")
    env = {**os.environ, "ARGOSY_SANDBOX_INIT": init, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", SETUP_FAILS, str(tmp_path / "node"),
                           "/proc/argosy-no-such-dir"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    code, message = json.loads(proc.stdout)
    assert code == 125
    assert message.startswith("setting up the node failed: ")
    assert "/proc/argosy-no-such-dir" in message


def test_fork_server_channel_keeps_order_past_a_full_socket() -> None:
    """Requests queued faster than the server reads them (a wide fan-out in one loop tick) go
    out whole and in order, and replies arriving many to a chunk resolve them in order."""
    import marshal
    import socket

    from argosy.plugins.local import _Channel

    def framed(messages: list[tuple[object, ...]]) -> bytes:
        return b"".join(len(d).to_bytes(4, "little") + d for d in map(marshal.dumps, messages))

    # 3,000 requests of 4 KB: far more than the socket buffer takes before anyone reads.
    requests = [("spawn", i, "x" * 4096) for i in range(3000)]
    replies = [("exited", i) for i in range(3000)]

    async def main() -> None:
        ours, server = socket.socketpair()
        server.setblocking(False)
        channel = _Channel(asyncio.get_running_loop(), ours)
        futures = [channel.call(r) for r in requests]
        assert channel.outbox, "the socket should have been full"
        received, expected = bytearray(), framed(requests)
        while len(received) < len(expected):
            with contextlib.suppress(BlockingIOError):
                received += server.recv(1 << 20)
            await asyncio.sleep(0)
        assert received == expected
        server.setblocking(True)
        server.sendall(framed(replies))
        results = await asyncio.gather(*futures)
        assert [reply for reply, _fd in results] == replies
        channel.close(None)
        server.close()

    asyncio.run(main())


def test_fork_server_channel_pairs_batched_replies_with_their_descriptors() -> None:
    """The server answers all it read in one message, the done pipes of its "started" replies
    attached: each reply gets its own pipe, across messages and past replies without one."""
    import marshal
    import socket

    from argosy.plugins.local import _MAX_FDS, _Channel

    def framed(messages: list[tuple[object, ...]]) -> bytes:
        return b"".join(len(d).to_bytes(4, "little") + d for d in map(marshal.dumps, messages))

    replies = [("started", i, "0") if i % 7 else ("finished",) for i in range(_MAX_FDS + 30)]
    pipes = {i: os.pipe() for i, reply in enumerate(replies) if reply[0] == "started"}
    for i, (_r, w) in pipes.items():
        os.write(w, b"%d" % i)
        os.close(w)

    async def main() -> None:
        ours, server = socket.socketpair()
        channel = _Channel(asyncio.get_running_loop(), ours)
        futures = [channel.call(("spawn", i)) for i in range(len(replies))]
        for batch in (range(0, _MAX_FDS), range(_MAX_FDS, len(replies))):
            fds = [pipes[i][0] for i in batch if i in pipes][:_MAX_FDS]
            socket.send_fds(server, [framed([replies[i] for i in batch])], fds)
        results = await asyncio.gather(*futures)
        for i, (reply, fd) in enumerate(results):
            assert reply == replies[i]
            if fd is None:
                assert i not in pipes
            else:
                assert os.read(fd, 16) == b"%d" % i
                os.close(fd)
        channel.close(None)
        server.close()

    try:
        asyncio.run(main())
    finally:
        for r, _w in pipes.values():
            os.close(r)
