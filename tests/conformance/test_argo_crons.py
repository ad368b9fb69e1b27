"""Argo's CronWorkflow examples (``cron-*`` and the cron of ``dag-inline-…``): each lints, is
applied with what it refers to, and its workflow runs, with ``submit --from cronwf/NAME``;
one waits for a real schedule time of ``* * * * *`` and runs there."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conformance.test_argo_examples import argosay
from tests.conftest import ARGO_EXAMPLES, run_cli

# Each cron example: (the files applied first, the CronWorkflow's name).
CRONS = {
    "cron-workflow.yaml": ((), "hello-world"),
    "cron-when.yaml": ((), "sleep-when"),
    "cron-workflow-multiple-schedules.yaml": ((), "hello-world-multiple-schedules"),
    "cron-backfill.yaml": ((), "daily-job"),
    "dag-inline-cronworkflow.yaml": (("dag-inline-workflowtemplate.yaml",), "dag-inline"),
}


def present(name: str) -> Path:
    path = ARGO_EXAMPLES / name
    if not path.exists():
        pytest.skip("the conformance corpus (../shared/conformance) is not beside this clone")
    return path


def stored_documents(path: Path, tmp: Path) -> Path:
    """The file's documents the store keeps (its Workflows are other examples' business:
    cron-backfill's need a cluster)."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] != "Workflow"]
    out = tmp / path.name
    out.write_text(yaml.safe_dump_all(docs))
    return out


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A home whose crons are suspended at the end, so its background engine goes idle."""
    home = tmp_path / "home"
    yield home
    if (home / "argosy.db").exists():
        names = run_cli("cron", "list", "-o", "name", home=home).stdout.split()
        if names:
            run_cli("cron", "delete", *names, home=home)


@pytest.mark.parametrize("example", sorted(CRONS))
def test_cron_example_lints_applies_and_runs(example: str, tmp_path: Path, home: Path) -> None:
    before, name = CRONS[example]
    env = {**argosay(home), "ARGOSY_ENGINE_IDLE_SECONDS": "2"}
    for file in (*before, example):
        stored = stored_documents(present(file), tmp_path)
        result = run_cli("apply", "-f", str(stored), home=home, env=env)
        assert result.code == 0, result.stderr
    # Suspended at once: this test runs the workflow itself, not on the schedule.
    assert run_cli("cron", "suspend", name, home=home).code == 0
    lint = run_cli("lint", str(stored), home=home)
    assert lint.code == 0, lint.stdout + lint.stderr
    result = run_cli("submit", "--from", f"cronwf/{name}", "--wait", "-o", "name", home=home,
                     env=env, timeout=300)
    wf = run_cli("get", result.stdout.split()[0], "-o", "json", home=home).json()
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert result.code == 0, result.stderr
    assert wf["metadata"]["labels"]["workflows.argoproj.io/cron-workflow"] == name


def test_every_minute_runs_at_the_next_minute(home: Path) -> None:
    """The one real wait: ``* * * * *`` from a background engine, up to a minute and a bit."""
    path = present("cron-workflow.yaml")
    env = {**argosay(home), "ARGOSY_ENGINE_IDLE_SECONDS": "2"}
    assert run_cli("cron", "create", str(path), home=home, env=env).code == 0
    deadline = time.monotonic() + 90
    phase = None
    while time.monotonic() < deadline:
        listed = run_cli("list", "-o", "json", home=home).json()
        if listed and listed[0]["status"]["phase"] == "Succeeded":
            phase = listed[0]["status"]["phase"]
            break
        time.sleep(1)
    assert phase == "Succeeded"
    wf = listed[0]
    scheduled = wf["metadata"]["annotations"]["workflows.argoproj.io/scheduled-time"]
    assert scheduled.endswith(":00-08:00") or scheduled.endswith(":00-07:00")  # Los Angeles
    db = sqlite3.connect(home / "argosy.db")
    try:
        logs = " ".join(c for (c,) in db.execute("SELECT content FROM logs"))
    finally:
        db.close()
    assert f"Scheduled on: {scheduled}" in logs
    got = run_cli("cron", "get", "hello-world", "-o", "json", home=home).json()
    assert got["status"]["lastScheduledTime"]
