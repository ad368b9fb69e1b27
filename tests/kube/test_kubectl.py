"""The real kubectl against the API server double (skipped where kubectl is not installed)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from tests.kube.conftest import Kubectl, pod_manifest

WIDGET_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Phase, type: string, jsonPath: .status.phase}
"""


def test_apply_get_logs_wait_delete_a_pod(kubectl: Kubectl) -> None:
    manifest = pod_manifest("hello", "echo hello from the pod")
    manifest["metadata"]["labels"] = {"app": "hello"}
    applied = kubectl("apply", "-f", "-", input=json.dumps(manifest))
    assert applied.stdout == "pod/hello created\n"
    kubectl("wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/hello", "--timeout=30s")
    listed = kubectl("get", "pods", "-l", "app=hello").stdout.splitlines()
    assert listed[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert listed[1].split()[:4] == ["hello", "0/1", "Completed", "0"]
    wide = kubectl("get", "pods", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[5:7] == ["IP", "NODE"]
    assert wide[1].split()[5:7] == ["127.0.0.1", "argosy-double"]
    assert kubectl("get", "pods", "-l", "app!=hello", check=False).stderr == \
        "No resources found in default namespace.\n"
    pod = yaml.safe_load(kubectl("get", "pod", "hello", "-o", "yaml").stdout)
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    exit_code = kubectl("get", "pod", "hello", "-o",
                        "jsonpath={.status.containerStatuses[0].state.terminated.reason}")
    assert exit_code.stdout == "Completed"
    assert kubectl("logs", "hello").stdout == "hello from the pod\n"
    assert kubectl("delete", "pod", "hello").stdout == 'pod "hello" deleted\n'
    assert "NotFound" in kubectl("get", "pod", "hello", check=False).stderr


def test_apply_again_patches_and_wait_for_a_condition(kubectl: Kubectl) -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                      "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                          {"name": "a", "image": "nginx:1"}, {"name": "b", "image": "redis:1"}]}}}}
    kubectl("apply", "-f", "-", input=json.dumps(deployment))
    deployment["spec"]["template"]["spec"]["containers"][1]["image"] = "redis:2"
    again = kubectl("apply", "-f", "-", input=json.dumps(deployment))
    assert again.stdout == "deployment.apps/web configured\n"
    images = kubectl("get", "deployment", "web", "-o",
                     "jsonpath={.spec.template.spec.containers[*].image}").stdout
    assert images == "nginx:1 redis:2"
    kubectl("patch", "deployment", "web", "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": {"conditions": [{"type": "Available", "status": "True"}]}}))
    waited = kubectl("wait", "--for=condition=Available", "deployment/web", "--timeout=10s")
    assert waited.stdout == "deployment.apps/web condition met\n"


def test_a_crd_and_its_custom_resources(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=WIDGET_CRD)
    widget = {"apiVersion": "example.com/v1", "kind": "Widget",
              "metadata": {"name": "w1", "labels": {"tier": "a"}}, "spec": {"size": 3}}
    assert kubectl("apply", "-f", "-", input=json.dumps(widget)).stdout == \
        "widget.example.com/w1 created\n"
    kubectl("patch", "widget", "w1", "--subresource=status", "--type=merge", "-p",
            '{"status": {"phase": "Ready"}}')
    rows = [line.split() for line in kubectl("get", "wd", "-l", "tier=a").stdout.splitlines()]
    assert rows == [["NAME", "SIZE", "PHASE"], ["w1", "3", "Ready"]]
    widget["spec"]["size"] = 4
    assert kubectl("apply", "-f", "-", input=json.dumps(widget)).stdout == \
        "widget.example.com/w1 configured\n"
    assert kubectl("get", "widget", "w1", "-o", "jsonpath={.spec.size} {.status.phase}"
                   ).stdout == "4 Ready"
    kubectl("wait", "--for=jsonpath={.status.phase}=Ready", "widgets/w1", "--timeout=10s")
    assert kubectl("delete", "widget", "w1").stdout == 'widget.example.com "w1" deleted\n'


def test_a_job_and_its_pod_log(kubectl: Kubectl) -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "count"},
           "spec": {"template": {"spec": pod_manifest("x", "seq 3")["spec"]}}}
    kubectl("apply", "-f", "-", input=json.dumps(job))
    kubectl("wait", "--for=condition=complete", "job/count", "--timeout=30s")
    assert kubectl("logs", "job/count").stdout == "1\n2\n3\n"
    kubectl("delete", "job", "count")
    assert kubectl("get", "pods", "-l", "job-name=count", check=False).stderr == \
        "No resources found in default namespace.\n"


def test_a_parallel_job_with_a_named_pod_template(kubectl: Kubectl) -> None:
    template = {"metadata": {"name": "rand"}, "spec": pod_manifest("x", "echo hi")["spec"]}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "par"},
           "spec": {"completions": 2, "parallelism": 2, "template": template}}
    kubectl("create", "-f", "-", input=json.dumps(job))
    kubectl("wait", "--for=condition=complete", "job/par", "--timeout=30s")
    assert kubectl("get", "job", "par", "-o", "jsonpath={.status.succeeded}").stdout == "2"
    names = kubectl("get", "pods", "-l", "job-name=par", "-o", "name").stdout.split()
    assert len(names) == 2 and all(n.startswith("pod/par-") for n in names)


def test_server_side_validation_rejects_a_bad_pod(kubectl: Kubectl) -> None:
    bad = pod_manifest("bad", "true")
    del bad["spec"]["containers"][0]["image"]
    failed = kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
    assert failed.returncode == 1
    assert 'Pod "bad" is invalid: spec.containers[0].image: Required value' in failed.stderr


def test_logs_follow(kubectl: Kubectl) -> None:
    pod = pod_manifest("talker", "echo a; sleep 0.5; echo b")
    kubectl("apply", "-f", "-", input=json.dumps(pod))
    assert kubectl("logs", "-f", "talker", "--pod-running-timeout=30s").stdout == "a\nb\n"


def test_apply_again_to_a_pod_and_a_forbidden_change(kubectl: Kubectl) -> None:
    pod = pod_manifest("again", "sleep 300")
    kubectl("apply", "-f", "-", input=json.dumps(pod))
    pod["metadata"]["labels"] = {"round": "two"}
    assert kubectl("apply", "-f", "-", input=json.dumps(pod)).stdout == "pod/again configured\n"
    assert kubectl("get", "pods", "-l", "round=two", "-o", "name").stdout == "pod/again\n"
    pod["spec"]["containers"][0]["command"] = ["sleep", "1"]
    refused = kubectl("apply", "-f", "-", input=json.dumps(pod), check=False)
    assert "pod updates may not change fields other than" in refused.stderr
    kubectl("delete", "pod", "again", "--grace-period=1")


def test_get_watch_prints_each_change_as_a_row(kubectl: Kubectl, tmp_path: Path) -> None:
    go = tmp_path / "go"  # seen by the pod through a hostPath volume
    pod = pod_manifest("watched", "while [ ! -e /signal/go ]; do sleep 0.05; done",
                       container={"volumeMounts": [{"name": "signal", "mountPath": "/signal"}]},
                       volumes=[{"name": "signal", "hostPath": {"path": str(tmp_path)}}])
    kubectl("apply", "-f", "-", input=json.dumps(pod))
    watcher = subprocess.Popen(kubectl.command("get", "pods", "--watch"), env=kubectl.env,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert watcher.stdout is not None
        assert watcher.stdout.readline().split()[:3] == ["NAME", "READY", "STATUS"]
        assert watcher.stdout.readline().split()[2] != "Completed"  # listed, still waiting
        go.touch()  # only a watch event can now tell kubectl that the pod completed
        while watcher.stdout.readline().split()[2] != "Completed":
            pass
    finally:
        watcher.kill()
        watcher.wait()


def test_rbac_objects_apply_and_every_request_is_allowed(kubectl: Kubectl) -> None:
    manifest = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: argosy}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: argosy}
rules: [{apiGroups: [""], resources: [pods, pods/log], verbs: [get, list, watch, create]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: argosy}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: argosy}
subjects: [{kind: ServiceAccount, name: argosy}]
"""
    assert kubectl("apply", "-f", "-", input=manifest).stdout.splitlines() == [
        "serviceaccount/argosy created", "role.rbac.authorization.k8s.io/argosy created",
        "rolebinding.rbac.authorization.k8s.io/argosy created"]
    assert kubectl("auth", "can-i", "create", "pods").stdout == "yes\n"
