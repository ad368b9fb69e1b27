"""The ``local`` artifact repository: a directory under ``$ARGOSY_HOME`` (no setup).

An artifact at key ``wf/wf-gen-123/out.tgz`` is the file (or, unarchived, the directory)
``$ARGOSY_HOME/artifacts/wf/wf-gen-123/out.tgz``; ``artifactRepository: {local: {path: DIR}}``
in ``config.yaml`` puts them elsewhere. Writes go to a temporary name beside the target and are
renamed into place, so a crash or a reader never sees half an artifact. Recorded in a node's
status as Argo records an artifact of a driver plugin: ``plugin: {name: local, key: KEY}``.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from pathlib import Path
from typing import Any

from argosy.plugin import ArgosyError, hookimpl

NAME = "local"


class LocalRepository:
    """Artifacts as files and directories under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def location(self, key: str) -> dict[str, Any]:
        return {"plugin": {"name": NAME, "key": key}}

    def key_of(self, location: dict[str, Any]) -> str | None:
        plugin = location.get("plugin")
        if isinstance(plugin, dict) and plugin.get("name") == NAME and plugin.get("key"):
            return str(plugin["key"])
        return None

    def path(self, key: str) -> Path:
        """Where ``key`` is kept; a key that would leave the root is refused."""
        norm = posixpath.normpath(key.strip("/"))
        if not key or norm in (".", "") or norm.startswith("../") or norm == "..":
            raise ArgosyError(f"artifact key {key!r} is not a relative path inside the "
                              "repository")
        return self.root / norm

    def save(self, source: Path, key: str) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
        try:
            staged = temp / "artifact"
            if source.is_dir():
                shutil.copytree(source, staged, symlinks=True)
            else:
                shutil.copyfile(source, staged)
            if target.is_dir() and not target.is_symlink():
                # A directory cannot be replaced by rename: move the old one aside first.
                old = temp / "old"
                os.rename(target, old)
            os.replace(staged, target)
        finally:
            shutil.rmtree(temp, ignore_errors=True)

    def load(self, key: str, dest: Path) -> None:
        source = self.path(key)
        if source.is_dir():
            shutil.copytree(source, dest, symlinks=True, dirs_exist_ok=True)
        elif source.exists():
            shutil.copyfile(source, dest)
        else:
            raise FileNotFoundError(f"artifact key {key!r} not found in the local repository "
                                    f"({self.root})")

    def list(self, prefix: str) -> list[str]:
        """The keys of the files under ``prefix`` (a directory artifact's files are keys too,
        as in S3); a partial write's temporary folder is not one."""
        norm = posixpath.normpath(prefix.strip("/")) if prefix.strip("/") else ""
        start = self.path(norm) if norm else self.root
        if start.is_file():
            return [norm]
        return [path.relative_to(self.root).as_posix() for path in start.rglob("*")
                if path.is_file() and not any(part.startswith(".partial-")
                                              for part in path.relative_to(self.root).parts)]

    def delete(self, key: str) -> None:
        target = self.path(key)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
        # Empty key prefixes (the workflow's, the pod's folders) go with their last artifact.
        parent = target.parent
        while parent != self.root and parent.is_relative_to(self.root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent


class LocalRepositoryFactory:
    name = NAME

    def open(self, home: Path, settings: dict[str, Any]) -> LocalRepository:
        unknown = set(settings) - {"path"}
        if unknown:
            raise ArgosyError(f"artifactRepository.local: unknown setting(s) "
                              f"{', '.join(sorted(unknown))} (known: path)")
        root = Path(os.path.expanduser(str(settings.get("path") or home / "artifacts")))
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return LocalRepository(root)


@hookimpl
def argosy_artifact_repositories() -> list[LocalRepositoryFactory]:
    return [LocalRepositoryFactory()]
