"""The engine against a plain-Python floor that launches the same processes.

    python tests/bench/bench_engine.py [--quick] [--json out.json] [--profile]

Cases (sizes in brackets are ``--quick``'s):

* ``true`` DAG, 1,000 [200] tasks at ``spec.parallelism`` 2 and 8. Shape: a wide fan-out, half
  the tasks independent roots, the rest in 5 equal layers where task ``i`` of a layer depends on
  tasks ``i`` and ``i+1`` (mod width) of the layer before. Four runs of the same DAG:
  floor (plain Python, the faster of a thread pool around ``Popen(["true"]).wait()`` and asyncio
  subprocesses, honouring the same dependencies and concurrency), the local executor alone
  (``LocalBackend.run_process`` driven by the floor's scheduler: the process-launch cost), the
  engine, and the engine with an unisolated local executor (no mount namespace per process).
  Executor-alone - floor is process launch; engine - executor-alone is what the engine's
  bookkeeping adds on top, less what of it overlaps with launches (the fork server starts
  processes on the other core while the engine schedules).
* ``suspend: {duration: "0"}`` DAG, 10,000 [2,000] tasks, same shape, in a child process:
  submit (lint) and run wall time, and the child's peak RSS; the floor is a plain asyncio
  scheduler of the same DAG in a child process.
* One-node ``argosy run`` through the real CLI (median of 5 [3]); its floor is
  ``python -c 'import argosy.cli.commands'``. ``examples/hello-world.yaml`` is reported alongside.

Runs of one case are interleaved (floor, executor, engines, in a rotating order) and the best of
N is kept, so machine noise hits all of them alike. A benchmark reports; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import importlib
import json
import math
import os
import pstats
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TRUE = shutil.which("true") or "/bin/true"
MAX_OVERHEAD_MS = 2.0  # per node, over the floor
MAX_SUSPEND_S = 20.0  # for 10,000 nodes
MAX_RSS_MB = 500.0
MAX_CLI_S = 1.0
FULL_SUSPEND_NODES = 10_000
NAN = float("nan")


# -- workflows ------------------------------------------------------------------------------


@dataclass
class Graph:
    """A DAG's tasks in a stable order, each with the tasks it depends on."""

    deps: dict[str, list[str]]
    dependents: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.dependents = {name: [] for name in self.deps}
        for name, deps in self.deps.items():
            for dep in deps:
                self.dependents[dep].append(name)

    def __len__(self) -> int:
        return len(self.deps)

    def roots(self) -> list[str]:
        return [name for name, deps in self.deps.items() if not deps]


def layered(nodes: int, layers: int = 5) -> Graph:
    """Half the nodes independent, the rest in ``layers`` layers fed by two nodes each."""
    width = (nodes - nodes // 2) // layers
    sizes = [nodes - width * layers] + [width] * layers
    deps: dict[str, list[str]] = {}
    previous: list[str] = []
    for layer, size in enumerate(sizes):
        names = [f"t{layer}-{i}" for i in range(size)]
        for i, name in enumerate(names):
            if previous:
                pair = {previous[i % len(previous)], previous[(i + 1) % len(previous)]}
                deps[name] = sorted(pair)
            else:
                deps[name] = []
        previous = names
    return Graph(deps)


def dag_workflow(graph: Graph, leaf: dict[str, Any], parallelism: int | None) -> dict[str, Any]:
    tasks = []
    for name, deps in graph.deps.items():
        task: dict[str, Any] = {"name": name, "template": "leaf"}
        if deps:
            task["dependencies"] = deps
        tasks.append(task)
    spec: dict[str, Any] = {"entrypoint": "main", "templates": [
        {"name": "main", "dag": {"tasks": tasks}}, {"name": "leaf", **leaf}]}
    if parallelism:
        spec["parallelism"] = parallelism
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"generateName": "bench-"}, "spec": spec}


TRUE_LEAF = {"container": {"image": "busybox", "command": ["true"]}}
SUSPEND_LEAF = {"suspend": {"duration": "0"}}


# -- floors: plain Python running the same DAG --------------------------------------------


def floor_threads(graph: Graph, parallelism: int) -> float:
    """``parallelism`` threads, each launching ``true`` and waiting for it; seconds taken."""
    ready: queue.SimpleQueue[str | None] = queue.SimpleQueue()
    pending = {name: len(deps) for name, deps in graph.deps.items()}
    left = [len(graph)]
    lock = threading.Lock()

    def complete(name: str) -> None:
        with lock:
            for dependent in graph.dependents[name]:
                pending[dependent] -= 1
                if pending[dependent] == 0:
                    ready.put(dependent)
            left[0] -= 1
            if left[0] == 0:
                for _ in range(parallelism):
                    ready.put(None)

    def worker() -> None:
        while (name := ready.get()) is not None:
            subprocess.Popen([TRUE]).wait()
            complete(name)

    for root in graph.roots():
        ready.put(root)
    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(parallelism)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


async def run_dag(graph: Graph, parallelism: int | None,
                  action: Callable[[str], Awaitable[Any]]) -> None:
    """A minimal event-driven DAG scheduler: ``action(task)`` once every dependency is done."""
    slots = asyncio.Semaphore(parallelism) if parallelism else None
    pending = {name: len(deps) for name, deps in graph.deps.items()}
    finished = asyncio.get_running_loop().create_future()
    left = [len(graph)]
    running: set[asyncio.Task[None]] = set()

    async def node(name: str) -> None:
        try:
            async with slots or contextlib.nullcontext():
                await action(name)
        except Exception as exc:  # surface it instead of hanging on `finished`
            if not finished.done():
                finished.set_exception(exc)
            return
        for dependent in graph.dependents[name]:
            pending[dependent] -= 1
            if pending[dependent] == 0:
                start(dependent)
        left[0] -= 1
        if left[0] == 0:
            finished.set_result(None)

    def start(name: str) -> None:
        task = asyncio.create_task(node(name))
        running.add(task)
        task.add_done_callback(running.discard)

    for root in graph.roots():
        start(root)
    await finished


async def _spawn_true(_: str) -> None:
    proc = await asyncio.create_subprocess_exec(TRUE)
    await proc.wait()


def floor_asyncio(graph: Graph, parallelism: int) -> float:
    start = time.perf_counter()
    asyncio.run(run_dag(graph, parallelism, _spawn_true))
    return time.perf_counter() - start


# -- the engine, and its local executor alone ------------------------------------------------


def registry_with_unisolated() -> Any:
    """A registry that also offers ``local-unisolated``: the local executor, no private /tmp."""
    from argosy.plugin import hookimpl
    from argosy.plugins.local import LocalBackend
    from argosy.registry import Registry

    backend = LocalBackend(isolate_tmp=False)
    backend.name = "local-unisolated"

    class Unisolated:
        @hookimpl
        def argosy_executors(self) -> list[Any]:
            return [backend]

    registry = Registry()
    registry.register(Unisolated(), "bench-unisolated")
    return registry


@contextlib.contextmanager
def fresh_home() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="argosy-bench-"))
    old = os.environ.get("ARGOSY_HOME")
    os.environ["ARGOSY_HOME"] = str(home)
    try:
        yield home
    finally:
        if old is None:
            os.environ.pop("ARGOSY_HOME", None)
        else:
            os.environ["ARGOSY_HOME"] = old
        shutil.rmtree(home, ignore_errors=True)


def cli_env(home: Path) -> dict[str, str]:
    """The environment of timed CLI runs: ``home``, and Python's bytecode cache on (in the
    home) even where PYTHONDONTWRITEBYTECODE is set, as an installed argosy has its modules
    compiled: without it every start compiles each module again (0.4 s of a one-node run)."""
    env = dict(os.environ, ARGOSY_HOME=str(home), PYTHONPYCACHEPREFIX=str(home / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


@dataclass
class EngineRun:
    submit_s: float
    run_s: float
    phase: str
    progress: str | None


def engine_run(manifest: dict[str, Any], registry: Any = None, executor: str = "local",
               profile: cProfile.Profile | None = None,
               on_done: Callable[[Path], None] | None = None) -> EngineRun:
    """Submit (lint + record) and run one workflow in this process, in a fresh ARGOSY_HOME;
    ``on_done(home)`` once the store is closed, before the home is removed."""
    from argosy.api.service import submit
    from argosy.engine.run import Engine
    from argosy.store import Store

    with fresh_home() as home:
        store = Store(home)
        t0 = time.perf_counter()
        record = submit(store, manifest, registry=registry)
        t1 = time.perf_counter()
        engine = Engine(store, registry, executor)
        if profile is not None:
            profile.enable()
        final = asyncio.run(engine.run(record.uid))
        if profile is not None:
            profile.disable()
        t2 = time.perf_counter()
        store.close()
        if on_done is not None:
            on_done(home)
    return EngineRun(t1 - t0, t2 - t1, final.phase, final.progress)


def executor_alone(graph: Graph, parallelism: int | None, isolate: bool = True) -> float:
    """``LocalBackend.run_process`` of ``true`` per task, scheduled like the floor."""
    from argosy.plugin import ProcessRequest
    from argosy.plugins.local import LocalBackend
    from argosy.store import runtime_dir

    backend = LocalBackend(isolate_tmp=isolate)
    with fresh_home() as home:
        nodes = runtime_dir(home)  # where the engine puts node directories

        async def launch(name: str) -> None:
            request = ProcessRequest(argv=["true"], env={}, working_dir=None,
                                     node_dir=nodes / name)
            outcome = await backend.run_process(request)
            if outcome.phase != "Succeeded":
                raise RuntimeError(f"{name}: {outcome.phase} {outcome.message}")

        start = time.perf_counter()
        try:
            asyncio.run(run_dag(graph, parallelism, launch))
            return time.perf_counter() - start
        finally:
            shutil.rmtree(nodes, ignore_errors=True)


def popen_loop(count: int, argv: list[str]) -> float:
    start = time.perf_counter()
    for _ in range(count):
        subprocess.Popen(argv).wait()
    return time.perf_counter() - start


def bench_launch(count: int, reps: int) -> dict[str, Any]:
    """One process at a time: what each layer adds to launching ``true``."""
    chain = Graph({f"p{i}": [f"p{i - 1}"] if i else [] for i in range(count)})
    runs: dict[str, Callable[[], float]] = {
        "popen_true": lambda: popen_loop(count, [TRUE]),
        "popen_sh_exec_true": lambda: popen_loop(count, ["/bin/sh", "-c", 'exec "$@"', "sh",
                                                         TRUE]),
        "executor_unisolated": lambda: executor_alone(chain, 1, isolate=False),
        "executor": lambda: executor_alone(chain, 1),
    }
    samples: dict[str, list[float]] = {name: [] for name in runs}
    errors: list[str] = []
    for _ in range(reps):
        for name, run in runs.items():
            sample(samples[name], run, f"{name} sequential", errors)
    return {"count": count, "best": {k: min(v, default=NAN) for k, v in samples.items()},
            "samples": samples, "errors": errors}


def check(run: EngineRun) -> None:
    if run.phase != "Succeeded":
        raise RuntimeError(f"engine run ended {run.phase} ({run.progress}), not Succeeded")


# -- the true-DAG cases ----------------------------------------------------------------------


def bench_true_dag(nodes: int, parallelism: int, reps: int) -> dict[str, Any]:
    graph = layered(nodes)
    manifest = dag_workflow(graph, TRUE_LEAF, parallelism)
    registry = registry_with_unisolated()
    runs: dict[str, Callable[[], float]] = {
        "floor_threads": lambda: floor_threads(graph, parallelism),
        "floor_asyncio": lambda: floor_asyncio(graph, parallelism),
        "executor_alone": lambda: executor_alone(graph, parallelism),
        "executor_alone_unisolated": lambda: executor_alone(graph, parallelism, isolate=False),
        "engine": lambda: _engine_seconds(manifest, nodes, registry, "local"),
        "engine_unisolated": lambda: _engine_seconds(manifest, nodes, registry,
                                                     "local-unisolated"),
    }
    samples: dict[str, list[float]] = {name: [] for name in runs}
    errors: list[str] = []
    order = list(runs)
    for rep in range(reps):
        for name in order[rep % len(order):] + order[:rep % len(order)]:
            gc.collect()
            sample(samples[name], runs[name], f"{name} p{parallelism}", errors)
    best = {name: min(values, default=NAN) for name, values in samples.items()}
    best["floor"] = min(best["floor_threads"], best["floor_asyncio"])
    return {"nodes": nodes, "parallelism": parallelism, "best": best, "samples": samples,
            "errors": errors}


def sample(into: list[float], run: Callable[[], float], name: str, errors: list[str]) -> None:
    """One timing; a run that raises is reported and left out, so one bug loses one number."""
    try:
        into.append(run())
    except Exception as exc:
        errors.append(f"{name}: {type(exc).__name__}: {exc}")
        print(f"error in {errors[-1]}", file=sys.stderr)


def _engine_seconds(manifest: dict[str, Any], nodes: int, registry: Any, executor: str) -> float:
    run = engine_run(manifest, registry, executor)
    check(run)
    return run.run_s


# -- the suspend DAG, in a child process -----------------------------------------------------


def vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_suspend(nodes: int, engine: bool) -> dict[str, Any]:
    """Runs in the child: the suspend DAG through the engine, or through the plain scheduler."""
    graph = layered(nodes)
    if not engine:
        start = time.perf_counter()
        asyncio.run(run_dag(graph, None, lambda _: asyncio.sleep(0)))
        return {"submit_s": 0.0, "run_s": time.perf_counter() - start, "phase": "Succeeded",
                "hwm_mb": vm_hwm_mb()}
    for module in ("argosy.engine.run", "argosy.api.service"):  # imported outside the timing
        importlib.import_module(module)

    baseline = vm_hwm_mb()
    run = engine_run(dag_workflow(graph, SUSPEND_LEAF, None))
    return {"submit_s": run.submit_s, "run_s": run.run_s, "phase": run.phase,
            "progress": run.progress, "hwm_mb": vm_hwm_mb(), "baseline_hwm_mb": baseline}


def in_child(args: list[str]) -> dict[str, Any]:
    """Run this file with ``args`` in a fresh interpreter; its JSON line, wall and max RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} exited {proc.returncode}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result.update(wall_s=wall, maxrss_mb=usage.ru_maxrss / 1024)
    return result


def bench_suspend_dag(nodes: int, reps: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"floor": [], "engine": []}
    errors: list[str] = []
    for _ in range(reps):
        for kind, found in runs.items():
            try:
                result = in_child(["--child", f"{kind}-suspend", "--nodes", str(nodes)])
                if result["phase"] != "Succeeded":
                    raise RuntimeError(f"ended {result['phase']} ({result.get('progress')})")
                found.append(result)
            except Exception as exc:
                errors.append(f"{kind} suspend DAG: {exc}")
                print(f"error in {errors[-1]}", file=sys.stderr)

    def best(found: list[dict[str, Any]]) -> dict[str, Any]:
        failed = {"submit_s": NAN, "run_s": NAN, "hwm_mb": NAN, "baseline_hwm_mb": NAN,
                  "maxrss_mb": NAN}
        return min(found, key=lambda r: r["submit_s"] + r["run_s"], default=failed)

    return {"nodes": nodes, "floor": best(runs["floor"]), "engine": best(runs["engine"]),
            "samples": runs, "errors": errors}


# -- the CLI ---------------------------------------------------------------------------------


def argosy_command() -> list[str]:
    script = Path(sys.executable).with_name("argosy")
    return [str(script)] if script.exists() else [sys.executable, "-m", "argosy.cli"]


def timed(argv: list[str], env: dict[str, str], cpu: list[float] | None = None) -> float:
    """Wall seconds of running ``argv``; its CPU seconds (with its children's) go to ``cpu``."""
    used = os.times()
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[-2:]} exited {proc.returncode}: "
                           f"{proc.stderr.decode()[-500:]}")
    if cpu is not None:
        after = os.times()
        cpu.append(after.children_user + after.children_system
                   - used.children_user - used.children_system)
    return took


def bench_cli(reps: int) -> dict[str, Any]:
    one_node = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {"generateName": "one-"},
                "spec": {"entrypoint": "main", "templates": [{"name": "main", **TRUE_LEAF}]}}
    with fresh_home() as home:
        path = home / "one-node.json"
        path.write_text(json.dumps(one_node))
        env = cli_env(home)
        cases = {
            "python_startup": [sys.executable, "-c", "pass"],
            "import_cli": [sys.executable, "-c", "import argosy.cli.commands"],
            "run_one_node": [*argosy_command(), "run", str(path)],
            "run_hello_world": [*argosy_command(), "run", str(REPO / "examples/hello-world.yaml")],
        }
        samples: dict[str, list[float]] = {name: [] for name in cases}
        errors: list[str] = []
        for argv in cases.values():  # compiles the modules into the cache
            sample([], lambda argv=argv: timed(argv, env), "warm-up", errors)
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(reps):
            for name, argv in cases.items():
                sample(samples[name], lambda argv=argv, name=name: timed(argv, env, cpu[name]),
                       name, errors)
    return {"median": {k: statistics.median(v) if v else NAN for k, v in samples.items()},
            "cpu_median": {k: statistics.median(v) if v else NAN for k, v in cpu.items()},
            "samples": samples, "cpu": cpu, "errors": errors}


# -- report ----------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    nodes: int
    floor: float
    engine: float
    target: str = ""
    ok: bool | None = None
    unit: str = "s"

    @property
    def overhead_ms(self) -> float | None:
        if self.unit != "s" or not self.nodes:
            return None
        return (self.engine - self.floor) / self.nodes * 1000

    @property
    def ratio(self) -> float:
        return self.engine / self.floor if self.floor else float("inf")

    def cells(self) -> list[str]:
        overhead = self.overhead_ms
        verdict = "info" if self.ok is None else ("PASS" if self.ok else "MISS")
        if math.isnan(self.floor) or math.isnan(self.engine):
            verdict = "ERROR"
        return [self.case, str(self.nodes or ""), f"{self.floor:.3f} {self.unit}",
                f"{self.engine:.3f} {self.unit}", "" if overhead is None else f"{overhead:.2f}",
                f"{self.ratio:.1f}x", self.target, verdict]


def true_rows(result: dict[str, Any]) -> list[Row]:
    n, p, best = result["nodes"], result["parallelism"], result["best"]
    name = f"dag {n} true p{p}"
    overhead = (best["engine"] - best["floor"]) / n * 1000
    return [
        Row(f"{name}: engine", n, best["floor"], best["engine"],
            f"<= {MAX_OVERHEAD_MS:g} ms/node", overhead <= MAX_OVERHEAD_MS),
        Row(f"{name}: engine, unisolated", n, best["floor"], best["engine_unisolated"]),
        Row(f"{name}: launch (executor alone)", n, best["floor"], best["executor_alone"]),
        Row(f"{name}: launch (executor alone, unisolated)", n, best["floor"],
            best["executor_alone_unisolated"]),
        Row(f"{name}: bookkeeping (engine - executor)", n, best["executor_alone"],
            best["engine"]),
    ]


def launch_rows(result: dict[str, Any]) -> list[Row]:
    n, best = result["count"], result["best"]
    return [
        Row(f"launch x{n} sequential: sh -c 'exec true'", n, best["popen_true"],
            best["popen_sh_exec_true"]),
        Row(f"launch x{n} sequential: executor, unisolated", n, best["popen_true"],
            best["executor_unisolated"]),
        Row(f"launch x{n} sequential: executor", n, best["popen_true"], best["executor"]),
    ]


def suspend_rows(result: dict[str, Any]) -> list[Row]:
    n, floor, engine = result["nodes"], result["floor"], result["engine"]
    limit = MAX_SUSPEND_S * n / FULL_SUSPEND_NODES
    scaled = "" if n == FULL_SUSPEND_NODES else " (scaled)"
    total = engine["submit_s"] + engine["run_s"]
    return [
        Row(f"dag {n} suspend: submit + run", n, floor["run_s"], total,
            f"< {limit:g} s{scaled}", total < limit),
        Row(f"dag {n} suspend: run only", n, floor["run_s"], engine["run_s"]),
        Row(f"dag {n} suspend: peak RSS", 0, floor["hwm_mb"], engine["hwm_mb"],
            f"< {MAX_RSS_MB:g} MB", engine["hwm_mb"] < MAX_RSS_MB, unit="MB"),
    ]


def cli_rows(result: dict[str, Any]) -> list[Row]:
    med, cpu = result["median"], result["cpu_median"]
    return [
        Row("argosy run, one node (median)", 1, med["import_cli"], med["run_one_node"],
            f"< {MAX_CLI_S:g} s", med["run_one_node"] < MAX_CLI_S),
        Row("argosy run, one node: CPU (median)", 1, cpu["import_cli"], cpu["run_one_node"]),
        Row("argosy run hello-world (median)", 5, med["import_cli"], med["run_hello_world"]),
        Row("import argosy.cli vs python -c pass", 0, med["python_startup"], med["import_cli"]),
        Row("the same: CPU (median)", 0, cpu["python_startup"], cpu["import_cli"]),
    ]


def print_table(rows: list[Row]) -> None:
    header = ["case", "nodes", "floor", "engine", "ms/node", "ratio", "target", ""]
    table = [header, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for i, line in enumerate(table):
        print("  ".join(cell.ljust(w) if c == 0 else cell.rjust(w)
                        for c, (cell, w) in enumerate(zip(line, widths, strict=True))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


# -- profiling -------------------------------------------------------------------------------


def profile_engine(true_nodes: int, suspend_nodes: int, out_dir: Path | None) -> None:
    cases = {
        f"suspend-{suspend_nodes}": dag_workflow(layered(suspend_nodes), SUSPEND_LEAF, None),
        f"true-{true_nodes}-p8": dag_workflow(layered(true_nodes), TRUE_LEAF, 8),
    }
    for name, manifest in cases.items():
        prof = cProfile.Profile()
        try:
            run = engine_run(manifest, profile=prof)
        except Exception as exc:
            prof.disable()
            print(f"\n=== profile: engine run of {name} raised {type(exc).__name__}: {exc} ===")
            continue
        print(f"\n=== profile: engine run of {name} ({run.run_s:.2f} s under cProfile, "
              f"submit {run.submit_s:.2f} s not profiled) ===")
        for key in ("cumulative", "tottime"):
            print(f"\n--- top 25 by {key} ---")
            stats = pstats.Stats(prof, stream=sys.stdout)
            stats.strip_dirs().sort_stats(key).print_stats(25)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            prof.dump_stats(out_dir / f"{name}.prof")


def revision() -> str:
    """The commit measured, ``-dirty`` when the work tree differs from it."""
    proc = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                          capture_output=True, text=True)
    return proc.stdout.strip() or "unknown"


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller DAGs, fewer repetitions")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    parser.add_argument("--profile", action="store_true",
                        help="also cProfile the engine on the suspend and true DAGs")
    parser.add_argument("--profile-dir", type=Path, help="save the .prof files here")
    parser.add_argument("--child", choices=["engine-suspend", "floor-suspend"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--nodes", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_suspend(args.nodes, args.child == "engine-suspend")))
        return
    true_nodes, suspend_nodes = (200, 2_000) if args.quick else (1_000, FULL_SUSPEND_NODES)
    reps, suspend_reps, cli_reps = (2, 1, 3) if args.quick else (3, 2, 5)

    started = time.perf_counter()
    results: dict[str, Any] = {"quick": args.quick, "cpus": os.cpu_count(),
                               "loadavg_before": os.getloadavg(), "revision": revision(),
                               "python": sys.version.split()[0], "true_dag": []}
    rows: list[Row] = []
    for parallelism in (2, 8):
        result = bench_true_dag(true_nodes, parallelism, reps)
        results["true_dag"].append(result)
        rows += true_rows(result)
    results["launch"] = bench_launch(true_nodes // 5, reps)
    rows += launch_rows(results["launch"])
    results["suspend_dag"] = bench_suspend_dag(suspend_nodes, suspend_reps)
    rows += suspend_rows(results["suspend_dag"])
    results["cli"] = bench_cli(cli_reps)
    rows += cli_rows(results["cli"])
    results["loadavg_after"] = os.getloadavg()
    results["rows"] = [dict(zip(["case", "nodes", "floor", "engine", "ms_per_node", "ratio",
                                 "target", "verdict"], r.cells(), strict=True)) for r in rows]

    print(f"\nargosy engine benchmark ({'quick' if args.quick else 'full'}; "
          f"best of {reps} for DAGs, median of {cli_reps} for the CLI; {os.cpu_count()} CPUs; "
          f"{time.perf_counter() - started:.0f} s; load average "
          f"{results['loadavg_before'][0]:.1f} before, {results['loadavg_after'][0]:.1f} after; "
          f"revision {results['revision']})\n")
    print_table(rows)
    floor_kind = ", ".join(
        f"p{r['parallelism']}: threads {r['best']['floor_threads']:.3f} s / "
        f"asyncio {r['best']['floor_asyncio']:.3f} s" for r in results["true_dag"])
    print(f"\nfloor = the faster of ({floor_kind})")
    suspend = results["suspend_dag"]["engine"]
    print(f"suspend DAG: submit {suspend['submit_s']:.2f} s, run {suspend['run_s']:.2f} s; "
          f"RSS {suspend['baseline_hwm_mb']:.0f} MB after imports, peak {suspend['hwm_mb']:.0f} "
          f"MB (ru_maxrss {suspend['maxrss_mb']:.0f} MB)")
    errors = [e for part in (*results["true_dag"], results["launch"], results["suspend_dag"],
                             results["cli"]) for e in part["errors"]]
    results["errors"] = errors
    for error in errors:
        print(f"ERROR (left out of the best-of): {error}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"numbers written to {args.json}")
    if args.profile:
        profile_engine(true_nodes, suspend_nodes, args.profile_dir)


if __name__ == "__main__":
    main()
