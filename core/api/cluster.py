"""Argo's workflow verbs on a cluster's Workflow objects (``--store kubernetes``).

The verbs change the objects as Argo's CLI does when it talks to Kubernetes directly: suspend
sets ``spec.suspend``, stop and terminate set ``spec.shutdown``; ``argosy controller`` acts on
the change. Resuming also releases suspend nodes, which Argo's CLI does by writing the node's
status: argosy's controller owns the status, so resume asks through an annotation instead.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argosy import kube
from argosy.errors import ArgosyError, Fault, InvalidWorkflow, NotAvailable, NotFound
from argosy.store import AlreadyExists, StoreError

VERSION, PLURAL = "v1alpha1", "workflows"
CRON_PLURAL = "cronworkflows"
# `resume`: a new value (a nonce, then an optional node field selector after a space) has the
# controller resume the workflow as `argosy resume` does.
RESUME_ANNOTATION = "argosy.io/resume"
# `retry`: the retry's options as JSON (restartSuccessful, nodeFieldSelector, parameters); the
# controller retries the workflow as `argosy retry` does locally, then removes the annotation.
RETRY_ANNOTATION = "argosy.io/retry"


def _status_code(exc: BaseException) -> int | None:
    return getattr(exc, "status", None)


FINISHED = ("Succeeded", "Failed", "Error")


def log_pods(wf: dict[str, Any], wanted: str | None) -> list[tuple[str, dict[str, Any]]]:
    """The pod names and nodes of a workflow's Pod nodes that started, in start order;
    ``wanted``: only the node with this pod name, id, name or display name."""
    from argosy.api.service import in_start_order

    name = wf["metadata"]["name"]
    every = (wf.get("status") or {}).get("nodes") or {}
    nodes = in_start_order((n for n in every.values()
                            if n.get("type") == "Pod" and n.get("startedAt")), every)
    pods = []
    for node in nodes:
        podname = kube.pod_name(name, node)
        if wanted is None or wanted in (node["id"], node.get("name"), node.get("displayName"),
                                        podname):
            pods.append((podname, node))
    return pods


def with_nodes(wf: dict[str, Any], nodes: bool = True) -> dict[str, Any]:
    """A Workflow object with its node map as ``status.nodes`` (``compressedNodes`` expanded,
    as argo-server hydrates it), or (``nodes`` False) with neither."""
    from argosy.cluster import object_nodes

    status = wf.get("status") or {}
    if nodes and status.get("compressedNodes"):
        status["nodes"] = object_nodes(status)
    status.pop("compressedNodes", None)
    if not nodes:
        status.pop("nodes", None)
    return wf


class ClusterUnavailable(StoreError):
    """The cluster did not answer, or refused argosy itself (its credentials, its RBAC): not
    the request's fault."""


def _call(what: str, fn: Any, *args: Any, group: bool = True, **kwargs: Any) -> Any:
    """One call of the Kubernetes API (``group``: the CustomObjectsApi on argosy's API group);
    the API's refusal as argosy's error, with the API server's message: 404 NotFound, 409
    AlreadyExists, 400/422 an invalid object, anything else the cluster's fault."""
    head = (kube.api_group(), VERSION) if group else ()
    try:
        return json.loads(fn(*head, *args, _preload_content=False, **kwargs).data)
    except Exception as exc:
        code = _status_code(exc)
        if code is None:
            raise ClusterUnavailable(f"{what}: the cluster did not answer: {exc}") from None
        try:
            message = json.loads(exc.body)["message"]  # type: ignore[attr-defined]
        except (ValueError, KeyError, TypeError, AttributeError):
            message = str(exc)
        if code in (400, 422):
            raise InvalidWorkflow([Fault("", message)]) from None
        if code in (404, 409):
            raise (NotFound if code == 404 else AlreadyExists)(message) from None
        raise ClusterUnavailable(f"{what}: the cluster answered {code}: {message}") from None


class ClusterService:
    """The verbs of :class:`argosy.api.service.WorkflowService` a cluster has, on its objects;
    the others say they are not available against a cluster."""

    cluster = True  # the REST server serves its lists, logs and events from the cluster
    registry = None  # the controller lints with its own plugins

    def __init__(self, api: Any = None) -> None:
        from kubernetes import client

        api = api or kube.api_client()
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        # Templates, CronWorkflows, ConfigMaps and Secrets: the cluster's, as the store's.
        self.objects = ClusterObjects(api)

    def __getattr__(self, name: str) -> Any:
        import click

        if name.startswith("_"):
            raise AttributeError(name)
        # Named as the user typed it (`argosy cron list`), else as the method called.
        context, words = click.get_current_context(silent=True), []
        while context is not None and context.parent is not None:
            words.insert(0, context.info_name or "")
            context = context.parent
        what = " ".join(["argosy", *words]) if words else name
        raise NotAvailable(f"{what} is not available with --store kubernetes yet: use kubectl, "
                           "or run it against a local store or an argosy server")

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return _call(what, fn, *args, **kwargs)

    def get(self, namespace: str, name: str, *, nodes: bool = True) -> dict[str, Any]:
        return with_nodes(self._call(f"workflow {name}", self.custom.get_namespaced_custom_object,
                                     namespace, PLURAL, name), nodes)

    def list(self, namespace: str | None = None, *, label_selector: str | None = None,
             phases: list[str] | None = None, prefix: str | None = None,
             since: float | None = None, nodes: bool = False,
             chunk_size: int = 0) -> list[dict[str, Any]]:
        options: dict[str, Any] = {"label_selector": label_selector} if label_selector else {}
        if chunk_size:
            options["limit"] = chunk_size
        items: list[dict[str, Any]] = []
        while True:
            if namespace:
                page = self._call("listing workflows", self.custom.list_namespaced_custom_object,
                                  namespace, PLURAL, **options)
            else:
                page = self._call("listing workflows", self.custom.list_cluster_custom_object,
                                  PLURAL, **options)
            items += page.get("items") or []
            options["_continue"] = (page.get("metadata") or {}).get("continue")
            if not options["_continue"]:
                break
        now = datetime.now(UTC)

        def keep(wf: dict[str, Any]) -> bool:
            created = datetime.fromisoformat(wf["metadata"]["creationTimestamp"])
            return ((not phases or (wf.get("status") or {}).get("phase", "Pending") in phases)
                    and (not prefix or wf["metadata"]["name"].startswith(prefix))
                    and (since is None or (now - created).total_seconds() <= since))
        out = [with_nodes(wf, nodes) for wf in items if keep(wf)]
        return sorted(out, key=lambda wf: wf["metadata"]["creationTimestamp"], reverse=True)

    def log_entries(self, namespace: str, name: str, *, pod: str | None = None,
                    grep: str | None = None, tail: int | None = None,
                    since: float | None = None, timestamps: bool = False,
                    follow: bool = False, container: str = "main"
                    ) -> Iterator[tuple[str, str]]:
        """``(pod name, line)`` of the workflow's pods, in start order, as the kubelet serves
        their logs; ``follow`` reads them again until the workflow ends, printing what is new."""
        printed: dict[str, int] = {}
        while True:
            wf = self.get(namespace, name)
            done = (wf.get("status") or {}).get("phase") in FINISHED
            for podname, _ in log_pods(wf, pod):
                text = self._pod_log(namespace, podname, container, since, timestamps)
                if text is None:
                    continue  # not started yet, or gone
                lines = text.splitlines()
                start = printed.get(podname)
                if start is None and tail is not None and tail >= 0:
                    start = max(len(lines) - tail, 0)
                printed[podname] = len(lines)
                for line in lines[start or 0:]:
                    if grep is None or grep in line:
                        yield podname, line
            if not follow or done:
                return
            time.sleep(1.0)

    def _pod_log(self, namespace: str, podname: str, container: str, since: float | None,
                 timestamps: bool) -> str | None:
        options: dict[str, Any] = {"container": container, "timestamps": timestamps}
        if since:
            options["since_seconds"] = max(int(since), 1)
        try:
            response = self.core.read_namespaced_pod_log(podname, namespace,
                                                         _preload_content=False, **options)
        except Exception as exc:
            if _status_code(exc) in (400, 404):  # still being made, or deleted
                return None
            raise ArgosyError(f"the log of pod {podname}: {exc}") from None
        return response.data.decode(errors="replace")

    def submit(self, source: str | Path | dict[str, Any], *, start_engine: bool = True,
               **overrides: Any) -> dict[str, Any]:
        """Create the Workflow object; the controller lints it and writes any fault to its
        status, as Argo's does."""
        from argosy.api.service import load_document

        manifest = load_document(source, **overrides).data
        namespace = (manifest.get("metadata") or {}).get("namespace") or "default"
        manifest.pop("status", None)
        manifest["apiVersion"] = f"{kube.api_group()}/{VERSION}"  # Argo's, or the one served
        return self._call("creating the workflow", self.custom.create_namespaced_custom_object,
                          namespace, PLURAL, manifest)

    def delete(self, namespace: str, name: str) -> None:
        self._call(f"deleting workflow {name}", self.custom.delete_namespaced_custom_object,
                   namespace, PLURAL, name)

    def _patch(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        return self._call(f"workflow {name}", self.custom.patch_namespaced_custom_object,
                          namespace, PLURAL, name, patch)

    def suspend(self, namespace: str, name: str) -> dict[str, Any]:
        return self._patch(namespace, name, {"spec": {"suspend": True}})

    def resume(self, namespace: str, name: str,
               node_field_selector: str | None = None) -> dict[str, Any]:
        request = f"{secrets.token_hex(4)} {node_field_selector or ''}".strip()
        return self._patch(namespace, name, {"spec": {"suspend": None}, "metadata": {
            "annotations": {RESUME_ANNOTATION: request}}})

    def stop(self, namespace: str, name: str, message: str | None = None) -> dict[str, Any]:
        if message:
            raise ArgosyError("stop --message is not available with --store kubernetes: the "
                              "Workflow object has no field for it")
        return self._patch(namespace, name, {"spec": {"shutdown": "Stop"}})

    def retry(self, namespace: str, name: str, *, restart_successful: bool = False,
              node_field_selector: str | None = None,
              parameters: dict[str, str] | None = None,
              start_engine: bool = True) -> dict[str, Any]:
        """Argo's retry, asked of the controller (which owns the status) by an annotation;
        ``-p`` changes the object's arguments too, as Argo's retry does."""
        from argosy.api.service import apply_overrides
        from argosy.spec.selectors import node_matcher

        wf = self.get(namespace, name, nodes=False)
        phase = (wf.get("status") or {}).get("phase") or "Pending"
        if phase not in ("Failed", "Error"):
            raise ArgosyError(f"workflow must be Failed/Error to retry, it is {phase}")
        if node_field_selector:
            node_matcher(node_field_selector)  # a bad selector is refused here, not later
        request = {"nonce": secrets.token_hex(4), "restartSuccessful": restart_successful,
                   "nodeFieldSelector": node_field_selector, "parameters": parameters or {}}
        spec: dict[str, Any] = {"shutdown": None}
        if parameters:
            spec["arguments"] = apply_overrides(copy.deepcopy(wf), parameters=parameters)[
                "spec"]["arguments"]
        return self._patch(namespace, name, {"spec": spec, "metadata": {
            "annotations": {RETRY_ANNOTATION: json.dumps(request)}}})

    def terminate(self, namespace: str, name: str) -> dict[str, Any]:
        return self._patch(namespace, name, {"spec": {"shutdown": "Terminate"}})

    # ---- templates and CronWorkflows: the cluster's objects, through the store's service ----

    def create_template(self, body: dict[str, Any], namespace: str | None = None, *,
                        mode: str = "create", check: bool = True) -> dict[str, Any]:
        from argosy.api.service import expect_kind
        from argosy.objects import TEMPLATE_KINDS, ObjectService

        expect_kind(body, TEMPLATE_KINDS)
        return ObjectService(self.objects).put(  # type: ignore[arg-type]
            body, namespace, mode=mode, check=check)[0]

    def templates(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        from argosy.objects import ObjectService

        return ObjectService(self.objects).list(kind, namespace)  # type: ignore[arg-type]

    def template(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        from argosy.objects import ObjectService

        return ObjectService(self.objects).get(kind, namespace, name)  # type: ignore[arg-type]

    def delete_template(self, kind: str, namespace: str | None, name: str) -> None:
        from argosy.objects import ObjectService

        ObjectService(self.objects).delete(kind, namespace, name)  # type: ignore[arg-type]

    def create_cron(self, body: dict[str, Any], namespace: str | None = None, *,
                    check: bool = True, **_: Any) -> dict[str, Any]:
        """The controller's scheduler runs it."""
        from argosy.api.service import expect_kind
        from argosy.objects import ObjectService

        expect_kind(body, ("CronWorkflow",))
        return ObjectService(self.objects).put(  # type: ignore[arg-type]
            body, namespace, mode="create", check=check)[0]

    def suspend_cron(self, namespace: str | None, name: str, suspend: bool,
                     **_: Any) -> dict[str, Any]:
        from argosy.cron import set_suspend

        return set_suspend(self.objects, namespace, name, suspend)  # type: ignore[arg-type]


class ClusterObjects:
    """The cluster's objects of :data:`argosy.objects.KINDS` (templates, CronWorkflows,
    ConfigMaps, Secrets) behind the local store's object methods, so that
    :class:`argosy.objects.ObjectService`, reference lookups and the cron scheduler
    (:class:`argosy.cron.CronScheduler`) use them as they use the store's. Writes of a status
    beside a user's change use optimistic concurrency (on 409, read again and change that)."""

    def __init__(self, api: Any = None, namespace: str | None = None) -> None:
        from kubernetes import client

        api = api or kube.api_client()
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.namespace = namespace  # list_objects' default; None: every namespace

    def _do(self, op: str, kind: str, namespace: str | None, name: str | None = None,
            body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One call (create, get, list, replace, replace_status, delete) on a kind's objects:
        Argo's kinds through the CustomObjectsApi, ConfigMaps and Secrets through the core API;
        ``namespace`` None: a cluster-scoped kind, or every namespace's (list)."""
        from argosy.objects import KINDS

        k = KINDS[kind]
        what = k.plural + (f" {name}" if name else "")
        tail = [*([name] if name else []), *([body] if body is not None else [])]
        if k.api_version == "v1":  # the core API names its methods after the kind
            snake = "config_map" if kind == "ConfigMap" else "secret"
            if namespace is None:
                return _call(what, getattr(self.core, f"list_{snake}_for_all_namespaces"),
                             group=False)
            fn = getattr(self.core, f"{'read' if op == 'get' else op}_namespaced_{snake}")
            args = [name, namespace, *tail[1:]] if name else [namespace, *tail]
            return _call(what, fn, *args, group=False)
        scope, where = ("cluster", []) if namespace is None else ("namespaced", [namespace])
        verb, status = op.removesuffix("_status"), op.endswith("_status")
        fn = getattr(self.custom, f"{verb}_{scope}_custom_object{'_status' if status else ''}")
        return _call(what, fn, *where, k.plural, *tail)

    def list_objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Objects of a kind by namespace and name, in one namespace or all (None)."""
        from argosy.objects import KINDS

        namespace = namespace or self.namespace
        if not KINDS[kind].namespaced:
            namespace = None
        found = self._do("list", kind, namespace).get("items") or []
        kind_of = KINDS[kind]
        for obj in found:  # a list's items carry neither
            obj.setdefault("apiVersion", kind_of.api_version if kind_of.api_version == "v1"
                           else f"{kube.api_group()}/{VERSION}")
            obj.setdefault("kind", kind)
        return sorted(found, key=lambda o: (o["metadata"].get("namespace", ""),
                                            o["metadata"]["name"]))

    def get_object(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._do("get", kind, namespace or None, name)
        except NotFound:
            return None

    def put_object(self, kind: str, namespace: str, name: str, body: dict[str, Any], *,
                   mode: str = "apply") -> tuple[dict[str, Any], bool]:
        """As :meth:`argosy.store.Store.put_object`: create, update or either (``apply``)."""
        from argosy.objects import KINDS

        body = dict(body, metadata=dict(body.get("metadata") or {}, name=name))
        if KINDS[kind].namespaced:
            body["metadata"]["namespace"] = namespace
        if KINDS[kind].api_version != "v1":
            body["apiVersion"] = f"{kube.api_group()}/{VERSION}"  # Argo's, or the one served
        for _ in range(10):
            current = None if mode == "create" else self.get_object(kind, namespace, name)
            if current is None and mode == "update":
                where = f' in namespace "{namespace}"' if namespace else ""
                raise NotFound(f'{kind} "{name}" not found{where}')
            try:
                if current is None:
                    return self._do("create", kind, namespace or None, body=body), True
                body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                return self._do("replace", kind, namespace or None, name, body), False
            except AlreadyExists:
                if mode == "create":
                    raise
                continue  # changed meanwhile (or made meanwhile): again
        raise ArgosyError(f"{kind} {namespace}/{name}: changed by others on every try")

    def delete_object(self, kind: str, namespace: str, name: str) -> bool:
        try:
            self._do("delete", kind, namespace or None, name)
        except NotFound:
            return False
        return True

    def patch_object(self, kind: str, namespace: str, name: str,
                     change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """``change`` the object as it is now: its status through the status subresource,
        its metadata and spec (a label) through the object; NotFound if it is gone."""
        for _ in range(10):
            current = self.get_object(kind, namespace, name)
            if current is None:
                raise NotFound(f'{kind} "{name}" not found')
            body = copy.deepcopy(current)
            change(body)
            try:
                if body.get("status") != current.get("status"):
                    written = self._do("replace_status", kind, namespace, name, body)
                    body["metadata"]["resourceVersion"] = written["metadata"]["resourceVersion"]
                    current = written
                if _own(body) != _own(current):
                    current = self._do("replace", kind, namespace, name, body)
                return current
            except AlreadyExists:  # 409: changed meanwhile (a user's suspend): again
                continue
        raise ArgosyError(f"{kind.lower()} {namespace}/{name}: changed by others on every try")


def _own(obj: dict[str, Any]) -> tuple[Any, ...]:
    """What a user (or the scheduler's Stopped label) changes of an object, status aside."""
    meta = obj.get("metadata") or {}
    return meta.get("labels"), meta.get("annotations"), obj.get("spec")
