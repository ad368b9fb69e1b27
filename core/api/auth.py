"""Bearer tokens for ``argosy server``: who may read or change workflows in which namespaces.

Tokens live in ``$ARGOSY_HOME/tokens.json`` (mode 0600) as sha256 hashes, never in clear:

    {"tokens": [{"id": "3f2a…", "hash": "<sha256 hex>", "namespaces": ["*"],
                 "read_only": false, "created": "2024-01-01T00:00:00Z"}]}

The clear token (``argosy_<id>_<secret>``) is shown once, when it is made. ``namespaces`` is a
list of namespace names, or ``["*"]`` for all; a read-only token may only read (GET, and the
event stream).

For the CLI (``argosy auth token``, ``argosy server``):

- ``Auth(home=None)``: the token file of ``home`` (default ``$ARGOSY_HOME``).
- ``Auth.create_token(namespaces=("*",), read_only=False) -> str``: a new clear token.
- ``Auth.ensure_admin() -> str | None``: on first start, an all-namespaces read-write token
  (returned so the caller prints it once); ``None`` when tokens already exist.
- ``Auth.verify(token) -> Grant | None``: what a presented token may do, ``None`` if unknown.
- ``Auth.tokens() -> list[dict]``: the stored tokens without their hashes.
- ``Auth.revoke(token_id) -> bool``.
- module functions ``create_token(namespaces, read_only, home=None)`` and
  ``verify(token, home=None)`` do the same on the default file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argosy.spec.names import check_namespace
from argosy.store import argosy_home, now_rfc3339, private_home

ALL = "*"
PREFIX = "argosy_"


@dataclass(frozen=True)
class Grant:
    """What one verified token may do."""

    id: str
    namespaces: tuple[str, ...]
    read_only: bool

    @property
    def all_namespaces(self) -> bool:
        return ALL in self.namespaces

    def may_access(self, namespace: str | None) -> bool:
        """``namespace`` None means every namespace at once (a cluster-wide list)."""
        if self.all_namespaces:
            return True
        return namespace is not None and namespace in self.namespaces


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with a file only its owner can read."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class Auth:
    """The token file of one ``ARGOSY_HOME``; re-read when it changes on disk."""

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home) if home else argosy_home()
        self.path = self.home / "tokens.json"
        self._cache: tuple[float, list[dict[str, Any]]] | None = None

    def _load(self) -> list[dict[str, Any]]:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return []
        if self._cache and self._cache[0] == mtime:
            return self._cache[1]
        entries = json.loads(self.path.read_text()).get("tokens", [])
        self._cache = (mtime, entries)
        return entries

    def _save(self, entries: list[dict[str, Any]]) -> None:
        private_home(self.home)
        _write_private(self.path, json.dumps({"tokens": entries}, indent=2) + "\n")
        self._cache = None

    def create_token(self, namespaces: Iterable[str] = (ALL,), read_only: bool = False) -> str:
        namespaces = [ns if ns == ALL else check_namespace(ns) for ns in namespaces] or [ALL]
        token_id = secrets.token_hex(4)
        token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        entries = list(self._load())
        entries.append({"id": token_id, "hash": _digest(token), "namespaces": namespaces,
                        "read_only": bool(read_only), "created": now_rfc3339()})
        self._save(entries)
        return token

    def ensure_admin(self) -> str | None:
        if self._load():
            return None
        return self.create_token([ALL], read_only=False)

    def verify(self, token: str | None) -> Grant | None:
        if not token:
            return None
        digest = _digest(token)
        found = None
        # Compare against every entry, in constant time each, so timing says nothing.
        for entry in self._load():
            if hmac.compare_digest(digest, str(entry.get("hash", ""))):
                found = entry
        if found is None:
            return None
        return Grant(str(found["id"]), tuple(found.get("namespaces") or [ALL]),
                     bool(found.get("read_only")))

    def tokens(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in e.items() if k != "hash"} for e in self._load()]

    def revoke(self, token_id: str) -> bool:
        entries = self._load()
        kept = [e for e in entries if e.get("id") != token_id]
        if len(kept) == len(entries):
            return False
        self._save(kept)
        return True


def create_token(namespaces: Iterable[str] = (ALL,), read_only: bool = False,
                 home: Path | str | None = None) -> str:
    return Auth(home).create_token(namespaces, read_only)


def verify(token: str | None, home: Path | str | None = None) -> Grant | None:
    return Auth(home).verify(token)
