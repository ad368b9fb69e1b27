"""MemoCache: memoization entries in the real SQLite store, with an injected clock."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from argosy.memo import (
    Entry,
    MemoCache,
    MemoError,
    memoization_status,
    parse_go_duration,
    parse_max_age,
)
from argosy.store import Store

OUTPUTS = {"parameters": [{"name": "hello", "value": "world",
                           "valueFrom": {"path": "/tmp/hello_world.txt"}}], "exitCode": "0"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(argosy_home: Path) -> Store:
    return Store(argosy_home)


@pytest.fixture
def cache(store: Store, clock: Clock) -> MemoCache:
    return MemoCache(store.db, clock=clock)


def test_miss_then_hit_with_argos_entry_shape(cache: MemoCache, clock: Clock) -> None:
    assert cache.get("default", "cache-config", "cache-key", "10s") is None
    cache.put("default", "cache-config", "cache-key", "memoized-abc", OUTPUTS)
    clock.advance(4)
    entry = cache.get("default", "cache-config", "cache-key", "10s")
    assert entry == Entry("cache-key", "memoized-abc", OUTPUTS,
                          "2024-03-01T12:00:00Z", "2024-03-01T12:00:04Z")
    assert entry.to_argo() == {"nodeID": "memoized-abc", "outputs": OUTPUTS,
                               "creationTimestamp": "2024-03-01T12:00:00Z",
                               "lastHitTimestamp": "2024-03-01T12:00:04Z"}


def test_entry_older_than_max_age_is_a_miss(cache: MemoCache, clock: Clock) -> None:
    cache.put("default", "cache-config", "cache-key", "memoized-abc", OUTPUTS)
    clock.advance(10)
    assert cache.get("default", "cache-config", "cache-key", "10s") is not None  # not older
    clock.advance(1)
    assert cache.get("default", "cache-config", "cache-key", "10s") is None
    assert cache.get("default", "cache-config", "cache-key", "1m") is not None
    assert cache.get("default", "cache-config", "cache-key", None) is not None
    assert cache.get("default", "cache-config", "cache-key", "") is not None
    # Argo's Load stamps the hit time on the entry even when maxAge then rejects it.
    clock.advance(100)
    assert cache.get("default", "cache-config", "cache-key", "10s") is None
    stored = cache.entries("default", "cache-config")["cache-key"]
    assert stored.last_hit_at == "2024-03-01T12:01:51Z"


def test_put_replaces_and_restarts_the_age(cache: MemoCache, clock: Clock) -> None:
    cache.put("default", "fibonacci-m", "5", "fib-1", {"parameters": [{"name": "r",
                                                                       "value": "5"}]})
    clock.advance(200)
    assert cache.get("default", "fibonacci-m", "5", "120s") is None
    cache.put("default", "fibonacci-m", "5", "fib-2", {"parameters": [{"name": "r",
                                                                       "value": "5"}]})
    entry = cache.get("default", "fibonacci-m", "5", "120s")
    assert entry is not None and entry.node_id == "fib-2"
    assert entry.created_at == "2024-03-01T12:03:20Z"


def test_caches_are_isolated_by_namespace_and_name(cache: MemoCache) -> None:
    cache.put("team-a", "shared", "k", "a-1", {"result": "a"})
    cache.put("team-b", "shared", "k", "b-1", {"result": "b"})
    cache.put("team-a", "other", "k", "o-1", {"result": "o"})
    assert cache.get("team-a", "shared", "k").outputs == {"result": "a"}  # type: ignore[union-attr]
    assert cache.get("team-b", "shared", "k").outputs == {"result": "b"}  # type: ignore[union-attr]
    assert cache.get("team-c", "shared", "k") is None
    assert list(cache.entries("team-a", "shared")) == ["k"]
    assert cache.caches("team-a") == ["other", "shared"]
    assert cache.delete("team-a", "shared", "k") == 1
    assert cache.get("team-a", "shared", "k") is None
    assert cache.get("team-b", "shared", "k") is not None
    assert cache.delete("team-a", "other") == 1
    assert cache.caches("team-a") == []


def test_entries_survive_a_new_connection(argosy_home: Path, clock: Clock) -> None:
    first = Store(argosy_home)
    MemoCache(first.db, clock=clock).put("default", "c", "key-1", "n-1", {"result": "42"})
    first.close()
    db = sqlite3.connect(argosy_home / "argosy.db")
    entry = MemoCache(db, clock=clock).get("default", "c", "key-1", "1h")
    assert entry is not None and entry.outputs == {"result": "42"}
    db.close()


@pytest.mark.parametrize("key", ["hello world", "-leading", "a_b", "", "k/v", "ünï"])
def test_invalid_keys_are_refused_with_argos_message(cache: MemoCache, key: str) -> None:
    with pytest.raises(MemoError) as err:
        cache.get("default", "c", key)
    assert str(err.value) == f"invalid cache key: {key}"
    with pytest.raises(MemoError):
        cache.put("default", "c", key, "n", {})


@pytest.mark.parametrize("key", ["cache-key", "5", "A-b-9", "0-"])
def test_valid_keys(cache: MemoCache, key: str) -> None:
    cache.put("default", "c", key, "n", {})
    assert cache.get("default", "c", key) is not None


def test_cache_name_must_be_a_configmap_name(cache: MemoCache) -> None:
    with pytest.raises(MemoError) as err:
        cache.put("default", "Bad_Name", "k", "n", {})
    assert str(err.value) == (
        'could not save to config map cache: ConfigMap "Bad_Name" is invalid: metadata.name: '
        'Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
        "character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    long = "a" * 254
    with pytest.raises(MemoError) as err:
        cache.put("default", long, "k", "n", {})
    assert str(err.value).endswith(f'Invalid value: "{long}": must be no more than 253 '
                                   "characters")
    cache.put("default", "my.cache-1", "k", "n", {})
    assert cache.get("default", "Bad_Name", "k") is None  # Argo: reading a bad name misses


@pytest.mark.parametrize(("text", "seconds"), [
    ("10s", 10), ("1h", 3600), ("1.5h", 5400), ("2h45m", 9900), ("120s", 120), ("0", 0),
    (".5s", 0.5), ("300ms", 0.3), ("1µs", 1e-6), ("-1m30s", -90), ("+3m", 180)])
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("text", "message"), [
    ("3d", 'invalid maxAge: time: unknown unit "d" in duration "3d"'),
    ("10", 'invalid maxAge: time: missing unit in duration "10"'),
    ("x", 'invalid maxAge: time: invalid duration "x"'),
    ("-", 'invalid maxAge: time: invalid duration "-"'),
    ("1h x", 'invalid maxAge: time: unknown unit "h x" in duration "1h x"'),
    ("5€", 'invalid maxAge: time: unknown unit "\\xe2\\x82\\xac" in duration '
           '"5\\xe2\\x82\\xac"'),
])
def test_bad_max_age_has_gos_message(cache: MemoCache, text: str, message: str) -> None:
    with pytest.raises(MemoError) as err:
        parse_max_age(text)
    assert str(err.value) == message
    cache.put("default", "c", "k", "n", {})
    with pytest.raises(MemoError) as err:
        cache.get("default", "c", "k", text)
    assert str(err.value) == message


def test_memoization_status_shape() -> None:
    assert memoization_status(False, "cache-key", "cache-config") == {
        "hit": False, "key": "cache-key", "cacheName": "cache-config"}
    assert memoization_status(True, "5", "fibonacci-m") == {
        "hit": True, "key": "5", "cacheName": "fibonacci-m"}
