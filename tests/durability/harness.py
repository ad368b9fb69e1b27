"""Helpers for the crash tests: engines as real processes, a 200-leaf workflow, /proc scans.

Engines run as ``argosy engine`` in their own process group so ``kill -9`` takes the engine and
nothing else: the fork server and every node's process live in sessions of their own and must
outlive it. A killed engine is reaped at once, so the next one sees its pid gone and adopts the
workflow without waiting for the lease to lapse.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from argosy.engine.run import node_id
from argosy.store import runtime_dir

WF_NAME = "durable"
LEAF_CMD = 'echo "{{node.name}}" >> "{{workflow.parameters.counts}}"; sleep {{inputs.parameters.t}}'

# Shape of the 200 leaves: a fan-out, a chain, a fan-in-then-out, loops over a steps template
# (its own loop plus sequential groups), and a final fan-out behind everything.
FAN, CHAIN, MID, LOOPS, FINAL = 60, 20, 40, 4, 8
STEPPER_LOOP = 15  # per stepper: 15 looped leaves, then b, then c and d in parallel = 18
LEAVES = FAN + CHAIN + MID + LOOPS * (STEPPER_LOOP + 3) + FINAL


def sleep_for(index: int) -> str:
    """0.05-0.5 s, fixed per item index: long enough that kills land while processes run."""
    return f"{0.05 + (index * 37 % 10) * 0.05:.2f}"


def _items(count: int, offset: int) -> list[dict[str, str]]:
    return [{"i": str(i), "t": sleep_for(offset + i)} for i in range(count)]


def _leaf_args(t: str) -> dict[str, Any]:
    return {"parameters": [{"name": "t", "value": t}]}


def workflow_200(counts: Path) -> dict[str, Any]:
    """The 200-leaf workflow; every leaf appends its node name to ``counts`` when it starts."""
    chain = [{"name": f"chain-{k}", "template": "leaf", "arguments": _leaf_args(sleep_for(k)),
              **({"depends": f"chain-{k - 1}"} if k else {})} for k in range(CHAIN)]
    tasks = [
        {"name": "fan", "template": "leaf", "withItems": _items(FAN, 0),
         "arguments": _leaf_args("{{item.t}}")},
        *chain,
        {"name": "mid", "template": "leaf", "depends": "fan", "withItems": _items(MID, 3),
         "arguments": _leaf_args("{{item.t}}")},
        {"name": "loops", "template": "stepper", "depends": "chain-4",
         "withItems": [str(i) for i in range(LOOPS)],
         "arguments": {"parameters": [{"name": "k", "value": "{{item}}"}]}},
        {"name": "final", "template": "leaf", "depends": "mid && loops && chain-19",
         "withItems": _items(FINAL, 7), "arguments": _leaf_args("{{item.t}}")},
    ]
    stepper = {
        "name": "stepper",
        "inputs": {"parameters": [{"name": "k"}]},
        "steps": [
            [{"name": "a", "template": "leaf", "withItems": _items(STEPPER_LOOP, 5),
              "arguments": _leaf_args("{{item.t}}")}],
            [{"name": "b", "template": "leaf", "arguments": _leaf_args("0.2")}],
            [{"name": "c", "template": "leaf", "arguments": _leaf_args("0.1")},
             {"name": "d", "template": "leaf", "arguments": _leaf_args("0.3")}],
        ],
    }
    leaf = {"name": "leaf", "inputs": {"parameters": [{"name": "t"}]},
            "container": {"image": "alpine", "command": ["sh", "-c", LEAF_CMD]}}
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": WF_NAME},
        "spec": {"entrypoint": "main", "parallelism": 12,
                 "arguments": {"parameters": [{"name": "counts", "value": str(counts)}]},
                 "templates": [{"name": "main", "dag": {"tasks": tasks}}, stepper, leaf]},
    }


def _loop(name: str, items: list[Any]) -> list[str]:
    """Argo's loop child names: ``name(i:item)``, a map item as its sorted ``key:value`` pairs."""
    out = []
    for i, item in enumerate(items):
        text = item if isinstance(item, str) else ",".join(
            f"{k}:{v}" for k, v in sorted(item.items()))
        out.append(f"{name}({i}:{text})")
    return out


def expected_leaves(wf: str = WF_NAME) -> list[str]:
    """The node names of the 200 leaves, derived from the spec, not from any run."""
    names = _loop(f"{wf}.fan", _items(FAN, 0))
    names += [f"{wf}.chain-{k}" for k in range(CHAIN)]
    names += _loop(f"{wf}.mid", _items(MID, 3))
    for stepper in _loop(f"{wf}.loops", [str(i) for i in range(LOOPS)]):
        names += _loop(f"{stepper}[0].a", _items(STEPPER_LOOP, 5))
        names += [f"{stepper}[1].b", f"{stepper}[2].c", f"{stepper}[2].d"]
    names += _loop(f"{wf}.final", _items(FINAL, 7))
    return names


# ---- engines as processes ---------------------------------------------------------------


class EngineProcess:
    """One ``argosy engine`` serving ``home``, in its own process group.

    With ``crash_at``, the engine kills itself at that point (see crash_engine.py);
    ``clock_offset`` shifts the clock its CronWorkflow scheduler reads. Its output
    goes to a file, never to a pipe: what it starts may hold its stderr long after it died.
    """

    def __init__(self, home: Path, exit_when_idle: float, crash_at: str | None = None,
                 clock_offset: float | None = None) -> None:
        argv = [sys.executable, "-m", "argosy.cli", "engine", "--exit-when-idle",
                str(exit_when_idle)]
        if crash_at is not None or clock_offset is not None:
            argv = [sys.executable, str(Path(__file__).with_name("crash_engine.py")),
                    crash_at or "never", *([str(clock_offset)] if clock_offset else [])]
        log = open(home / "engines.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            env=dict(os.environ, ARGOSY_HOME=str(home)))
        log.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill9(self) -> None:
        """``kill -9`` the engine's group and reap it, so its pid is seen gone at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
               poll: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(poll)


def read_counts(path: Path) -> Counter[str]:
    try:
        return Counter(path.read_text().splitlines())
    except FileNotFoundError:
        return Counter()


def line_count(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def processes_of(home: Path) -> list[tuple[int, str]]:
    """Live processes (pid, cmdline) started for ``home``: engines, fork servers, nodes.

    Engines and fork servers have ``ARGOSY_HOME=<home>`` in their environment; a node's
    processes do not (a step gets a clean one) and are the sessions its pid files name. A
    zombie runs nothing and is not counted.
    """
    marker = f"ARGOSY_HOME={home}".encode()
    sessions = set()
    for pid_file in runtime_dir(home).rglob("pid"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            sessions.add(int(pid_file.read_text().split()[0]))
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            environ = []  # a node's init is not dumpable: its session still tells
        if stat[0] != b"Z" and (marker in environ or int(stat[3]) in sessions):
            found.append((int(entry.name), cmdline.decode(errors="replace")[:200]))
    return found


def node_dir(home: Path, uid: str, node_name: str, wf: str = WF_NAME) -> Path:
    return runtime_dir(home) / uid / node_id(wf, node_name)


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
