"""Argo's own resource examples (``k8s-*``, ``resource-*``, workflow-of-workflows) against the API
server double, read from the conformance corpus beside the clone.

Argo labels these no-test ("environment"): each needs something in the cluster. Each case here
sets that up as a cluster would have it (a CRD, the pod a step patches, a controller that moves
a custom resource's status, as Argo's controller or Kubeflow's would) and says why; the phase
is the one Argo reaches in such a cluster.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.conftest import ARGO_EXAMPLES, run_cli
from tests.kube.conftest import install_crd, pod_manifest
from tests.kube.double import Double

pytestmark = pytest.mark.skipif(not ARGO_EXAMPLES.is_dir(),
                                reason=f"no Argo examples at {ARGO_EXAMPLES}")

Setup = Callable[[client.ApiClient, str, contextlib.ExitStack], None]
Check = Callable[[client.ApiClient, dict[str, Any]], None]


def argo_crd(api: client.ApiClient, name: str, stack: contextlib.ExitStack) -> None:
    install_crd(api, "argoproj.io", "v1alpha1", "Workflow", "workflows", ("wf",))


def argo_controller(api: client.ApiClient, name: str, stack: contextlib.ExitStack) -> None:
    """Argo's CRD, and a stand-in for its controller: every new Workflow succeeds."""
    argo_crd(api, name, stack)
    stack.enter_context(controller(api, "argoproj.io", "v1alpha1", "workflows",
                                   {"phase": "Succeeded"}))


def tf_operator(api: client.ApiClient, name: str, stack: contextlib.ExitStack) -> None:
    """Kubeflow's TFJob CRD, and a stand-in for its operator: both workers succeed."""
    install_crd(api, "kubeflow.org", "v1", "TFJob", "tfjobs")
    stack.enter_context(controller(api, "kubeflow.org", "v1", "tfjobs",
                                   {"replicaStatuses": {"Worker": {"succeeded": 2}}}))


def own_pod(api: client.ApiClient, name: str, stack: contextlib.ExitStack) -> None:
    """The pod that runs the step in Argo, which these examples patch: ``{{pod.name}}`` of a
    one-template workflow is the workflow's name. Argo's pods have annotations (a json patch
    adding one needs the map to exist)."""
    pod = pod_manifest(name, "sleep 600")
    pod["metadata"]["annotations"] = {"workflows.argoproj.io/node-name": name}
    client.CoreV1Api(api).create_namespaced_pod("default", pod)


def own_workflow(api: client.ApiClient, name: str, stack: contextlib.ExitStack) -> None:
    """The Workflow object the example patches, as it exists in Argo's cluster."""
    argo_crd(api, name, stack)
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        "argoproj.io", "v1alpha1", "default", "workflows",
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
         "metadata": {"name": name, "labels": {"workflows.argoproj.io/phase": "Running"}},
         "spec": {"entrypoint": "main", "templates": []}})


def routes(api: client.ApiClient, name: str, stack: contextlib.ExitStack) -> None:
    install_crd(api, "route.openshift.io", "v1", "Route", "routes")


@contextlib.contextmanager
def controller(api: client.ApiClient, group: str, version: str, plural: str,
               status: dict[str, Any]) -> Iterator[None]:
    """Gives every object of the kind without a status ``status``, until the block ends."""
    custom, stop = client.CustomObjectsApi(api), threading.Event()

    def loop() -> None:
        while not stop.wait(0.1):
            for obj in custom.list_namespaced_custom_object(group, version, "default",
                                                            plural)["items"]:
                if not obj.get("status"):
                    custom.patch_namespaced_custom_object_status(
                        group, version, "default", plural, obj["metadata"]["name"],
                        {"status": status})
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


def nothing(api: client.ApiClient, name: str, stack: contextlib.ExitStack) -> None:
    pass


# ---- checks ---------------------------------------------------------------------------------


def outputs(wf: dict[str, Any], display: str) -> dict[str, str]:
    [node] = [n for n in wf["status"]["nodes"].values() if n["displayName"] == display]
    return {p["name"]: p["value"] for p in node.get("outputs", {}).get("parameters", [])}


def phases(wf: dict[str, Any]) -> dict[str, str]:
    return {n["displayName"]: n["phase"] for n in wf["status"]["nodes"].values()}


def check_jobs(api: client.ApiClient, wf: dict[str, Any]) -> None:
    out = outputs(wf, wf["metadata"]["name"])
    job = json.loads(out["job-obj"])
    assert out["job-name"] == job["metadata"]["name"] and out["job-name"].startswith("rand-num-")
    assert job["status"]["succeeded"] == 3
    assert job["metadata"]["labels"]["workflows.argoproj.io/workflow"] == wf["metadata"]["name"]


def check_orchestration(api: client.ApiClient, wf: dict[str, Any]) -> None:
    assert set(phases(wf).values()) == {"Succeeded"}
    with pytest.raises(client.ApiException):  # delete-job deleted it
        client.BatchV1Api(api).read_namespaced_job(
            outputs(wf, "random-number-job")["job-name"], "default")


def check_owned_workflow(api: client.ApiClient, wf: dict[str, Any]) -> None:
    [owned] = client.CustomObjectsApi(api).list_namespaced_custom_object(
        "argoproj.io", "v1alpha1", "default", "workflows")["items"]
    assert owned["metadata"]["generateName"] == "owned-eg-"
    assert owned["metadata"]["labels"] == {"workflows.argoproj.io/workflow":
                                           wf["metadata"]["name"]}


def check_patched_pod(api: client.ApiClient, wf: dict[str, Any]) -> None:
    pod = client.CoreV1Api(api).read_namespaced_pod(wf["metadata"]["name"], "default")
    assert pod.metadata.annotations["foo"] == "bar"


def check_patched_workflow(api: client.ApiClient, wf: dict[str, Any]) -> None:
    own = client.CustomObjectsApi(api).get_namespaced_custom_object(
        "argoproj.io", "v1alpha1", "default", "workflows", wf["metadata"]["name"])
    assert own["metadata"]["labels"]["foo"] == "bar"


def check_owned_config_map(api: client.ApiClient, wf: dict[str, Any]) -> None:
    [owned] = client.CoreV1Api(api).list_namespaced_config_map("default").items
    assert owned.data == {"some": "value"} and owned.metadata.name.startswith("owned-eg-")


def check_waited(api: client.ApiClient, wf: dict[str, Any]) -> None:
    assert phases(wf)["wait-wf"] == "Succeeded"
    assert outputs(wf, "create-wf")["wf-name"].startswith("sleep-")


def check_deleted_by_selector(api: client.ApiClient, wf: dict[str, Any]) -> None:
    assert phases(wf)["delete-resource"] == "Succeeded"
    assert client.CoreV1Api(api).list_namespaced_config_map("default").items == []


def check_route_needed_no_retry(api: client.ApiClient, wf: dict[str, Any]) -> None:
    assert phases(wf)["submit-resource-without-validation"] == "Skipped"


def check_route_missing(api: client.ApiClient, wf: dict[str, Any]) -> None:
    found = phases(wf)
    assert found["submit-resource"] == found["submit-resource-without-validation"] == "Failed"
    [node] = [n for n in wf["status"]["nodes"].values()
              if n["displayName"] == "submit-resource"]
    assert 'no resource of kind "Route" in version "route.openshift.io/v1"' in node["message"]


def no_check(api: client.ApiClient, wf: dict[str, Any]) -> None:
    pass


#: id -> (file, what the cluster has, the phase Argo reaches there, what else to check).
CASES: dict[str, tuple[str, Setup, str, Check]] = {
    "k8s-jobs": ("k8s-jobs.yaml", nothing, "Succeeded", check_jobs),
    "k8s-orchestration": ("k8s-orchestration.yaml", nothing, "Succeeded", check_orchestration),
    "k8s-owner-reference": ("k8s-owner-reference.yaml", argo_crd, "Succeeded",
                            check_owned_workflow),
    "k8s-patch-json-pod": ("k8s-patch-json-pod.yaml", own_pod, "Succeeded", check_patched_pod),
    "k8s-patch-merge-pod": ("k8s-patch-merge-pod.yaml", own_pod, "Succeeded",
                            check_patched_pod),
    "k8s-patch-pod": ("k8s-patch-pod.yaml", own_pod, "Succeeded", check_patched_pod),
    "k8s-patch-json-workflow": ("k8s-patch-json-workflow.yaml", own_workflow, "Succeeded",
                                check_patched_workflow),
    "k8s-resource-log-selector": ("k8s-resource-log-selector.yaml", tf_operator, "Succeeded",
                                  no_check),
    "k8s-set-owner-reference": ("k8s-set-owner-reference.yaml", nothing, "Succeeded",
                                check_owned_config_map),
    "k8s-wait-wf": ("k8s-wait-wf.yaml", argo_controller, "Succeeded", check_waited),
    "workflow-of-workflows": ("workflow-of-workflows.yaml", argo_controller, "Succeeded",
                              no_check),
    "resource-delete-with-flags": ("resource-delete-with-flags.yaml", nothing, "Succeeded",
                                   check_deleted_by_selector),
    # With OpenShift's Route CRD the first create succeeds; without it (Argo's no-test reason)
    # both fail, the second after continueOn.
    "resource-flags": ("resource-flags.yaml", routes, "Succeeded", check_route_needed_no_retry),
    "resource-flags-no-crd": ("resource-flags.yaml", nothing, "Failed", check_route_missing),
}


@pytest.fixture
def images(argosy_home: Path) -> Iterator[Path]:
    """Images of these examples as host commands; the kubeconfig for steps that run kubectl
    sits outside /tmp, which every step sees as its own."""
    shared = Path("/var/tmp") / f"argosy-kube-{uuid.uuid4().hex}"
    shared.mkdir()
    argosy_home.mkdir(parents=True, exist_ok=True)
    (argosy_home / "images.yaml").write_text(yaml.safe_dump({
        "python:alpine3.23": {"commands": {"python": sys.executable}},
        "quay.io/argoproj/argoexec:latest": {"env": {"KUBECONFIG": str(shared / "config")}},
    }))
    yield shared
    shutil.rmtree(shared, ignore_errors=True)


@pytest.mark.parametrize("case", list(CASES))
def test_argo_resource_example(case: str, argosy_home: Path, double: Double, kubeconfig: Path,
                               api: client.ApiClient, images: Path) -> None:
    file, setup, phase, check = CASES[case]
    shutil.copy(kubeconfig, images / "config")
    name = case.removesuffix("-no-crd") + "-run"
    with contextlib.ExitStack() as stack:
        setup(api, name, stack)
        done = run_cli("run", str(ARGO_EXAMPLES / file), "--name", name, "-o", "json",
                       home=argosy_home, env={"KUBECONFIG": str(kubeconfig)}, timeout=180)
    assert done.stdout.strip(), done.stderr
    wf = json.loads(done.stdout)
    assert wf["status"]["phase"] == phase, (done.stderr, {
        n["displayName"]: (n["phase"], n.get("message")) for n in wf["status"]["nodes"].values()})
    check(api, wf)
