"""$ARGOSY_HOME holds every manifest, log, artifact and token hash: only its owner may read it,
whatever the umask (it was created 0755 with argosy.db 0644, readable by every local user)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from argosy.store import Store
from tests.cli.test_namespaces import HELLO


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run_with_umask(home: Path, code: str) -> None:
    subprocess.run([sys.executable, "-c", f"import os; os.umask(0); {code}"], check=True,
                   env=dict(os.environ, ARGOSY_HOME=str(home)), capture_output=True)


def test_new_home_is_private_even_with_umask_0(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    run_with_umask(home, "from argosy.api.service import WorkflowService; "
                         f"WorkflowService().submit({HELLO!r}, start_engine=False)")
    assert mode(home) == 0o700
    files = [p for p in home.rglob("*") if p.is_file()]
    assert home / "argosy.db" in files
    for path in files:  # the database and its -wal and -shm files
        assert mode(path) == 0o600, path


def test_wal_and_shm_files_are_private_while_open(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = Store(tmp_path / "home")
    finally:
        os.umask(old)
    try:
        store.create_workflow({"metadata": {"name": "x"}, "spec": {}})
        names = sorted(p.name for p in store.home.iterdir())
        assert names == ["argosy.db", "argosy.db-shm", "argosy.db-wal"], names
        for path in store.home.iterdir():
            assert mode(path) == 0o600, path
    finally:
        store.close()


def test_spawned_engine_log_is_private(tmp_path: Path) -> None:
    from argosy.api.service import ensure_engine

    store = Store(tmp_path / "home")
    try:
        old = os.umask(0)
        try:
            assert ensure_engine(store, idle_seconds=0.1)  # exits at once: nothing to run
        finally:
            os.umask(old)
        assert mode(store.home / "engine.log") == 0o600
    finally:
        store.close()


def test_existing_open_home_is_tightened_with_a_warning(tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    home = tmp_path / "home"
    Store(home).close()
    os.chmod(home, 0o755)
    for path in home.iterdir():
        os.chmod(path, 0o644)
    Store(home).close()
    assert mode(home) == 0o700
    assert "tightened to 0700" in caplog.text
    for path in home.iterdir():
        assert mode(path) == 0o600, path


def test_token_file_home_is_private(tmp_path: Path) -> None:
    home = tmp_path / "tokens-only"
    run_with_umask(home, "from argosy.api.auth import create_token; create_token()")
    assert mode(home) == 0o700
    assert mode(home / "tokens.json") == 0o600
