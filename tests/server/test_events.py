"""The workflow event stream (SSE), and the engine's parallelism limits behind the server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.server.rest_harness import API, Server, start_server, wait_phase, workflow

EVENTS = "/api/v1/workflow-events"


def events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.startswith("data: "):
            yield json.loads(line[len("data: "):])["result"]


def test_watch_until_succeeded(server: Server, http: httpx.Client) -> None:
    with server.client() as watcher, watcher.stream(
            "GET", f"{EVENTS}/watched",
            params={"listOptions.fieldSelector": "metadata.name=watch-me"}) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        http.post(f"{API}/watched", json={"workflow": workflow("watch-me", "echo hi")})
        http.post(f"{API}/watched", json={"workflow": workflow("not-me", "echo hi")})
        seen = []
        for event in events(stream.iter_lines()):
            seen.append(event)
            if event["object"]["status"]["phase"] == "Succeeded":
                break
    assert {e["object"]["metadata"]["name"] for e in seen} == {"watch-me"}
    assert seen[0]["type"] == "ADDED"
    assert {e["type"] for e in seen[1:]} <= {"MODIFIED"}
    final = seen[-1]["object"]
    assert final["status"]["progress"] == "1/1"
    assert [n["phase"] for n in final["status"]["nodes"].values()] == ["Succeeded"]


def test_watch_starts_with_existing_workflows_and_sees_deletes(server: Server,
                                                               http: httpx.Client) -> None:
    http.post(f"{API}/existing", json={"workflow": workflow("old-one", "true")})
    wait_phase(http, "existing", "old-one")
    with server.client() as watcher, watcher.stream(
            "GET", f"{EVENTS}/existing",
            params={"fields": "result.object.metadata.name,result.type"}) as stream:
        it = events(stream.iter_lines())
        first = next(it)
        assert first["type"] == "ADDED"
        assert first["object"]["metadata"]["name"] == "old-one"
        assert http.delete(f"{API}/existing/old-one").status_code == 200
        deleted = next(e for e in it if e["type"] == "DELETED")
        assert deleted["object"]["metadata"]["name"] == "old-one"


def test_watch_fields_and_label_selector(server: Server, http: httpx.Client) -> None:
    params = {"listOptions.labelSelector": "team=blue", "fields": "metadata.name,status.phase"}
    with server.client() as watcher, watcher.stream("GET", f"{EVENTS}/labelled",
                                                    params=params) as stream:
        http.post(f"{API}/labelled", json={"workflow": workflow("red", "true", metadata={
            "labels": {"team": "red"}})})
        http.post(f"{API}/labelled", json={"workflow": workflow("blue", "true", metadata={
            "labels": {"team": "blue"}})})
        for event in events(stream.iter_lines()):
            assert event["object"]["metadata"] == {"name": "blue"}
            assert set(event["object"]) <= {"metadata", "status"}
            if event["object"].get("status", {}).get("phase") == "Succeeded":
                break


def test_watch_timeout_ends_the_stream(server: Server) -> None:
    with server.client() as watcher:
        resp = watcher.get(f"{EVENTS}/quiet", params={"listOptions.timeoutSeconds": 1})
    assert resp.status_code == 200
    assert resp.text == ": argosy workflow events\n\n"


def test_fifty_watchers_share_one_poller(server: Server, http: httpx.Client) -> None:
    async def watch(client: httpx.AsyncClient, ready: asyncio.Event,
                    opened: list[int]) -> list[str]:
        phases = []
        async with client.stream("GET", f"{EVENTS}/crowd") as stream:
            lines: AsyncIterator[str] = stream.aiter_lines()
            async for line in lines:
                if line.startswith(":"):
                    opened.append(1)
                    if len(opened) == 50:
                        ready.set()
                    continue
                if line.startswith("data: "):
                    obj = json.loads(line[6:])["result"]["object"]
                    phases.append(obj["status"]["phase"])
                    if phases[-1] == "Succeeded":
                        return phases
        return phases

    async def main() -> list[list[str]]:
        limits = httpx.Limits(max_connections=60)
        headers = {"Authorization": f"Bearer {server.token}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, limits=limits,
                                     timeout=60) as client:
            ready, opened = asyncio.Event(), []
            tasks = [asyncio.create_task(watch(client, ready, opened)) for _ in range(50)]
            await asyncio.wait_for(ready.wait(), 60)
            await asyncio.to_thread(http.post, f"{API}/crowd",
                                    json={"workflow": workflow("crowd", "echo hi")})
            return await asyncio.wait_for(asyncio.gather(*tasks), 60)

    results = asyncio.run(main())
    assert len(results) == 50
    for phases in results:
        assert phases[-1] == "Succeeded"
    # every watcher is unsubscribed once its stream closes
    deadline = time.monotonic() + 10
    while "argosy_event_watchers 0" not in http.get("/metrics").text.splitlines():
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_parallelism_limits(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "home", parallelism=2, namespace_parallelism=1)
    try:
        with srv.client() as client:
            for ns, name in (("a", "a1"), ("a", "a2"), ("b", "b1"), ("b", "b2")):
                client.post(f"{API}/{ns}", json={"workflow": workflow(name, "sleep 1")})
            together: set[frozenset[str]] = set()
            deadline = time.monotonic() + 120
            while True:
                items = client.get(API).json()["items"]
                phases = {wf["metadata"]["name"]: wf["status"]["phase"] for wf in items}
                running = frozenset(n for n, p in phases.items() if p == "Running")
                together.add(running)
                if all(p == "Succeeded" for p in phases.values()):
                    break
                assert time.monotonic() < deadline, phases
                time.sleep(0.05)
        assert max(len(r) for r in together) <= 2
        assert not any({"a1", "a2"} <= r or {"b1", "b2"} <= r for r in together)
    finally:
        srv.stop()
