"""The store's objects (templates, ConfigMaps, Secrets): versions, modes, an older store."""

from __future__ import annotations

import base64
import contextlib
import sqlite3
import stat
from pathlib import Path

import pytest

from argosy.errors import InvalidWorkflow, NotFound
from argosy.objects import ObjectService
from argosy.store import AlreadyExists, Store

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"k": "v"}}


def test_a_store_made_before_objects_existed_opens_and_keeps_its_workflows(
        tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.create_workflow({"metadata": {"name": "old"}, "spec": {}})
    store.close()
    with contextlib.closing(sqlite3.connect(tmp_path / "argosy.db")) as db:
        db.executescript("DROP TABLE objects; DROP TABLE counters;")
    store = Store(tmp_path)
    assert store.find("default", "old").name == "old"
    body, created = ObjectService(store).put(CM)
    assert created and body["metadata"]["resourceVersion"] == "1"


def test_versions_grow_and_modes_refuse(tmp_path: Path) -> None:
    objects = ObjectService(Store(tmp_path))
    first, _ = objects.put(CM, mode="create")
    second, created = objects.put(dict(CM, data={"k": "w"}))
    assert not created
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    with pytest.raises(AlreadyExists):
        objects.put(CM, mode="create")
    with pytest.raises(NotFound):
        objects.put(dict(CM, metadata={"name": "other"}), mode="update")
    assert objects.get("ConfigMap", "default", "cm")["data"] == {"k": "w"}
    objects.delete("ConfigMap", "default", "cm")
    with pytest.raises(NotFound, match='ConfigMap "cm" not found in namespace "default"'):
        objects.get("ConfigMap", None, "cm")


def test_bad_objects_are_refused_with_the_field(tmp_path: Path) -> None:
    objects = ObjectService(Store(tmp_path))
    with pytest.raises(InvalidWorkflow) as err:
        objects.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"},
                     "data": {"n": 5}})
    assert [f.path for f in err.value.faults] == ["metadata.name", "data.n"]
    with pytest.raises(InvalidWorkflow, match=r"data\.k: k is not base64"):
        objects.put({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                     "data": {"k": "not base64!"}})


def test_secrets_are_kept_encoded_and_shown_without_values(tmp_path: Path) -> None:
    store = Store(tmp_path)
    objects = ObjectService(store)
    shown, _ = objects.put({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                            "stringData": {"password": "hunter2"}})
    assert shown["data"] == {"password": ""} and "stringData" not in shown
    assert objects.list("Secret")[0]["data"] == {"password": ""}
    kept = objects.get("Secret", "default", "s", reveal=True)
    assert base64.b64decode(kept["data"]["password"]) == b"hunter2"
    # Only its owner can read the database that holds it.
    assert stat.S_IMODE((tmp_path / "argosy.db").stat().st_mode) == 0o600
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700
