"""REST ``/log`` shows what every node printed: a step killed by ``stop``, a plugin node, and
the whole of a log longer than the store keeps."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from argosy import Client
from argosy.api.service import submit
from argosy.engine.run import Engine
from argosy.store import Store
from tests.engine.log_cases import (
    LONG_LINES,
    PLUGIN_SAID,
    STOPPED_SAID,
    make_logged_workflows,
)
from tests.server.rest_harness import API, start_server


def test_log_of_stopped_and_plugin_nodes(tmp_path: Path) -> None:
    make_logged_workflows(tmp_path)
    server = start_server(tmp_path)
    try:
        with server.client() as http:
            for name, said in (("stopped", [STOPPED_SAID, "on stderr"]),
                               ("plugged", [PLUGIN_SAID, "in two lines"])):
                resp = http.get(f"{API}/default/{name}/log")
                assert resp.status_code == 200, resp.text
                lines = [json.loads(line)["result"] for line in resp.text.splitlines()]
                assert [line["content"] for line in lines] == said
                pod = lines[0]["podName"]
                assert pod.startswith(name)
                picked = http.get(f"{API}/default/{name}/log", params={"podName": pod})
                assert len(picked.text.splitlines()) == 2
            whole = [json.loads(line)["result"]["content"]
                     for line in http.get(f"{API}/default/long/log").text.splitlines()]
            assert whole == [str(i) for i in range(1, LONG_LINES + 1)]
            tail = http.get(f"{API}/default/long/log", params={"logOptions.tailLines": "2",
                                                               "grep": "99"})
            assert [json.loads(line)["result"]["content"] for line in tail.text.splitlines()] \
                == ["4998", "4999"]
    finally:
        server.stop()


SIDECAR = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: pod}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: [echo, main said]}
    initContainers:
    - {name: setup, image: alpine, command: [echo, setup said]}
"""


def test_log_of_a_pods_other_container_by_log_options_container(tmp_path: Path) -> None:
    store = Store(tmp_path)
    asyncio.run(Engine(store).run(submit(store, SIDECAR).uid))
    store.close()
    server = start_server(tmp_path)
    try:
        with server.client() as http:
            def said(path: str, **params: str) -> list[str]:
                resp = http.get(f"{API}/default/pod{path}", params=params)
                assert resp.status_code == 200, resp.text
                return [json.loads(line)["result"]["content"] for line in resp.text.splitlines()]

            assert said("/log") == ["main said"]
            assert said("/log", **{"logOptions.container": "setup"}) == ["setup said"]
            assert said("/pod/log", **{"logOptions.container": "setup"}) == ["setup said"]
        client = Client(url=server.url, token=server.token)
        assert client.logs("pod", "pod", container="setup") == "setup said\n"
    finally:
        server.stop()


CONTAINER_SET = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: set}
spec:
  entrypoint: main
  templates:
  - name: main
    containerSet:
      containers:
      - {name: a, image: alpine, command: [echo, a said]}
      - {name: b, image: alpine, command: [echo, b said], dependencies: [a]}
"""


def test_log_of_a_container_set_container_by_name_and_timestamps(tmp_path: Path) -> None:
    store = Store(tmp_path)
    asyncio.run(Engine(store).run(submit(store, CONTAINER_SET).uid))
    finished = next(n["finishedAt"] for n in store.nodes(store.list()[0].uid).values()
                    if n["type"] == "Pod")
    store.close()
    server = start_server(tmp_path)
    try:
        with server.client() as http:
            def said(**params: str) -> list[str]:
                resp = http.get(f"{API}/default/set/log", params=params)
                assert resp.status_code == 200, resp.text
                return [json.loads(line)["result"]["content"] for line in resp.text.splitlines()]

            assert said(**{"logOptions.container": "b"}) == ["b said"]
            assert said(**{"logOptions.container": "a"}) == ["a said"]
            # Each line after the time it was written, as Kubernetes stamps them.
            assert said(**{"logOptions.container": "b", "logOptions.timestamps": "true"}) == [
                f"{finished} b said"]
    finally:
        server.stop()
