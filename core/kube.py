"""Connecting to Kubernetes: one place that finds the cluster for every Kubernetes feature.

The official client is imported on first use, so argosy without Kubernetes never pays for it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from argosy.errors import ArgosyError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

# Argo's labels on the Pods it creates; `kubectl get pods -l` finds argosy's pods the same way.
WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
NODE_NAME_ANNOTATION = "workflows.argoproj.io/node-name"
NODE_ID_LABEL = "workflows.argoproj.io/node-id"
COMPLETED_LABEL = "workflows.argoproj.io/completed"
# Set by `argosy controller` on a workflow that is an object in the cluster: what it creates
# is owned by that object, so `kubectl delete workflow` takes its pods with it.
OBJECT_ANNOTATION = "argosy.io/workflow-object"
# A pod's token, also kept in its node's directory: a pod that exists with the node's token is
# this run's, and is adopted rather than started again.
TOKEN_ANNOTATION = "argosy.io/node-token"

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
ARGO_GROUP = "argoproj.io"


def api_group() -> str:
    """The API group of the Workflow objects in cluster mode: Argo's, or another
    (``argosy controller --api-group``, ``$ARGOSY_API_GROUP``) beside Argo's own controller."""
    return os.environ.get("ARGOSY_API_GROUP") or ARGO_GROUP


def pod_name(workflow: str, node: dict[str, Any]) -> str:
    """Argo's (v2) pod name of a Pod node: ``<workflow>-<template>-<hash>``, the hash being the
    one that ends the node id (fnv32a of the node name); the root's pod is the workflow's name."""
    nid = node.get("id") or ""
    if workflow in (nid, node.get("name")):
        return workflow
    # A templateRef node names the referenced template, as Argo's UI finds it.
    template = node.get("templateName") or (node.get("templateRef") or {}).get("template")
    prefix = f"{workflow}-{template}" if template else workflow
    return f"{prefix[:52]}-{nid.rsplit('-', 1)[-1]}"


def token_path(node_dir: Path) -> Path:
    return Path(node_dir, "pod-token")


def owner_references(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    """The Workflow object as the owner of what a node creates, when the workflow is one
    (cluster mode); none otherwise, as an owner that does not exist would have the garbage
    collector delete the new object at once."""
    meta = workflow.get("metadata") or {}
    if (meta.get("annotations") or {}).get(OBJECT_ANNOTATION) != "true" or not meta.get("uid"):
        return []
    return [{"apiVersion": f"{api_group()}/v1alpha1",
             "kind": workflow.get("kind") or "Workflow", "name": meta["name"],
             "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}]


class KubernetesUnavailable(ArgosyError):
    """No cluster could be reached or configured."""


def api_client(kubeconfig: str | None = None, context: str | None = None) -> ApiClient:
    """A client for the cluster: ``kubeconfig`` (else ``$KUBECONFIG``, else ``~/.kube/config``),
    or the in-cluster service account when there is no kubeconfig and we run in a Pod."""
    try:
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException
    except ImportError as exc:
        raise KubernetesUnavailable(
            "the Kubernetes features need the official client: pip install 'argosy[kubernetes]'"
        ) from exc
    path = kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    try:
        if Path(path.split(os.pathsep)[0]).exists():
            return config.new_client_from_config(config_file=path, context=context)
        if (SERVICE_ACCOUNT_DIR / "token").exists():
            from kubernetes import client

            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
    except ConfigException as exc:
        raise KubernetesUnavailable(f"kubeconfig {path}: {exc}") from exc
    raise KubernetesUnavailable(
        f"no Kubernetes cluster configured: {path} does not exist and this is not a Pod "
        "(set KUBECONFIG or --kubeconfig)")


def current_namespace(kubeconfig: str | None = None, context: str | None = None) -> str:
    """The namespace of the kubeconfig's context (or the Pod's own), else ``default``."""
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    try:
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
    except (ConfigException, OSError):
        token_ns = SERVICE_ACCOUNT_DIR / "namespace"
        return token_ns.read_text().strip() if token_ns.exists() else "default"
    chosen = next((c for c in contexts if c["name"] == context), active) if context else active
    return chosen["context"].get("namespace") or "default"
