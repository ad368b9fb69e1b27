"""Per-node overhead of the kubernetes executor against the API server double, versus local.

    python tests/bench/bench_kubernetes.py [--nodes 40] [--json out.json]

A workflow of ``--nodes`` steps running ``true``, in groups of 4 parallel steps, run by
``argosy run`` with the local executor, then with the kubernetes executor against a double
serving from a second process (its kubelet starts each pod's container as a host process, as
the local executor does). Each executor also runs the workflow with no steps but one, and the
difference is the time the ``--nodes`` steps took: the start of ``argosy run``, the first
connection and watch are left out. Reported: those times per node and their ratio
kubernetes/local, measured in the same run of this script on the same machine. A benchmark
reports; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def workflow(nodes: int) -> str:
    groups = ["    - - {name: warm, template: noop}"]
    for start in range(0, nodes, 4):
        names = [f"s{i}" for i in range(start, min(start + 4, nodes))]
        groups.append("\n".join(f"    {'- -' if j == 0 else '  -'} {{name: {n}, template: noop}}"
                                for j, n in enumerate(names)))
    return f"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{generateName: bench-}}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
{chr(10).join(groups)}
  - name: noop
    container: {{image: alpine, command: ["true"]}}
"""


def run(home: Path, manifest: Path, env: dict[str, str], *options: str) -> float:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "argosy.cli", "run", str(manifest), "-o",
                           "name", *options], env={**os.environ, "ARGOSY_HOME": str(home), **env},
                          capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"argosy run {' '.join(options)} failed:\n{done.stdout}{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=40)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="argosy-bench-kube-") as tmp:
        root = Path(tmp)
        manifest, empty = root / "wf.yaml", root / "one.yaml"
        manifest.write_text(workflow(args.nodes))
        empty.write_text(workflow(0))
        kubeconfig = root / "kubeconfig"
        double = subprocess.Popen(
            [sys.executable, "-m", "tests.kube.double", "--port", "0", "--kubeconfig",
             str(kubeconfig), "--root", str(root / "pods")], cwd=REPO,
            stdout=subprocess.PIPE, text=True)
        try:
            assert double.stdout is not None
            double.stdout.readline()  # it serves once it said so
            local = run(root / "local", manifest, {}) - run(root / "local", empty, {})
            kube_env = {"KUBECONFIG": str(kubeconfig)}
            options = ("--executor", "kubernetes")
            kube = (run(root / "kube", manifest, kube_env, *options)
                    - run(root / "kube", empty, kube_env, *options))
        finally:
            double.terminate()
            double.wait()
    report("kubernetes", args.nodes, local, kube, args.json)


def report(executor: str, nodes: int, local: float, other: float, json_path: Path | None
           ) -> None:
    """Print (and write as JSON) the seconds and per-node costs of ``executor`` beside local's."""
    figures = {"nodes": nodes, "local_seconds": round(local, 3),
               f"{executor}_seconds": round(other, 3),
               "local_ms_per_node": round(local / nodes * 1000, 1),
               f"{executor}_ms_per_node": round(other / nodes * 1000, 1),
               "ratio": round(other / local, 2)}
    for key, value in figures.items():
        print(f"{key:24} {value}")
    if json_path:
        json_path.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
