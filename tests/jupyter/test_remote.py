"""The remote backend: every route forwarded to a real ``argosy server`` process with its
token, behind Jupyter's own authentication."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_harness import API, call, echo, failing, phase_is, wait_for
from tornado.httpclient import HTTPClientError

from argosy.store import Store
from tests.server.rest_harness import Server, start_server


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("remote") / "home")
    yield srv
    srv.stop()


@pytest.fixture
def jp_server_config(remote: Server, argosy_home: Path) -> dict[str, Any]:
    # argosy_home is the Jupyter side's own: nothing may land there in remote mode.
    return {"ServerApp": {"jpserver_extensions": {"argosy.jupyter_ext": True}},
            "ArgosyConfig": {"home": str(argosy_home), "remote_url": remote.url,
                             "remote_token": remote.token}}


async def test_remote_routes(jp_fetch: Any, remote: Server, argosy_home: Path) -> None:
    created = await call(jp_fetch, "POST", "workflows", "default",
                         body={"workflow": echo("far-away", "from the server")})
    assert created["metadata"]["name"] == "far-away"
    wf = await wait_for(jp_fetch, "far-away", phase_is("Succeeded", "Failed", "Error"))
    assert wf["status"]["phase"] == "Succeeded"
    # It ran in the server's store, not in one of the Jupyter server's.
    assert (remote.home / "argosy.db").exists()
    assert not (argosy_home / "argosy.db").exists()

    listed = await call(jp_fetch, "GET", "workflows", "default",
                        params={"fields": "items.metadata.name"})
    assert listed == {"items": [{"metadata": {"name": "far-away"}}]}

    # Artifacts are forwarded to the server's /artifacts, beside its API.
    (pod,) = [n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"]
    store = Store(remote.home)
    store.put_artifact(wf["metadata"]["uid"], pod["id"], "notebook", "/tmp/far.ipynb",
                       b"far notebook")
    store.close()
    artifact = await jp_fetch(*API, "artifacts", "default", "far-away", pod["id"], "notebook")
    assert artifact.body == b"far notebook"

    logs = await jp_fetch(*API, "workflows", "default", "far-away", "log")
    lines = [json.loads(line)["result"]["content"]
             for line in logs.body.decode().splitlines() if line]
    assert lines == ["from the server"]

    events = await jp_fetch(*API, "workflow-events", "default",
                            params={"listOptions.timeoutSeconds": "1",
                                    "fields": "result.type,result.object.metadata.name"})
    assert events.headers["Content-Type"].startswith("text/event-stream")
    frames = [json.loads(f[len("data: "):]) for f in events.body.decode().split("\n\n")
              if f.startswith("data: ")]
    assert frames[0] == {"result": {"type": "ADDED", "object": {"metadata": {
        "name": "far-away"}}}}

    await call(jp_fetch, "POST", "workflows", "default", body={"workflow": failing("doomed")})
    await wait_for(jp_fetch, "doomed", phase_is("Failed", "Error"))
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch(*API, "workflows", "default", "doomed", "suspend", method="PUT",
                       body="{}")
    assert refused.value.code == 400
    assert refused.value.response is not None
    assert json.loads(refused.value.response.body) == {
        "code": 9, "message": "cannot suspend workflow doomed: it is Failed"}

    assert await call(jp_fetch, "DELETE", "workflows", "default", "far-away") == {}
    with pytest.raises(HTTPClientError) as missing:
        await jp_fetch(*API, "workflows", "default", "far-away")
    assert missing.value.code == 404


async def test_remote_needs_jupyter_auth(jp_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch(*API, "workflows", "default", headers={"Authorization": ""})
    assert refused.value.code == 403

