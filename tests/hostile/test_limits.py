"""Container ``resources.limits`` through a cgroup v2 directory of the node's own, where the host
delegates the memory and cpu controllers (skipped, with the reason, where it does not)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from argosy.plugins.local import cgroup_base
from tests.executor.test_limits import isolated, run
from tests.hostile.test_hostile import pytestmark  # noqa: F401  (root, unshare)


def test_memory_and_cpu_limits_bound_the_step_and_an_oom_kill_is_argos_message(
        tmp_path: Path) -> None:
    base, why = cgroup_base()
    if base is None:
        pytest.skip(f"no delegated cgroup v2 controllers here: {why}")
    backend = isolated()
    show = "cat /sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/{memory,cpu}.max"
    outcome = run(backend, tmp_path / "show", ["bash", "-c", show],
                  {"memory": "64Mi", "cpu": "250m"})
    assert outcome.result == f"{64 << 20}\n25000 100000", outcome.message
    hog = [sys.executable, "-c", "b = bytearray(512 << 20); b[::4096] = b'x' * (512 << 8)"]
    outcome = run(backend, tmp_path / "hog", hog, {"memory": "64Mi"})
    assert (outcome.phase, outcome.message) == ("Failed", "OOMKilled (exit code 137)")
    assert not any(base.glob("argosy-*"))  # each node's cgroup went with it
