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
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.bench_kubernetes import report, run, workflow  # noqa: E402
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
    report("podman", args.nodes, local, podman, args.json)


if __name__ == "__main__":
    main()
