"""Per-process cost of the local executor against plain-Python floors that launch ``true``.

Run by hand: ``python tests/executor/bench_spawn.py [-n COUNT] [--inflate MB]``. Prints
milliseconds per process for

* the floors: ``subprocess.Popen(["true"]).wait()`` and ``asyncio.create_subprocess_exec``;
* ``LocalBackend.run_process`` of ``true``, with a private /tmp (isolated) and without;

each one at a time (sequential) and eight at a time (concurrent), first with this process as it
starts and then inflated to ``--inflate`` MB of resident memory (an engine holding a big
workflow): a fork() from a big process copies its page tables, a vfork/posix_spawn does not.
"over floor" is the wall-time overhead over the faster floor of the same row group; "cpu" is
the CPU time per process of everything involved (this process, the processes it reaped, the
fork server and the processes it reaped), which a busy machine does not inflate. Cases are
interleaved and the best of ``--reps`` rounds is kept, so a noisy moment hits every case alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from itertools import count
from pathlib import Path

from argosy.plugin import ProcessRequest
from argosy.plugins import local
from argosy.plugins.local import LocalBackend
from argosy.store import runtime_root

TRUE = shutil.which("true") or "/bin/true"
CONCURRENCY = 8

Launch = Callable[[], Awaitable[None]]


def popen_true() -> Launch:
    async def launch() -> None:
        subprocess.Popen([TRUE]).wait()  # blocks the loop, as a plain script would

    return launch


def asyncio_true() -> Launch:
    async def launch() -> None:
        proc = await asyncio.create_subprocess_exec(TRUE)
        await proc.wait()

    return launch


def backend_true(backend: LocalBackend, base: Path) -> Launch:
    ids = count()

    async def launch() -> None:
        node = base / f"n{next(ids)}"
        request = ProcessRequest(argv=["true"], env={}, working_dir=None, node_dir=node)
        outcome = await backend.run_process(request)
        assert outcome.phase == "Succeeded", outcome.message

    return launch


def cpu_seconds() -> float:
    """CPU time of this process, its reaped children, and the fork server with its own."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime
    server = getattr(getattr(local, "_fork_server", None), "_pid", 0)
    try:
        with open(f"/proc/{server}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return total
    ticks = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    return total + ticks / os.sysconf("SC_CLK_TCK")


async def per_process_ms(launch: Launch, n: int, concurrency: int) -> tuple[float, float]:
    """(wall, cpu) milliseconds per process for ``n`` launches, ``concurrency`` at a time."""
    pending = iter(range(n))

    async def worker() -> None:
        for _ in pending:
            await launch()

    t0, c0 = time.perf_counter(), cpu_seconds()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.perf_counter() - t0) * 1000 / n, (cpu_seconds() - c0) * 1000 / n


def cases(base: Path) -> dict[str, Launch]:
    isolated, unisolated = LocalBackend(), LocalBackend(isolate_tmp=False)
    if not isolated._isolated():
        print("note: no mount namespaces here; 'isolated' runs unisolated")
    return {
        "Popen(['true']).wait()": popen_true(),
        "asyncio.create_subprocess_exec": asyncio_true(),
        "LocalBackend isolated": backend_true(isolated, base / "iso"),
        "LocalBackend unisolated": backend_true(unisolated, base / "uniso"),
    }


Best = dict[tuple[str, int], tuple[float, float]]


async def measure(launches: dict[str, Launch], n: int, reps: int) -> Best:
    best: Best = {}
    for rep in range(reps):
        for concurrency in (1, CONCURRENCY):
            names = list(launches)
            names = names[rep % len(names):] + names[:rep % len(names)]  # rotate the order
            for name in names:
                wall, cpu = await per_process_ms(launches[name], n, concurrency)
                old_wall, old_cpu = best.get((name, concurrency), (wall, cpu))
                best[name, concurrency] = (min(wall, old_wall), min(cpu, old_cpu))
    return best


def report(title: str, best: Best) -> None:
    print(f"\n{title}")
    print(f"{'case':34} {'mode':>10} {'ms/process':>11} {'over floor':>11} {'cpu ms':>7}")
    for concurrency, mode in ((1, "sequential"), (CONCURRENCY, f"{CONCURRENCY} at once")):
        row = {name: ms for (name, c), ms in best.items() if c == concurrency}
        floor = min(row["Popen(['true']).wait()"][0], row["asyncio.create_subprocess_exec"][0])
        for name, (wall, cpu) in row.items():
            print(f"{name:34} {mode:>10} {wall:11.3f} {wall - floor:+11.3f} {cpu:7.2f}")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def inflate(mb: int) -> bytearray:
    ballast = bytearray(mb * 2**20)
    ballast[::resource.getpagesize()] = b"\1" * len(range(0, len(ballast), resource.getpagesize()))
    return ballast  # every page touched, so resident


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=200, help="processes per case and round")
    parser.add_argument("--reps", type=int, default=3, help="rounds; the best is kept")
    parser.add_argument("--inflate", type=int, default=300, help="MB of ballast, 0 for none")
    parser.add_argument("--dir", type=Path, default=runtime_root() or Path.home(),
                        help="where node directories go (default: where the engine puts them)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="argosy-bench-", dir=args.dir) as tmp:
        launches = cases(Path(tmp))
        for launch in launches.values():  # warm up: probes, helper processes, imports
            asyncio.run(per_process_ms(launch, 4, 1))
        runs = [("as started", 0)] + ([(f"inflated by {args.inflate} MB", args.inflate)]
                                      if args.inflate else [])
        ballast = []
        for label, mb in runs:
            if mb:
                ballast.append(inflate(mb))
            best = asyncio.run(measure(launches, args.n, args.reps))
            report(f"engine {label}: RSS {rss_mb():.0f} MB", best)
            for sub in Path(tmp).iterdir():  # node dirs pile up: keep the directories small
                shutil.rmtree(sub)


if __name__ == "__main__":
    main()
