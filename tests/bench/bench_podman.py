"""Per-node overhead of the podman executor versus the local one, in the same run.

    python tests/bench/bench_podman.py [--nodes 40] [--json out.json]

The workflow of ``bench_kubernetes.py`` (``--nodes`` steps running ``true`` in an ``alpine``
image, in groups of 4 parallel steps), run by ``argosy run`` with the local executor, then with
the podman executor on images built as tests/podman builds them (a static busybox tagged as
``alpine``). Each executor also runs the workflow with no steps but one, and the difference is
the time the ``--nodes`` steps took. Reported: those times per node and their ratio
podman/local, measured on the same machine in the same run of this script. A benchmark reports;
it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.bench_kubernetes import run, workflow  # noqa: E402
from tests.podman.conftest import build_images  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=40)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="argosy-bench-podman-") as tmp:
        root = Path(tmp)
        reason = build_images(root)
        if reason:
            raise SystemExit(reason)
        manifest, empty = root / "wf.yaml", root / "one.yaml"
        manifest.write_text(workflow(args.nodes))
        empty.write_text(workflow(0))
        local = run(root / "local", manifest, {}) - run(root / "local", empty, {})
        options = ("--executor", "podman")
        podman = run(root / "podman", manifest, {}, *options) - run(root / "podman", empty, {},
                                                                     *options)
    nodes = args.nodes
    figures = {"nodes": nodes, "local_seconds": round(local, 3),
               "podman_seconds": round(podman, 3),
               "local_ms_per_node": round(local / nodes * 1000, 1),
               "podman_ms_per_node": round(podman / nodes * 1000, 1),
               "ratio": round(podman / local, 2)}
    for key, value in figures.items():
        print(f"{key:20} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
