"""Durability: ``kill -9`` of the engine at any moment loses no workflow and re-runs no node.

Engines are real ``argosy engine`` processes over a real SQLite store; node processes are real
and outlive the engine in sessions of their own. Every leaf appends its node name to a count
file when it starts, so a node that ran twice shows up twice. The count file lives under
/var/tmp: a node's /tmp is private to it, and pytest's tmp_path is under /tmp.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from argosy.api.service import submit
from argosy.engine.run import node_id
from argosy.store import Store, runtime_dir
from tests.durability.harness import (
    LEAVES,
    WF_NAME,
    EngineProcess,
    expected_leaves,
    kill_group,
    line_count,
    node_dir,
    processes_of,
    read_counts,
    wait_until,
    workflow_200,
)

KILLS = 20
SEED = 20_240_611
FINISH_TIMEOUT = 300.0


@pytest.fixture
def counts_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # Steps count their runs here, on the host: a private /tmp, but no layer over the rest.
    monkeypatch.setenv("ARGOSY_SANDBOX", "tmp")
    path = Path("/var/tmp") / f"argosy-durability-{uuid.uuid4().hex}"
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# ---- checks ---------------------------------------------------------------------------------


def integrity_problems(db_path: Path) -> list[str]:
    """``PRAGMA integrity_check`` rows other than ``ok``, from a fresh connection.

    The SQLite here (3.40.1) reports "NULL value in T.C" for a NOT NULL column declared before
    the primary key columns of a WITHOUT ROWID table even when no row holds a NULL (the store's
    ``edges`` table has that shape). Such a row is kept only if a query finds the NULL it claims.
    """
    db = sqlite3.connect(db_path)
    try:
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        rows = [f"journal_mode is {mode}, not wal"] if mode != "wal" else []
        rows += [r[0] for r in db.execute("PRAGMA integrity_check")]
        problems = []
        for row in rows:
            if row == "ok":
                continue
            if row.startswith("NULL value in "):
                table, column = row.removeprefix("NULL value in ").split(".")
                nulls = db.execute(
                    f'SELECT COUNT(*) FROM "{table}" WHERE "{column}" IS NULL').fetchone()[0]
                if nulls == 0:
                    continue
            problems.append(row)
        return problems
    finally:
        db.close()


def assert_argo_shape(nodes: dict[str, dict[str, Any]], root: str) -> None:
    """Every child and boundary exists, no child twice, every node reachable from the root."""
    for nid, node in nodes.items():
        assert node["id"] == nid
        assert node["id"] == node_id(WF_NAME, node["name"])
        children = node.get("children", [])
        assert len(children) == len(set(children)), f"{node['name']}: a child twice"
        missing = [c for c in children if c not in nodes]
        assert not missing, f"{node['name']}: children {missing} do not exist"
        boundary = node.get("boundaryID")
        assert boundary is None or boundary in nodes, f"{node['name']}: no boundary {boundary}"
    seen, stack = set(), [root]
    while stack:
        nid = stack.pop()
        if nid not in seen:
            seen.add(nid)
            stack.extend(nodes[nid].get("children", []))
    assert seen == set(nodes), f"unreachable from the root: {sorted(set(nodes) - seen)[:5]}"


def running_processes(home: Path, uid: str) -> set[str]:
    """Node dirs whose process is started and has not recorded its exit code."""
    runs = runtime_dir(home) / uid
    if not runs.is_dir():
        return set()
    return {d.name for d in runs.iterdir() if (d / "pid").exists() and not (d / "rc").exists()}


def failed_leaves(store: Store, uid: str) -> list[str]:
    """The first few leaves that did not succeed, with their messages: why the run failed."""
    return [f"{n['name']}: {n['phase']}: {n.get('message')}" for n in store.nodes(uid).values()
            if n["type"] == "Pod" and n["phase"] != "Succeeded"][:5]


def active(store: Store, uid: str) -> bool:
    return store.get(uid).phase in ("Pending", "Running")


def engine_log(home: Path) -> str:
    try:
        return (home / "engines.log").read_text(errors="replace")[-3000:]
    except FileNotFoundError:
        return ""


def finish(home: Path, store: Store, uid: str) -> None:
    """Let one engine run the workflow to its end; it exits once idle."""
    engine = EngineProcess(home, exit_when_idle=1)
    try:
        engine.wait(FINISH_TIMEOUT)
    except subprocess.TimeoutExpired:
        engine.kill9()
        record = store.get(uid)
        raise AssertionError(f"workflow still {record.phase} ({record.progress}) after "
                             f"{FINISH_TIMEOUT:.0f}s; engine log:\n{engine_log(home)}") from None
    assert engine.proc.returncode == 0, engine_log(home)


def assert_no_orphans(home: Path) -> None:
    with contextlib.suppress(AssertionError):
        wait_until(lambda: not processes_of(home), 10, "the processes of the run to end")
    assert processes_of(home) == []


# ---- 20 kills during a 200-node workflow -----------------------------------------------------


def test_twenty_kills_lose_nothing_and_rerun_nothing(home: Path, counts_dir: Path) -> None:
    counts = counts_dir / "counts"
    store = Store(home)
    uid = submit(store, workflow_200(counts)).uid
    rng = random.Random(SEED)
    # Each kill waits for a number of leaves to have started, then a random bit more: the
    # moments spread over the whole run whatever the machine's speed, and a kill whose target
    # is already reached lands in the next engine's start-up or replay.
    targets = sorted(rng.sample(range(1, LEAVES - 5), KILLS))
    in_flight: set[str] = set()
    unrecorded: set[str] = set()  # started, but no pid file yet when the engine died
    kills = 0
    started = time.monotonic()
    for target in targets:
        engine = EngineProcess(home, exit_when_idle=600)
        try:
            wait_until(lambda t=target: line_count(counts) >= t or not active(store, uid), 120,
                       f"{target} leaves to start (engine log:\n{engine_log(home)})")
            time.sleep(rng.uniform(0.0, 0.3))
            kills += active(store, uid)  # a kill after the end would prove nothing
        finally:
            engine.kill9()
        in_flight |= running_processes(home, uid)
        unrecorded |= {n for n in read_counts(counts)
                       if not (node_dir(home, uid, n) / "pid").exists()}
    finish(home, store, uid)
    duration = time.monotonic() - started

    record = store.get(uid)
    assert (record.phase, record.message, record.progress) == ("Succeeded", None, "200/200"), (
        f"{record.phase}: {record.message}; {failed_leaves(store, uid)}")
    assert kills == KILLS
    nodes = store.nodes(uid)
    assert_argo_shape(nodes, root=WF_NAME)
    assert Counter(n["type"] for n in nodes.values()) == Counter(
        {"Pod": LEAVES, "StepGroup": 12, "TaskGroup": 4, "Steps": 4, "DAG": 1})
    assert {n["phase"] for n in nodes.values()} == {"Succeeded"}
    pods = sorted(n["name"] for n in nodes.values() if n["type"] == "Pod")
    assert pods == sorted(expected_leaves())
    assert {n["outputs"]["exitCode"] for n in nodes.values() if n["type"] == "Pod"} == {"0"}
    # Each leaf started exactly once: none lost, none re-run, running ones re-adopted.
    runs = read_counts(counts)
    twice = sorted(n for n, c in runs.items() if c > 1)
    assert not twice, (f"re-run: {twice}; of them started without a pid file at a kill: "
                       f"{sorted(unrecorded & set(twice))}")
    assert runs == Counter({name: 1 for name in expected_leaves()})
    assert in_flight, "no kill landed while a node's process was running"
    assert integrity_problems(store.path) == []
    store.close()
    assert_no_orphans(home)
    print(f"\n{KILLS} kills, {len(in_flight)} node processes running at a kill, "
          f"{LEAVES} leaves run once each, {duration:.1f}s")


# ---- a process that dies with the engine ------------------------------------------------------

LOST_CMD = ('echo "{{retries}}" >> "{{workflow.parameters.counts}}"; '
            'if [ "{{retries}}" = 0 ]; then sleep 120; fi')


def lost_workflow(counts: Path, retry: bool) -> dict[str, Any]:
    """Steps with one leaf: its first run sleeps long enough to be killed mid-run."""
    container = {"image": "alpine", "command": [
        "sh", "-c", LOST_CMD if retry else 'echo 0 >> "{{workflow.parameters.counts}}"; '
                                           "sleep 120"]}
    leaf: dict[str, Any] = {"name": "slow", "container": container}
    if retry:
        leaf["retryStrategy"] = {"limit": 2, "retryPolicy": "Always"}
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": WF_NAME},
        "spec": {"entrypoint": "main",
                 "arguments": {"parameters": [{"name": "counts", "value": str(counts)}]},
                 "templates": [{"name": "main", "steps": [[{"name": "lost",
                                                             "template": "slow"}]]}, leaf]},
    }


def kill_everything_mid_run(home: Path, uid: str, counts: Path, leaf: str) -> str:
    """Kill the engine and every process it started while ``leaf`` runs: the leaf and whatever
    watches it (a fork server, a waiter). All are stopped first, so none of them records an
    exit code for another. Returns the message ProcessLost gives for the leaf."""
    engine = EngineProcess(home, exit_when_idle=600)
    where = node_dir(home, uid, leaf)
    try:
        wait_until(lambda: (where / "pid").exists() and line_count(counts) == 1, 60,
                   f"{leaf} to run (engine log:\n{engine_log(home)})")
        pid = int((where / "pid").read_text().split()[0])
        victims = [p for p, _ in processes_of(home)]
        assert engine.pid in victims and pid in victims
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for victim in victims:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(victim, sig)
    finally:
        engine.kill9()
    kill_group(pid)
    wait_until(lambda: not processes_of(home), 10, "every process of the run to die")
    assert not (where / "rc").exists()
    return f"process {pid} of {where} ended without recording its exit code"


def test_lost_process_is_retried_per_retry_strategy(home: Path, counts_dir: Path) -> None:
    counts = counts_dir / "counts"
    store = Store(home)
    uid = submit(store, lost_workflow(counts, retry=True)).uid
    lost = kill_everything_mid_run(home, uid, counts, f"{WF_NAME}[0].lost(0)")
    finish(home, store, uid)

    assert store.get(uid).phase == "Succeeded"
    nodes = {n["name"]: n for n in store.nodes(uid).values()}
    retry = nodes[f"{WF_NAME}[0].lost"]
    first, second = nodes[f"{WF_NAME}[0].lost(0)"], nodes[f"{WF_NAME}[0].lost(1)"]
    assert (retry["type"], retry["phase"]) == ("Retry", "Succeeded")
    assert retry["children"] == [first["id"], second["id"]]
    assert (first["type"], first["phase"], first["message"]) == ("Pod", "Error", lost)
    assert (second["type"], second["phase"]) == ("Pod", "Succeeded")
    assert counts.read_text().splitlines() == ["0", "1"]
    assert integrity_problems(store.path) == []
    store.close()
    assert_no_orphans(home)


def test_lost_process_without_retry_fails_saying_why(home: Path, counts_dir: Path) -> None:
    counts = counts_dir / "counts"
    store = Store(home)
    uid = submit(store, lost_workflow(counts, retry=False)).uid
    lost = kill_everything_mid_run(home, uid, counts, f"{WF_NAME}[0].lost")
    finish(home, store, uid)

    record = store.get(uid)
    nodes = {n["name"]: n for n in store.nodes(uid).values()}
    leaf = nodes[f"{WF_NAME}[0].lost"]
    assert (leaf["type"], leaf["phase"], leaf["message"]) == ("Pod", "Error", lost)
    # Argo: a step group with an errored child is Failed, "child '<id>' failed", and so is
    # the workflow.
    assert (record.phase, record.message) == ("Failed", f"child '{leaf['id']}' failed")
    assert counts.read_text().splitlines() == ["0"]
    assert integrity_problems(store.path) == []
    store.close()
    assert_no_orphans(home)


# ---- crashes placed exactly in the executor's windows -----------------------------------------


GATED = ('echo leaf >> "{counts}"; i=0; '
         'while [ ! -e "{go}" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done')


def gated_leaf(counts: Path, go: Path) -> dict[str, Any]:
    """One leaf that runs until ``go`` exists: still running when the next engine replays."""
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": WF_NAME},
        "spec": {"entrypoint": "leaf", "templates": [{"name": "leaf", "container": {
            "image": "alpine", "command": ["sh", "-c", GATED.format(counts=counts, go=go)]}}]},
    }


def crash_then_recover(home: Path, counts_dir: Path, point: str) -> tuple[str, list[str]]:
    """Crash an engine at ``point``, let the next one take over while the leaf still runs,
    then release the leaf; the workflow's phase and the leaf's starts."""
    counts, go = counts_dir / "counts", counts_dir / "go"
    store = Store(home)
    uid = submit(store, gated_leaf(counts, go)).uid
    crashed = EngineProcess(home, exit_when_idle=600, crash_at=point)
    assert crashed.wait(120) == -signal.SIGKILL, engine_log(home)
    wait_until(lambda: line_count(counts) == 1, 10, "the leaf to start")
    dead = store.get(uid).owner
    engine = EngineProcess(home, exit_when_idle=1)
    # The next engine adopts the workflow; a re-run, if any, follows within moments.
    wait_until(lambda: store.get(uid).owner not in (None, dead) or not active(store, uid), 60,
               "the next engine to adopt")
    with contextlib.suppress(AssertionError):
        wait_until(lambda: line_count(counts) > 1 or store.get(uid).phase != "Running", 3,
                   "a second start")
    go.touch()
    engine.wait(FINISH_TIMEOUT)
    wait_until(lambda: not processes_of(home), 10, "the processes of the run to end")
    phase = store.get(uid).phase
    store.close()
    return phase, counts.read_text().splitlines()


def test_kill_right_after_spawn_adopts_instead_of_rerunning(home: Path,
                                                           counts_dir: Path) -> None:
    # The fork server records the pid before it replies, so a process the dead engine never
    # heard about is still found and adopted by the next one.
    assert crash_then_recover(home, counts_dir, "after-spawn") == ("Succeeded", ["leaf"])


# ---- a daemon serving through a crash -------------------------------------------------------


def daemon_workflow(counts: Path, go: Path) -> dict[str, Any]:
    """A daemon with a sidecar, each noting its start in ``counts``; then a step gated on
    ``go``, so the daemon serves while the engine is killed and the next one takes over."""
    serve = {"image": "alpine", "command": ["sh", "-c", f'echo daemon >> "{counts}"; sleep 600']}
    sidecar = {"name": "helper", "image": "alpine",
               "command": ["sh", "-c", f'echo sidecar >> "{counts}"; sleep 600']}
    gate = f'while [ ! -e "{go}" ]; do sleep 0.05; done'
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": WF_NAME},
        "spec": {"entrypoint": "main", "templates": [
            {"name": "main", "steps": [[{"name": "daemon", "template": "daemon"}],
                                       [{"name": "gate", "template": "gate"}]]},
            {"name": "daemon", "daemon": True, "container": serve, "sidecars": [sidecar]},
            {"name": "gate", "container": {"image": "alpine", "command": ["sh", "-c", gate]}},
        ]},
    }


def nodes_by_name(store: Store, uid: str) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in store.nodes(uid).values()}


def test_killed_engine_readopts_a_serving_daemon_and_its_sidecar(home: Path,
                                                                  counts_dir: Path) -> None:
    counts, go = counts_dir / "counts", counts_dir / "go"
    store = Store(home)
    uid = submit(store, daemon_workflow(counts, go)).uid
    first = EngineProcess(home, exit_when_idle=600)
    daemon, gate = f"{WF_NAME}[0].daemon", f"{WF_NAME}[1].gate"
    try:
        wait_until(lambda: nodes_by_name(store, uid).get(gate, {}).get("phase") == "Running", 60,
                   "the step after the daemon to run")
    finally:
        first.kill9()
    assert nodes_by_name(store, uid)[daemon]["daemoned"] is True
    wait_until(lambda: len(counts.read_text().split()) == 2, 10, "the daemon and its sidecar")

    second = EngineProcess(home, exit_when_idle=1)
    wait_until(lambda: store.get(uid).owner not in (None, first.pid) or
               store.get(uid).phase != "Running", 60, "the next engine to adopt")
    go.touch()
    try:
        second.wait(FINISH_TIMEOUT)
    except subprocess.TimeoutExpired:
        second.kill9()
        raise AssertionError(f"not finished; engine log:\n{engine_log(home)}") from None

    assert store.get(uid).phase == "Succeeded", engine_log(home)
    nodes = nodes_by_name(store, uid)
    assert nodes[daemon]["phase"] == "Succeeded" and "daemoned" not in nodes[daemon]
    assert Counter(counts.read_text().split()) == {"daemon": 1, "sidecar": 1}
    with contextlib.suppress(AssertionError):
        wait_until(lambda: not processes_of(home), 10, "the daemon's processes to end")
    assert processes_of(home) == []
    store.close()
