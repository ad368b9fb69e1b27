"""The event hub's shared snapshot and the list's keyset pages, in process over a real store."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

from argosy.api.server import EventHub, Snapshot, list_page, take_snapshot, workflow_filter
from argosy.api.service import WorkflowService
from argosy.store import Store


def manifest(name: str, team: str) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name, "namespace": "ns", "labels": {"team": team}},
            "spec": {"entrypoint": "main", "templates": [
                {"name": "main", "container": {"image": "x", "command": ["true"]}}]}}


def test_watchers_between_two_writes_share_one_snapshot(tmp_path: Path) -> None:
    service = WorkflowService(Store(tmp_path))
    service.submit(manifest("first", "red"), start_engine=False)
    hub = EventHub(tmp_path, interval=0.01)
    taken: list[int] = []

    async def take(generation: int) -> Snapshot:
        taken.append(generation)
        return await asyncio.to_thread(take_snapshot, service, "ns", generation)

    async def main() -> tuple[list[Snapshot], Snapshot]:
        poller = asyncio.create_task(hub.run())
        while hub.generation == 0:
            await asyncio.sleep(0.01)
        snaps = await asyncio.gather(*(hub.snapshot("ns", take) for _ in range(20)))
        before = hub.generation
        await asyncio.to_thread(service.submit, manifest("second", "blue"), start_engine=False)
        while hub.generation == before:
            await asyncio.sleep(0.01)
        later = await hub.snapshot("ns", take)
        poller.cancel()
        return snaps, later

    snaps, later = asyncio.run(main())
    assert len(taken) == 2
    assert all(s is snaps[0] for s in snaps)
    assert [wf["metadata"]["name"] for wf in snaps[0].objects] == ["first"]
    assert "".join(snaps[0].chunks).count("data: ") == 1
    assert sorted(wf["metadata"]["name"] for wf in later.objects) == ["first", "second"]
    frames = [json.loads(line[6:]) for line in "".join(later.chunks).splitlines()
              if line.startswith("data: ")]
    assert sorted(f["result"]["object"]["metadata"]["name"] for f in frames) == [
        "first", "second"]
    assert {f["result"]["type"] for f in frames} == {"ADDED"}


def test_list_pages_with_a_selector_carry_argo_continue_tokens(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for i in range(5):
        store.create_workflow(manifest(f"wf-{i}", "red" if i % 2 else "blue"))
        store.db.execute("UPDATE workflows SET created_at = ? WHERE name = ?",
                         (f"2024-01-01T00:00:0{i}Z", f"wf-{i}"))
    keep = workflow_filter("team=blue", None)
    first = json.loads(list_page(store, "ns", keep, 2, None, None, None))
    assert [wf["metadata"]["name"] for wf in first["items"]] == ["wf-4", "wf-2"]
    token = first["metadata"]["continue"]
    assert json.loads(base64.urlsafe_b64decode(token)) == ["2024-01-01T00:00:02Z", "ns", "wf-2"]
    rest = json.loads(list_page(store, "ns", keep, 2, token, None, None))
    assert rest == {"metadata": {}, "items": rest["items"]}
    assert [wf["metadata"]["name"] for wf in rest["items"]] == ["wf-0"]
    assert "nodes" not in rest["items"][0]["status"]
