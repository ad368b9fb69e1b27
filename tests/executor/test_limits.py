"""Container ``resources.limits`` through a cgroup v2 directory of the node's own, where the host
delegates the memory and cpu controllers; one notice where it does not."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from argosy.plugin import Outcome, ProcessRequest
from argosy.plugins.local import CGROUP_ENV, LocalBackend, cgroup_base


def run(backend: LocalBackend, node_dir: Path, argv: list[str], limits: dict[str, Any]
        ) -> Outcome:
    template = {"container": {"image": "python", "resources": {"limits": limits}}}
    request = ProcessRequest(argv=argv, env={}, working_dir=None, node_dir=node_dir,
                             template=template)
    return asyncio.run(backend.run_process(request))


def isolated() -> LocalBackend:
    backend = LocalBackend()
    if not backend._isolated():
        pytest.skip("no mount namespaces here")
    return backend


def test_limits_the_host_cannot_enforce_are_said_once_and_the_step_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(CGROUP_ENV, str(tmp_path))  # no cgroup there
    backend = isolated()
    with caplog.at_level(logging.WARNING):
        for name in ("a", "b"):
            outcome = run(backend, tmp_path / name, ["true"], {"memory": "64Mi", "cpu": "500m"})
            assert outcome.phase == "Succeeded", outcome.message
    notices = [r.getMessage() for r in caplog.records if "resources.limits" in r.getMessage()]
    assert notices == [f"argosy: resources.limits are not enforced, because {tmp_path} is not "
                       "a cgroup v2 directory"]


def test_a_limit_that_is_no_quantity_fails_the_step_naming_it(tmp_path: Path) -> None:
    outcome = run(isolated(), tmp_path / "n", ["true"], {"memory": "lots"})
    assert (outcome.phase, outcome.message) == (
        "Error", "resources.limits.memory: 'lots' is not a quantity this executor understands "
        "(a number with one of the suffixes k, M, G, T, Ki, Mi, Gi, Ti)")


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
