"""A large output artifact through the engine: its throughput against ``cp``, and the engine's
memory while it moves.

    python tests/bench/bench_artifacts.py [--mb 1024] [--json out.json]

Two runs of one workflow by an engine in a child process: a step writes ``--mb`` MiB to a file
and the next one takes it; with it as an output and input artifact (``archive: none``: saved
to the local repository, then placed for the next step), and without (the file stays in the
first step's sandbox). The artifact's cost is the difference of the two runs' wall times,
reported beside the time ``cp`` takes to copy the same file twice (what saving and placing it
amount to) in this run, as a ratio. Also the engine's resident memory when idle and its peak
(VmHWM) over the artifact run: the target is a growth that does not follow the artifact's
size. A benchmark reports; it asserts nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

# The engine in a child, measured; and how a benchmark of a size in MiB is run and printed.
from tests.bench.bench_logs import CHILD  # noqa: E402
from tests.bench.bench_logs import main as report  # noqa: E402

MB = 1 << 20

WORKFLOW = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: big}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: gen, template: gen}
    - - {name: use, template: use%(args)s}
  - name: gen
    container: {image: alpine, command: [sh, -c, "head -c %(size)d /dev/zero > /tmp/big"]}
%(outputs)s
  - name: use
%(inputs)s
    container: {image: alpine, command: [sh, -c, "true"]}
"""
ARTIFACT = {
    "args": ', arguments: {artifacts: [{name: big, from: "{{steps.gen.outputs.artifacts.big}}"}]}',
    "outputs": "    outputs: {artifacts: [{name: big, path: /tmp/big, archive: {none: {}}}]}",
    "inputs": "    inputs: {artifacts: [{name: big, path: /tmp/big}]}",
}
PLAIN = {"args": "", "outputs": "", "inputs": ""}

def engine_run(tmp: Path, manifest: str) -> dict[str, float | str]:
    home = Path(tempfile.mkdtemp(dir=tmp, prefix="home-"))
    out = subprocess.run([sys.executable, "-c", CHILD, manifest], capture_output=True,
                         text=True, check=True, env=dict(os.environ, ARGOSY_HOME=str(home)))
    return json.loads(out.stdout.strip().splitlines()[-1])


def cp_seconds(tmp: Path, size: int) -> float:
    """Copying the same file twice with ``cp``, as saving and placing it amount to."""
    source = tmp / "source"
    subprocess.run(["sh", "-c", f"head -c {size} /dev/zero > {source}"], check=True)
    started = time.monotonic()
    subprocess.run(["cp", str(source), str(tmp / "first")], check=True)
    subprocess.run(["cp", str(tmp / "first"), str(tmp / "second")], check=True)
    return time.monotonic() - started


def run(mb: int) -> dict[str, float | str]:
    size = mb * MB
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        plain = engine_run(tmp, WORKFLOW % {"size": size, **PLAIN})
        moved = engine_run(tmp, WORKFLOW % {"size": size, **ARTIFACT})
        copying = cp_seconds(tmp, size)
    cost = float(moved["seconds"]) - float(plain["seconds"])
    growth = (float(moved["peak_kb"]) - float(moved["idle_kb"])) / 1024
    return {
        "artifact_mb": mb,
        "phase": moved["phase"],
        "run_with_artifact_s": float(moved["seconds"]),
        "run_without_s": float(plain["seconds"]),
        "artifact_cost_s": cost,
        "cp_twice_s": copying,
        "cost_per_cp_ratio": cost / copying if copying else float("nan"),
        "throughput_mb_s": mb / cost if cost > 0 else float("nan"),
        "idle_rss_mb": float(moved["idle_kb"]) / 1024,
        "peak_rss_mb": float(moved["peak_kb"]) / 1024,
        "rss_growth_mb": growth,
    }


if __name__ == "__main__":
    report(run, doc=__doc__, default_mb=1024, mb_help="MiB of the artifact")
