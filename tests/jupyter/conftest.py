"""Fixtures for the Jupyter suite: a Jupyter server (pytest-jupyter) with the argosy extension
on a store of the test's own."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

# Helpers beside this file, and the REST server harness (a real `argosy server` process) that
# tests/server uses.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

# pytest-jupyter's fixtures and its async-test hooks, for this folder only (pytest_plugins is
# for the top-level conftest).
from pytest_jupyter.jupyter_server import *  # noqa: F403


@pytest.fixture
def jp_server_config(argosy_home: Path) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"argosy.jupyter_ext": True}},
            "ArgosyConfig": {"home": str(argosy_home)}}
