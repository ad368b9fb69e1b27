"""The ``argosy`` entry points of the installed distributions, remembered between starts.

Finding them reads every distribution's metadata on ``sys.path`` (some 200 in a test
environment: several milliseconds of each start). What was found is kept in the home's
``cache`` directory, keyed by the ``sys.path`` entries and their modification times: installing
or removing a distribution adds or removes its ``*.dist-info`` directory, which changes the time
of the directory holding it, so the next start reads them all again. Nothing is cached
while a directory has just changed (see :func:`_settled`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: How long a sys.path directory stays unchanged before what it holds is cached.
SETTLED_NS = 2_000_000_000

#: Each sys.path entry with its modification time (None: it does not exist).
PathState = list[tuple[str, int | None]]
#: Each entry point with its distribution's name and version.
Found = list[tuple[importlib.metadata.EntryPoint, str | None, str | None]]


def find(group: str, home: Path) -> Found:
    """The entry points of ``group``: the home's cached ones while ``sys.path`` is unchanged,
    else those the distributions declare (then cached, when the home exists)."""
    paths = path_state()
    cache = home / "cache" / f"entry-points-{_digest(group, paths)}.json"
    try:
        saved = json.loads(cache.read_text())
        if [tuple(p) for p in saved["paths"]] == paths:
            return [(importlib.metadata.EntryPoint(name, value, group), dist, version)
                    for name, value, dist, version in saved["found"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass  # none yet, or unreadable: read the distributions
    found = with_distributions(importlib.metadata.entry_points(group=group))
    if home.is_dir() and _settled(paths):
        _save(cache, {"paths": paths, "found": [(ep.name, ep.value, dist, version)
                                                for ep, dist, version in found]})
    return found


class SavedClaims:
    """What each plugin of ``group`` claimed (template types, executors, ... and its hooks) at
    the last start that loaded them all without a problem, kept in the home's ``cache``: with
    it, a start imports a plugin only when one of its names is used (a one-node run needs two
    of argosy's fifteen, a third of its start's time in plugins). It holds while the entry
    points are the same and each plugin's module file is unchanged; a change to another
    module of a plugin's package is not seen, as no claim lives there in argosy's own."""

    def __init__(self, group: str, home: Path, found: Found) -> None:
        self.home = home
        self.found = [[ep.name, ep.value, dist, version] for ep, dist, version in found]
        digest = hashlib.sha256(json.dumps([group, self.found]).encode()).hexdigest()[:16]
        self.path = home / "cache" / f"claims-{digest}.json"

    def read(self, keys: Iterable[str] = ()) -> dict[str, dict[str, Any]] | None:
        """The claims by plugin name, each with every one of ``keys``, or None: none saved,
        not for these plugins' files, or saved by an argosy that claimed other kinds."""
        try:
            saved = json.loads(self.path.read_text())
            if saved["found"] != self.found:
                return None
            claims: dict[str, dict[str, Any]] = saved["plugins"]
            for claim in claims.values():
                if os.stat(claim["file"]).st_mtime_ns != claim["mtime"] or not all(
                        isinstance(claim.get(key), list) for key in keys):
                    return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return claims

    def save(self, claims: dict[str, dict[str, Any]]) -> None:
        if not self.home.is_dir():
            return
        try:
            for claim in claims.values():
                claim["mtime"] = os.stat(claim["file"]).st_mtime_ns
        except (OSError, TypeError):
            return  # a plugin without a file of its own: it is loaded at every start
        _save(self.path, {"found": self.found, "plugins": claims})


def settle_pydantic_plugins(home: Path) -> None:
    """Tell pydantic which of its plugins are installed when the cache knows there are none.

    pydantic looks for its plugins (entry point group ``pydantic``) when it builds the first
    model of a process, reading every distribution's metadata as :func:`find` would without
    its cache (~12 ms of a one-node run). When there are none, what it would have concluded
    is recorded in its module's ``_plugins`` (a private name: should it go, pydantic simply
    looks for itself again). When there are some, pydantic loads them as usual."""
    if find("pydantic", home):
        return
    from pydantic.plugin import _loader

    if getattr(_loader, "_plugins", ...) is None:
        _loader._plugins = {}


def path_state() -> PathState:
    state: PathState = []
    for entry in sys.path:
        try:
            mtime: int | None = os.stat(entry or ".").st_mtime_ns
        except OSError:
            mtime = None
        state.append((entry, mtime))
    return state


def with_distributions(eps: importlib.metadata.EntryPoints) -> Found:
    """Each entry point with its distribution's name and version. Each distribution's metadata
    is read once: ``Distribution.name`` and ``.version`` parse the whole file at every call."""
    known: dict[int, tuple[str | None, str | None]] = {}
    found = []
    for ep in eps:
        if ep.dist is not None and id(ep.dist) not in known:
            metadata = ep.dist.metadata
            known[id(ep.dist)] = (metadata["Name"], metadata["Version"])
        found.append((ep, *known.get(id(ep.dist), (None, None))))
    return found


def _settled(paths: PathState) -> bool:
    """Whether no directory changed in the last seconds. Its time has a coarse clock's
    resolution: a distribution installed in the same tick as a change seen here would leave
    the time as it was, and a cache made now would hide it."""
    recent = time.time_ns() - SETTLED_NS
    return all(mtime is None or mtime < recent for _, mtime in paths)


def _digest(group: str, paths: PathState) -> str:
    """One file per group and ``sys.path``: environments sharing a home keep theirs apart."""
    return hashlib.sha256(json.dumps([group, [p[0] for p in paths]]).encode()).hexdigest()[:16]


def _save(cache: Path, data: dict[str, object]) -> None:
    """Written whole and renamed into place: a start reading it meanwhile sees the old one.
    Private, as everything in the home is, whatever the umask."""
    try:
        cache.parent.mkdir(mode=0o700, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(data))
        os.replace(partial, cache)
    except OSError:
        pass  # a read-only home: read the distributions at every start, as before
