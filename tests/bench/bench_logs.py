"""The engine's memory and the store's size while a step prints a lot.

    python tests/bench/bench_logs.py [--mb 200] [--json out.json]

One workflow, one step printing ``--mb`` MiB of 100-byte lines, run by an engine in a child
process. Reported: the child's resident memory when idle (argosy imported, store open, engine
made, just before the run) and its peak (VmHWM) over the run, the growth between them and its
ratio to the output; the store's size afterwards (``argosy.db`` with its WAL) and the whole log
kept beside it under ``logs/``; the run's wall time. The issue's target: the growth stays within
100 MB. A benchmark reports; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

MB = 1 << 20
TARGET_GROWTH_MB = 100.0

WORKFLOW = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: loud}
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: alpine
      command: [sh, -c, "yes $(printf %%099d 0) | head -c %d; echo; echo done >&2"]
"""

# Runs in the child: prints its idle and peak RSS, in kB, and the run's phase and seconds.
CHILD = """
import asyncio, json, sys, time
from argosy.engine.run import Engine
from argosy.api.service import submit
from argosy.store import Store

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

store = Store()
record = submit(store, sys.argv[1])
engine = Engine(store)
idle = status("VmRSS")
started = time.monotonic()
done = asyncio.run(engine.run(record.uid))
print(json.dumps({"idle_kb": idle, "peak_kb": status("VmHWM"), "phase": done.phase,
                  "seconds": time.monotonic() - started}))
"""


def size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def run(mb: int) -> dict[str, float | str]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = dict(os.environ, ARGOSY_HOME=str(home))
        out = subprocess.run([sys.executable, "-c", CHILD, WORKFLOW % (mb * MB)], env=env,
                             capture_output=True, text=True, check=True)
        child = json.loads(out.stdout.strip().splitlines()[-1])
        growth = (child["peak_kb"] - child["idle_kb"]) / 1024
        return {
            "output_mb": mb,
            "phase": child["phase"],
            "idle_rss_mb": child["idle_kb"] / 1024,
            "peak_rss_mb": child["peak_kb"] / 1024,
            "growth_mb": growth,
            "growth_per_output_mb": growth / mb,
            "within_target": "yes" if growth <= TARGET_GROWTH_MB else "NO",
            "store_mb": (size(home / "argosy.db") + size(home / "argosy.db-wal")) / MB,
            "full_logs_mb": size(home / "logs") / MB,
            "seconds": child["seconds"],
        }


def main(bench: Callable[[int], dict[str, Any]] | None = None, *, doc: str | None = None,
         default_mb: int = 200, mb_help: str = "MiB the step prints") -> None:
    """Run ``bench`` (this module's ``run``) for ``--mb`` MiB and print its figures, as every
    benchmark of a size in MiB does; ``--json`` also writes them."""
    parser = argparse.ArgumentParser(description=(doc or __doc__ or "").splitlines()[0])
    parser.add_argument("--mb", type=int, default=default_mb, help=mb_help)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    figures = (bench or run)(args.mb)
    for key, value in figures.items():
        print(f"{key:22} {value:.2f}" if isinstance(value, float) else f"{key:22} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
