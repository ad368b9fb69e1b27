"""Mutexes and semaphores for ``synchronization``, as Argo's controller keeps them (workflow/sync).

Locks live in memory in one event loop, shared by every workflow the engine runs. A lock is named
like Argo's: ``<namespace>/Mutex/<name>`` or ``<namespace>/ConfigMap/<configmap>/<key>``. There
semaphore's limit comes from the ConfigMap of that name applied to the store (``argosy apply``),
else from ``$ARGOSY_HOME/semaphores.yaml`` (``configmap-name: {key: limit}``, or
``namespace/configmap-name`` to pin one namespace), read again whenever the lock is checked, so
an edit applies to the next acquire or release (and to waiters within ``poll_interval`` seconds).

Acquisition is all-or-nothing, as in Argo: a request takes every lock it names at once or none,
so no holder waits while holding part of what it needs and several locks cannot deadlock.
Each lock keeps a queue ordered by priority (higher first), then workflow creation time (older
first), then workflow key, then arrival; only a request at the front of every queue it is in
may acquire (Argo also lets in another node of the front request's own workflow).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from argosy.errors import ArgosyError

log = logging.getLogger(__name__)

MUTEX, CONFIGMAP, DATABASE = "Mutex", "ConfigMap", "Database"


class SyncError(ArgosyError):
    """A lock could not be taken at all (bad reference, no limit): Argo fails the node/workflow.

    ``reason`` says why a semaphore's limit could not be read (Argo only logs it).
    """

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class _LimitUnreadable(Exception):
    pass


# ---- lock names -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockName:
    """A decoded lock key (Argo's lockName)."""

    namespace: str
    kind: str
    resource: str
    key: str = ""

    def __str__(self) -> str:
        if self.kind == CONFIGMAP:
            return f"{self.namespace}/{self.kind}/{self.resource}/{self.key}"
        return f"{self.namespace}/{self.kind}/{self.resource}"

    def validate(self) -> None:
        for missing, message in ((not self.namespace, "Namespace is missing"),
                                 (not self.kind, "Kind is missing"),
                                 (not self.resource, "ResourceName is missing"),
                                 (self.kind == CONFIGMAP and not self.key,
                                  "Key is missing for ConfigMap lock")):
            if missing:
                raise SyncError(f"Invalid lock key: {message}")


def decode_lock_name(name: str) -> LockName:
    """Parse a lock key as Argo's DecodeLockName does, with its messages."""
    items = name.split("/", 2)
    if len(items) < 3:
        raise SyncError("Invalid lock key: unknown format")
    namespace, kind, rest = items
    if kind in (MUTEX, DATABASE):
        lock = LockName(namespace, kind, rest)
    elif kind == CONFIGMAP:
        parts = rest.split("/")
        if len(parts) != 2:
            raise SyncError("Invalid ConfigMap lock key: unknown format")
        lock = LockName(namespace, kind, parts[0], parts[1])
    else:
        raise SyncError(f"Invalid lock key, unexpected kind: {kind}")
    lock.validate()
    return lock


def _sync_items(sync: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(type, item) in Argo's order: legacy semaphore, legacy mutex, semaphores, mutexes."""
    items: list[tuple[str, dict[str, Any]]] = []
    if sync.get("semaphore"):
        items.append(("Semaphore", sync["semaphore"]))
    if sync.get("mutex"):
        items.append(("Mutex", sync["mutex"]))
    items += [("Semaphore", s or {}) for s in sync.get("semaphores") or []]
    items += [("Mutex", m or {}) for m in sync.get("mutexes") or []]
    for i, item in enumerate(items):
        if item in items[i + 1:]:
            raise SyncError("requested configuration is invalid: "
                            "duplicate synchronization item found")
    return items


def _lock_name(kind: str, item: dict[str, Any], wf_namespace: str) -> LockName:
    namespace = item.get("namespace") or wf_namespace
    if kind == "Mutex":
        lock = LockName(namespace, DATABASE if item.get("database") else MUTEX,
                        str(item.get("name") or ""))
    else:
        ref, db = item.get("configMapKeyRef"), item.get("database")
        if ref is not None and db is not None:
            raise SyncError("invalid semaphore with both ConfigMapKeyRef and Database")
        if ref is not None:
            lock = LockName(namespace, CONFIGMAP, str(ref.get("name") or ""),
                            str(ref.get("key") or ""))
        elif db is not None:
            lock = LockName(namespace, DATABASE, str(db.get("key") or ""))
        else:
            raise SyncError("cannot get LockName for a Semaphore without a ConfigMapRef "
                            "or Database")
    lock.validate()
    return lock


def _typed_lock_names(sync: dict[str, Any], namespace: str) -> list[tuple[str, LockName]]:
    try:
        return [(kind, _lock_name(kind, item, namespace)) for kind, item in _sync_items(sync)]
    except SyncError as exc:
        if str(exc).startswith("requested configuration is invalid"):
            raise
        raise SyncError(f"requested configuration is invalid: {exc}") from None


def lock_keys(sync: dict[str, Any], namespace: str) -> list[str]:
    """The keys of the locks ``sync`` names, e.g. ``["default/Mutex/welcome"]``; raises
    :class:`SyncError` with Argo's message for an invalid reference."""
    return [str(name) for _, name in _typed_lock_names(sync, namespace)]


def holder_key(namespace: str, workflow: str, node_id: str | None = None) -> str:
    """Argo's holder key: ``ns/wf`` for a workflow-level lock, ``ns/wf/<node id>`` for a node."""
    return f"{namespace}/{workflow}/{node_id}" if node_id else f"{namespace}/{workflow}"


def _workflow_of(holder: str) -> str:
    return "/".join(holder.split("/")[:2])


def _same_workflow_node(a: str, b: str) -> bool:
    # Argo's isSameWorkflowNodeKeys: same key shape and same workflow.
    pa, pb = a.split("/"), b.split("/")
    return len(pa) == len(pb) and pa[:2] == pb[:2]


# ---- semaphore limits -------------------------------------------------------------------------


def _atoi(value: Any) -> int:
    """Go's strconv.Atoi on a ConfigMap value (YAML ints are accepted as they are)."""
    if isinstance(value, bool):
        value = str(value).lower()
    if isinstance(value, int):
        return value
    text = str(value)
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not digits.isascii() or not digits.isdigit():
        raise _LimitUnreadable(f'strconv.Atoi: parsing "{text}": invalid syntax')
    return int(text)


ConfigMaps = Callable[[str, str], "dict[str, Any] | None"]  # (namespace, name) -> ConfigMap


class LimitFile:
    """Where semaphores read their limits: ConfigMaps in the store, then ``semaphores.yaml``."""

    def __init__(self, path: Path, configmaps: ConfigMaps | None = None) -> None:
        self.path = Path(path)
        self.configmaps = configmaps

    def load(self) -> dict[str, Any] | _LimitUnreadable:
        try:
            data = yaml.safe_load(self.path.read_text()) or {}
        except FileNotFoundError:
            return {}
        except (OSError, yaml.YAMLError) as exc:
            return _LimitUnreadable(f"{self.path}: {exc}")
        if not isinstance(data, dict):
            return _LimitUnreadable(f"{self.path}: expected a mapping of ConfigMap names")
        return data

    def limit(self, data: dict[str, Any] | _LimitUnreadable, lock: LockName) -> int:
        try:
            applied = self.configmaps(lock.namespace, lock.resource) if self.configmaps else None
        except ArgosyError as exc:  # the cluster's ConfigMap unreadable (argosy controller)
            raise _LimitUnreadable(str(exc)) from None
        if applied is not None:
            configmap = applied.get("data") or {}
        elif isinstance(data, _LimitUnreadable):
            raise data
        else:
            configmap = data.get(f"{lock.namespace}/{lock.resource}", data.get(lock.resource))
        if not isinstance(configmap, dict):
            raise _LimitUnreadable(f'configmaps "{lock.resource}" not found')
        if lock.key not in configmap:
            raise _LimitUnreadable(
                f"Sync configuration key '{lock.key}' not found in ConfigMap")
        return _atoi(configmap[lock.key])


# ---- the locks --------------------------------------------------------------------------------


@dataclass(eq=False)
class _Waiter:
    holder: str
    order: tuple[Any, ...]
    locks: list[_Lock]
    future: asyncio.Future[None]
    waiting_for: str | None = None


@dataclass(eq=False)
class _Lock:
    name: LockName
    limit: int  # last limit read; a mutex is 1
    holders: dict[str, None] = field(default_factory=dict)  # insertion-ordered set
    queue: list[tuple[tuple[Any, ...], _Waiter]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return str(self.name)

    @property
    def semaphore(self) -> bool:
        return self.name.kind == CONFIGMAP

    def front(self) -> _Waiter | None:
        return self.queue[0][1] if self.queue else None

    def enqueue(self, waiter: _Waiter) -> None:
        bisect.insort(self.queue, (waiter.order, waiter), key=lambda e: e[0])

    def dequeue(self, waiter: _Waiter) -> None:
        i = bisect.bisect_left(self.queue, waiter.order, key=lambda e: e[0])
        if i < len(self.queue) and self.queue[i][1] is waiter:
            del self.queue[i]


class Lease:
    """Locks held by one holder; release them with ``await lease.release()`` or ``async with``."""

    def __init__(self, manager: SyncManager, holder: str, locks: list[str]) -> None:
        self.manager = manager
        self.holder = holder
        self.locks = locks
        self.released = False

    def release_now(self) -> None:
        """Release synchronously (for ``finally`` blocks that cannot await); idempotent."""
        if not self.released:
            self.released = True
            self.manager.release(self.holder, self.locks)

    async def release(self) -> None:
        self.release_now()

    async def __aenter__(self) -> Lease:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.release_now()

    def __repr__(self) -> str:
        return f"Lease({self.holder!r}, {self.locks!r}, released={self.released})"


class SyncManager:
    """Every mutex and semaphore of one engine, with their holders and queues."""

    def __init__(self, config_path: Path, *, poll_interval: float = 2.0,
                 configmaps: ConfigMaps | None = None) -> None:
        self.limits = LimitFile(config_path, configmaps)
        self.poll_interval = poll_interval
        self._locks: dict[str, _Lock] = {}
        self._waiters: dict[str, _Waiter] = {}
        self._by_workflow: dict[str, dict[str, _Waiter]] = {}  # for status(), without a scan
        self._seq = itertools.count()
        self._poller: asyncio.Task[None] | None = None

    # ---- acquiring ----------------------------------------------------------------------------

    async def acquire(self, holder: str, sync: dict[str, Any], *, namespace: str,
                      priority: int = 0, created: str = "",
                      on_wait: Callable[[str], None] | None = None) -> Lease:
        """Wait until ``holder`` holds every lock in ``sync``; raises :class:`SyncError` when a
        lock cannot be used at all. ``on_wait`` gets Argo's waiting message, once, if it waits."""
        locks = [self._lock(name, kind) for kind, name in _typed_lock_names(sync, namespace)]
        keys = [lock.key for lock in locks]
        if holder in self._waiters:
            raise SyncError(f"{holder} is already waiting for a lock")
        waiter = _Waiter(holder, (-priority, created, _workflow_of(holder), next(self._seq)),
                         locks, asyncio.get_running_loop().create_future())
        for lock in locks:
            if holder not in lock.holders:
                lock.enqueue(waiter)
        self._add_waiter(waiter)
        data = self.limits.load()
        message = self._check(waiter, data)
        if message is None:
            self._grant(waiter)
            return Lease(self, holder, keys)
        try:
            if on_wait is not None:
                on_wait(message)
            self._ensure_poller()
            await waiter.future
        except asyncio.CancelledError:
            self._withdraw(waiter)
            raise
        return Lease(self, holder, keys)

    def reacquire(self, holder: str, sync: dict[str, Any], *, namespace: str) -> Lease:
        """Register ``holder`` as holding ``sync``'s locks without waiting or checking limits:
        for a node that held them before a restart (Argo's reacquire at controller startup)."""
        named = _typed_lock_names(sync, namespace)
        for kind, name in named:
            self._force(name, holder, kind)
        return Lease(self, holder, [str(name) for _, name in named])

    def restore(self, synchronization: dict[str, Any] | None) -> None:
        """Re-register the holders a workflow's recorded ``status.synchronization`` lists."""
        synchronization = synchronization or {}
        for holding in (synchronization.get("semaphore") or {}).get("holding") or []:
            for holder in holding.get("holders") or []:
                self._force(decode_lock_name(holding["semaphore"]), holder, "Semaphore")
        for holding in (synchronization.get("mutex") or {}).get("holding") or []:
            self._force(decode_lock_name(holding["mutex"]), holding["holder"], "Mutex")

    def _force(self, name: LockName, holder: str, kind: str) -> None:
        lock = self._locks.get(str(name))
        if lock is None:
            try:
                lock = self._lock(name, kind)
            except SyncError:
                # Keep the recorded hold even when no limit can be read now, so nothing
                # else slips into the slot; acquirers wait until a limit is readable.
                lock = self._locks[str(name)] = _Lock(name, 0)
        lock.holders[holder] = None

    # ---- releasing ----------------------------------------------------------------------------

    def release(self, holder: str, keys: Iterable[str] | None = None) -> None:
        """Release ``holder``'s locks (all of them when ``keys`` is None); idempotent."""
        if keys is None:
            locks = [lock for lock in self._locks.values() if holder in lock.holders]
        else:
            locks = [self._locks[k] for k in keys if k in self._locks]
        freed = [lock for lock in locks if holder in lock.holders]
        for lock in freed:
            del lock.holders[holder]
        if freed:
            self._dispatch(freed)

    def release_workflow(self, namespace: str, workflow: str) -> None:
        """Release every lock held or awaited by a workflow and its nodes (Argo's ReleaseAll)."""
        wf = holder_key(namespace, workflow)
        for waiter in list(self._by_workflow.get(wf, {}).values()):
            self._withdraw(waiter)
            if not waiter.future.done():
                waiter.future.set_exception(SyncError(f"{waiter.holder}: lock request withdrawn"))
        for lock in self._locks.values():
            for holder in [h for h in lock.holders if _workflow_of(h) == wf]:
                self.release(holder, [lock.key])

    def notify(self) -> None:
        """Re-read the limits and admit every waiter that now fits (after editing the file)."""
        self._dispatch([lock for lock in self._locks.values() if lock.queue])

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None

    # ---- what is held -------------------------------------------------------------------------

    def holders(self, key: str) -> list[str]:
        lock = self._locks.get(key)
        return list(lock.holders) if lock else []

    def waiting(self, key: str) -> list[str]:
        lock = self._locks.get(key)
        return [w.holder for _, w in lock.queue] if lock else []

    def limit(self, key: str) -> int:
        lock = self._locks.get(key)
        return self._limit(lock, self.limits.load()) if lock else 0

    def waiting_for(self, holder: str) -> str | None:
        """The lock a waiter is blocked on (Argo's node ``synchronizationStatus.waiting``)."""
        waiter = self._waiters.get(holder)
        return waiter.waiting_for if waiter else None

    def status(self, namespace: str, workflow: str) -> dict[str, Any]:
        """Argo's ``status.synchronization`` for one workflow; ``{}`` when it holds nothing."""
        wf = holder_key(namespace, workflow)
        sem: dict[str, list[dict[str, Any]]] = {"holding": [], "waiting": []}
        mtx: dict[str, list[dict[str, Any]]] = {"holding": [], "waiting": []}
        for lock in self._locks.values():
            mine = [h for h in lock.holders if _workflow_of(h) == wf]
            if mine and lock.semaphore:
                sem["holding"].append({"semaphore": lock.key, "holders": mine})
            mtx["holding"] += [{"mutex": lock.key, "holder": h} for h in mine
                               if not lock.semaphore]
        seen: set[str] = set()
        for waiter in self._by_workflow.get(wf, {}).values():
            for lock in waiter.locks:
                if lock.key in seen:
                    continue
                seen.add(lock.key)
                current = list(lock.holders)
                if lock.semaphore:
                    sem["waiting"].append({"semaphore": lock.key} |
                                          ({"holders": current} if current else {}))
                elif current:
                    mtx["waiting"].append({"mutex": lock.key, "holder": current[0]})
        out: dict[str, Any] = {}
        for name, part in (("semaphore", sem), ("mutex", mtx)):
            part = {k: v for k, v in part.items() if v}
            if part:
                out[name] = part
        return out

    # ---- internals ----------------------------------------------------------------------------

    def _lock(self, name: LockName, kind: str) -> _Lock:
        """The lock for ``name``, initialised on first use as Argo's prepAcquire does."""
        key = str(name)
        lock = self._locks.get(key)
        if lock is not None:
            return lock
        if name.kind == DATABASE:
            # Multi-controller locks need Argo's shared database; there is none here.
            raise SyncError(f"database session is not available for {kind.lower()} {key}")
        if name.kind == MUTEX:
            lock = _Lock(name, 1)
        else:
            try:
                limit = self.limits.limit(self.limits.load(), name)
            except _LimitUnreadable as exc:
                log.warning("semaphore %s: %s", key, exc)
                raise SyncError(f"failed to initialize semaphore {key} with limit",
                                str(exc)) from None
            if limit == 0:
                raise SyncError(f"failed to initialize semaphore {key} with limit")
            lock = _Lock(name, limit)
        self._locks[key] = lock
        return lock

    def _limit(self, lock: _Lock, data: dict[str, Any] | _LimitUnreadable) -> int:
        if lock.semaphore:
            try:
                lock.limit = self.limits.limit(data, lock.name)
            except _LimitUnreadable as exc:
                # Argo keeps the last known limit when the ConfigMap cannot be read.
                log.warning("semaphore %s: %s; using limit %d", lock.key, exc, lock.limit)
        return lock.limit

    def _check(self, waiter: _Waiter, data: dict[str, Any] | _LimitUnreadable) -> str | None:
        """None when ``waiter`` may take all its locks now, else Argo's waiting message."""
        for lock in waiter.locks:
            message = self._check_lock(lock, waiter, data)
            if message is not None:
                waiter.waiting_for = lock.key
                return message
        return None

    def _check_lock(self, lock: _Lock, waiter: _Waiter,
                    data: dict[str, Any] | _LimitUnreadable) -> str | None:
        if waiter.holder in lock.holders:
            return None
        limit = self._limit(lock, data)
        if limit == 0:
            return f"Failed to get semaphore limit for {lock.key}"
        message = f"Waiting for {lock.key} lock. Lock status: {limit - len(lock.holders)}/{limit}"
        front = lock.front()
        if front is not None and not _same_workflow_node(waiter.holder, front.holder):
            return message
        return None if len(lock.holders) < limit else message

    def _grant(self, waiter: _Waiter) -> None:
        for lock in waiter.locks:
            lock.dequeue(waiter)
            lock.holders[waiter.holder] = None
        self._remove_waiter(waiter)
        waiter.waiting_for = None
        if not waiter.future.done():
            waiter.future.set_result(None)

    def _withdraw(self, waiter: _Waiter) -> None:
        """Take a waiter out of every queue (cancelled); a grant it never saw is given back."""
        if self._waiters.get(waiter.holder) is waiter:
            self._remove_waiter(waiter)
            for lock in waiter.locks:
                lock.dequeue(waiter)
            self._dispatch(waiter.locks)
        elif waiter.future.done() and not waiter.future.cancelled():
            self.release(waiter.holder, [lock.key for lock in waiter.locks])

    def _add_waiter(self, waiter: _Waiter) -> None:
        self._waiters[waiter.holder] = waiter
        self._by_workflow.setdefault(_workflow_of(waiter.holder), {})[waiter.holder] = waiter

    def _remove_waiter(self, waiter: _Waiter) -> None:
        del self._waiters[waiter.holder]
        wf = _workflow_of(waiter.holder)
        del self._by_workflow[wf][waiter.holder]
        if not self._by_workflow[wf]:
            del self._by_workflow[wf]

    def _dispatch(self, locks: Iterable[_Lock],
                  data: dict[str, Any] | _LimitUnreadable | None = None) -> None:
        """Admit, in queue order, every waiter of ``locks`` that can now take all its locks."""
        work = deque(locks)
        if not work:
            return
        if data is None:
            data = self.limits.load()
        while work:
            lock = work.popleft()
            for _, waiter in list(lock.queue):
                if len(lock.holders) >= self._limit(lock, data):
                    break
                front = lock.front()
                if front is None or not _same_workflow_node(waiter.holder, front.holder):
                    continue
                if self._waiters.get(waiter.holder) is waiter and \
                        self._check(waiter, data) is None:
                    self._grant(waiter)
                    work.extend(other for other in waiter.locks if other is not lock)

    def _ensure_poller(self) -> None:
        # Limits can grow while nothing is released: re-check semaphore queues now and then.
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        while self._waiters:
            await asyncio.sleep(self.poll_interval)
            self._dispatch([lock for lock in self._locks.values()
                            if lock.queue and lock.semaphore])
