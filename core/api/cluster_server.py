"""``argosy server --store kubernetes``: argo-server's REST API over a cluster's objects.

The routes are the local server's (:mod:`argosy.api.server`); what they read from the local
store comes here from the Kubernetes API instead: the list (filtered and paged as locally), the
pods' logs (from the kubelet), and the event stream, fed by one watch of the Workflow objects
(:class:`argosy.cluster.WorkflowInformer`) whatever the number of watchers. Workflows run in
``argosy controller``; what only a local store has (artifacts kept by argosy, ``set``,
``resubmit``) answers 501 naming why.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from argosy.api.cluster import FINISHED, ClusterService, ClusterUnavailable, log_pods, with_nodes
from argosy.api.server import (
    Cleaner,
    Event,
    EventHub,
    PodLog,
    Snapshot,
    WorkflowFilter,
    _after_token,
    _chunks,
    _continue_token,
    _dumped,
    _since,
    json_bytes,
)

# How long a watch waits for the first listing of the cluster's workflows.
SYNC_SECONDS = 30.0


def _key(wf: dict[str, Any]) -> tuple[str, str, str]:
    meta = wf["metadata"]
    return meta["creationTimestamp"], meta.get("namespace", ""), meta["name"]


def list_page(service: ClusterService, namespace: str | None, keep: WorkflowFilter,
              limit: int | None, cont: str | None, prefix: str | None,
              cleaner: Cleaner | None) -> bytes:
    """One page of the list as the local server's: newest first, then by namespace and name;
    the continue token names the last workflow sent."""
    after = _after_token(cont) if cont else None
    found = [wf for wf in service.list(namespace, prefix=prefix) if keep(wf)]
    found.sort(key=lambda wf: _key(wf)[1:])
    found.sort(key=lambda wf: _key(wf)[0], reverse=True)
    if after is not None:
        found = [wf for wf in found if _key(wf)[0] < after[0]
                 or (_key(wf)[0] == after[0] and _key(wf)[1:] > after[1:])]
    token = None
    if limit and len(found) > limit:
        found = found[:limit]
        token = _continue_token(_key(found[-1]))
    result = {"metadata": {"continue": token} if token else {}, "items": found}
    return json_bytes(_dumped(result, cleaner))


def read_logs(service: ClusterService, namespace: str, name: str, pod: str | None,
              since_seconds: int | None, container: str = "main") -> tuple[str, list[PodLog]]:
    """The workflow's phase and each selected pod's log so far, in start order, as the
    kubelet serves them (a pod not started or gone is left out)."""
    wf = service.get(namespace, name)
    out = []
    for podname, node in log_pods(wf, pod):
        if not _since(node, since_seconds):
            continue
        text = service._pod_log(namespace, podname, container, None, False)
        if text is None:
            continue
        *lines, partial = text.split("\n")
        finished = node.get("phase") in FINISHED
        out.append(PodLog(podname, lines, finished, partial,
                          node.get("finishedAt") if finished else None))
    return (wf.get("status") or {}).get("phase") or "Pending", out


class ClusterEventHub(EventHub):
    """The event hub over a Kubernetes watch: the informer's changes become the stream's
    ADDED, MODIFIED and DELETED events, and its cache the listing a watch starts with."""

    def __init__(self, service: ClusterService, interval: float) -> None:
        from argosy.cluster import WorkflowInformer

        super().__init__(None, interval)
        self.informer = WorkflowInformer(service.custom.api_client, None)

    async def run(self) -> None:
        self.informer.start()
        self._wake = asyncio.Event()
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval)
                self._wake.clear()
                events = self._drain()
                if events:
                    self.generation += 1
                    self._snapshots.clear()
                    self._publish(events)
        finally:
            self.informer.stop()

    def _drain(self) -> list[Event]:
        """The informer's changes since the last turn, as events; counts kept for /metrics."""
        import queue

        events = []
        while True:
            try:
                kind, obj = self.informer.events.get_nowait()
            except queue.Empty:
                return events
            meta = obj["metadata"]
            uid, version = meta["uid"], meta.get("resourceVersion")
            # The informer's cache holds the object: the stream's copy gets the node map.
            obj = dict(obj, status=dict(obj.get("status") or {}))
            if kind == "DELETED":
                self.seen.pop(uid, None)
                with self._lock:
                    self.known.pop(uid, None)
                events.append(Event("DELETED", with_nodes(obj, nodes=False)))
                continue
            if self.seen.get(uid) == version:  # a relist of what was sent
                continue
            events.append(Event("MODIFIED" if uid in self.seen else "ADDED", with_nodes(obj)))
            self.seen[uid] = version
            phase = (obj.get("status") or {}).get("phase") or "Pending"
            with self._lock:
                before = self.known.get(uid)
                if before is None or before[2] != phase:
                    self.entered[(meta.get("namespace", ""), phase)] += 1
                self.known[uid] = (meta.get("namespace", ""), meta["name"], phase)

    async def snapshot(self, namespace: str | None, take: Any = None) -> Snapshot:
        """The namespace's workflows from the watch's cache (``take``, the local store's
        listing, is not needed): what the events that follow change."""
        if not await asyncio.to_thread(self.informer.synced.wait, SYNC_SECONDS):
            raise ClusterUnavailable("the cluster's workflows could not be listed: "
                                     "the watch has not synced")
        return await super().snapshot(namespace, self._take(namespace))

    def _take(self, namespace: str | None) -> Any:
        async def take(generation: int) -> Snapshot:
            def build() -> Snapshot:
                objects = [with_nodes(dict(wf, status=dict(wf.get("status") or {})))
                           for wf in list(self.informer.objects.values())
                           if namespace is None or wf["metadata"].get("namespace") == namespace]
                objects.sort(key=lambda wf: _key(wf)[1:])
                objects.sort(key=lambda wf: _key(wf)[0], reverse=True)
                frames = [f"data: {Event('ADDED', wf).data()}\n\n" for wf in objects]
                return Snapshot(generation, objects, _chunks(frames))

            return await asyncio.to_thread(build)

        return take
