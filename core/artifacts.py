"""Artifacts as Argo moves them: archives, and the sources an input artifact comes from.

Argo archives an output artifact as a gzipped tarball by default (``archive: {tar: {}}``, the
key's file ``NAME.tgz``), or leaves it as it is (``archive: {none: {}}``, the key's file the
path's base name) or zips it (``NAME.zip``); the tarball holds one entry, the path's base name.
An input artifact that is such a tarball (or a zip) is unpacked at its path: a single entry
becomes the path itself, several make it a directory, as Argo's executor does. Sources beside
keys of an artifact repository (``argosy.plugin``): ``raw``, ``http``, ``artifactory`` and
``git`` (``argosy.artifact_sources``, with their credentials).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from argosy.artifact_sources import (
    UPLOADED,
    fetch_artifactory,
    fetch_git,
    fetch_http,
    fetch_raw,
)
from argosy.errors import ArgosyError, ArtifactError

if TYPE_CHECKING:
    from argosy.artifact_repositories import Repositories

#: The location fields of Argo's Artifact that name where its content is.
LOCATIONS = ("s3", "git", "http", "artifactory", "hdfs", "raw", "oss", "gcs", "azure", "plugin")
#: The folder of an output artifact's key when its repository sets no ``keyFormat``.
DEFAULT_KEY_FORMAT = "{{workflow.name}}/{{pod.name}}"


def archive_kind(artifact: dict[str, Any]) -> str:
    """``tar`` (Argo's default), ``none`` or ``zip``."""
    strategy = artifact.get("archive") or {}
    if "none" in strategy:
        return "none"
    if "zip" in strategy:
        return "zip"
    return "tar"


def file_name(artifact: dict[str, Any], source: Path) -> str:
    """The last part of the artifact's key, as Argo names it."""
    kind = archive_kind(artifact)
    if kind == "tar":
        return f"{artifact['name']}.tgz"
    if kind == "zip":
        return f"{artifact['name']}.zip"
    return source.name


def pack(source: Path, artifact: dict[str, Any], work: Path) -> Path:
    """What goes to the repository for ``source``: a tarball or zip made in ``work``, or the
    file or directory itself (``archive: none``)."""
    import tarfile  # (and tempfile) here: only a workflow with artifacts needs them

    kind = archive_kind(artifact)
    name = os.path.basename(str(artifact.get("path") or source).rstrip("/")) or source.name
    if kind == "none":
        return source
    if kind == "zip":
        out = work / f"{artifact['name']}.zip"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in _walk(source):
                zf.write(path, os.path.join(name, path.relative_to(source)) if path != source
                         else name)
        return out
    level = ((artifact.get("archive") or {}).get("tar") or {}).get("compressionLevel")
    out = work / f"{artifact['name']}.tgz"
    with tarfile.open(out, "w:gz", compresslevel=6 if level is None else int(level)) as tf:
        tf.add(source, arcname=name)
    return out


def _walk(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        yield root
        return
    yield root
    yield from sorted(root.rglob("*"))


def _is_tarball(source: Path) -> bool:
    """A gzipped tarball, as Argo's executor tells one (gzip, then a tar header): a plain
    file, even one a tar reader would take (all zeros), is not."""
    import tarfile

    with open(source, "rb") as f:
        if f.read(2) != b"\x1f\x8b":
            return False
    try:
        with tarfile.open(source, "r:gz") as tf:
            return tf.next() is not None
    except (tarfile.TarError, OSError, EOFError):
        return False


def unpack(source: Path, dest: Path) -> None:
    """Place ``source`` at ``dest``: unpacked when it is a gzipped tarball or a zip, else as
    it is."""
    import tarfile
    import tempfile

    tarball = source.is_file() and _is_tarball(source)
    if tarball or (source.is_file() and zipfile.is_zipfile(source)):
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".unpack-") as tmp:
            where = Path(tmp)
            if tarball:
                with tarfile.open(source) as tf:
                    tf.extractall(where, filter="data")
            else:
                with zipfile.ZipFile(source) as zf:
                    _safe_zip(zf, where)
            entries = list(where.iterdir())
            chosen = entries[0] if len(entries) == 1 else where
            _move(chosen, dest)
            if chosen == where:
                where.mkdir()  # for TemporaryDirectory's cleanup
        return
    _move(source, dest)


def _safe_zip(zf: zipfile.ZipFile, where: Path) -> None:
    for info in zf.infolist():
        target = (where / info.filename).resolve()
        if not target.is_relative_to(where.resolve()):
            raise ArtifactError(f"zip entry {info.filename!r} would be written outside the "
                                "artifact's path")
    zf.extractall(where)


def _move(source: Path, dest: Path) -> None:
    if dest.is_dir() and not dest.is_symlink():
        shutil.rmtree(dest)
    elif dest.exists() or dest.is_symlink():
        dest.unlink()
    os.replace(source, dest)


def sub_path(root: Path, sub: str, name: str) -> Path:
    """``subPath`` of an artifact: a path inside it, never outside."""
    target = (root / sub.strip("/")).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ArtifactError(f'artifact "{name}": subPath {sub!r} leaves the artifact')
    if not target.exists():
        raise ArtifactError(f'artifact "{name}": subPath {sub!r} not found in it')
    return target


def set_mode(path: Path, mode: int) -> None:
    """``mode`` of an input artifact: on the file, or on every file of a directory."""
    for item in _walk(path):
        if item.is_file() or item == path:
            os.chmod(item, mode)


def location_of(art: dict[str, Any]) -> dict[str, Any]:
    return {k: art[k] for k in LOCATIONS if art.get(k) is not None}


def key_only(location: dict[str, Any]) -> str | None:
    """The key of a key-only location (``s3: {key: k}``): one to find in the repository."""
    if len(location) != 1:
        return None
    [(kind, body)] = location.items()
    if kind != "plugin" and isinstance(body, dict) and set(body) == {"key"} and body["key"]:
        return str(body["key"])
    return None


def load_artifact(repositories: Repositories, art: dict[str, Any], dest: Path,
                  work: Path) -> None:
    """Write the content of artifact ``art`` (a resolved location) to ``dest``, unpacked;
    ``work`` is a scratch directory on the same file system."""
    name = str(art.get("name"))
    download = work / "download"
    try:
        if art.get("raw") is not None:
            fetch_raw(art["raw"], download)
        elif art.get("http") is not None:
            fetch_http(art["http"], download, repositories.secret, work)
        elif art.get("artifactory") is not None:
            fetch_artifactory(art["artifactory"], download, repositories.secret)
        elif art.get("git") is not None:
            fetch_git(art["git"], download, repositories.secret, work)
        else:
            repository, key = repositories.resolve(art)
            if key is None:
                raise ArtifactError("its location gives no key")
            repository.load(key, download)
    except (FileNotFoundError, ArgosyError) as exc:  # naming the object, Secret or server
        raise ArtifactError(f'artifact "{name}": {exc}') from None
    if art.get("git") is None:
        unpacked = work / "unpacked"
        unpack(download, unpacked)
        download = unpacked
    if art.get("subPath"):
        download = sub_path(download, str(art["subPath"]), name)
    os.replace(download, dest)


def collect_garbage(repositories: Repositories, outputs: Iterable[dict[str, Any] | None],
                    spec: dict[str, Any], when: str) -> bool:
    """Argo's artifactGC: delete the output artifacts whose strategy (their own, else the
    workflow's ``spec.artifactGC``; ``Never`` when neither says) is ``when``
    (``OnWorkflowCompletion``, ``OnWorkflowDeletion``) and mark them ``deleted``. Whether any
    was."""
    default = (spec.get("artifactGC") or {}).get("strategy") or "Never"
    changed = False
    for out in outputs:
        for art in (out or {}).get("artifacts") or []:
            strategy = (art.get("artifactGC") or {}).get("strategy") or default
            location = location_of(art)
            if strategy != when or art.get("deleted") or not location or (
                    location.keys() & UPLOADED):  # Argo deletes nothing at a URL either
                continue
            repository, key = repositories.resolve(art)
            if key is not None:
                repository.delete(key)
                art["deleted"] = changed = True
    return changed


def delete_workflow_artifacts(store: Any, repositories: Callable[[str, dict[str, Any]],
                                                                 Repositories],
                              uid: str) -> None:
    """Before a workflow is deleted: what its ``OnWorkflowDeletion`` strategy collects
    (``repositories(namespace, spec)`` opens them, only for a workflow that mentions
    artifactGC)."""
    record = store.get(uid)
    spec = ((record.manifest or {}).get("spec") or {}) if record is not None else {}
    if not mentions_gc(spec):
        return
    collect_garbage(repositories(record.namespace, spec),
                    (n.get("outputs") for n in store.nodes(uid).values()), spec,
                    "OnWorkflowDeletion")


def mentions_gc(spec: dict[str, Any]) -> bool:
    return "artifactGC" in json.dumps(spec)


@contextlib.contextmanager
def artifact_download(repositories: Repositories, art: dict[str, Any],
                      scratch: Path) -> Iterator[tuple[str, Path]]:
    """(file name, file) of an output artifact as argo-server serves it, while in the block: a
    file unpacked, named as the node wrote it; a directory as a gzipped tarball."""
    with private_dir(scratch, ".read-") as work:
        content = work / "content"
        load_artifact(repositories, art, content, work)
        if content.is_dir():
            packed = pack(content, {"name": art["name"], "path": art.get("path")}, work)
            yield packed.name, packed
        else:
            yield os.path.basename(str(art.get("path") or art["name"])), content


@contextlib.contextmanager
def private_dir(parent: Path, prefix: str) -> Iterator[Path]:
    import tempfile

    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
