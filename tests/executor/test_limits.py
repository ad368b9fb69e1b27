"""Container ``resources.limits``: one notice where the host delegates no cgroup v2 memory and cpu
controllers (enforcing them is in tests/hostile/test_limits.py: a step eating memory)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from argosy.plugin import Outcome, ProcessRequest
from argosy.plugins.cgroups import CGROUP_ENV, limits_of
from argosy.plugins.local import LocalBackend


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


def test_a_limit_of_zero_is_no_limit() -> None:
    """As runc takes it: a container with ``memory: 0`` gets no cgroup."""
    limits = {"memory": "0", "cpu": "0m"}
    assert limits_of({"resources": {"limits": limits}}) == {}
    assert limits_of({"resources": {"limits": {**limits, "cpu": "250m"}}}) == {"cpu": 0.25}
