"""Two `argosy controller` replicas: one leads through a Lease, and a kill -9 of the leader
mid-run hands over to the other, which re-adopts the running pods: no step runs twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client, config

from argosy.cluster import Controller
from argosy.store import Store
from tests.cluster.conftest import Controllers, wait_phase
from tests.cluster.test_controller import STEPS, apply, blocking, node, running_pod
from tests.kube.conftest import Kubectl, wait_for
from tests.kube.double import Double

pytestmark = pytest.mark.timeout(180)


def holder(kubectl: Kubectl) -> str:
    return kubectl("get", "lease", "argosy-controller", "-o",
                   "jsonpath={.spec.holderIdentity}", check=False).stdout


def test_a_killed_leader_hands_over_and_no_step_runs_twice(
        controllers: Controllers, kubectl: Kubectl, tmp_path: Path) -> None:
    controllers.start("a")
    wait_for(lambda: holder(kubectl) == "a", "controller a to lead")
    controllers.start("b")
    apply(kubectl, blocking(tmp_path))
    running_pod(kubectl, "blocking")
    wait_for(lambda: node(kubectl, "blocking", "first"), "the first step in the status")
    assert Store(controllers.home("b")).list() == []  # the follower drives nothing
    controllers.kill("a")
    (tmp_path / "go-1").touch()  # the first step ends while no controller leads
    wait_for(lambda: holder(kubectl) == "b", "controller b to take over")
    wait_for(lambda: (node(kubectl, "blocking", "first") or {}).get("phase") == "Succeeded",
             "the first step to succeed under the new leader")
    (tmp_path / "go-2").touch()
    wait_phase(kubectl, "blocking", "Succeeded")
    assert (tmp_path / "runs").read_text() == "1\n2\n"  # each step once
    transitions = kubectl("get", "lease", "argosy-controller", "-o",
                          "jsonpath={.spec.leaseTransitions}").stdout
    assert transitions == "1"


def test_a_stopped_leader_releases_the_lease(controllers: Controllers,
                                             kubectl: Kubectl) -> None:
    controllers.start("a")
    wait_for(lambda: holder(kubectl) == "a", "controller a to lead")
    controllers.start("b")
    controllers.procs["a"].terminate()
    assert controllers.procs["a"].wait(timeout=30) == 0
    wait_for(lambda: holder(kubectl) == "b", "controller b to take over")
    apply(kubectl, STEPS)
    wait_phase(kubectl, "steps", "Succeeded")


def test_a_status_write_on_a_stale_object_reads_it_again(
        double: Double, kubectl: Kubectl, kubeconfig: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    custom = client.CustomObjectsApi(config.new_client_from_config(str(kubeconfig)))
    stale = custom.create_namespaced_custom_object(
        "argoproj.io", "v1alpha1", "default", "workflows",
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
         "metadata": {"name": "wf"}, "spec": {"entrypoint": "main"}})
    custom.patch_namespaced_custom_object("argoproj.io", "v1alpha1", "default", "workflows",
                                          "wf", {"metadata": {"labels": {"team": "data"}}})
    ctl = Controller(Store(tmp_path / "home"), identity="t", lease_namespace="default")
    assert ctl.write_status(stale, {"phase": "Running", "progress": "0/1"})
    fresh = custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "default",
                                                "workflows", "wf")
    assert fresh["status"] == {"phase": "Running", "progress": "0/1"}
    assert fresh["metadata"]["labels"] == {"team": "data"}  # the other writer's change stays
    puts = [q for m, p, q in double.requests if m == "PUT" and p.endswith("/wf/status")]
    assert len(puts) == 2  # 409 Conflict, then a write on the object read again


def test_pods_of_a_leader_that_died_before_writing_any_status_are_adopted(
        controllers: Controllers, kubectl: Kubectl, tmp_path: Path) -> None:
    controllers.start("a")
    apply(kubectl, blocking(tmp_path))
    running_pod(kubectl, "blocking")
    controllers.kill("a")
    # as if a had died between creating the pod and its first status write
    kubectl("patch", "workflow", "blocking", "--subresource=status", "--type=merge", "-p",
            '{"status":null}')
    assert "status" not in kubectl("get", "wf", "blocking", "-o", "json").stdout
    controllers.start("b")
    wait_for(lambda: (node(kubectl, "blocking", "first") or {}).get("phase") == "Running",
             "controller b to run the first step")
    (tmp_path / "go-1").touch()
    (tmp_path / "go-2").touch()
    wait_phase(kubectl, "blocking", "Succeeded")
    assert (tmp_path / "runs").read_text() == "1\n2\n"
