"""Argo's workflow verbs on a cluster's Workflow objects (``--store kubernetes``).

The verbs change the objects as Argo's CLI does when it talks to Kubernetes directly: suspend
sets ``spec.suspend``, stop and terminate set ``spec.shutdown``; ``argosy controller`` acts on
the change. Resuming also releases suspend nodes, which Argo's CLI does by writing the node's
status: argosy's controller owns the status, so resume asks through an annotation instead.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argosy import kube
from argosy.errors import ArgosyError, NotFound

GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "workflows"
# `resume`: a new value (a nonce, then an optional node field selector after a space) has the
# controller resume the workflow as `argosy resume` does.
RESUME_ANNOTATION = "argosy.io/resume"


def _status_code(exc: BaseException) -> int | None:
    return getattr(exc, "status", None)


class ClusterService:
    """The verbs of :class:`argosy.api.service.WorkflowService` a cluster has, on its objects;
    the others say they are not available against a cluster."""

    def __init__(self) -> None:
        from kubernetes import client

        self.custom = client.CustomObjectsApi(kube.api_client())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise ArgosyError(f"{name} is not available with --store kubernetes yet: use kubectl, "
                          "or run it against a local store or an argosy server")

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import json

        try:
            return json.loads(fn(GROUP, VERSION, *args, _preload_content=False, **kwargs).data)
        except Exception as exc:
            code = _status_code(exc)
            if code is None:
                raise ArgosyError(f"{what}: {exc}") from None
            try:
                message = json.loads(exc.body)["message"]  # type: ignore[attr-defined]
            except (ValueError, KeyError, TypeError, AttributeError):
                message = str(exc)
            error = NotFound if code == 404 else ArgosyError
            raise error(message) from None

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

    def submit(self, source: str | Path | dict[str, Any], *, start_engine: bool = True,
               **overrides: Any) -> dict[str, Any]:
        """Create the Workflow object; the controller lints it and writes any fault to its
        status, as Argo's does."""
        from argosy.api.service import load_document

        manifest = load_document(source, **overrides).data
        namespace = (manifest.get("metadata") or {}).get("namespace") or "default"
        manifest.pop("status", None)
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

    def terminate(self, namespace: str, name: str) -> dict[str, Any]:
        return self._patch(namespace, name, {"spec": {"shutdown": "Terminate"}})
