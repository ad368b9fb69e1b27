"""Scale: workflows of 1,000 to 100,000 nodes and a wide fan-out, each against a floor
measured in the same run.

    python tests/bench/bench_scale.py [--quick] [--sizes 1000,10000,100000] [--true-sizes …]
                                      [--only nodes,fanout,verbs,store,startup,recovery,panel]
                                      [--fanout N] [--json out.json]

Sizes in brackets are ``--quick``'s.

* Nodes: one template looping ``withSequence`` over N iterations, as a DAG task and as a step,
  with a ``suspend: {duration: "0"}`` leaf (the engine's own cost per node) at 1,000, 10,000
  and 100,000 [1,000, 10,000] nodes and a ``true`` container leaf at 1,000, 10,000 and
  100,000 [1,000].
  Each run is a fresh interpreter: submit and run wall time, its CPU seconds
  (``getrusage``, which other load on the machine does not inflate the way it does wall
  time), per-node time, peak RSS (``VmHWM``) and RSS after imports, and the store's size
  (``argosy.db`` and its WAL) per node. Memory per added node is the peak's growth between two
  sizes over the nodes added. Floor: a plain asyncio fan-out of N tasks that each do nothing
  (suspend) or launch ``true`` 8 at a time (true), in a fresh interpreter too.
* Fan-out: a steps template running 5,000 [1,000] ``true`` steps in one group, with no
  ``parallelism`` and with 8, against two floors: plain asyncio launching ``true`` 8 and 64 at
  a time, and the local executor launching it (its sandbox, as the engine does) 8, 64 and all
  at a time, with no engine around it (the best of each counts). The engine with its steps
  sandboxed is held against the sandboxed floor; with ``ARGOSY_SANDBOX=off`` (the engine
  launching plain processes) against the plain floor.
* Verbs: ``argosy get`` (the collapsed tree, ``--expand`` and ``-o json``) and ``argosy list``
  through the real CLI on a finished 100,000-node [10,000] DAG loop.
* Store: ``argosy list`` (whole, and in pages of 100), the REST list (whole, and its first
  page of ``listOptions.limit=100``) and a REST watch receiving every workflow, over a store of
  10,000 [1,000] finished workflows.
* Start-up: a one-node ``argosy run`` and ``argosy list``/``get`` on a one-workflow store,
  best of 5 each, against ``python -c pass``.
* Recovery: the same workflow run by ``argosy engine``, killed with SIGKILL once half its nodes
  finished; a new engine finishes it: the catch-up time and CPU, and how many nodes that had
  finished before the kill were recorded again (a node run twice).
* Panel: the JupyterLab panel in a real browser (``tests/ui``'s harness, fake API), listing
  1,000 workflows, then one of 2,000 and one of 100,000 nodes arriving by the watch: how soon
  each is listed, opened (collapsed) and its loop expanded; and 10,000 workflows arriving at
  once, then one more, a filter and a scroll to the oldest; each with its longest main-thread
  task. Needs the UI tests' browser; said where there is none.

A benchmark reports; it asserts nothing. The load average is printed with the figures: on a
busy machine compare CPU seconds and ratios, not wall times.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_engine import (  # noqa: E402
    NAN,
    SUSPEND_LEAF,
    TRUE,
    TRUE_LEAF,
    cli_env,
    engine_run,
    fresh_home,
    revision,
    vm_hwm_mb,
)

MAX_SUSPEND_100K_S = 60.0
MAX_RSS_MB = 600.0
MAX_KB_PER_NODE = 5.0
MAX_FANOUT_RATIO = 1.5
MAX_RUN_ONE_NODE_S = 0.25  # wall, best of 5, compiled modules


# -- workflows ------------------------------------------------------------------------------


def loop_workflow(shape: str, nodes: int, leaf: dict[str, Any],
                  parallelism: int | None = None) -> dict[str, Any]:
    """One ``withSequence`` loop of ``nodes`` iterations of ``leaf``, as a DAG task or a step."""
    loop = {"template": "leaf", "withSequence": {"count": str(nodes)}}
    if shape == "dag":
        main: dict[str, Any] = {"name": "main", "dag": {"tasks": [{"name": "t", **loop}]}}
    else:
        main = {"name": "main", "steps": [[{"name": "s", **loop}]]}
    spec: dict[str, Any] = {"entrypoint": "main", "templates": [main, {"name": "leaf", **leaf}]}
    if parallelism:
        spec["parallelism"] = parallelism
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"generateName": f"scale-{shape}-"}, "spec": spec}


LEAVES = {"suspend": SUSPEND_LEAF, "true": TRUE_LEAF}


# -- one run, in a fresh interpreter --------------------------------------------------------


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _floor_fanout(nodes: int, leaf: str, parallelism: int) -> None:
    slots = asyncio.Semaphore(parallelism)

    async def one() -> None:
        if leaf == "suspend":
            await asyncio.sleep(0)
            return
        async with slots:
            proc = await asyncio.create_subprocess_exec(TRUE)
            await proc.wait()

    await asyncio.gather(*(one() for _ in range(nodes)))


async def _floor_sandboxed(nodes: int, parallelism: int) -> None:
    """Launch ``true`` ``nodes`` times through the local executor (its sandbox, the engine's
    way), ``parallelism`` at a time, with no engine around it."""
    import tempfile

    from argosy.plugins.local import LocalExecutor, ProcessSpec
    from argosy.store import remove_tree, runtime_root

    executor, slots = LocalExecutor(), asyncio.Semaphore(parallelism)
    root = Path(tempfile.mkdtemp(prefix="floor-", dir=runtime_root()))

    async def one(i: int) -> None:
        async with slots:
            await executor.run(ProcessSpec([TRUE], {}, None, root / str(i)))

    try:
        await asyncio.gather(*(one(i) for i in range(nodes)))
    finally:
        remove_tree(root)


def child_run(shape: str, leaf: str, nodes: int, parallelism: int | None) -> dict[str, Any]:
    """In the child: the floor (shape ``floor``, or ``sandboxed`` through the local
    executor) or the engine; times, CPU and memory."""
    if shape in ("floor", "sandboxed"):
        cpu, start = cpu_seconds(), time.perf_counter()
        floor = (_floor_fanout(nodes, leaf, parallelism or 8) if shape == "floor"
                 else _floor_sandboxed(nodes, parallelism or nodes))
        asyncio.run(floor)
        return {"submit_s": 0.0, "run_s": time.perf_counter() - start,
                "cpu_s": cpu_seconds() - cpu, "phase": "Succeeded", "hwm_mb": vm_hwm_mb(),
                "baseline_hwm_mb": vm_hwm_mb(), "store_bytes": 0}
    # Imported outside the timing.
    import argosy.api.service
    import argosy.engine.run  # noqa: F401

    baseline = vm_hwm_mb()
    cpu = cpu_seconds()
    stored: list[int] = []
    leaves: list[int] = []

    def done(home: Path) -> None:
        stored.append(store_bytes(home))
        leaves.append(succeeded_leaves(home))

    run = engine_run(loop_workflow(shape, nodes, LEAVES[leaf], parallelism), on_done=done)
    return {"submit_s": run.submit_s, "run_s": run.run_s, "cpu_s": cpu_seconds() - cpu,
            "phase": run.phase, "progress": run.progress, "hwm_mb": vm_hwm_mb(),
            "baseline_hwm_mb": baseline, "store_bytes": stored[0] if stored else 0,
            "leaves": leaves[0] if leaves else 0}


def store_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in home.glob("argosy.db*"))


def succeeded_leaves(home: Path) -> int:
    """The loop's iterations recorded Succeeded: each must be a node of its own (ids that
    collided once made two iterations one)."""
    db = sqlite3.connect(home / "argosy.db")
    try:
        return db.execute("SELECT count(*) FROM nodes WHERE json_extract(body, '$.type') IN"
                          " ('Pod', 'Suspend') AND json_extract(body, '$.phase') = 'Succeeded'"
                          ).fetchone()[0]
    finally:
        db.close()


def in_child(args: list[str], sandbox: str | None = None) -> dict[str, Any]:
    """Run this file with ``args`` in a fresh interpreter (``ARGOSY_SANDBOX=sandbox`` if
    given); its JSON line and wall time."""
    env = {**os.environ, "ARGOSY_SANDBOX": sandbox} if sandbox else None
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, *args], stdout=subprocess.PIPE, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} exited {proc.returncode}")
    result = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - start
    return result


def measure(shape: str, leaf: str, nodes: int, parallelism: int | None = None,
            sandbox: str | None = None) -> dict[str, Any]:
    args = ["--child", shape, "--leaf", leaf, "--nodes", str(nodes)]
    if parallelism:
        args += ["--parallelism", str(parallelism)]
    load = os.getloadavg()[0]
    try:
        result = in_child(args, sandbox)
    except Exception as exc:
        print(f"error in {shape} {leaf} {nodes}: {exc}", file=sys.stderr)
        return {"error": str(exc), "run_s": NAN, "submit_s": NAN, "cpu_s": NAN, "hwm_mb": NAN,
                "baseline_hwm_mb": NAN, "store_bytes": 0, "load": load}
    result["load"] = load
    if result["phase"] != "Succeeded":
        result["error"] = f"ended {result['phase']} ({result.get('progress')})"
    elif result.get("leaves", nodes) != nodes:
        result["error"] = f"{result['leaves']:,} of {nodes:,} iterations recorded"
    return result


# -- nodes: 1k / 10k / 100k ----------------------------------------------------------------


def bench_nodes(sizes: list[int], true_sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for leaf, leaf_sizes in (("suspend", sizes), ("true", true_sizes)):
        for nodes in leaf_sizes:
            floor = measure("floor", leaf, nodes, 8)
            for shape in ("dag", "steps"):
                engine = measure(shape, leaf, nodes)
                rows.append({"shape": shape, "leaf": leaf, "nodes": nodes, "engine": engine,
                             "floor": floor})
                print(node_line(rows[-1]), flush=True)
    return rows


def node_line(row: dict[str, Any]) -> str:
    e, f, n = row["engine"], row["floor"], row["nodes"]
    return (f"{row['shape']:5} {row['leaf']:7} {n:>7,} nodes: submit {e['submit_s']:6.2f} s, "
            f"run {e['run_s']:7.2f} s ({e['run_s'] / n * 1e6:6.0f} us/node, floor "
            f"{f['run_s'] / n * 1e6:5.0f}), CPU {e['cpu_s']:7.2f} s "
            f"({e['cpu_s'] / n * 1e6:5.0f} us/node), peak RSS {e['hwm_mb']:5.0f} MB "
            f"(after imports {e['baseline_hwm_mb']:3.0f}), store "
            f"{e['store_bytes'] / n:5.0f} B/node, load {e['load']:.1f}"
            + (f"  ERROR {e['error']}" if e.get("error") else ""))


def growth_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Memory per added node and per-node CPU between consecutive sizes of one case."""
    out = []
    cases: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        cases.setdefault((row["shape"], row["leaf"]), []).append(row)
    for (shape, leaf), found in cases.items():
        found.sort(key=lambda r: r["nodes"])
        for small, big in itertools.pairwise(found):
            added = big["nodes"] - small["nodes"]
            kb = (big["engine"]["hwm_mb"] - small["engine"]["hwm_mb"]) * 1024 / added
            cpu = [r["engine"]["cpu_s"] / r["nodes"] * 1e6 for r in (small, big)]
            verdict = ""
            if big["nodes"] >= 100_000:
                verdict = "PASS" if kb < MAX_KB_PER_NODE else "MISS"
                verdict = f"  (target < {MAX_KB_PER_NODE:g} KB: {verdict})"
            out.append(f"{shape:5} {leaf:7} {small['nodes']:>7,} -> {big['nodes']:>7,}: "
                       f"{kb:5.2f} KB per added node{verdict}; CPU per node {cpu[0]:.0f} -> "
                       f"{cpu[1]:.0f} us ({cpu[1] / cpu[0]:.2f}x)")
    return out


def target_lines(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for row in rows:
        if row["leaf"] != "suspend" or row["nodes"] < 100_000:
            continue
        e = row["engine"]
        total = e["submit_s"] + e["run_s"]
        out.append(f"{row['shape']:5} suspend 100,000: submit + run {total:.1f} s (target < "
                   f"{MAX_SUSPEND_100K_S:g} s: {'PASS' if total < MAX_SUSPEND_100K_S else 'MISS'}"
                   f"), peak RSS {e['hwm_mb']:.0f} MB (target < {MAX_RSS_MB:g} MB: "
                   f"{'PASS' if e['hwm_mb'] < MAX_RSS_MB else 'MISS'})")
    return out


# -- fan-out: N `true` steps in one group ---------------------------------------------------


# Which floor each engine case is held against: the one launching processes as it does.
FANOUT_FLOORS = {"engine": "sandboxed_", "engine_unisolated": "floor_"}


def bench_fanout(width: int, reps: int) -> dict[str, Any]:
    """The engine with no ``parallelism`` (sandboxed, and unisolated) and with 8, against the
    floors at 8, 64 (and all at once), in turns; the best of ``reps`` each."""
    cases = {"floor_p8": ("floor", 8, None), "floor_p64": ("floor", 64, None),
             "sandboxed_p8": ("sandboxed", 8, "on"), "sandboxed_p64": ("sandboxed", 64, "on"),
             "sandboxed_all": ("sandboxed", width, "on"), "engine": ("steps", None, "on"),
             "engine_unisolated": ("steps", None, "off"), "engine_p8": ("steps", 8, "on")}
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    for _ in range(reps):
        for name, (shape, parallelism, sandbox) in cases.items():
            found = measure(shape, "true", width, parallelism, sandbox)
            if not found.get("error"):
                samples[name].append(found)
    best = {name: min(found, key=lambda r: r["run_s"], default=None)
            for name, found in samples.items()}
    return {"width": width, "best": best, "samples": samples}


def _fastest(best: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    found = [b for name, b in best.items() if name.startswith(prefix) and b]
    return min(found, key=lambda r: r["run_s"]) if found else None


def fanout_lines(result: dict[str, Any]) -> list[str]:
    """Each case's best; the engine's against the plain floor's best (``true`` launched by
    asyncio) and the sandboxed floor's (launched through the local executor, as the engine
    does: the sandbox's own cost per process is then in both). The target holds each engine
    case against the floor launching processes the way it does (``FANOUT_FLOORS``)."""
    best, width = result["best"], result["width"]
    floors = {"floor_": "floor", "sandboxed_": "sandboxed floor"}
    out = []
    for name, found in best.items():
        if found is None:
            out.append(f"fan-out {width:,} true, {name}: ERROR")
            continue
        line = (f"fan-out {width:,} true, {name}: {found['run_s']:.2f} s, CPU "
                f"{found['cpu_s']:.2f} s, peak RSS {found['hwm_mb']:.0f} MB, load "
                f"{found['load']:.1f}")
        for prefix, what in floors.items() if name.startswith("engine") else ():
            floor = _fastest(best, prefix)
            if floor is None:
                continue
            ratio = found["run_s"] / floor["run_s"]
            line += f"; {ratio:.2f}x the {what}'s best"
            if FANOUT_FLOORS.get(name) == prefix:
                line += (f" (target <= {MAX_FANOUT_RATIO:g}x: "
                         f"{'PASS' if ratio <= MAX_FANOUT_RATIO else 'MISS'})")
        out.append(line)
    return out


# -- verbs and recovery, through the real CLI on one store ----------------------------------


def cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "argosy.cli", *args], env=cli_env(home),
                          capture_output=True, text=True)


def children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


def bench_verbs(nodes: int) -> list[str]:
    """``argosy get`` (tree and JSON) and ``argosy list`` on a finished ``nodes``-node DAG."""
    from argosy.api.service import submit
    from argosy.engine.run import Engine
    from argosy.store import Store

    out = []
    with fresh_home() as home:
        store = Store(home)
        record = submit(store, loop_workflow("dag", nodes, SUSPEND_LEAF))
        name = asyncio.run(Engine(store).run(record.uid)).name
        store.close()
        cli("version", home=home)  # compiles the modules into the cache
        for args in (["get", name], ["get", name, "--expand"], ["get", name, "-o", "json"],
                     ["list"]):
            load, cpu, start = os.getloadavg()[0], children_cpu(), time.perf_counter()
            proc = cli(*args, home=home)
            out.append(f"argosy {' '.join(args[:1] + args[2:])} ({nodes:,} nodes): "
                       f"{time.perf_counter() - start:.2f} s, CPU {children_cpu() - cpu:.2f} s, "
                       f"{len(proc.stdout):,} bytes, exit {proc.returncode}, load {load:.1f}")
            print(out[-1], flush=True)
    return out


def bench_store(total: int) -> list[str]:
    """``argosy list``, the REST list (whole, and a first page of 100) and a watch's first
    ``total`` events, over a store of ``total`` finished workflows (bench_server's seeds run
    here, their rows cloned)."""
    import httpx
    from bench_server import API, EVENTS, NS, clone_seeds, cpu_seconds, run_seeds, start_server

    out = []

    def report(what: str, took: float, cpu: float, size: int, status: int | str) -> None:
        out.append(f"{what} ({total:,} workflows): {took:.2f} s, CPU {cpu:.2f} s, {size:,} "
                   f"bytes, {status}, load {os.getloadavg()[0]:.1f}")
        print(out[-1], flush=True)

    with fresh_home() as home:
        clone_seeds(home, run_seeds(home, 10), total)
        for args in (["list", "-n", NS], ["list", "-n", NS, "--chunk-size", "100"]):
            cpu, start = children_cpu(), time.perf_counter()
            proc = cli(*args, home=home)
            report(f"argosy {' '.join(args)}", time.perf_counter() - start,
                   children_cpu() - cpu, len(proc.stdout), f"exit {proc.returncode}")
        server = start_server(home, home / "server.log")
        headers = {"Authorization": f"Bearer {server.token}"}
        try:
            for what, params in (("REST list", {}),
                                 ("REST list, first page", {"listOptions.limit": "100"})):
                cpu, start = cpu_seconds(server.pid), time.perf_counter()
                resp = httpx.get(f"{server.url}{API}/{NS}", params=params, headers=headers,
                                 timeout=600)
                report(what, time.perf_counter() - start, cpu_seconds(server.pid) - cpu,
                       len(resp.content), f"HTTP {resp.status_code}")
            cpu, start, seen, size = cpu_seconds(server.pid), time.perf_counter(), 0, 0
            with httpx.stream("GET", f"{server.url}{EVENTS}/{NS}", headers=headers,
                              timeout=httpx.Timeout(600, read=600)) as resp:
                for line in resp.iter_lines():
                    size += len(line)
                    seen += line.startswith("data: ")
                    if seen == total:
                        break
            report("REST watch, every workflow as ADDED", time.perf_counter() - start,
                   cpu_seconds(server.pid) - cpu, size, f"{seen:,} events")
        finally:
            server.stop()
    return out


#: What a one-node run imports and does, in steps: each case includes the one above it.
STARTUP_STEPS = {
    # rich only draws on a terminal; pydantic's models need its fields and types modules
    "its libraries (click, yaml, asyncio, sqlite3, pluggy, pydantic with one model)":
        "import click, yaml, asyncio, sqlite3, pluggy, pydantic\n"
        "class One(pydantic.BaseModel):\n    x: int = 0",
    "import argosy.cli": "import argosy.cli.commands",
    "+ the registry, the models and the engine":
        "import argosy.cli.commands, argosy.engine.run\n"
        "from argosy.registry import default_registry; default_registry()",
}


def bench_startup(reps: int = 5) -> list[str]:
    """A one-node ``argosy run`` and ``list``/``get`` on a one-workflow store, against a bare
    interpreter and the steps of a run's start: the best wall and CPU of ``reps`` each."""
    one = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
           "metadata": {"generateName": "one-"},
           "spec": {"entrypoint": "main", "templates": [{"name": "main", **TRUE_LEAF}]}}
    out = []
    with fresh_home() as home:
        manifest = home / "one.json"
        manifest.write_text(json.dumps(one))
        cases = {"python -c pass": [sys.executable, "-c", "pass"]}
        cases |= {what: [sys.executable, "-c", code] for what, code in STARTUP_STEPS.items()}
        argosy = [sys.executable, "-m", "argosy.cli"]
        cases |= {f"argosy {verb}": [*argosy, *args] for verb, args in (
            ("run (one node)", ["run", str(manifest)]), ("list", ["list"]),
            ("get", ["get", "@latest"]))}
        env = cli_env(home)
        for argv in cases.values():  # compiles the modules into the cache
            subprocess.run(argv, env=env, capture_output=True)
        for what, argv in cases.items():
            samples = []
            for _ in range(reps):
                cpu, start = children_cpu(), time.perf_counter()
                subprocess.run(argv, env=env, capture_output=True)
                samples.append((time.perf_counter() - start, children_cpu() - cpu))
            best = min(samples)
            verdict = ""
            if what.startswith("argosy run"):
                verdict = (f" (target < {MAX_RUN_ONE_NODE_S:g} s: "
                           f"{'PASS' if best[0] < MAX_RUN_ONE_NODE_S else 'MISS'})")
            out.append(f"start-up, {what}: {best[0]:.3f} s{verdict}, CPU {best[1]:.3f} s (best "
                       f"of {reps}), load {os.getloadavg()[0]:.1f}")
            print(out[-1], flush=True)
    return out


def bench_recovery(nodes: int) -> list[str]:
    """SIGKILL the engine once half the nodes finished; a new engine finishes the workflow."""
    with fresh_home() as home:
        manifest = home / "wf.json"
        manifest.write_text(json.dumps(loop_workflow("dag", nodes, SUSPEND_LEAF)))
        env = dict(os.environ, ARGOSY_HOME=str(home))
        argv = [sys.executable, "-m", "argosy.cli", "engine"]
        engine = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        cli("submit", str(manifest), home=home)
        db = sqlite3.connect(home / "argosy.db", timeout=60)

        def finished() -> dict[str, str]:
            rows = db.execute("SELECT id, json_extract(body, '$.finishedAt') FROM nodes"
                              " WHERE json_extract(body, '$.phase') = 'Succeeded'")
            return dict(rows.fetchall())

        while len(finished()) < nodes // 2 and engine.poll() is None:
            time.sleep(0.2)
        engine.kill()
        engine.wait()
        before = finished()
        load, cpu, start = os.getloadavg()[0], children_cpu(), time.perf_counter()
        engine = subprocess.Popen([*argv, "--exit-when-idle", "1"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while db.execute("SELECT phase FROM workflows").fetchone()[0] in ("Pending", "Running"):
            time.sleep(0.2)
        took = time.perf_counter() - start
        engine.wait()
        after = finished()
        phase = db.execute("SELECT phase FROM workflows").fetchone()[0]
        db.close()
    again = sum(1 for nid, at in before.items() if after.get(nid) != at)
    line = (f"recovery ({nodes:,} nodes, SIGKILL at {len(before):,} finished): {phase}, "
            f"catch-up {took:.1f} s, engine CPU {children_cpu() - cpu:.1f} s (both including "
            f"its start), {again} nodes finished before the kill recorded again, load {load:.1f}")
    print(line, flush=True)
    return [line]


def bench_panel() -> list[str]:
    """The panel's figures, as ``tests/ui``'s ``test_performance_figures`` measures them in the
    browser: that test prints them, this collects them."""
    tests = ["tests/ui/test_panel_shots.py::test_performance_figures",
             "tests/ui/test_panel_scale.py"]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                           *tests], cwd=HERE.parent.parent, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("panel performance")]
    if done.returncode or len(lines) < 3:
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        lines.append(f"panel: not all measured (pytest exited {done.returncode}: {tail[0]})")
    lines = [f"{line}, load {os.getloadavg()[0]:.1f}" for line in lines]
    print("\n".join(lines), flush=True)
    return lines


# -- main ------------------------------------------------------------------------------------


def sizes_arg(text: str) -> list[int]:
    return [int(s.replace("_", "")) for s in text.split(",") if s]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--sizes", type=sizes_arg, help="suspend-0 workflow sizes")
    parser.add_argument("--true-sizes", type=sizes_arg, help="`true` workflow sizes")
    parser.add_argument("--fanout", type=int, help="width of the fan-out (5,000)")
    parser.add_argument("--only", default="nodes,fanout,verbs,store,startup,recovery,panel",
                        help="comma-separated parts to run")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--leaf", help=argparse.SUPPRESS)
    parser.add_argument("--nodes", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--parallelism", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_run(args.child, args.leaf, args.nodes, args.parallelism or None)))
        return
    sizes = args.sizes or ([1_000, 10_000] if args.quick else [1_000, 10_000, 100_000])
    true_sizes = args.true_sizes or ([1_000] if args.quick else [1_000, 10_000, 100_000])
    parts = set(args.only.split(","))
    started = time.perf_counter()
    results: dict[str, Any] = {"quick": args.quick, "cpus": os.cpu_count(),
                               "loadavg_before": os.getloadavg(), "revision": revision(),
                               "python": sys.version.split()[0]}
    print(f"argosy scale benchmark ({'quick' if args.quick else 'full'}; {os.cpu_count()} CPUs; "
          f"revision {results['revision']}; load average {os.getloadavg()[0]:.1f})\n")
    lines: list[str] = []
    if "nodes" in parts:
        print("-- nodes: one withSequence loop, fresh interpreter per run --")
        results["nodes"] = bench_nodes(sizes, true_sizes)
        lines += growth_lines(results["nodes"]) + target_lines(results["nodes"])
    if "fanout" in parts:
        print("\n-- fan-out: one group of `true` steps --")
        results["fanout"] = bench_fanout(args.fanout or (1_000 if args.quick else 5_000),
                                         2 if args.quick else 3)
        lines += fanout_lines(results["fanout"])
        print("\n".join(fanout_lines(results["fanout"])))
    big = 10_000 if args.quick else 100_000
    if "verbs" in parts:
        print("\n-- verbs on a big workflow --")
        results["verbs"] = bench_verbs(big)
        lines += results["verbs"]
    if "store" in parts:
        print("\n-- verbs on a big store --")
        results["store"] = bench_store(1_000 if args.quick else 10_000)
        lines += results["store"]
    if "startup" in parts:
        print("\n-- start-up --")
        results["startup"] = bench_startup()
        lines += results["startup"]
    if "recovery" in parts:
        print("\n-- recovery --")
        results["recovery"] = bench_recovery(big)
        lines += results["recovery"]
    if "panel" in parts:
        print("\n-- the JupyterLab panel --")
        results["panel"] = bench_panel()
        lines += results["panel"]
    results["loadavg_after"] = os.getloadavg()
    print(f"\n-- summary ({time.perf_counter() - started:.0f} s; load average "
          f"{results['loadavg_before'][0]:.1f} before, {results['loadavg_after'][0]:.1f} "
          "after) --")
    for line in lines:
        print(line)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"numbers written to {args.json}")


if __name__ == "__main__":
    main()
