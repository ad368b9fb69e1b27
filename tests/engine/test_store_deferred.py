"""Node and log rows are held back a moment and written together."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from argosy.store import DEFER_SECONDS, Store


def test_node_writes_land_together_a_moment_later_or_before_any_other_use(tmp_path: Path) -> None:
    store = Store(tmp_path)
    other = sqlite3.connect(tmp_path / "argosy.db")  # another process's view

    def seen() -> list[str]:
        return [r[0] for r in other.execute("SELECT id FROM nodes ORDER BY id")]

    async def run() -> None:
        store.put_node("uid", "a", "{}")
        store.put_node("uid", "b", "{}", [("a", 0, "b")])
        store.keep_log("uid", "b", ["said\n"])
        await asyncio.sleep(0)
        assert seen() == []  # held back
        await asyncio.sleep(DEFER_SECONDS * 2)
        assert seen() == ["a", "b"]
        assert other.execute("SELECT parent, child FROM edges").fetchall() == [("a", "b")]
        assert store.log("uid", "b") == "said\n"
        store.put_node("uid", "c", "{}")
        # Reading or writing through the store writes what is held back first.
        assert store.db.execute("SELECT count(*) FROM nodes").fetchone() == (3,)

    asyncio.run(run())
    store.put_node("uid", "d", "{}")  # outside an event loop: at once
    assert seen() == ["a", "b", "c", "d"]
    store.close()
    other.close()


def test_rows_whose_write_failed_are_kept_and_written_later(tmp_path: Path) -> None:
    store = Store(tmp_path)
    blocker = sqlite3.connect(tmp_path / "argosy.db", timeout=0, isolation_level=None)
    store.db.execute("PRAGMA busy_timeout = 0")

    async def turn() -> None:
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        store.put_node("uid", "a", "{}")
        try:
            store.flush()
        except sqlite3.OperationalError:
            pass
        else:
            raise AssertionError("the write went through a held lock")
        blocker.execute("ROLLBACK")

    asyncio.run(turn())
    assert store.db.execute("SELECT id FROM nodes").fetchall() == [("a",)]
    store.close()
    blocker.close()
