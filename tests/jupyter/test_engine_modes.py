"""``ArgosyConfig.run_engine = False``: no engine in the Jupyter server; a submit starts a
background ``argosy engine`` on the store, as the CLI does."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from jupyter_harness import call, echo, phase_is, wait_for

from argosy.store import Store


@pytest.fixture
def jp_server_config(argosy_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("ARGOSY_ENGINE_IDLE_SECONDS", "2")
    return {"ServerApp": {"jpserver_extensions": {"argosy.jupyter_ext": True}},
            "ArgosyConfig": {"home": str(argosy_home), "run_engine": False}}


async def test_submit_starts_a_background_engine(jp_fetch: Any, argosy_home: Path) -> None:
    await call(jp_fetch, "POST", "workflows", "default", body={"workflow": echo("elsewhere")})
    wf = await wait_for(jp_fetch, "elsewhere", phase_is("Succeeded", "Failed", "Error"))
    assert wf["status"]["phase"] == "Succeeded"
    # Another process ran it: the engine a submit starts, logging beside the store.
    assert (argosy_home / "engine.log").exists()
    store = Store(argosy_home)
    pids = {pid for (pid,) in store.db.execute("SELECT pid FROM engines")}
    store.close()
    assert os.getpid() not in pids
