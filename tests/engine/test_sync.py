"""SyncManager: mutexes and semaphores contended for by real asyncio tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from argosy.engine.sync import Lease, SyncError, SyncManager, holder_key, lock_keys
from argosy.errors import ArgosyError
from argosy.objects import ObjectService
from argosy.store import Store

MUTEX = {"mutexes": [{"name": "welcome"}]}
TEMPLATE_SEM = {"semaphores": [{"configMapKeyRef": {"name": "my-config", "key": "template"}}]}
SEM_KEY = "default/ConfigMap/my-config/template"


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))  # type: ignore[arg-type]


@pytest.fixture
def limits(argosy_home: Path) -> Path:
    argosy_home.mkdir(parents=True, exist_ok=True)
    path = argosy_home / "semaphores.yaml"
    path.write_text("my-config:\n  workflow: 1\n  template: \"2\"\n")
    return path


@pytest.fixture
def manager(limits: Path) -> SyncManager:
    return SyncManager(limits)


class Contenders:
    """Tasks that each acquire, report on a queue, and hold until told to release."""

    def __init__(self, manager: SyncManager) -> None:
        self.manager = manager
        self.acquired: asyncio.Queue[str] = asyncio.Queue()
        self.leases: dict[str, Lease] = {}
        self.messages: dict[str, list[str]] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, holder: str, sync: dict[str, Any], **kw: Any) -> None:
        self.messages[holder] = []
        self.tasks[holder] = asyncio.create_task(self._run(holder, sync, kw))

    async def _run(self, holder: str, sync: dict[str, Any], kw: dict[str, Any]) -> None:
        lease = await self.manager.acquire(holder, sync, namespace="default",
                                           on_wait=self.messages[holder].append, **kw)
        self.leases[holder] = lease
        await self.acquired.put(holder)

    async def settle(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0)

    async def next(self) -> str:
        return await asyncio.wait_for(self.acquired.get(), 5)

    async def release(self, holder: str) -> None:
        await self.leases.pop(holder).release()


def contend(manager: SyncManager, body: Callable[[Contenders], Awaitable[None]]) -> None:
    async def main() -> None:
        await body(Contenders(manager))
        await manager.close()

    run(main())


# ---- lock names -------------------------------------------------------------------------------


def test_lock_keys_follow_argo_naming_and_order() -> None:
    sync = {"mutexes": [{"name": "alpha"}, {"name": "beta", "namespace": "other"}],
            "semaphores": [{"configMapKeyRef": {"name": "my-config", "key": "foo"}},
                           {"configMapKeyRef": {"name": "cm", "key": "bar"}, "namespace": "x"}]}
    assert lock_keys(sync, "default") == [
        "default/ConfigMap/my-config/foo", "x/ConfigMap/cm/bar",
        "default/Mutex/alpha", "other/Mutex/beta"]
    legacy = {"mutex": {"name": "m"},
              "semaphore": {"configMapKeyRef": {"name": "my-config", "key": "workflow"}}}
    assert lock_keys(legacy, "ns") == ["ns/ConfigMap/my-config/workflow", "ns/Mutex/m"]
    assert lock_keys({"mutexes": [{"name": "db", "database": True}]}, "ns") == ["ns/Database/db"]
    assert lock_keys({}, "ns") == []


@pytest.mark.parametrize(("sync", "message"), [
    ({"mutexes": [{"name": "a"}, {"name": "a"}]},
     "requested configuration is invalid: duplicate synchronization item found"),
    ({"mutex": {"name": "a"}, "mutexes": [{"name": "a"}]},
     "requested configuration is invalid: duplicate synchronization item found"),
    ({"semaphores": [{}]}, "requested configuration is invalid: cannot get LockName for a "
                           "Semaphore without a ConfigMapRef or Database"),
    ({"semaphores": [{"configMapKeyRef": {"name": "c", "key": "k"}, "database": {"key": "k"}}]},
     "requested configuration is invalid: invalid semaphore with both ConfigMapKeyRef and "
     "Database"),
    ({"mutexes": [{"name": ""}]},
     "requested configuration is invalid: Invalid lock key: ResourceName is missing"),
    ({"semaphores": [{"configMapKeyRef": {"name": "c"}}]},
     "requested configuration is invalid: Invalid lock key: Key is missing for ConfigMap lock"),
])
def test_invalid_synchronization_is_rejected_with_argo_text(sync: dict[str, Any],
                                                            message: str) -> None:
    with pytest.raises(SyncError) as err:
        lock_keys(sync, "default")
    assert str(err.value) == message


def test_holder_keys() -> None:
    assert holder_key("default", "wf") == "default/wf"
    assert holder_key("default", "wf", "wf-123") == "default/wf/wf-123"


# ---- mutexes ----------------------------------------------------------------------------------


def test_mutex_queue_orders_by_priority_then_creation(manager: SyncManager) -> None:
    async def body(c: Contenders) -> None:
        c.start("default/first", MUTEX, created="2024-01-01T00:00:05Z")
        assert await c.next() == "default/first"
        # Arrival order differs from the expected admission order on purpose.
        c.start("default/low-new", MUTEX, created="2024-01-01T00:00:04Z")
        c.start("default/high", MUTEX, priority=5, created="2024-01-01T00:00:09Z")
        c.start("default/low-old", MUTEX, created="2024-01-01T00:00:01Z")
        c.start("default/mid", MUTEX, priority=1, created="2024-01-01T00:00:08Z")
        await c.settle()
        assert manager.holders("default/Mutex/welcome") == ["default/first"]
        assert manager.waiting("default/Mutex/welcome") == [
            "default/high", "default/mid", "default/low-old", "default/low-new"]
        order = []
        holder = "default/first"
        for _ in range(4):
            await c.release(holder)
            holder = await c.next()
            order.append(holder)
            assert manager.holders("default/Mutex/welcome") == [holder]
        assert order == ["default/high", "default/mid", "default/low-old", "default/low-new"]
        await c.release(holder)
        assert manager.holders("default/Mutex/welcome") == []

    contend(manager, body)


def test_wait_message_is_argos_and_given_once(manager: SyncManager) -> None:
    async def body(c: Contenders) -> None:
        c.start("default/a", MUTEX)
        await c.next()
        c.start("default/b", MUTEX)
        c.start("default/c", MUTEX)
        await c.settle()
        await c.release("default/a")
        assert await c.next() == "default/b"
        await c.settle()
        assert c.messages == {
            "default/a": [],
            "default/b": ["Waiting for default/Mutex/welcome lock. Lock status: 0/1"],
            "default/c": ["Waiting for default/Mutex/welcome lock. Lock status: 0/1"]}
        assert manager.waiting_for("default/c") == "default/Mutex/welcome"
        assert manager.waiting_for("default/b") is None
        await c.release("default/b")
        await c.next()
        await c.release("default/c")

    contend(manager, body)


def test_nodes_of_one_workflow_take_a_template_mutex_in_arrival_order(
        manager: SyncManager) -> None:
    nodes = [holder_key("default", "wf", f"wf-{n}") for n in (9, 3, 7, 1)]

    async def body(c: Contenders) -> None:
        for node in nodes:
            c.start(node, MUTEX, created="2024-01-01T00:00:00Z")
        order = []
        for _ in nodes:
            holder = await c.next()
            order.append(holder)
            await c.release(holder)
        assert order == nodes

    contend(manager, body)


def test_mutexes_are_per_namespace(manager: SyncManager) -> None:
    async def main() -> None:
        a = await manager.acquire("ns1/wf", MUTEX, namespace="ns1")
        b = await manager.acquire("ns2/wf", MUTEX, namespace="ns2")
        assert manager.holders("ns1/Mutex/welcome") == ["ns1/wf"]
        assert manager.holders("ns2/Mutex/welcome") == ["ns2/wf"]
        await a.release()
        await b.release()

    run(main())


def test_lease_release_is_idempotent_and_works_as_context_manager(manager: SyncManager) -> None:
    async def main() -> None:
        async with await manager.acquire("default/a", MUTEX, namespace="default") as lease:
            assert manager.holders("default/Mutex/welcome") == ["default/a"]
            assert lease.locks == ["default/Mutex/welcome"]
        assert manager.holders("default/Mutex/welcome") == []
        await lease.release()
        b = await manager.acquire("default/b", MUTEX, namespace="default")
        await lease.release()  # a stale lease must not free the new holder's lock
        assert manager.holders("default/Mutex/welcome") == ["default/b"]
        await b.release()

    run(main())


# ---- semaphores -------------------------------------------------------------------------------


def test_semaphore_limit_comes_from_the_file(manager: SyncManager) -> None:
    async def body(c: Contenders) -> None:
        for name in ("a", "b", "c"):
            c.start(f"default/{name}", TEMPLATE_SEM, created=f"2024-01-01T00:00:0{len(name)}Z")
            await c.settle()
        assert {await c.next(), await c.next()} == {"default/a", "default/b"}
        assert manager.holders(SEM_KEY) == ["default/a", "default/b"]
        assert manager.waiting(SEM_KEY) == ["default/c"]
        assert c.messages["default/c"] == [
            f"Waiting for {SEM_KEY} lock. Lock status: 0/2"]
        await c.release("default/a")
        assert await c.next() == "default/c"
        assert manager.holders(SEM_KEY) == ["default/b", "default/c"]
        await c.release("default/b")
        await c.release("default/c")

    contend(manager, body)


def test_raised_limit_is_picked_up_by_waiters(manager: SyncManager, limits: Path) -> None:
    async def body(c: Contenders) -> None:
        for name in ("a", "b", "c", "d"):
            c.start(f"default/{name}", TEMPLATE_SEM)
            await c.settle()
        await c.next()
        await c.next()
        assert manager.waiting(SEM_KEY) == ["default/c", "default/d"]
        limits.write_text("my-config:\n  template: 3\n")
        manager.notify()
        assert await c.next() == "default/c"
        assert manager.waiting(SEM_KEY) == ["default/d"]
        assert manager.limit(SEM_KEY) == 3
        for holder in ("default/a", "default/b", "default/c"):
            await c.release(holder)
        await c.next()
        await c.release("default/d")

    contend(manager, body)


def test_raised_limit_is_found_by_polling_without_a_release(limits: Path) -> None:
    manager = SyncManager(limits, poll_interval=0.01)

    async def body(c: Contenders) -> None:
        for name in ("a", "b", "c"):
            c.start(f"default/{name}", TEMPLATE_SEM)
            await c.settle()
        await c.next()
        await c.next()
        limits.write_text("my-config:\n  template: 4\n")
        assert await c.next() == "default/c"
        for holder in ("default/a", "default/b", "default/c"):
            await c.release(holder)

    contend(manager, body)


def test_lowered_limit_holds_waiters_until_holders_drain(manager: SyncManager,
                                                         limits: Path) -> None:
    async def body(c: Contenders) -> None:
        limits.write_text("my-config:\n  template: 3\n")
        for name in ("a", "b", "c", "d"):
            c.start(f"default/{name}", TEMPLATE_SEM)
            await c.settle()
        for _ in range(3):
            await c.next()
        limits.write_text("my-config:\n  template: 1\n")
        await c.release("default/a")
        await c.release("default/b")
        await c.settle()
        assert manager.holders(SEM_KEY) == ["default/c"]
        assert manager.waiting(SEM_KEY) == ["default/d"]
        await c.release("default/c")
        assert await c.next() == "default/d"
        await c.release("default/d")

    contend(manager, body)


@pytest.mark.parametrize(("content", "reason"), [
    ("my-config:\n  template: 2\n", "Sync configuration key 'nope' not found in ConfigMap"),
    ("other:\n  nope: 2\n", 'configmaps "my-config" not found'),
    (None, 'configmaps "my-config" not found'),
    ("my-config:\n  nope: lots\n", 'strconv.Atoi: parsing "lots": invalid syntax'),
    ("my-config:\n  nope: \"0\"\n", ""),
])
def test_unusable_semaphore_limit_fails_with_argo_text(limits: Path, content: str | None,
                                                       reason: str) -> None:
    if content is None:
        limits.unlink()
    else:
        limits.write_text(content)
    manager = SyncManager(limits)
    sync = {"semaphores": [{"configMapKeyRef": {"name": "my-config", "key": "nope"}}]}

    async def main() -> None:
        with pytest.raises(SyncError) as err:
            await manager.acquire("default/a", sync, namespace="default")
        assert str(err.value) == ("failed to initialize semaphore "
                                  "default/ConfigMap/my-config/nope with limit")
        assert err.value.reason == reason
        assert manager.waiting("default/ConfigMap/my-config/nope") == []

    run(main())


def test_namespaced_configmap_entry_wins(limits: Path) -> None:
    limits.write_text("my-config:\n  template: 1\nteam-a/my-config:\n  template: 2\n")
    manager = SyncManager(limits)

    async def main() -> None:
        leases = [await manager.acquire(f"team-a/wf{i}", TEMPLATE_SEM, namespace="team-a")
                  for i in range(2)]
        assert manager.limit("team-a/ConfigMap/my-config/template") == 2
        other = await manager.acquire("default/wf", TEMPLATE_SEM, namespace="default")
        assert manager.limit(SEM_KEY) == 1
        for lease in [*leases, other]:
            await lease.release()

    run(main())


def test_legacy_fields_lock_like_the_lists(manager: SyncManager) -> None:
    legacy = {"semaphore": {"configMapKeyRef": {"name": "my-config", "key": "workflow"}},
              "mutex": {"name": "welcome"}}

    async def body(c: Contenders) -> None:
        c.start("default/legacy", legacy)
        await c.next()
        assert manager.holders("default/Mutex/welcome") == ["default/legacy"]
        assert manager.holders("default/ConfigMap/my-config/workflow") == ["default/legacy"]
        c.start("default/modern", MUTEX)
        await c.settle()
        assert c.messages["default/modern"] == [
            "Waiting for default/Mutex/welcome lock. Lock status: 0/1"]
        await c.release("default/legacy")
        assert await c.next() == "default/modern"
        await c.release("default/modern")

    contend(manager, body)


def test_database_locks_are_refused(manager: SyncManager) -> None:
    async def main() -> None:
        for kind, sync in (("mutex", {"mutexes": [{"name": "bar", "database": True}]}),
                           ("semaphore", {"semaphores": [{"database": {"key": "bar"}}]})):
            with pytest.raises(SyncError) as err:
                await manager.acquire("default/a", sync, namespace="default")
            assert str(err.value) == (f"database session is not available for {kind} "
                                      "default/Database/bar")

    run(main())


# ---- cancellation and several locks -----------------------------------------------------------


def test_cancelled_waiter_leaves_the_queue(manager: SyncManager) -> None:
    async def body(c: Contenders) -> None:
        c.start("default/a", MUTEX)
        await c.next()
        c.start("default/b", MUTEX, priority=9)
        c.start("default/c", MUTEX)
        await c.settle()
        assert manager.waiting("default/Mutex/welcome") == ["default/b", "default/c"]
        c.tasks["default/b"].cancel()
        await c.settle()
        assert c.tasks["default/b"].cancelled()
        assert manager.waiting("default/Mutex/welcome") == ["default/c"]
        await c.release("default/a")
        assert await c.next() == "default/c"
        assert manager.holders("default/Mutex/welcome") == ["default/c"]
        await c.release("default/c")

    contend(manager, body)


def test_cancelled_front_waiter_unblocks_the_lock_it_was_first_for(manager: SyncManager) -> None:
    both = {"mutexes": [{"name": "alpha"}, {"name": "beta"}]}
    alpha = {"mutexes": [{"name": "alpha"}]}
    beta = {"mutexes": [{"name": "beta"}]}

    async def body(c: Contenders) -> None:
        c.start("default/x", beta)
        await c.next()
        c.start("default/w", both, created="2024-01-01T00:00:00Z")
        await c.settle()
        # All or nothing: w holds neither while it waits for beta ...
        assert manager.holders("default/Mutex/alpha") == []
        assert manager.waiting_for("default/w") == "default/Mutex/beta"
        # ... but, first in alpha's queue, it keeps a newer request for alpha waiting (Argo).
        c.start("default/y", alpha, created="2024-01-01T00:00:01Z")
        await c.settle()
        assert c.messages["default/y"] == [
            "Waiting for default/Mutex/alpha lock. Lock status: 1/1"]
        c.tasks["default/w"].cancel()
        assert await c.next() == "default/y"
        await c.release("default/y")
        await c.release("default/x")

    contend(manager, body)


def test_many_tasks_taking_two_locks_in_opposite_orders_never_deadlock(
        manager: SyncManager) -> None:
    forward = {"mutexes": [{"name": "alpha"}, {"name": "beta"}],
               "semaphores": [{"configMapKeyRef": {"name": "my-config", "key": "template"}}]}
    backward = {"mutexes": [{"name": "beta"}, {"name": "alpha"}]}
    seen: list[str] = []
    overlaps: list[str] = []

    async def worker(n: int) -> None:
        sync = forward if n % 2 else backward
        for i in range(20):
            holder = f"default/w{n}/w{n}-{i}"
            lease = await manager.acquire(holder, sync, namespace="default",
                                          priority=n % 3, created=f"2024-01-01T00:00:{n:02d}Z")
            for key in ("default/Mutex/alpha", "default/Mutex/beta"):
                if manager.holders(key) != [holder]:
                    overlaps.append(f"{key}: {manager.holders(key)}")
            seen.append(holder)
            await asyncio.sleep(0)
            await lease.release()

    async def main() -> None:
        await asyncio.gather(*(worker(n) for n in range(12)))
        await manager.close()

    run(main())
    assert overlaps == []
    assert len(seen) == 240
    assert manager.holders("default/Mutex/alpha") == []
    assert manager.waiting("default/Mutex/beta") == []


# ---- status, restart --------------------------------------------------------------------------


def test_status_has_argos_shape(manager: SyncManager) -> None:
    async def body(c: Contenders) -> None:
        c.start("default/wf-a", MUTEX)
        c.start("default/wf-a/wf-a-1", TEMPLATE_SEM)
        c.start("default/wf-b/wf-b-1", TEMPLATE_SEM)
        for _ in range(3):
            await c.next()
        c.start("default/wf-c", {**MUTEX, **TEMPLATE_SEM})
        await c.settle()
        assert manager.status("default", "wf-a") == {
            "semaphore": {"holding": [{"semaphore": SEM_KEY,
                                       "holders": ["default/wf-a/wf-a-1"]}]},
            "mutex": {"holding": [{"mutex": "default/Mutex/welcome",
                                   "holder": "default/wf-a"}]}}
        assert manager.status("default", "wf-c") == {
            "semaphore": {"waiting": [{"semaphore": SEM_KEY, "holders": [
                "default/wf-a/wf-a-1", "default/wf-b/wf-b-1"]}]},
            "mutex": {"waiting": [{"mutex": "default/Mutex/welcome",
                                   "holder": "default/wf-a"}]}}
        for holder in ("default/wf-a", "default/wf-a/wf-a-1", "default/wf-b/wf-b-1"):
            await c.release(holder)
        assert await c.next() == "default/wf-c"
        assert manager.status("default", "wf-a") == {}
        await c.release("default/wf-c")

    contend(manager, body)


def test_restored_holders_keep_their_locks_after_a_restart(limits: Path) -> None:
    recorded = {
        "semaphore": {"holding": [{"semaphore": SEM_KEY,
                                   "holders": ["default/old/old-1", "default/old/old-2"]}]},
        "mutex": {"holding": [{"mutex": "default/Mutex/welcome", "holder": "default/old"}]}}
    manager = SyncManager(limits)  # a fresh engine: nothing in memory
    manager.restore(recorded)

    async def body(c: Contenders) -> None:
        c.start("default/new/new-1", TEMPLATE_SEM)
        c.start("default/new", MUTEX)
        await c.settle()
        assert c.messages["default/new/new-1"] == [
            f"Waiting for {SEM_KEY} lock. Lock status: 0/2"]
        assert manager.status("default", "old") == recorded
        # Replay re-acquires what the old run held: granted at once, nobody else admitted.
        c.start("default/old/old-1", TEMPLATE_SEM)
        c.start("default/old", MUTEX)
        assert {await c.next(), await c.next()} == {"default/old/old-1", "default/old"}
        assert c.messages["default/old/old-1"] == []
        await c.release("default/old/old-1")
        assert await c.next() == "default/new/new-1"
        await c.release("default/old")
        assert await c.next() == "default/new"
        manager.release("default/old/old-2")
        await c.release("default/new")
        await c.release("default/new/new-1")
        assert manager.holders(SEM_KEY) == []

    contend(manager, body)


def test_reacquire_registers_a_holder_beyond_the_limit(manager: SyncManager) -> None:
    async def main() -> None:
        first = await manager.acquire("default/a", MUTEX, namespace="default")
        again = manager.reacquire("default/b", MUTEX, namespace="default")
        assert manager.holders("default/Mutex/welcome") == ["default/a", "default/b"]
        await first.release()
        await again.release()
        assert manager.holders("default/Mutex/welcome") == []

    run(main())


def test_release_workflow_frees_holds_and_fails_its_waiters(manager: SyncManager) -> None:
    async def main() -> None:
        other = await manager.acquire("default/other", TEMPLATE_SEM, namespace="default")
        await manager.acquire("default/wf/wf-1", TEMPLATE_SEM, namespace="default")
        waiter = asyncio.create_task(
            manager.acquire("default/wf/wf-2", TEMPLATE_SEM, namespace="default"))
        await asyncio.sleep(0)
        assert manager.waiting(SEM_KEY) == ["default/wf/wf-2"]
        manager.release_workflow("default", "wf")
        with pytest.raises(SyncError, match="default/wf/wf-2: lock request withdrawn"):
            await waiter
        assert manager.holders(SEM_KEY) == ["default/other"]
        assert manager.waiting(SEM_KEY) == []
        await other.release()

    run(main())


def test_an_applied_configmap_sets_the_limit_before_the_file(limits: Path, tmp_path: Path
                                                              ) -> None:
    store = Store(tmp_path / "home")
    try:
        ObjectService(store).put({"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": "my-config", "namespace": "team-a"},
                                  "data": {"template": "3"}})
        manager = SyncManager(limits, configmaps=partial(store.get_object, "ConfigMap"))

        async def main() -> None:
            leases = [await manager.acquire(f"team-a/wf{i}", TEMPLATE_SEM, namespace="team-a")
                      for i in range(3)]
            assert manager.limit("team-a/ConfigMap/my-config/template") == 3
            other = await manager.acquire("default/wf", TEMPLATE_SEM, namespace="default")
            assert manager.limit(SEM_KEY) == 2  # no ConfigMap in default: the file's
            for lease in [*leases, other]:
                await lease.release()

        run(main())
    finally:
        store.close()


def test_an_unreadable_configmap_fails_saying_why_then_keeps_the_last_limit(limits: Path
                                                                            ) -> None:
    """The cluster's ConfigMaps (argosy controller) may be out of reach for a while."""
    unreachable = ArgosyError('reading ConfigMap "my-config" of namespace "default" from the '
                              "cluster: connection refused")
    answer: list[Any] = [unreachable]

    def configmaps(namespace: str, name: str) -> dict[str, Any] | None:
        if isinstance(answer[0], Exception):
            raise answer[0]
        return answer[0]

    manager = SyncManager(limits, configmaps=configmaps)

    async def main() -> None:
        with pytest.raises(SyncError) as err:
            await manager.acquire("default/a", TEMPLATE_SEM, namespace="default")
        assert err.value.reason == str(unreachable)
        answer[0] = {"data": {"template": "1"}}
        first = await manager.acquire("default/b", TEMPLATE_SEM, namespace="default")
        answer[0] = unreachable
        await first.release()
        second = await manager.acquire("default/c", TEMPLATE_SEM, namespace="default")
        assert manager.limit(SEM_KEY) == 1  # the last one read
        await second.release()

    run(main())
