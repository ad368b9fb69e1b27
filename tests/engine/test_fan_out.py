"""Wide fan-outs: children start a batch per turn of the event loop, so a loop of N iterations
(or a DAG of N independent tasks) never holds N coroutines at once when its nodes finish as
they start; every child still starts without waiting for another to end."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from argosy.api.service import submit
from argosy.engine.context import FAN_OUT_BATCH, NodeContext, gather_lazily
from argosy.engine.run import Engine, Listener
from argosy.store import Store

WIDTH = 3_000
SUSPEND_0 = {"name": "leaf", "suspend": {"duration": "0"}}


def workflow(main: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": "wide"},
            "spec": {"entrypoint": "main", "templates": [main, SUSPEND_0]}}


LOOP = {"template": "leaf", "withSequence": {"count": str(WIDTH)}}
SHAPES = {
    "dag loop": {"name": "main", "dag": {"tasks": [{"name": "t", **LOOP}]}},
    "steps loop": {"name": "main", "steps": [[{"name": "s", **LOOP}]]},
    "dag roots": {"name": "main", "dag": {"tasks": [
        {"name": f"t{i}", "template": "leaf"} for i in range(WIDTH)]}},
}
# Under a template's parallelism the children wait for a slot: the next batch is drawn once
# one is free, so those waiting are a batch, not the whole fan-out.
SHAPES |= {f"{shape}, parallelism 4": {**main, "parallelism": 4}
           for shape, main in SHAPES.items()}


@pytest.mark.parametrize("shape", SHAPES)
def test_a_wide_fan_out_holds_a_batch_of_tasks_not_all(
        shape: str, argosy_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if "parallelism" in shape:  # each leaf holds its slot for a turn of the loop
        wait = NodeContext.wait_for_resume

        async def a_turn(self: NodeContext, timeout: float | None = None) -> None:
            await asyncio.sleep(0)
            await wait(self, timeout)

        monkeypatch.setattr(NodeContext, "wait_for_resume", a_turn)
    store = Store(argosy_home)
    record = submit(store, workflow(SHAPES[shape]))
    most = [0]

    def on_node(run: Any, node: Any) -> None:
        most[0] = max(most[0], len(asyncio.all_tasks()))

    final = asyncio.run(Engine(store).run(record.uid, Listener(on_node=on_node)))
    assert final.phase == "Succeeded"
    assert most[0] < WIDTH // 2, f"{most[0]} tasks alive at once for {WIDTH} children"
    # Children keep the order of their iterations (or tasks).
    nodes = store.workflow(final)["status"]["nodes"]
    assert sum(1 for n in nodes.values() if n["type"] == "Suspend"
               and n["phase"] == "Succeeded") == WIDTH
    parent = next(n for n in nodes.values() if n["type"] in ("TaskGroup", "StepGroup", "DAG")
                  and len(n.get("children", [])) == WIDTH)
    names = [nodes[c]["displayName"] for c in parent["children"]]
    expected = (sorted(f"t{i}" for i in range(WIDTH)) if shape.startswith("dag roots") else
                [f"{'t' if shape.startswith('dag') else 's'}({i}:{i})" for i in range(WIDTH)])
    assert names == expected


def test_children_that_wait_all_run_at_once() -> None:
    """No child waits for another: 3 batches of children that each wait on one event."""
    count = FAN_OUT_BATCH * 3
    release = None
    started = 0

    async def child(i: int) -> int:
        nonlocal started
        started += 1
        if started == count:
            release.set()
        await release.wait()
        return i

    async def main() -> list[int]:
        nonlocal release
        release = asyncio.Event()
        return await asyncio.wait_for(gather_lazily(child(i) for i in range(count)), 10)

    assert asyncio.run(main()) == list(range(count))


def test_a_child_that_raises_cancels_the_others_and_stops_drawing() -> None:
    drawn = 0
    cancelled = 0

    async def child(i: int) -> None:
        nonlocal cancelled
        if i == 3:
            raise ValueError("child 3")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled += 1
            raise

    def children():  # type: ignore[no-untyped-def]
        nonlocal drawn
        for i in range(FAN_OUT_BATCH * 4):
            drawn += 1
            yield child(i)

    with pytest.raises(ValueError, match="child 3"):
        asyncio.run(gather_lazily(children()))
    assert drawn <= 2 * FAN_OUT_BATCH + 1  # the raise is seen a turn of the loop later
    assert cancelled == drawn - 2  # all but the one that raised (and the last, closed unrun)


def test_a_fan_out_of_slow_starts_holds_a_backlog_not_all(
        argosy_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When starting processes is the bottleneck, the launcher waits for the executor's room
    between batches: the children not yet launched cost nothing (100,000 `true` steps held
    1.5 GB waiting for a start slot before)."""
    from argosy.plugins import local

    width = FAN_OUT_BATCH * 8
    monkeypatch.setenv("ARGOSY_MAX_STARTING", "1")
    monkeypatch.setattr(local, "BACKLOG", 64)
    acquire, waiting, most = local._StartSlots.acquire, [0], [0]

    async def counted(self: Any) -> None:
        waiting[0] += 1
        most[0] = max(most[0], waiting[0])
        try:
            await acquire(self)
        finally:
            waiting[0] -= 1

    monkeypatch.setattr(local._StartSlots, "acquire", counted)
    true = {"name": "leaf", "container": {"image": "busybox", "command": ["true"]}}
    wf = workflow({"name": "main", "steps": [[{"name": "s", "template": "leaf",
                                               "withSequence": {"count": str(width)}}]]})
    wf["spec"]["templates"][1] = true
    store = Store(argosy_home)
    final = asyncio.run(Engine(store).run(submit(store, wf).uid))
    assert final.phase == "Succeeded"
    assert FAN_OUT_BATCH <= most[0] < width // 2, f"{most[0]} waited at once of {width}"
