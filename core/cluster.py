"""Cluster mode: ``argosy controller``, Argo's workflow controller over Workflow objects.

The controller watches ``argoproj.io/v1alpha1`` Workflow objects (or those of the group
``--api-group`` names); a new one is linted and run by the engine with the kubernetes executor,
and its status is written back to the object's status subresource in Argo's shape, as it
changes.

Where the state lives: the engine keeps its node records in the controller's own SQLite store,
as a cache of the Workflow objects, which are the truth. A controller that becomes the leader
drops that cache for every unfinished workflow and rebuilds it from the object's status, then
re-adopts the pods the workflow owns by their tokens, so no step runs twice whichever replica
ran it before. The API is not the engine's Store: the engine writes every node transition as it
happens, and logs and artifacts have no place in a Workflow object; writing each through the API
would be the flood the status writer's batching avoids.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import copy
import functools
import gzip
import json
import logging
import queue
import threading
import time
from datetime import UTC, datetime
from typing import Any

from argosy import kube
from argosy.api.cluster import (
    PLURAL,
    RESUME_ANNOTATION,
    RETRY_ANNOTATION,
    VERSION,
    ClusterObjects,
    ClusterService,
)
from argosy.cron import Clock, CronScheduler, utc_now
from argosy.engine.nodes import free_id
from argosy.engine.selection import EXECUTOR_ANNOTATION
from argosy.errors import ArgosyError, NotFound
from argosy.spec.models import API_VERSION
from argosy.store import Store, now_rfc3339

log = logging.getLogger(__name__)

FINISHED = ("Succeeded", "Failed", "Error")
# Above this many bytes of JSON, status.nodes is written as Argo's compressedNodes (gzip, then
# base64), as Argo's controller does for large workflows: the object stays far below the API
# server's 1.5 MiB request limit, and `kubectl get -o yaml` small.
COMPRESS_NODES_OVER = 256 * 1024
# The CronWorkflows are looked at this often (a schedule time seen up to ten seconds late still
# runs on time: argosy.cron.ON_TIME_SECONDS).
CRON_SECONDS = 1.0
# A watch is renewed this often (the real server ends it sooner or later anyway).
WATCH_SECONDS = 300
# A ConfigMap or Secret read from the cluster is used this long before it is read again: a
# fan-out's nodes share one read, and a changed semaphore limit still counts within a second.
OBJECT_SECONDS = 1.0
OBJECTS_KEPT = 512
# The answers (None: no answer at all) after which a read is tried again rather than failed.
TRANSIENT = (None, 429, 500, 502, 503, 504)


class LeadershipLost(ArgosyError):
    """The controller could not renew its Lease in time: another replica may drive now."""


def _status_code(exc: BaseException) -> int | None:
    return getattr(exc, "status", None)


def _json(response: Any) -> dict[str, Any]:
    return json.loads(response.data)


def micro_time() -> str:
    """A Kubernetes MicroTime: RFC 3339 with microseconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---- leader election -------------------------------------------------------------------------


class LeaderElector:
    """Leader election with a coordination.k8s.io Lease, as client-go's leaderelection does.

    A lease held by another is taken over once its record has not changed for
    ``lease_seconds`` as observed here (no clock comparison across machines); the leader renews
    it every ``retry_seconds`` and gives up leading (``lost``) when it could not renew for
    ``renew_deadline`` seconds, which is shorter than the lease, so two never lead at once.
    """

    def __init__(self, api: Any, namespace: str, name: str, identity: str, *,
                 lease_seconds: float = 15.0, renew_deadline: float = 10.0,
                 retry_seconds: float = 2.0) -> None:
        from kubernetes import client

        self.leases = client.CoordinationV1Api(api)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.lease_seconds, self.renew_deadline = lease_seconds, renew_deadline
        self.retry_seconds = retry_seconds
        self.leading = threading.Event()
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._observed: tuple[Any, float] | None = None
        self._renewed = 0.0
        self._thread = threading.Thread(target=self._run, name="lease", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, release: bool = True) -> None:
        """Stop renewing; ``release`` empties the holder, so the next replica leads at once."""
        self._stop.set()
        self._thread.join(timeout=self.retry_seconds + 10)
        if release and self.leading.is_set():
            with contextlib.suppress(Exception):
                lease = _json(self.leases.read_namespaced_lease(
                    self.name, self.namespace, _preload_content=False))
                if lease["spec"].get("holderIdentity") == self.identity:
                    lease["spec"].update(holderIdentity="", leaseDurationSeconds=1,
                                         renewTime=micro_time())
                    self.leases.replace_namespaced_lease(self.name, self.namespace, lease)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                held = self._try()
            except Exception as exc:  # the API server unreachable: as a failed renewal
                log.warning("lease %s/%s: %s", self.namespace, self.name, exc)
                held = False
            now = time.monotonic()
            if held:
                self._renewed = now
                if not self.leading.is_set():
                    log.info("leading as %s (lease %s/%s)", self.identity, self.namespace,
                             self.name)
                self.leading.set()
            elif self.leading.is_set() and now - self._renewed > self.renew_deadline:
                self.leading.clear()
                self.lost.set()
                return
            self._stop.wait(self.retry_seconds)

    def _try(self) -> bool:
        """Acquire or renew the lease: True when this replica holds it now."""
        try:
            lease = _json(self.leases.read_namespaced_lease(self.name, self.namespace,
                                                            _preload_content=False))
        except Exception as exc:
            if _status_code(exc) != 404:
                raise
            return self._create()
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        now = time.monotonic()
        record = (holder, spec.get("renewTime"), lease["metadata"].get("resourceVersion"))
        if self._observed is None or self._observed[0] != record:
            self._observed = (record, now)
        duration = float(spec.get("leaseDurationSeconds") or self.lease_seconds)
        if holder not in ("", self.identity) and self._observed[1] + duration > now:
            return False
        stamp = micro_time()
        spec = {**spec, "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.lease_seconds) or 1, "renewTime": stamp}
        if holder != self.identity:
            spec["acquireTime"] = stamp
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if holder
                                                                                 else 0)
        lease["spec"] = spec
        try:
            self.leases.replace_namespaced_lease(self.name, self.namespace, lease,
                                                 _preload_content=False)
        except Exception as exc:
            if _status_code(exc) == 409:  # another replica wrote it first
                return False
            raise
        return True

    def _create(self) -> bool:
        stamp = micro_time()
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {"holderIdentity": self.identity, "acquireTime": stamp,
                         "renewTime": stamp, "leaseTransitions": 0,
                         "leaseDurationSeconds": int(self.lease_seconds) or 1}}
        try:
            self.leases.create_namespaced_lease(self.namespace, body, _preload_content=False)
        except Exception as exc:
            if _status_code(exc) == 409:
                return False
            raise
        return True


# ---- the Workflow objects, watched ----------------------------------------------------------


class WorkflowInformer:
    """Lists the Workflow objects, then watches from the list's resourceVersion (bookmarks
    included; a 410 Gone or a failure lists again): each change goes to ``events``, and
    ``objects`` keeps the newest of each, by uid (a list deletes the ones no longer there)."""

    def __init__(self, api: Any, namespace: str | None) -> None:
        from kubernetes import client

        self.custom = client.CustomObjectsApi(api)
        self.namespace = namespace
        self.events: queue.SimpleQueue[tuple[str, dict[str, Any]]] = queue.SimpleQueue()
        self.objects: dict[str, dict[str, Any]] = {}
        self.synced = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="workflows", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _list_call(self, **kwargs: Any) -> Any:
        if self.namespace:
            return self.custom.list_namespaced_custom_object(kube.api_group(), VERSION,
                                                             self.namespace, PLURAL, **kwargs)
        return self.custom.list_cluster_custom_object(kube.api_group(), VERSION, PLURAL,
                                                      **kwargs)

    def _run(self) -> None:
        pause = 0.5
        while not self._stop.is_set():
            try:
                self._watch(self._list())
                pause = 0.5
            except Exception as exc:
                if _status_code(exc) != 410:
                    log.warning("watching workflows: %s", exc)
                    self._stop.wait(pause)
                    pause = min(pause * 2, 30.0)

    def _list(self) -> str:
        listed = _json(self._list_call(_preload_content=False))
        seen = {o["metadata"]["uid"]: o for o in listed.get("items") or []}
        for uid, gone in self.objects.items():
            if uid not in seen:
                self.events.put(("DELETED", gone))
        self.objects = seen
        for obj in seen.values():
            self.events.put(("SYNC", obj))
        self.synced.set()
        return str(listed["metadata"]["resourceVersion"])

    def _watch(self, version: str) -> None:
        """Follow changes from ``version`` until the watch ends with an error (410: list)."""
        from kubernetes.client.exceptions import ApiException

        while not self._stop.is_set():
            response = self._list_call(watch=True, resource_version=version,
                                       allow_watch_bookmarks=True,
                                       timeout_seconds=WATCH_SECONDS, _preload_content=False)
            try:
                for line in response:
                    if self._stop.is_set():
                        return
                    event = json.loads(line)
                    obj, kind = event.get("object") or {}, event.get("type")
                    if kind == "ERROR":
                        raise ApiException(status=obj.get("code"), reason=obj.get("message"))
                    version = obj["metadata"]["resourceVersion"]
                    if kind == "BOOKMARK":
                        continue
                    if kind == "DELETED":
                        self.objects.pop(obj["metadata"]["uid"], None)
                    else:
                        self.objects[obj["metadata"]["uid"]] = obj
                    self.events.put((kind, obj))
            finally:
                response.release_conn()


# ---- the ConfigMaps and Secrets workflows read -----------------------------------------------


class NamespaceObjects:
    """The cluster's ConfigMaps and Secrets, as the controller's store gives them to the engine
    (``Store.object_sources``): what a workflow reads (``valueFrom.configMapKeyRef``, semaphores'
    limits, the namespace's artifact repositories and their credentials) comes from its
    namespace in the cluster, as with Argo's controller, never from the controller's own home.
    Each read is kept OBJECT_SECONDS; the expired ones go once OBJECTS_KEPT are kept."""

    def __init__(self, api: Any) -> None:
        from kubernetes import client

        core = client.CoreV1Api(api)
        self.reads = {"ConfigMap": core.read_namespaced_config_map,
                      "Secret": core.read_namespaced_secret}
        self._kept: dict[tuple[str, str, str], tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def serve(self, store: Store) -> None:
        for kind in self.reads:
            store.object_sources[kind] = functools.partial(self.get, kind)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        key, now = (kind, namespace, name), time.monotonic()
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and now - kept[0] < OBJECT_SECONDS:
            return copy.deepcopy(kept[1])
        try:
            body: dict[str, Any] | None = _json(self.reads[kind](
                name, namespace, _preload_content=False, _request_timeout=10))
        except Exception as exc:
            code = _status_code(exc)
            if code != 404:
                # Unreachable, overloaded or failing: worth asking again later (Argo requeues
                # on such errors); any other answer (403: the RBAC) is the workflow's fault.
                fault = kube.KubernetesUnavailable if code in TRANSIENT else ArgosyError
                raise fault(f'reading {kind} "{name}" of namespace "{namespace}" from the '
                            f"cluster: {getattr(exc, 'reason', None) or exc}") from None
            body = None
        with self._lock:
            if len(self._kept) >= OBJECTS_KEPT:
                self._kept = {k: v for k, v in self._kept.items() if now - v[0] < OBJECT_SECONDS}
            self._kept[key] = (now, body)
        return copy.deepcopy(body)


# ---- status in Argo's shape ------------------------------------------------------------------


def compress_nodes(nodes: dict[str, Any]) -> str:
    """Argo's compressedNodes: the node map's JSON, gzipped, base64-encoded."""
    return base64.b64encode(gzip.compress(json.dumps(nodes, separators=(",", ":")).encode(),
                                          compresslevel=9)).decode()


def object_nodes(status: dict[str, Any]) -> dict[str, Any]:
    """The node map of a Workflow object's status, compressed or not."""
    if status.get("compressedNodes"):
        return json.loads(gzip.decompress(base64.b64decode(status["compressedNodes"])))
    return dict(status.get("nodes") or {})


def object_status(status: dict[str, Any], compress_over: int) -> dict[str, Any]:
    """The status to write: ``nodes`` compressed once their JSON is over ``compress_over``."""
    nodes = status.get("nodes")
    if nodes and len(json.dumps(nodes, separators=(",", ":"))) > compress_over:
        status = {k: v for k, v in status.items() if k != "nodes"}
        status["compressedNodes"] = compress_nodes(nodes)
    return status


class TokenBucket:
    """At most ``rate`` writes a second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


# ---- the controller --------------------------------------------------------------------------


class Controller:
    """Runs the Workflow objects of a namespace (``None``: all) while it leads."""

    def __init__(self, store: Store, *, namespace: str | None = None, identity: str,
                 lease_namespace: str, lease_name: str = "argosy-controller",
                 lease_seconds: float = 15.0, renew_deadline: float = 10.0,
                 retry_seconds: float = 2.0, status_interval: float = 0.5,
                 status_qps: float = 10.0, status_burst: int = 20,
                 compress_over: int = COMPRESS_NODES_OVER, clock: Clock = utc_now) -> None:
        from kubernetes import client

        self.store = store
        self.api = kube.api_client()
        self.requests: collections.Counter[tuple[str, str]] = collections.Counter()
        count_requests(self.api, self.requests)
        NamespaceObjects(self.api).serve(store)
        self.custom = client.CustomObjectsApi(self.api)
        self.core = client.CoreV1Api(self.api)
        self.namespace = namespace
        self.elector = LeaderElector(self.api, lease_namespace, lease_name, identity,
                                     lease_seconds=lease_seconds, renew_deadline=renew_deadline,
                                     retry_seconds=retry_seconds)
        self.informer = WorkflowInformer(self.api, namespace)
        self.interval = status_interval
        self.bucket = TokenBucket(status_qps, status_burst)
        self.compress_over = compress_over
        self.written: dict[str, int] = {}  # the change counter of each status written, by uid
        # What each object asked for last (spec.suspend, spec.shutdown, the resume annotation),
        # by uid: a change of one is an action for the engine.
        self.asked: dict[str, tuple[Any, Any, Any]] = {}
        self.finished: set[str] = set()  # written finished: to leave the cache once released
        # The cluster's CronWorkflows, scheduled as the engine schedules the store's: a run is
        # a Workflow object named after its schedule time, so it is created once whoever leads.
        self.crons = CronScheduler(ClusterObjects(self.api, namespace), clock,
                                   workflows=ClusterService(self.api))
        self._cron_at = 0.0

    async def run(self) -> None:
        """Wait to lead, then drive until cancelled or the lease is lost."""
        from argosy.engine.run import Engine

        self.elector.start()
        while not self.elector.leading.is_set():
            await asyncio.to_thread(self.elector.leading.wait, 1.0)
        self._forget_unfinished()
        self.informer.start()
        engine = Engine(self.store, executor="kubernetes", serving=True)
        serving = asyncio.ensure_future(engine.serve(poll=0.2))
        lost = False
        try:
            while True:
                if self.elector.lost.is_set():
                    lost = True
                    raise LeadershipLost("lost the lease: another controller leads now")
                if serving.done():
                    serving.result()  # the engine failed: say why
                await self._sync()
                await self._schedule()
                await self._write_statuses()
                await asyncio.sleep(self.interval)
        finally:
            serving.cancel()  # its pods keep running, for the next leader to adopt
            await asyncio.gather(serving, return_exceptions=True)
            self.informer.stop()
            if not lost:
                with contextlib.suppress(Exception):
                    await self._write_statuses(limit=False)
            self.elector.stop(release=not lost)

    async def _schedule(self) -> None:
        """The CronWorkflows, once a CRON_SECONDS: due runs created, their status written."""
        if time.monotonic() < self._cron_at:
            return
        self._cron_at = time.monotonic() + CRON_SECONDS
        try:
            await asyncio.to_thread(self.crons.tick)
        except ArgosyError as exc:  # the API unreachable: the next look tries again
            log.warning("scheduling cronworkflows: %s", exc)

    # -- the cache

    def _forget_unfinished(self) -> None:
        """The objects are the truth: what this store holds of unfinished workflows may be
        older than what another leader wrote since, so it is rebuilt from them."""
        for record in self.store.active():
            self.store.delete(record.uid)
        self.finished.update(self.store.changes())  # let go of the finished ones (_let_go)

    async def _sync(self) -> None:
        while True:
            try:
                kind, obj = self.informer.events.get_nowait()
            except queue.Empty:
                return
            try:
                await self._observe(kind, obj)
            except Exception:  # one object's fault must not stop the others; a relist retries
                meta = obj.get("metadata") or {}
                log.exception("workflow %s/%s", meta.get("namespace"), meta.get("name"))

    async def _observe(self, kind: str, obj: dict[str, Any]) -> None:
        uid = obj["metadata"]["uid"]
        if kind == "DELETED":
            # The engine running it sees it gone and terminates it; its pods go with the
            # object (ownerReferences).
            if self.store.exists(uid):
                self.store.delete(uid)
            self.written.pop(uid, None)
            self.asked.pop(uid, None)
        elif RETRY_ANNOTATION in (obj["metadata"].get("annotations") or {}):
            await self._retry(obj)
        elif self.store.exists(uid):
            self._act(obj)
        elif (obj.get("status") or {}).get("phase") not in FINISHED:
            await self._admit(obj)

    async def _retry(self, obj: dict[str, Any]) -> None:
        """``argosy retry`` asked by the annotation: a Failed or Error workflow is retried in
        the store (taken in from its status first if this replica does not hold it), then the
        annotation goes, so a retry is done once."""
        from argosy.api.service import WorkflowService

        meta = obj["metadata"]
        phase = (obj.get("status") or {}).get("phase")
        if phase in ("Failed", "Error"):
            if not self.store.exists(meta["uid"]):
                await self._admit(obj)
            ask = json.loads(meta["annotations"][RETRY_ANNOTATION])
            self.asked[meta["uid"]] = self._asked(obj)
            try:
                WorkflowService(self.store).retry(
                    meta["namespace"], meta["name"],
                    restart_successful=bool(ask.get("restartSuccessful")),
                    node_field_selector=ask.get("nodeFieldSelector"),
                    parameters=ask.get("parameters") or None, start_engine=False)
            except ArgosyError as exc:
                log.warning("retrying workflow %s/%s: %s", meta["namespace"], meta["name"],
                            exc)
        await asyncio.to_thread(
            self.custom.patch_namespaced_custom_object, kube.api_group(), VERSION,
            meta["namespace"], PLURAL, meta["name"],
            {"metadata": {"annotations": {RETRY_ANNOTATION: None}}})

    def _asked(self, obj: dict[str, Any]) -> tuple[Any, Any, Any]:
        spec = obj.get("spec") or {}
        annotations = obj["metadata"].get("annotations") or {}
        return bool(spec.get("suspend")), spec.get("shutdown"), annotations.get(RESUME_ANNOTATION)

    def _act(self, obj: dict[str, Any]) -> None:
        """Changes of spec.suspend, spec.shutdown (Argo's stop and terminate) and the resume
        annotation become the engine's suspend, resume, stop and terminate."""
        uid = obj["metadata"]["uid"]
        suspend, shutdown, resume = now = self._asked(obj)
        before = self.asked.get(uid, now)
        self.asked[uid] = now
        if suspend and not before[0]:
            self.store.add_action(uid, "suspend")
        if (before[0] and not suspend) or (resume and resume != before[2]):
            selector = (resume or "").partition(" ")[2].strip() or None
            self.store.add_action(uid, "resume", {"nodeFieldSelector": selector})
        if shutdown in ("Stop", "Terminate") and shutdown != before[1]:
            self.store.add_action(uid, shutdown.lower())

    def _local_manifest(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        annotations = {**(meta.get("annotations") or {}), EXECUTOR_ANNOTATION: "kubernetes",
                       kube.OBJECT_ANNOTATION: "true"}
        keep = ("name", "namespace", "uid", "creationTimestamp", "labels")
        # The engine runs Argo's Workflow, whichever group the object is of.
        return {"apiVersion": API_VERSION, "kind": obj.get("kind", "Workflow"),
                "metadata": {**{k: meta[k] for k in keep if k in meta},
                             "annotations": annotations},
                "spec": copy.deepcopy(obj.get("spec") or {})}

    async def _admit(self, obj: dict[str, Any]) -> None:
        """A new object is linted and recorded for the engine; one another leader ran is
        recorded with its status and nodes, and its pods' tokens."""
        from argosy.api.service import load_workflow

        meta, status = obj["metadata"], obj.get("status") or {}
        if "templateref" in json.dumps(obj.get("spec") or {}).lower():  # workflowTemplateRef too
            self._mirror(meta["namespace"], await asyncio.to_thread(self._templates,
                                                                    meta["namespace"]))
        try:
            manifest = load_workflow(self._local_manifest(obj), None, self.store)
        except kube.KubernetesUnavailable:
            raise  # not the workflow's fault: admitted at the next look (_sync, a relist)
        except ArgosyError as exc:
            # As Argo's controller: a workflow that does not validate fails at once.
            stamp = now_rfc3339()
            await asyncio.to_thread(self.write_status, obj, {
                "phase": "Failed", "startedAt": stamp, "finishedAt": stamp,
                "message": f"invalid spec: {exc}", "progress": "0/0"})
            return
        # Read before the record exists: the engine may start it at the next await. Even a
        # workflow without a status may have pods: its last leader died before writing it.
        pods = await asyncio.to_thread(self._pods, obj)
        uid = meta["uid"]
        with contextlib.suppress(NotFound):  # one of the same name, deleted while not leading
            if (stale := self.store.find(meta["namespace"], meta["name"]).uid) != uid:
                self.store.delete(stale)
        self.store.create_workflow(manifest, keep_identity=True)
        self.asked[uid] = self._asked(obj)
        nodes = object_nodes(status)
        self._adopt(obj, nodes, pods)
        if not status.get("phase"):
            return
        extra = {k: v for k, v in status.items() if k not in (
            "phase", "startedAt", "finishedAt", "message", "progress", "nodes",
            "compressedNodes")}
        self.store.update_status(uid, phase=status["phase"], started_at=status.get("startedAt"),
                                 message=status.get("message"), progress=status.get("progress"),
                                 status_extra=extra)
        for nid, node in nodes.items():
            body = {k: v for k, v in node.items() if k != "children"}
            edges = [(nid, seq, child) for seq, child in enumerate(node.get("children") or [])]
            self.store.put_node(uid, nid, json.dumps(body), edges)
        self.written[uid] = self.store.changes().get(uid, 0)

    def _templates(self, namespace: str) -> list[tuple[str, str, dict[str, Any]]]:
        """The cluster's WorkflowTemplates of ``namespace`` and its ClusterWorkflowTemplates,
        as (kind, namespace, object)."""
        own = _json(self.custom.list_namespaced_custom_object(
            kube.api_group(), VERSION, namespace, "workflowtemplates", _preload_content=False))
        shared = _json(self.custom.list_cluster_custom_object(
            kube.api_group(), VERSION, "clusterworkflowtemplates", _preload_content=False))
        return [*(("WorkflowTemplate", namespace, o) for o in own.get("items") or []),
                *(("ClusterWorkflowTemplate", "", o) for o in shared.get("items") or [])]

    def _mirror(self, namespace: str, found: list[tuple[str, str, dict[str, Any]]]) -> None:
        """The store's templates become the cluster's, which references resolve against."""
        for kind, scope in (("WorkflowTemplate", namespace), ("ClusterWorkflowTemplate", "")):
            names = {o["metadata"]["name"] for k, _, o in found if k == kind}
            for local in self.store.list_objects(kind, scope):
                if local["metadata"]["name"] not in names:
                    self.store.delete_object(kind, scope, local["metadata"]["name"])
        for kind, scope, obj in found:
            self.store.put_object(kind, scope, obj["metadata"]["name"], obj)

    def _pods(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        """The pods the workflow owns."""
        meta = obj["metadata"]
        listed = _json(self.core.list_namespaced_pod(
            meta["namespace"], label_selector=f"{kube.WORKFLOW_LABEL}={meta['name']}",
            _preload_content=False))
        return [p for p in listed.get("items") or [] if any(
            r.get("uid") == meta["uid"] for r in p["metadata"].get("ownerReferences") or [])]

    def _adopt(self, obj: dict[str, Any], nodes: dict[str, Any],
               pods: list[dict[str, Any]]) -> None:
        """Each pod whose node did not finish (in what the last leader wrote) gets its token
        into the node's directory: the engine re-attaches to it instead of starting the step
        again."""
        meta = obj["metadata"]
        for pod in pods:
            annotations = pod["metadata"].get("annotations") or {}
            node_name = annotations.get(kube.NODE_NAME_ANNOTATION)
            token = annotations.get(kube.TOKEN_ANNOTATION)
            if not (node_name and token):
                continue
            nid = free_id(meta["name"], node_name, lambda i: (nodes.get(i) or {}).get("name"))
            if (nodes.get(nid) or {}).get("phase") in (*FINISHED, "Skipped", "Omitted"):
                continue
            path = kube.token_path(self.store.run_dir(meta["uid"]) / nid)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(token)

    # -- status

    async def _write_statuses(self, limit: bool = True) -> None:
        """Each changed workflow's status, once per interval however often it changed (so a
        fan-out of thousands of nodes is a few writes), within the write rate."""
        changes = self.store.changes()
        for uid in [u for u in self.written if u not in changes]:
            # The engine let a finished workflow go (its ttlStrategy ran out): as Argo's
            # controller does then, the object goes too.
            del self.written[uid]
            if (obj := self.informer.objects.get(uid)) is not None:
                await asyncio.to_thread(self._delete, obj)
        for uid, seq in changes.items():
            obj = self.informer.objects.get(uid)
            if obj is None or self.written.get(uid) == seq:
                continue
            if limit and not self.bucket.take():
                return
            status = self.store.workflow(self.store.get(uid))["status"]
            if await asyncio.to_thread(self.write_status, obj, status):
                self.written[uid] = seq
                if status.get("phase") in FINISHED:
                    self.finished.add(uid)
        self._let_go()

    def _let_go(self) -> None:
        """Bounded memory: a finished workflow whose last status is written, and which the
        engine released, leaves the cache (the object holds all of it; a retry takes it back
        in). One with a ttlStrategy stays until the engine lets it go, which deletes the object.
        """
        changes = self.store.changes() if self.finished else {}
        for uid in list(self.finished):
            if uid not in changes:
                self.finished.discard(uid)
                continue
            record = self.store.get(uid)
            if record.phase not in FINISHED or record.manifest["spec"].get("ttlStrategy"):
                self.finished.discard(uid)  # retried meanwhile, or kept for its ttl
                continue
            if record.owner is None and self.written.get(uid) == changes[uid]:
                self.store.delete(uid)
                self.finished.discard(uid)
                self.written.pop(uid, None)
                self.asked.pop(uid, None)

    def _delete(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        try:
            self.custom.delete_namespaced_custom_object(
                kube.api_group(), VERSION, meta["namespace"], PLURAL, meta["name"],
                body={"preconditions": {"uid": meta["uid"]}}, _preload_content=False)
        except Exception as exc:
            if _status_code(exc) not in (404, 409):  # gone, or another of the same name
                log.warning("deleting workflow %s/%s: %s", meta["namespace"], meta["name"],
                            exc)

    def write_status(self, obj: dict[str, Any], status: dict[str, Any]) -> bool:
        """Replace the object's status at its resourceVersion; on 409 read it again and
        retry. False when the object is gone."""
        meta = obj["metadata"]
        namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
        body = {**obj, "status": object_status(status, self.compress_over)}
        for _ in range(10):
            try:
                written = _json(self.custom.replace_namespaced_custom_object_status(
                    kube.api_group(), VERSION, namespace, PLURAL, name, body,
                    _preload_content=False))
                self.informer.objects[uid] = written
                return True
            except Exception as exc:
                code = _status_code(exc)
                if code == 404:
                    return False
                if code != 409:
                    log.warning("writing the status of workflow %s/%s: %s", namespace, name,
                                exc)
                    return False
            try:
                fresh = _json(self.custom.get_namespaced_custom_object(
                    kube.api_group(), VERSION, namespace, PLURAL, name, _preload_content=False))
            except Exception as exc:
                if _status_code(exc) == 404:
                    return False
                raise
            if fresh["metadata"]["uid"] != uid:
                return False  # deleted and made again: another workflow
            body = {**fresh, "status": body["status"]}
        return False


# ---- /metrics --------------------------------------------------------------------------------


def count_requests(api: Any, counts: collections.Counter[tuple[str, str]]) -> None:
    """Count each request of ``api`` by (method, status code) into ``counts``."""
    request = api.rest_client.request

    def counted(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        try:
            response = request(method, url, *args, **kwargs)
        except Exception as exc:
            counts[method, str(_status_code(exc) or "error")] += 1
            raise
        counts[method, str(getattr(response, "status", ""))] += 1
        return response

    api.rest_client.request = counted


class ControllerMetrics:
    """The controller's Prometheus metrics, read from its state at each scrape."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        ctl = self.controller
        phases = collections.Counter((o.get("status") or {}).get("phase") or "Pending"
                                     for o in list(ctl.informer.objects.values()))
        workflows = GaugeMetricFamily("argosy_workflows", "Workflow objects by phase",
                                      labels=["phase"])
        for phase in sorted({"Pending", "Running", *FINISHED, *phases}):
            workflows.add_metric([phase], phases[phase])
        yield workflows
        yield GaugeMetricFamily("argosy_queue_depth",
                                "Workflow changes watched and not yet handled",
                                value=ctl.informer.events.qsize())
        calls = CounterMetricFamily("argosy_k8s_requests",
                                    "Requests to the Kubernetes API, by method and status code",
                                    labels=["method", "code"])
        for (method, code), count in sorted(ctl.requests.items()):
            calls.add_metric([method, code], count)
        yield calls
        yield GaugeMetricFamily("argosy_leader", "1 while this replica leads, else 0",
                                value=1 if ctl.elector.leading.is_set() else 0)


def serve_metrics(controller: Controller, host: str, port: int) -> None:
    """``/metrics`` in Prometheus' text format on ``host:port``, in a thread."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(ControllerMetrics(controller))  # type: ignore[arg-type]
    start_http_server(port, host, registry=registry)
