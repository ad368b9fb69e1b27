"""The Jupyter server starting on a damaged store: one error line in its log, and the argosy
routes answer 503 with what to do, while Jupyter itself runs on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tornado.httpclient


@pytest.fixture
def jp_server_config(argosy_home: Path) -> dict[str, Any]:
    argosy_home.mkdir(parents=True)
    (argosy_home / "argosy.db").write_bytes(b"")  # emptied: not a new store
    return {"ServerApp": {"jpserver_extensions": {"argosy.jupyter_ext": True}},
            "ArgosyConfig": {"home": str(argosy_home)}}


async def test_the_routes_say_the_store_is_damaged(jp_fetch: Any, argosy_home: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(tornado.httpclient.HTTPClientError) as raised:
        await jp_fetch("argosy", "api", "v1", "workflows", "default")
    assert raised.value.code == 503
    body = json.loads(raised.value.response.body)  # type: ignore[union-attr]
    assert body["message"].startswith(f"the argosy store {argosy_home / 'argosy.db'} is damaged")
    assert (argosy_home / "argosy.db").stat().st_size == 0
    assert "Traceback" not in caplog.text
    assert (await jp_fetch("api", "status")).code == 200
