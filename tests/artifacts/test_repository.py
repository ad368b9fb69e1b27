"""The artifact repository interface and argosy's own ``local`` repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from argosy.errors import ArgosyError
from argosy.plugin import hookimpl
from argosy.plugins.repository import LocalRepository, LocalRepositoryFactory
from argosy.registry import Registry, default_registry


def test_the_default_repository_is_a_directory_under_the_home(tmp_path: Path) -> None:
    repo = default_registry().open_artifact_repository(tmp_path)
    assert isinstance(repo, LocalRepository) and repo.root == tmp_path / "artifacts"
    source = tmp_path / "out.tgz"
    source.write_bytes(b"content")
    repo.save(source, "wf/wf-gen-1/out.tgz")
    assert (tmp_path / "artifacts/wf/wf-gen-1/out.tgz").read_bytes() == b"content"
    assert repo.location("wf/wf-gen-1/out.tgz") == {
        "plugin": {"name": "local", "key": "wf/wf-gen-1/out.tgz"}}
    assert repo.key_of(repo.location("k/x")) == "k/x"
    assert repo.key_of({"s3": {"key": "k/x"}}) is None
    loaded = tmp_path / "back"
    repo.load("wf/wf-gen-1/out.tgz", loaded)
    assert loaded.read_bytes() == b"content"
    repo.delete("wf/wf-gen-1/out.tgz")
    assert not (tmp_path / "artifacts/wf").exists()  # empty key prefixes go too
    with pytest.raises(FileNotFoundError, match=r"wf/wf-gen-1/out\.tgz"):
        repo.load("wf/wf-gen-1/out.tgz", loaded)


def test_saves_are_atomic_and_replace_directories(tmp_path: Path) -> None:
    repo = LocalRepository(tmp_path / "repo")
    first = tmp_path / "d1"
    first.mkdir()
    (first / "a").write_text("1")
    repo.save(first, "k/d")
    second = tmp_path / "d2"
    second.mkdir()
    (second / "b").write_text("2")
    repo.save(second, "k/d")
    assert sorted(os.listdir(tmp_path / "repo/k/d")) == ["b"]
    # Nothing half-written is left beside it: temporaries are renamed or removed.
    assert os.listdir(tmp_path / "repo/k") == ["d"]
    missing = tmp_path / "nothing"
    with pytest.raises(FileNotFoundError):
        repo.save(missing, "k/e")
    assert os.listdir(tmp_path / "repo/k") == ["d"]


@pytest.mark.parametrize("key", ["", "../x", "a/../../x", "/.."])
def test_keys_stay_inside_the_repository(tmp_path: Path, key: str) -> None:
    with pytest.raises(ArgosyError, match="not a relative path inside the repository"):
        LocalRepository(tmp_path).path(key)


def test_config_chooses_the_repository_and_its_settings(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"artifactRepository: {{local: {{path: {tmp_path}/a}}}}\n")
    assert default_registry().open_artifact_repository(tmp_path).root == tmp_path / "a"
    (tmp_path / "config.yaml").write_text("artifactRepository: {gcs: {bucket: b}}\n")
    with pytest.raises(ArgosyError, match="artifact repository 'gcs' is not provided by any "
                                          "plugin"):
        default_registry().open_artifact_repository(tmp_path)
    (tmp_path / "config.yaml").write_text("artifactRepository: {local: {bucket: b}}\n")
    with pytest.raises(ArgosyError, match="unknown setting"):
        default_registry().open_artifact_repository(tmp_path)


def test_a_plugin_adds_a_repository_by_name(tmp_path: Path) -> None:
    class Memory(LocalRepositoryFactory):
        name = "memory"

    class Plugin:
        @hookimpl
        def argosy_artifact_repositories(self) -> list[LocalRepositoryFactory]:
            return [Memory()]

    registry = Registry(load_entry_points=False)
    registry.register(Plugin(), "mem")
    assert registry.plugins["mem"].artifact_repositories == ["memory"]
    (tmp_path / "config.yaml").write_text("artifactRepository: {memory: {}}\n")
    assert isinstance(registry.open_artifact_repository(tmp_path), LocalRepository)
