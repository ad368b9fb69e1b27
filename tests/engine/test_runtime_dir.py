"""Node directories: where they live, and that they go when nobody will read them again."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest

from argosy.engine.run import Engine
from argosy.store import Store, runtime_dir, runtime_root
from tests.conftest import run_cli

# A step that leaves a file in its private /tmp and reports where its node directory is.
WORKFLOW = textwrap.dedent("""
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {name: scratch}
    spec:
      entrypoint: main
      templates:
        - name: main
          container:
            image: alpine
            command: [sh, -c, "echo kept > /tmp/scratch; echo written"]
""")


def shm_usable() -> bool:
    fs = os.statvfs("/dev/shm")
    return fs.f_blocks * fs.f_frsize >= 1 << 30 and os.access("/dev/shm", os.W_OK)


def test_an_explicit_runtime_dir_is_used(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGOSY_RUNTIME_DIR", str(tmp_path / "rt"))
    assert runtime_root() == tmp_path / "rt"
    assert runtime_dir(tmp_path / "home").parent == tmp_path / "rt"


@pytest.mark.skipif(not shm_usable(), reason="/dev/shm here is not a tmpfs of 1 GiB or more")
def test_by_default_node_dirs_are_on_dev_shm_one_per_home(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARGOSY_RUNTIME_DIR", raising=False)
    root = runtime_root()
    assert root == Path(f"/dev/shm/argosy-{os.getuid()}")
    assert (root.stat().st_mode & 0o777, root.stat().st_uid) == (0o700, os.getuid())
    a, b = runtime_dir(tmp_path / "a"), runtime_dir(tmp_path / "b")
    assert a.parent == b.parent == root and a != b
    assert runtime_dir(tmp_path / "a" / ".." / "a") == a  # named after the resolved path


@pytest.mark.parametrize("size, flags", [(64 << 20, 0), (8 << 30, os.ST_NOEXEC)],
                         ids=["a container's 64 MiB", "noexec"])
def test_a_small_or_noexec_dev_shm_is_not_used(size: int, flags: int, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARGOSY_RUNTIME_DIR", raising=False)
    fake = os.statvfs_result((4096, 4096, size // 4096, 0, 0, 0, 0, 0, flags, 255))
    monkeypatch.setattr("argosy.store.os.statvfs", lambda path: fake)
    assert runtime_dir(tmp_path) == tmp_path / "runs"


def test_a_finished_workflow_leaves_no_files_but_keeps_its_log(tmp_path: Path) -> None:
    home = tmp_path / "home"
    wf = tmp_path / "wf.yaml"
    wf.write_text(WORKFLOW)
    result = run_cli("run", str(wf), "-o", "name", home=home)
    assert result.code == 0, result.stderr
    store = Store(home)
    try:
        uid = store.find("default", "scratch").uid
        assert not store.run_dir(uid).exists()
        assert "written" in "".join(store.log(uid, n) or "" for n in store.logged(uid))
    finally:
        store.close()


def test_an_engine_start_sweeps_what_no_active_workflow_needs(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setenv("ARGOSY_RUNTIME_DIR", str(tmp_path / "rt"))
    store = Store(tmp_path / "home")
    try:
        record = store.create_workflow(
            {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
             "metadata": {"name": "pending"}, "spec": {"entrypoint": "main", "templates": []}})
        keep = store.run_dir(record.uid) / "node"
        stale = store.run_dir("finished-or-deleted") / "node"
        for d in (keep, stale):
            d.mkdir(parents=True)
        gone_home = Store(tmp_path / "gone")
        Engine(gone_home)  # records its home beside its node directories
        gone_home.close()
        (gone_home.run_dir("x") / "node").mkdir(parents=True)
        shutil.rmtree(tmp_path / "gone")
        os.utime(tmp_path / "rt" / ".swept", (0, 0))  # the last sweep of homes: long ago

        Engine(store)

        assert keep.is_dir()
        assert not stale.parent.exists()
        assert not gone_home.runtime.exists()
        assert (store.runtime / "home").read_text() == str((tmp_path / "home").resolve())
    finally:
        store.close()


def test_other_homes_are_swept_at_most_once_an_hour(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Each home beside one's own is a file to read: an engine's start reads them only if
    no other start did in the last hour, so thousands of them cost a start nothing."""
    monkeypatch.setenv("ARGOSY_RUNTIME_DIR", str(tmp_path / "rt"))
    gone = Store(tmp_path / "gone")
    Engine(gone)  # sweeps the (no) other homes, and records when
    gone.close()
    shutil.rmtree(tmp_path / "gone")
    store = Store(tmp_path / "home")
    try:
        Engine(store)
        assert gone.runtime.exists()  # swept within the hour: left for a later start
        os.utime(tmp_path / "rt" / ".swept", (0, 0))
        Engine(store)
        assert not gone.runtime.exists()
    finally:
        store.close()


def test_node_directories_are_removed_off_the_engine_loop(tmp_path: Path) -> None:
    # Renamed at once (the run directory is gone when the workflow is), deleted by a thread
    # the interpreter waits for; a leftover of an earlier removal is removed where it is.
    import threading

    from argosy.engine.lifecycle import remove_later

    run = tmp_path / "uid"
    (run / "node" / "layers").mkdir(parents=True)
    (tmp_path / ".removed-uid" / "leftover").mkdir(parents=True)
    remove_later(run)
    assert not run.exists()
    (run / "node").mkdir(parents=True)
    shutil.rmtree(tmp_path / ".removed-uid")
    remove_later(run)
    for thread in threading.enumerate():
        if thread.name == "argosy-remove":
            thread.join()
    assert list(tmp_path.iterdir()) == []
