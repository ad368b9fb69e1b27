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
from argosy.errors import ArgosyError, NotFound
from argosy.store import AlreadyExists

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


def _log_pods(wf: dict[str, Any], wanted: str | None) -> list[str]:
    """The pod names of a workflow's Pod nodes that started, in start order; ``wanted``: only
    the node with this pod name, id, name or display name."""
    name = wf["metadata"]["name"]
    nodes = sorted((n for n in ((wf.get("status") or {}).get("nodes") or {}).values()
                    if n.get("type") == "Pod" and n.get("startedAt")),
                   key=lambda n: (n["startedAt"], n.get("name", "")))
    pods = []
    for node in nodes:
        podname = kube.pod_name(name, node)
        if wanted is None or wanted in (node["id"], node.get("name"), node.get("displayName"),
                                        podname):
            pods.append(podname)
    return pods


def _call(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """One call of the CustomObjectsApi on argoproj.io; the API's refusal as argosy's error
    (404 NotFound, 409 AlreadyExists), with the API server's message."""
    try:
        return json.loads(fn(kube.api_group(), VERSION, *args, _preload_content=False,
                             **kwargs).data)
    except Exception as exc:
        code = _status_code(exc)
        if code is None:
            raise ArgosyError(f"{what}: {exc}") from None
        try:
            message = json.loads(exc.body)["message"]  # type: ignore[attr-defined]
        except (ValueError, KeyError, TypeError, AttributeError):
            message = str(exc)
        error = {404: NotFound, 409: AlreadyExists}.get(code, ArgosyError)
        raise error(message) from None


class ClusterService:
    """The verbs of :class:`argosy.api.service.WorkflowService` a cluster has, on its objects;
    the others say they are not available against a cluster."""

    def __init__(self, api: Any = None) -> None:
        from kubernetes import client

        api = api or kube.api_client()
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)

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
        raise ArgosyError(f"{what} is not available with --store kubernetes yet: use kubectl, "
                          "or run it against a local store or an argosy server")

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return _call(what, fn, *args, **kwargs)

    def get(self, namespace: str, name: str, *, nodes: bool = True) -> dict[str, Any]:
        from argosy.cluster import object_nodes

        wf = self._call(f"workflow {name}", self.custom.get_namespaced_custom_object,
                        namespace, PLURAL, name)
        status = wf.get("status") or {}
        if nodes and status.get("compressedNodes"):
            status["nodes"] = object_nodes(status)
            del status["compressedNodes"]
        return wf

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
        out = [wf for wf in items if keep(wf)]
        if not nodes:
            for wf in out:
                (wf.get("status") or {}).pop("nodes", None)
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
            for podname in _log_pods(wf, pod):
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


class ClusterCrons:
    """The cluster's CronWorkflow objects, as the store's objects to the cron scheduler
    (:class:`argosy.cron.CronScheduler`): read, and written back with optimistic concurrency
    (on 409, read again and change that)."""

    def __init__(self, api: Any = None, namespace: str | None = None) -> None:
        from kubernetes import client

        self.custom = client.CustomObjectsApi(api or kube.api_client())
        self.namespace = namespace  # None: every namespace

    def _check(self, kind: str) -> None:
        if kind != "CronWorkflow":
            raise ArgosyError(f"{kind} objects are not read from the cluster by the scheduler")

    def list_objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        self._check(kind)
        namespace = namespace or self.namespace
        if namespace:
            found = _call("listing cronworkflows", self.custom.list_namespaced_custom_object,
                          namespace, CRON_PLURAL)
        else:
            found = _call("listing cronworkflows", self.custom.list_cluster_custom_object,
                          CRON_PLURAL)
        return sorted(found.get("items") or [], key=lambda o: o["metadata"]["name"])

    def get_object(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        self._check(kind)
        try:
            return _call(f"cronworkflow {name}", self.custom.get_namespaced_custom_object,
                         namespace, CRON_PLURAL, name)
        except NotFound:
            return None

    def patch_object(self, kind: str, namespace: str, name: str,
                     change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """``change`` the object as it is now: its status through the status subresource,
        its metadata and spec (a label) through the object; NotFound if it is gone."""
        for _ in range(10):
            current = self.get_object(kind, namespace, name)
            if current is None:
                raise NotFound(f'CronWorkflow "{name}" not found')
            body = copy.deepcopy(current)
            change(body)
            try:
                if body.get("status") != current.get("status"):
                    written = _call(f"cronworkflow {name}",
                                    self.custom.replace_namespaced_custom_object_status,
                                    namespace, CRON_PLURAL, name, body)
                    body["metadata"]["resourceVersion"] = written["metadata"]["resourceVersion"]
                    current = written
                if _own(body) != _own(current):
                    current = _call(f"cronworkflow {name}",
                                    self.custom.replace_namespaced_custom_object,
                                    namespace, CRON_PLURAL, name, body)
                return current
            except AlreadyExists:  # 409: changed meanwhile (a user's suspend): again
                continue
        raise ArgosyError(f"cronworkflow {namespace}/{name}: changed by others on every try")


def _own(obj: dict[str, Any]) -> tuple[Any, ...]:
    """What a user (or the scheduler's Stopped label) changes of an object, status aside."""
    meta = obj.get("metadata") or {}
    return meta.get("labels"), meta.get("annotations"), obj.get("spec")
