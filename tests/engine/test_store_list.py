"""Store.list: keyset pages, filters in SQL, labels read before manifests are parsed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from argosy.store import Listed, Store


def add(store: Store, namespace: str, name: str, created: str, phase: str = "Succeeded",
        labels: dict[str, str] | None = None) -> None:
    meta: dict[str, object] = {"name": name, "namespace": namespace}
    if labels is not None:
        meta["labels"] = labels
    rec = store.create_workflow({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                                 "metadata": meta, "spec": {"entrypoint": "main"}})
    store.update_status(rec.uid, phase=phase)
    store.db.execute("UPDATE workflows SET created_at = ? WHERE uid = ?", (created, rec.uid))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "home")
    add(s, "a", "w1", "2024-01-01T00:00:01Z", labels={"team": "red"})
    add(s, "a", "w2", "2024-01-01T00:00:02Z", phase="Failed", labels={"team": "blue"})
    add(s, "b", "w2", "2024-01-01T00:00:02Z", labels={"team": "blue"})
    add(s, "a", "x3", "2024-01-01T00:00:02Z")
    add(s, "b", "w4", "2024-01-01T00:00:03Z", phase="Running", labels={"team": "red"})
    return s


def keys(records: list) -> list[tuple[str, str]]:
    return [(r.namespace, r.name) for r in records]


def test_newest_first_then_namespace_then_name(store: Store) -> None:
    assert keys(store.list()) == [("b", "w4"), ("a", "w2"), ("a", "x3"), ("b", "w2"),
                                  ("a", "w1")]
    assert keys(store.list("a")) == [("a", "w2"), ("a", "x3"), ("a", "w1")]


def test_keyset_pages_walk_the_whole_list_once(store: Store) -> None:
    seen: list[tuple[str, str]] = []
    after = None
    pages = 0
    while True:
        page = store.list(after=after, limit=2)
        pages += 1
        seen += keys(page)
        if len(page) < 2:
            break
        last = page[-1]
        after = (last.created_at, last.namespace, last.name)
    assert pages == 3
    assert seen == keys(store.list())
    # A key inside a run of equal timestamps continues by namespace, then name.
    assert keys(store.list(after=("2024-01-01T00:00:02Z", "a", "x3"))) == [("b", "w2"),
                                                                          ("a", "w1")]


def test_prefix_and_phases_in_sql(store: Store) -> None:
    assert keys(store.list(prefix="w")) == [("b", "w4"), ("a", "w2"), ("b", "w2"), ("a", "w1")]
    assert keys(store.list("a", phases=["Failed", "Running"])) == [("a", "w2")]
    # A prefix is literal: LIKE's wildcards mean nothing here.
    assert store.list(prefix="w%") == []
    assert store.list(prefix="_2") == []


def test_where_sees_columns_and_labels_and_limit_counts_matches(store: Store) -> None:
    seen: list[Listed] = []

    def blue(row: Listed) -> bool:
        seen.append(row)
        return row.labels.get("team") == "blue"

    assert keys(store.list(where=blue, limit=1)) == [("a", "w2")]
    assert seen == [Listed("b", "w4", "Running", "2024-01-01T00:00:03Z", {"team": "red"}),
                    Listed("a", "w2", "Failed", "2024-01-01T00:00:02Z", {"team": "blue"})]
    assert keys(store.list("a", where=lambda r: not r.labels)) == [("a", "x3")]


def test_rows_past_the_limit_are_never_parsed(store: Store) -> None:
    store.db.execute("UPDATE workflows SET manifest = 'not json' WHERE name = 'w1'")
    assert keys(store.list("a", limit=2)) == [("a", "w2"), ("a", "x3")]
    with pytest.raises(ValueError):
        store.list("a")


def test_a_page_is_a_range_of_the_listing_index(store: Store) -> None:
    sql, args = store._list_query("a", None, None, ("2024-01-01T00:00:02Z", "a", "w2"),
                                  labels=True)
    plan = " ".join(row[3] for row in store.db.execute(f"EXPLAIN QUERY PLAN {sql}", args))
    # Each row's change counter by its key, in the same statement: no scan of either table.
    assert plan == ("SEARCH workflows USING INDEX workflows_listed (namespace=? AND created_at<?)"
                    " CORRELATED SCALAR SUBQUERY 1 SEARCH changes USING PRIMARY KEY (uid=?)")


def test_a_store_made_before_the_index_gains_it(tmp_path: Path) -> None:
    Store(tmp_path).close()
    db = sqlite3.connect(tmp_path / "argosy.db")
    db.execute("DROP INDEX workflows_listed")
    db.commit()
    db.close()
    reopened = Store(tmp_path)
    names = [r[0] for r in reopened.db.execute("SELECT name FROM sqlite_master WHERE"
                                               " type = 'index' AND tbl_name = 'workflows'")]
    assert "workflows_listed" in names
