"""Durability of CronWorkflows: ``kill -9`` of the engine never runs a schedule time twice, and
a time missed while no engine ran is run late only within ``startingDeadlineSeconds``.

Engines are real processes whose scheduler reads a shifted clock (see crash_engine.py), so a
test reaches the next minute's schedule time, or one long past, without waiting for it.
"""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from argosy.api.service import WorkflowService
from argosy.cron import CRON_LABEL, KIND
from argosy.objects import ObjectService
from argosy.store import Store
from tests.durability.harness import EngineProcess, wait_until


def every_minute(name: str, deadline: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "schedules": ["* * * * *"], "timezone": "UTC",
        "workflowSpec": {"entrypoint": "main", "templates": [
            {"name": "main", "container": {"image": "alpine", "command": ["true"]}}]}}
    if deadline is not None:
        spec["startingDeadlineSeconds"] = deadline
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": KIND, "metadata": {"name": name},
            "spec": spec}


def next_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)


def offset_to(minute: datetime, seconds_past: float) -> float:
    """The clock offset that makes "now" ``seconds_past`` the schedule time ``minute``."""
    return (minute - datetime.now(UTC)).total_seconds() + seconds_past


def runs(store: Store, cron: str) -> list[dict[str, Any]]:
    return WorkflowService(store).list(label_selector=f"{CRON_LABEL}={cron}")


def status(store: Store, cron: str) -> dict[str, Any]:
    return (store.get_object(KIND, "default", cron) or {}).get("status") or {}


def test_kill_between_creating_a_run_and_recording_it_never_runs_it_twice(home: Path) -> None:
    store = Store()
    ObjectService(store).put(every_minute("tick"))
    minute = next_minute()
    offset = offset_to(minute, 2)
    crashing = EngineProcess(home, 600, crash_at="after-cron-submit", clock_offset=offset)
    assert crashing.wait(60) == -signal.SIGKILL  # it died right after creating the run
    assert [w["metadata"]["name"] for w in runs(store, "tick")] == [
        f"tick-{int(minute.timestamp())}"]
    assert "lastScheduledTime" not in status(store, "tick")
    # Still within the minute's on-time window: the next engine finds the run already there.
    engine = EngineProcess(home, 600, clock_offset=offset)
    try:
        wait_until(lambda: status(store, "tick").get("succeeded") == 1, 60,
                   "the one run to succeed and be counted")
    finally:
        engine.kill9()
    found = runs(store, "tick")
    assert len(found) == 1 and found[0]["status"]["phase"] == "Succeeded"
    assert status(store, "tick")["lastScheduledTime"] == minute.strftime("%Y-%m-%dT%H:%M:%SZ")
    annotations = found[0]["metadata"]["annotations"]
    assert annotations["workflows.argoproj.io/scheduled-time"] == minute.strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def test_a_run_missed_while_killed_is_run_only_within_its_starting_deadline(
        home: Path) -> None:
    store = Store()
    ObjectService(store).put(every_minute("strict", deadline=0))
    ObjectService(store).put(every_minute("lenient", deadline=300))
    first = next_minute()
    offset = offset_to(first, 2)
    engine = EngineProcess(home, 600, clock_offset=offset)
    both = ("strict", "lenient")
    wait_until(lambda: all(status(store, c).get("succeeded") == 1 for c in both), 60,
               "both crons' first runs")
    engine.kill9()
    # The next engine comes back 30 s after the following minute's schedule time.
    second = first + timedelta(minutes=1)
    offset = offset_to(second, 30)
    engine = EngineProcess(home, 600, clock_offset=offset)
    try:
        # Counted a poll after it ended: the strict cron was looked at in between.
        wait_until(lambda: status(store, "lenient").get("succeeded") == 2, 60,
                   "the lenient cron's late run")
    finally:
        engine.kill9()
    assert sorted(w["metadata"]["name"] for w in runs(store, "lenient")) == [
        f"lenient-{int(first.timestamp())}", f"lenient-{int(second.timestamp())}"]
    assert [w["metadata"]["name"] for w in runs(store, "strict")] == [
        f"strict-{int(first.timestamp())}"]
    assert status(store, "strict")["lastScheduledTime"] == first.strftime("%Y-%m-%dT%H:%M:%SZ")
