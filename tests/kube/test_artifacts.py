"""Artifacts with the kubernetes executor, against the API server double: the pod mounts the
node's directory by hostPath, input artifacts at their paths from it, and its sh wrapper copies
the output artifacts into it for the engine to save."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from argosy.plugin import ProcessRequest
from argosy.plugins.kubernetes import ARTIFACT_VOLUME, NODE_MOUNT, build_pod
from tests.artifacts.flows import check_copied, check_flow, flow
from tests.conftest import CliResult, run_cli

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "argosy-home"


def run_k8s(home: Path, kubeconfig: Path, manifest: str) -> CliResult:
    return run_cli("run", "--executor", "kubernetes", "-", "-o", "json", home=home,
                   stdin=textwrap.dedent(manifest), env={"KUBECONFIG": str(kubeconfig)})


def test_artifacts_flow_between_pods(home: Path, kubeconfig: Path) -> None:
    done = run_k8s(home, kubeconfig, flow("arts"))
    assert done.code == 0, done.stderr
    check_flow(done.json())
    check_copied(home, "arts")


def test_a_missing_output_artifact_is_an_error_naming_its_path(home: Path,
                                                             kubeconfig: Path) -> None:
    done = run_k8s(home, kubeconfig, """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: missing}
        spec:
          entrypoint: main
          templates:
          - name: main
            container: {image: alpine, command: [sh, -c, "true"]}
            outputs:
              artifacts:
              - {name: a, path: /tmp/nothing}
              - {name: b, path: /tmp/nothing-either, optional: true}
        """)
    assert done.code == 1
    root = done.json()["status"]["nodes"]["missing"]
    assert root["phase"] == "Error"
    assert root["message"] == ("failed to save outputs: open /tmp/nothing: no such file or "
                               "directory")


def test_a_copy_that_fails_is_an_error_that_says_so(home: Path, kubeconfig: Path) -> None:
    """The wrapper copies with cp (a dangling link here, which it cannot follow): the node says
    the copy failed instead of reporting the artifact missing."""
    done = run_k8s(home, kubeconfig, """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: nocp}
        spec:
          entrypoint: main
          templates:
          - name: main
            container:
              image: alpine
              command: [sh, -c, "ln -s /nonexistent /tmp/a"]
            outputs: {artifacts: [{name: a, path: /tmp/a}]}
        """)
    assert done.code == 1
    root = done.json()["status"]["nodes"]["nocp"]
    assert root["phase"] == "Error"
    assert root["message"].startswith("failed to save outputs: the main container could not "
                                      "copy /tmp/a with cp")


def test_a_pod_that_does_not_see_the_node_directory_is_an_error(
        home: Path, kubeconfig: Path, core: client.CoreV1Api) -> None:
    """On a node that lacks the engine's directory the pod would see an empty one: the wrapper
    finds no pod token there and the node ends Error saying what artifacts need."""
    done = run_k8s(home, kubeconfig, """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: elsewhere}
        spec:
          entrypoint: main
          templates:
          - name: main
            podSpecPatch: '{"volumes": [{"name": "argosy-node", "emptyDir": {}}]}'
            container: {image: alpine, command: [sh, -c, "echo x > /tmp/a"]}
            outputs: {artifacts: [{name: a, path: /tmp/a}]}
        """)
    assert done.code == 1
    root = done.json()["status"]["nodes"]["elsewhere"]
    assert root["phase"] == "Error"
    assert "is not on the Kubernetes node that ran pod" in root["message"]


def test_the_pod_mounts_the_node_directory_and_each_input(tmp_path: Path) -> None:
    node_dir = tmp_path / "node"
    request = ProcessRequest(
        argv=[], env={}, working_dir=None, node_dir=node_dir, image="alpine",
        template={"container": {"image": "alpine", "command": ["true"]}},
        workflow={"metadata": {"name": "w", "namespace": "default", "uid": "u"}, "spec": {}},
        node={"id": "w-1", "name": "w"},
        input_artifacts=((str(node_dir / "artifacts" / "0"), "/data/in", False),))
    pod = build_pod(request, "token")
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == ARTIFACT_VOLUME)
    assert volume["hostPath"] == {"path": str(node_dir), "type": "Directory"}
    mounts = pod["spec"]["containers"][0]["volumeMounts"]
    assert {"name": ARTIFACT_VOLUME, "mountPath": NODE_MOUNT} in mounts
    assert {"name": ARTIFACT_VOLUME, "mountPath": "/data/in", "subPath": "artifacts/0"} in mounts
    assert yaml.safe_dump(pod)  # a plain document the API takes
