"""The CronWorkflow scheduler with a clock the test sets: Argo's runtime policies, status and
history, without waiting for a schedule time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from argosy.cron import COMPLETED_LABEL, CRON_LABEL, KIND, CronScheduler, due
from argosy.errors import InvalidWorkflow
from argosy.objects import ObjectService, object_faults
from argosy.store import Store, now_rfc3339


class Clock:
    """Starts a second past a minute ahead of the real time at which the test's cron is
    created: its first run is due then."""

    def __init__(self) -> None:
        self.start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=5)
        self.now = self.start + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def minutes(self, count: int) -> None:
        self.now += timedelta(minutes=count)


def cron(name: str = "c", **options: Any) -> dict[str, Any]:
    spec = {"schedules": ["* * * * *"], "timezone": "UTC",
            "workflowSpec": {"entrypoint": "main", "templates": [
                {"name": "main", "container": {"image": "alpine", "command": ["true"]}}]},
            **options}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": KIND, "metadata": {"name": name},
            "spec": spec}


@pytest.fixture
def store(argosy_home: Path) -> Store:
    return Store()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def scheduler(store: Store, clock: Clock, **options: Any) -> CronScheduler:
    ObjectService(store).put(cron(**options))
    return CronScheduler(store, clock)


def children(store: Store, name: str = "c") -> list[Any]:
    return [r for r in store.list("default") if r.manifest["metadata"]["labels"].get(CRON_LABEL)
            == name]


def finish(store: Store, phase: str = "Succeeded") -> None:
    for record in children(store):
        if record.phase in ("Pending", "Running"):
            store.update_status(record.uid, phase=phase, finished_at=now_rfc3339())


def status(store: Store, name: str = "c") -> dict[str, Any]:
    return store.get_object(KIND, "default", name).get("status") or {}


def test_a_schedule_time_starts_one_workflow_named_after_it(store: Store, clock: Clock) -> None:
    sched = scheduler(store, clock)
    assert sched.tick() == [f"c-{int(clock.start.timestamp())}"]
    assert sched.tick() == []  # the same time, looked at again
    wf = store.workflow(children(store)[0])
    assert wf["metadata"]["annotations"]["workflows.argoproj.io/scheduled-time"] == \
        clock.start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert wf["metadata"]["ownerReferences"][0]["kind"] == KIND
    assert status(store)["active"][0]["name"] == wf["metadata"]["name"]
    assert status(store)["phase"] == "Active"


def test_forbid_skips_while_one_runs(store: Store, clock: Clock) -> None:
    sched = scheduler(store, clock, concurrencyPolicy="Forbid")
    sched.tick()
    clock.minutes(1)
    assert sched.tick() == []
    finish(store)
    clock.minutes(1)
    assert len(sched.tick()) == 1
    assert status(store)["succeeded"] == 1


def test_replace_stops_the_one_that_runs(store: Store, clock: Clock) -> None:
    sched = scheduler(store, clock, concurrencyPolicy="Replace")
    sched.tick()
    first = children(store)[0]
    clock.minutes(1)
    assert len(sched.tick()) == 1
    assert [a[1] for a in store.actions_after(first.uid, 0)] == ["terminate"]


def test_allow_runs_beside_the_one_that_runs(store: Store, clock: Clock) -> None:
    sched = scheduler(store, clock)
    sched.tick()
    clock.minutes(1)
    assert len(sched.tick()) == 1
    assert len(status(store)["active"]) == 2


def test_suspended_starts_nothing(store: Store, clock: Clock) -> None:
    sched = scheduler(store, clock, suspend=True)
    assert sched.tick() == []
    assert not sched.pending()


def test_when_decides_each_time(store: Store, clock: Clock) -> None:
    when = ("{{= cronworkflow.lastScheduledTime == nil || "
            "(now() - cronworkflow.lastScheduledTime).Seconds() > 150 }}")
    sched = scheduler(store, clock, when=when)
    assert len(sched.tick()) == 1
    clock.minutes(1)
    assert sched.tick() == []  # now() is the scheduler's clock: 60 s since the last
    clock.minutes(2)
    assert len(sched.tick()) == 1


def test_stop_strategy_stops_after_a_success(store: Store, clock: Clock) -> None:
    sched = scheduler(store, clock, stopStrategy={"expression": "cronworkflow.succeeded >= 1"})
    sched.tick()
    finish(store)
    clock.minutes(1)
    assert sched.tick() == []
    body = store.get_object(KIND, "default", "c")
    assert body["status"]["phase"] == "Stopped"
    assert body["metadata"]["labels"][COMPLETED_LABEL] == "true"
    assert not sched.pending()


def test_history_limits_keep_the_newest(store: Store, clock: Clock) -> None:
    sched = scheduler(store, clock, successfulJobsHistoryLimit=1, failedJobsHistoryLimit=0)
    for phase in ("Succeeded", "Succeeded", "Failed"):
        sched.tick()
        finish(store, phase)
        clock.minutes(1)
    sched.tick()
    finish(store)  # the fourth, not yet looked at
    left = sorted(r.phase for r in children(store))
    assert left == ["Succeeded", "Succeeded"]  # the newest counted one, and the fourth
    assert status(store)["succeeded"] == 2 and status(store)["failed"] == 1


def test_a_counted_run_is_counted_once(store: Store, clock: Clock) -> None:
    sched = scheduler(store, clock)
    sched.tick()
    finish(store, "Error")
    sched.tick()
    sched.tick()
    assert status(store)["failed"] == 1 and "active" not in status(store)


def test_the_latest_of_several_schedules_in_the_cron_timezone() -> None:
    body = cron(schedules=["0 2 * * *", "30 1 * * *"], timezone="America/Los_Angeles")
    body["metadata"]["creationTimestamp"] = "2026-01-10T00:00:00Z"
    # 02:00 in Los Angeles in January is 10:00 UTC.
    assert due(body, datetime(2026, 1, 10, 10, 0, 3, tzinfo=UTC)) == datetime(
        2026, 1, 10, 10, 0, tzinfo=UTC)
    assert due(body, datetime(2026, 1, 10, 9, 30, 3, tzinfo=UTC)) == datetime(
        2026, 1, 10, 9, 30, tzinfo=UTC)
    assert due(body, datetime(2026, 1, 10, 9, 45, tzinfo=UTC)) is None  # 15 minutes late


def test_a_missed_time_runs_late_within_the_starting_deadline() -> None:
    body = cron(startingDeadlineSeconds=120)
    body["metadata"]["creationTimestamp"] = "2026-01-10T00:00:00Z"
    body["status"] = {"lastScheduledTime": "2026-01-10T00:05:00Z"}
    assert due(body, datetime(2026, 1, 10, 0, 7, 59, tzinfo=UTC)) == datetime(
        2026, 1, 10, 0, 7, tzinfo=UTC)  # only the latest of the missed ones
    body["spec"]["startingDeadlineSeconds"] = 0
    assert due(body, datetime(2026, 1, 10, 0, 7, 59, tzinfo=UTC)) is None


@pytest.mark.parametrize(("options", "path", "words"), [
    ({"schedules": []}, "spec.schedules", "non-empty"),
    ({"schedules": ["* * *"]}, "spec.schedules[0]", "invalid cron schedule"),
    ({"schedule": "* * * * *"}, "spec.schedule", "not both"),
    ({"timezone": "Mars/Base"}, "spec.timezone", "unknown time zone"),
    ({"concurrencyPolicy": "Never"}, "spec.concurrencyPolicy", "Allow, Forbid, Replace"),
    ({"startingDeadlineSeconds": -1}, "spec.startingDeadlineSeconds", "at least 0"),
    ({"stopStrategy": {}}, "spec.stopStrategy.expression", "needs an expression"),
    ({"schedual": "x"}, "spec.schedual", "did you mean schedule"),
    ({"workflowSpec": {"entrypoint": "nope", "templates": []}}, "spec.workflowSpec.entrypoint",
     "nope"),
])
def test_faults_name_the_field(options: dict[str, Any], path: str, words: str) -> None:
    faults = object_faults(cron(**options))
    assert any(f.path == path and words in f.message for f in faults), faults


def test_a_faulty_cron_is_not_stored(store: Store) -> None:
    with pytest.raises(InvalidWorkflow):
        ObjectService(store).put(cron(schedules=["nope"]))
    assert store.list_objects(KIND) == []


def test_a_bad_when_is_a_condition_not_a_crash(store: Store, clock: Clock) -> None:
    sched = scheduler(store, clock, when="{{= nosuch.thing }}")
    assert sched.tick() == []
    conditions = status(store)["conditions"]
    assert conditions[0]["type"] == "SpecError" and "nosuch" in conditions[0]["message"]


def test_an_update_keeps_the_status(store: Store, clock: Clock) -> None:
    sched = scheduler(store, clock)
    sched.tick()
    ObjectService(store).put(cron(suspend=True))
    assert status(store)["lastScheduledTime"]


def test_a_run_created_but_not_recorded_is_recorded_however_late(store: Store,
                                                                   clock: Clock) -> None:
    """An engine killed between creating a run and recording it: the next one, back after
    the on-time window, adopts the run and its time and starts nothing for that time."""
    from argosy.api.service import WorkflowService
    from argosy.cron import child_name, workflow_from

    sched = scheduler(store, clock)
    body = store.get_object(KIND, "default", "c")
    WorkflowService(store).submit(workflow_from(body, name=child_name("c", clock.start),
                                                scheduled=clock.start), start_engine=False)
    clock.now = clock.start + timedelta(seconds=40)
    assert sched.tick() == []
    assert status(store)["lastScheduledTime"] == clock.start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [ref["name"] for ref in status(store)["active"]] == [child_name("c", clock.start)]
    assert len(children(store)) == 1
