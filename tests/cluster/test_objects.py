"""In cluster mode the ConfigMaps and Secrets a workflow reads are its namespace's in the
cluster (parameters' configMapKeyRef, semaphores' limits, artifact repositories and their
credentials), never the controller's own home's."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import textwrap
from pathlib import Path

import pytest
import yaml

from argosy import kube
from argosy.cluster import Controller, NamespaceObjects
from argosy.errors import ArgosyError
from argosy.store import Store
from tests.cluster.conftest import Controllers, wait_phase
from tests.cluster.test_controller import apply, node
from tests.conftest import REPO
from tests.kube.conftest import Kubectl

pytestmark = pytest.mark.timeout(180)

FROM_CONFIGMAPS = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: from-configmaps
spec:
  entrypoint: main
  synchronization:
    semaphores:
    - configMapKeyRef: {name: limits, key: workflow}
  templates:
  - name: main
    inputs:
      parameters:
      - name: message
        valueFrom:
          configMapKeyRef: {name: simple-parameters, key: msg}
    synchronization:
      semaphores:
      - configMapKeyRef: {name: limits, key: template}
    container:
      image: busybox
      command: [sh, -c]
      args: ["echo {{inputs.parameters.message}} $TOKEN"]
      env:
      - name: TOKEN
        valueFrom:
          secretKeyRef: {name: creds, key: token}
"""


def test_configmaps_and_secrets_a_workflow_reads_are_the_clusters(controller: Controllers,
                                                      kubectl: Kubectl) -> None:
    apply(kubectl, """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: simple-parameters}
        data: {msg: from the cluster}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: limits}
        data: {workflow: "1", template: "2"}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: creds}
        stringData: {token: s3cret}
        """)
    # One of the same name in the controller's home is not the workflow's.
    Store(controller.home("a")).put_object("ConfigMap", "default", "simple-parameters", {
        "apiVersion": "v1", "kind": "ConfigMap", "data": {"msg": "from the controller"}})
    apply(kubectl, FROM_CONFIGMAPS)
    assert wait_phase(kubectl, "from-configmaps", "Succeeded", "Failed", "Error") == "Succeeded"
    main = node(kubectl, "from-configmaps", "from-configmaps")
    assert main is not None
    assert main["inputs"]["parameters"] == [{"name": "message", "value": "from the cluster"}]
    assert main["outputs"]["result"] == "from the cluster s3cret"


def test_the_controllers_store_reads_configmaps_and_secrets_from_the_cluster(
        kubectl: Kubectl, kubeconfig: Path, tmp_path: Path) -> None:
    apply(kubectl, """\
        apiVersion: v1
        kind: Secret
        metadata: {name: s3-credentials}
        stringData: {accessKey: AK}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: artifact-repositories}
        data: {default-v1: "s3: {bucket: b}"}
        """)
    store = Store(tmp_path / "home")
    NamespaceObjects(kube.api_client(str(kubeconfig))).serve(store)
    secret = store.get_object("Secret", "default", "s3-credentials")
    assert secret is not None
    assert base64.b64decode(secret["data"]["accessKey"]) == b"AK"
    repositories = store.get_object("ConfigMap", "default", "artifact-repositories")
    assert repositories is not None and repositories["data"] == {"default-v1": "s3: {bucket: b}"}
    assert store.get_object("Secret", "default", "none-such") is None
    assert store.get_object("Secret", "elsewhere", "s3-credentials") is None
    store.put_object("WorkflowTemplate", "default", "kept", {"spec": {}})  # others: the store's
    assert store.get_object("WorkflowTemplate", "default", "kept") is not None


def test_an_unreachable_cluster_is_an_error_naming_the_object(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(textwrap.dedent(f"""\
        apiVersion: v1
        kind: Config
        clusters: [{{name: c, cluster: {{server: "http://127.0.0.1:{port}"}}}}]
        users: [{{name: u, user: {{}}}}]
        contexts: [{{name: c, context: {{cluster: c, user: u}}}}]
        current-context: c
        """))
    store = Store(tmp_path / "home")
    NamespaceObjects(kube.api_client(str(kubeconfig))).serve(store)
    with pytest.raises(kube.KubernetesUnavailable,
                       match='reading Secret "creds" of namespace "default" from the cluster'):
        store.get_object("Secret", "default", "creds")


def test_a_workflow_is_not_failed_while_its_configmap_cannot_be_read(
        kubectl: Kubectl, kubeconfig: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    ctl = Controller(Store(tmp_path / "home"), identity="t", lease_namespace="default")
    manifest = yaml.safe_load(FROM_CONFIGMAPS)
    created = json.loads(kubectl("create", "-f", "-", "-o", "json",
                                 input=json.dumps(manifest)).stdout)
    reads = ctl.store.object_sources

    def unreachable(namespace: str, name: str) -> None:
        raise kube.KubernetesUnavailable(f"reading ConfigMap {name}: connection refused")

    monkeypatch.setitem(reads, "ConfigMap", unreachable)
    with pytest.raises(kube.KubernetesUnavailable):
        asyncio.run(ctl._admit(created))
    assert "status" not in json.loads(kubectl("get", "wf", "from-configmaps", "-o",
                                              "json").stdout)  # not failed: tried again later
    assert not ctl.store.exists(created["metadata"]["uid"])

    def forbidden(namespace: str, name: str) -> None:
        raise ArgosyError(f'reading ConfigMap "{name}": Forbidden')

    monkeypatch.setitem(reads, "ConfigMap", forbidden)
    asyncio.run(ctl._admit(created))
    status = json.loads(kubectl("get", "wf", "from-configmaps", "-o", "json").stdout)["status"]
    assert status["phase"] == "Failed"
    assert 'reading ConfigMap "simple-parameters": Forbidden' in status["message"]


def test_the_controllers_cluster_role_may_read_them() -> None:
    rbac = yaml.safe_load_all((REPO / "deploy" / "controller-rbac.yaml").read_text())
    (role,) = (o for o in rbac if o["kind"] == "ClusterRole")
    allowed = {(resource, verb) for rule in role["rules"] if rule["apiGroups"] == [""]
               for resource in rule["resources"] for verb in rule["verbs"]}
    assert {("configmaps", "get"), ("secrets", "get")} <= allowed
