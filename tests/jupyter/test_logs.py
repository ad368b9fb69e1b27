"""What every node printed, through the notebook Client (local store and a server) and the
Jupyter extension's log route, which the panel reads: a step killed by ``stop``, a plugin
node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from argosy import Client
from tests.engine.log_cases import (
    LONG_LINES,
    PLUGIN_SAID,
    STOPPED_SAID,
    make_logged_workflows,
)
from tests.server.rest_harness import start_server


@pytest.fixture
def argosy_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The workflows are run before the Jupyter server (and its engine) starts.
    home = tmp_path / "argosy-home"
    monkeypatch.setenv("ARGOSY_HOME", str(home))
    make_logged_workflows(home)
    return home


EXPECTED = {"stopped": [STOPPED_SAID, "on stderr"], "plugged": [PLUGIN_SAID, "in two lines"],
            # Longer than the store keeps: whole, from the file kept beside the store.
            "long": [str(i) for i in range(1, LONG_LINES + 1)]}


def test_client_logs_local_and_remote(argosy_home: Path) -> None:
    server = start_server(argosy_home)
    try:
        for client in (Client(home=argosy_home), Client(url=server.url, token=server.token)):
            for name, said in EXPECTED.items():
                # Each line is prefixed with its node's display name (the root's: the name).
                assert client.logs(name).splitlines() == [f"{name}: {s}" for s in said]
    finally:
        server.stop()


async def test_log_route(jp_fetch: Any) -> None:
    for name, said in EXPECTED.items():
        resp = await jp_fetch("argosy", "api", "v1", "workflows", "default", name, "log")
        lines = [json.loads(line)["result"] for line in resp.body.decode().splitlines()]
        assert [line["content"] for line in lines] == said
