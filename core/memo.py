"""The memoization cache (template ``memoize``), kept in the SQLite store.

Argo keeps each cache in a ConfigMap named by ``memoize.cache.configMap.name`` whose data maps a
key to ``{nodeID, outputs, creationTimestamp, lastHitTimestamp}``; here a cache is rows of the
``memo`` table, one per (namespace, cache, key). Argo reads the ConfigMap from the controller's
namespace; here each workflow namespace has its own caches, so namespaces never see each other's
entries. Keys, cache names and ``maxAge`` are checked as Argo checks them, with its messages.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from argosy.errors import ArgosyError

SCHEMA = """
CREATE TABLE IF NOT EXISTS memo (
    namespace TEXT NOT NULL,
    cache TEXT NOT NULL,
    key TEXT NOT NULL,
    node_id TEXT NOT NULL,
    outputs TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_hit_at TEXT NOT NULL,
    PRIMARY KEY (namespace, cache, key)
) WITHOUT ROWID;
"""

# Argo's cacheKeyRegex (workflow/controller/cache).
_KEY = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")
# Kubernetes' DNS-1123 subdomain: what a ConfigMap name must be.
_SUBDOMAIN_FMT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_SUBDOMAIN = re.compile(_SUBDOMAIN_FMT)
_SUBDOMAIN_MAX = 253
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # metav1.Time: RFC 3339, whole seconds


class MemoError(ArgosyError):
    """A memoization fault Argo reports on the node (which then ends in Error)."""


@dataclass(frozen=True)
class Entry:
    """One cached result: the node that produced it, its outputs, and when."""

    key: str
    node_id: str
    outputs: dict[str, Any]
    created_at: str
    last_hit_at: str

    def to_argo(self) -> dict[str, Any]:
        """The entry as Argo writes it into the cache ConfigMap's data."""
        return {"nodeID": self.node_id, "outputs": self.outputs,
                "creationTimestamp": self.created_at, "lastHitTimestamp": self.last_hit_at}


def memoization_status(hit: bool, key: str, cache_name: str) -> dict[str, Any]:
    """A node's ``memoizationStatus``: ``{hit, key, cacheName}`` (every field always present)."""
    return {"hit": hit, "key": key, "cacheName": cache_name}


def validate_key(key: str) -> None:
    if not _KEY.fullmatch(key):
        raise MemoError(f"invalid cache key: {key}")


def validate_cache_name(name: str) -> None:
    """The cache is a ConfigMap, so its name must be a DNS subdomain; Kubernetes' own text."""
    problems = []
    if len(name) > _SUBDOMAIN_MAX:
        problems.append(f"must be no more than {_SUBDOMAIN_MAX} characters")
    if not _SUBDOMAIN.fullmatch(name):
        problems.append("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                        "characters, '-' or '.', and must start and end with an alphanumeric "
                        f"character (e.g. 'example.com', regex used for validation is "
                        f"'{_SUBDOMAIN_FMT}')")
    if problems:
        raise MemoError(f"could not save to config map cache: ConfigMap {_go_quote(name)} is "
                        f"invalid: metadata.name: Invalid value: {_go_quote(name)}: "
                        + ", ".join(problems))


# ---- Go's time.ParseDuration ------------------------------------------------------------------

_UNIT_NS = {"ns": 1, "us": 1000, "µs": 1000, "μs": 1000, "ms": 10**6, "s": 10**9,
            "m": 60 * 10**9, "h": 3600 * 10**9}
_NUMBER = re.compile(r"([0-9]*)(\.([0-9]*))?")
_UNIT = re.compile(r"[^0-9.]*")


def _go_quote(text: str) -> str:
    """Go's %q for the printable ASCII names Kubernetes accepts or rejects."""
    return json.dumps(text, ensure_ascii=False)


def _time_quote(text: str) -> str:
    """The time package's own quote: non-ASCII and control bytes become ``\\xHH``."""
    out = []
    for ch in text:
        if ord(ch) >= 0x80 or ch < " ":
            out += [f"\\x{b:02x}" for b in ch.encode()]
        else:
            out.append("\\" + ch if ch in '"\\' else ch)
    return '"' + "".join(out) + '"'


def parse_go_duration(text: str) -> float:
    """Seconds in ``text`` as Go's ``time.ParseDuration`` reads it (no ``d``, no bare numbers),
    raising :class:`MemoError` with Go's message."""
    invalid = MemoError(f"time: invalid duration {_time_quote(text)}")
    s, negative = text, False
    if s[:1] in ("-", "+"):
        negative, s = s[0] == "-", s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise invalid
    total = Fraction(0)
    while s:
        number = _NUMBER.match(s)
        assert number is not None  # the pattern matches the empty string
        whole, frac = number.group(1), number.group(3) or ""
        if not whole and not frac:
            raise invalid
        s = s[number.end():]
        unit = _UNIT.match(s).group()  # type: ignore[union-attr]
        if not unit:
            raise MemoError(f"time: missing unit in duration {_time_quote(text)}")
        if unit not in _UNIT_NS:
            raise MemoError(f"time: unknown unit {_time_quote(unit)} in duration "
                            f"{_time_quote(text)}")
        s = s[len(unit):]
        value = Fraction(int(whole or "0")) + (Fraction(int(frac), 10 ** len(frac))
                                               if frac else 0)
        total += int(value * _UNIT_NS[unit])  # Go truncates each part to whole nanoseconds
    if total >= 2**63:
        raise invalid
    return float(-total if negative else total) / 1e9


def parse_max_age(max_age: str) -> float:
    try:
        return parse_go_duration(max_age)
    except MemoError as exc:
        raise MemoError(f"invalid maxAge: {exc}") from None


# ---- the cache --------------------------------------------------------------------------------


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MemoCache:
    """Memoization caches by (namespace, cache name), in the store's SQLite database."""

    def __init__(self, db: sqlite3.Connection, *,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.db = db
        self.clock = clock
        self.db.executescript(SCHEMA)

    def _now(self) -> str:
        return self.clock().astimezone(UTC).strftime(_TIME_FORMAT)

    def get(self, namespace: str, cache_name: str, key: str,
            max_age: str | None = None) -> Entry | None:
        """The entry for ``key``, or None on a miss (absent, or older than ``max_age``).

        Like Argo's Load, a found entry gets its ``lastHitTimestamp`` updated even when it is
        too old to use.
        """
        validate_key(key)
        limit = parse_max_age(max_age) if max_age else None
        row = self.db.execute(
            "SELECT node_id, outputs, created_at FROM memo "
            "WHERE namespace = ? AND cache = ? AND key = ?",
            (namespace, cache_name, key)).fetchone()
        if row is None:
            return None
        node_id, outputs, created_at = row
        now = self._now()
        self.db.execute("UPDATE memo SET last_hit_at = ? "
                        "WHERE namespace = ? AND cache = ? AND key = ?",
                        (now, namespace, cache_name, key))
        if not node_id:
            return None  # Argo: an entry without a node is no hit
        if limit is not None and self._age(created_at) > limit:
            return None
        return Entry(key, node_id, json.loads(outputs), created_at, now)

    def _age(self, created_at: str) -> float:
        created = datetime.strptime(created_at, _TIME_FORMAT).replace(tzinfo=UTC)
        return (self.clock() - created).total_seconds()

    def put(self, namespace: str, cache_name: str, key: str, node_id: str,
            outputs: dict[str, Any] | None) -> None:
        """Save ``outputs`` (Argo's node ``outputs`` shape) of ``node_id`` under ``key``."""
        validate_key(key)
        validate_cache_name(cache_name)
        now = self._now()
        self.db.execute(
            "INSERT OR REPLACE INTO memo "
            "(namespace, cache, key, node_id, outputs, created_at, last_hit_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (namespace, cache_name, key, node_id, json.dumps(outputs or {}), now, now))

    def entries(self, namespace: str, cache_name: str) -> dict[str, Entry]:
        """Every entry of one cache, by key (the ConfigMap's data)."""
        rows = self.db.execute(
            "SELECT key, node_id, outputs, created_at, last_hit_at FROM memo "
            "WHERE namespace = ? AND cache = ? ORDER BY key", (namespace, cache_name))
        return {key: Entry(key, node_id, json.loads(outputs), created, hit)
                for key, node_id, outputs, created, hit in rows}

    def caches(self, namespace: str) -> list[str]:
        return [name for (name,) in self.db.execute(
            "SELECT DISTINCT cache FROM memo WHERE namespace = ? ORDER BY cache", (namespace,))]

    def delete(self, namespace: str, cache_name: str, key: str | None = None) -> int:
        """Delete one entry, or the whole cache when ``key`` is None; the number deleted."""
        if key is None:
            cur = self.db.execute("DELETE FROM memo WHERE namespace = ? AND cache = ?",
                                  (namespace, cache_name))
        else:
            cur = self.db.execute("DELETE FROM memo WHERE namespace = ? AND cache = ? AND key = ?",
                                  (namespace, cache_name, key))
        return cur.rowcount
