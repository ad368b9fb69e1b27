"""A damaged store (truncated, overwritten or emptied ``argosy.db``): every verb says which file
and what to do, in a line, and exits 1; nothing hangs, nothing becomes an empty store."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from argosy.store import Store
from tests.cli.test_run import HELLO

Cli = Callable[..., Any]


def make_store(home: Path) -> Path:
    Store(home).close()
    return home / "argosy.db"


def damage_the_logs(home: Path) -> Path:
    """A new store whose logs table, which only an engine reads or writes, is garbage."""
    db = make_store(home)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'logs'"
                               ).fetchone()
        (size,) = conn.execute("PRAGMA page_size").fetchone()
    with open(db, "r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\xff" * size)
    return db


def truncate(db: Path) -> None:
    db.write_bytes(db.read_bytes()[:6000])


def garbage(db: Path) -> None:
    db.write_bytes(os.urandom(db.stat().st_size))


def empty(db: Path) -> None:
    db.write_bytes(b"")


VERBS = [("list",), ("get", "x"), ("submit", "{wf}"), ("submit", "{wf}", "--wait"),
         ("run", "{wf}"), ("logs", "x"), ("stop", "x"), ("delete", "--all"), ("engine",),
         ("server", "--port", "0")]


@pytest.mark.parametrize("damage", [truncate, garbage, empty])
def test_every_verb_names_the_damaged_file(cli: Cli, argosy_home: Path, tmp_path: Path,
                                           damage: Callable[[Path], None]) -> None:
    db = make_store(argosy_home)
    damage(db)
    before = db.read_bytes()
    wf = tmp_path / "wf.yaml"
    wf.write_text(HELLO)
    for verb in VERBS:
        result = cli(*(arg.format(wf=wf) for arg in verb), timeout=60)
        assert result.code == 1, (verb, result.stderr)
        assert result.stderr.startswith(f"the argosy store {db} is damaged ("), (verb, result)
        assert result.stderr.endswith("move it aside to start an empty store, or put back a "
                                      "copy\n")
        assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert db.read_bytes() == before  # an empty file stays empty: not a new store


def test_submit_wait_ends_when_the_engine_cannot_use_the_store(
        cli: Cli, argosy_home: Path, tmp_path: Path) -> None:
    """A damaged page that only the engine reads (the logs table): the engine stops and says
    why in its log, and ``submit --wait`` reports that instead of waiting forever."""
    db = damage_the_logs(argosy_home)
    wf = tmp_path / "wf.yaml"
    wf.write_text(HELLO)
    result = cli("submit", str(wf), "--wait", "-o", "name",
                 env={"ARGOSY_ENGINE_IDLE_SECONDS": "1"}, timeout=120)
    assert result.code == 1
    first, second = result.stderr.splitlines()
    name = result.stdout.strip()
    assert first.startswith(f"workflow {name} is Running, but the engine executing it "
                            f"stopped: the argosy store {db} is damaged (")
    assert second == f"(see {argosy_home / 'engine.log'})"


def test_an_engine_fault_ends_the_workflow_instead_of_running_it_again(
        argosy_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    import yaml

    from argosy.api.service import submit
    from argosy.engine.run import Engine, WorkflowRun

    runs = []

    async def broken(self: WorkflowRun) -> None:
        runs.append(self.name)
        raise RuntimeError("a bug")

    monkeypatch.setattr(WorkflowRun, "execute", broken)
    store = Store(argosy_home)
    rec = submit(store, yaml.safe_load(HELLO))
    asyncio.run(Engine(store).serve(poll=0.01, exit_when_idle=0.2))
    assert runs == [rec.name]
    after = store.get(rec.uid)
    assert (after.phase, after.message) == ("Error", "argosy engine error: a bug")
