"""`argosy controller` against the API server double, driven by the real kubectl: Argo
manifests applied unchanged run with one pod per step, and their status is written back in
Argo's shape."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import re
import socket
import sqlite3
import textwrap
from pathlib import Path

import httpx
import pytest
import yaml

from argosy.store import Store
from tests.cluster.conftest import Controllers, phase_of, wait_phase, workflow
from tests.conftest import REPO, run_cli
from tests.kube.conftest import Kubectl, wait_for
from tests.kube.double import Double

pytestmark = pytest.mark.timeout(180)

STEPS = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: steps
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: hello
        template: say
        arguments: {parameters: [{name: word, value: hello}]}
    - - name: world
        template: say
        arguments: {parameters: [{name: word, value: world}]}
  - name: say
    inputs:
      parameters: [{name: word}]
    container:
      image: busybox
      command: [sh, -c]
      args: ["echo {{inputs.parameters.word}}"]
"""


def apply(kubectl: Kubectl, manifest: str) -> str:
    return kubectl("apply", "-f", "-", input=textwrap.dedent(manifest)).stdout


def test_the_crds_serve_argos_kinds(kubectl: Kubectl) -> None:
    found = kubectl("api-resources", "--api-group", "argoproj.io", "-o", "wide").stdout
    rows = {line.split()[0]: line.split() for line in found.splitlines()[1:]}
    assert set(rows) == {"workflows", "workflowtemplates", "clusterworkflowtemplates",
                         "cronworkflows"}
    assert rows["workflows"][1] == "wf"
    assert "false" in rows["clusterworkflowtemplates"]  # not namespaced
    assert kubectl("get", "wf").stderr.strip() == "No resources found in default namespace."
    rbac = kubectl("apply", "-f", str(REPO / "deploy" / "controller-rbac.yaml")).stdout
    assert "clusterrole.rbac.authorization.k8s.io/argosy-controller created" in rbac


def test_the_deployment_applies_and_runs_as_the_rbacs_service_account(
        kubectl: Kubectl) -> None:
    deploy = REPO / "deploy"
    for path in deploy.glob("*.yaml"):  # each a list of whole objects
        assert all({"apiVersion", "kind", "metadata"} <= set(doc)
                   for doc in yaml.safe_load_all(path.read_text())), path
    applied = kubectl("apply", "-f", str(deploy / "controller-rbac.yaml"),
                      "-f", str(deploy / "controller.yaml")).stdout
    assert "deployment.apps/argosy-controller created" in applied
    made = json.loads(kubectl("get", "deployment", "argosy-controller", "-n", "argo",
                              "-o", "json").stdout)
    pod = made["spec"]["template"]["spec"]
    rbac = yaml.safe_load_all((deploy / "controller-rbac.yaml").read_text())
    account = next(o["metadata"]["name"] for o in rbac if o["kind"] == "ServiceAccount")
    assert pod["serviceAccountName"] == account
    (container,) = pod["containers"]
    containerfile = (deploy / "Containerfile").read_text()
    assert 'ENTRYPOINT ["argosy"]' in containerfile and container["args"] == ["controller"]


def test_kubectl_apply_runs_an_argo_manifest(controller: Controllers, kubectl: Kubectl) -> None:
    assert apply(kubectl, STEPS) == "workflow.argoproj.io/steps created\n"
    wait_phase(kubectl, "steps", "Succeeded")
    table = kubectl("get", "workflows").stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "AGE", "PROGRESS", "MESSAGE"]
    assert table[1].split()[:2] == ["steps", "Succeeded"]
    assert re.fullmatch(r"(\d+[smh])+", table[1].split()[2])  # AGE, as kubectl writes one
    assert table[1].split()[3] == "2/2"
    wf = workflow(kubectl, "steps")
    status = wf["status"]
    assert {"phase", "startedAt", "finishedAt", "progress", "nodes"} <= set(status)
    by_name = {n["displayName"]: n for n in status["nodes"].values()}
    assert by_name["steps"]["type"] == "Steps"
    assert by_name["hello"]["outputs"]["result"] == "hello"
    assert by_name["world"]["outputs"]["result"] == "world"
    assert by_name["hello"]["phase"] == "Succeeded" and by_name["hello"]["type"] == "Pod"
    # -o yaml shows the same, as Argo's shape
    assert "    phase: Succeeded\n" in kubectl("get", "workflow", "steps", "-o", "yaml").stdout
    pods = json.loads(kubectl("get", "pods", "-l", "workflows.argoproj.io/workflow=steps",
                              "-o", "json").stdout)["items"]
    assert len(pods) == 2
    for pod in pods:
        assert pod["metadata"]["ownerReferences"] == [{
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": "steps",
            "uid": wf["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    # Bounded memory: the finished workflow leaves the controller's cache; the object stays.
    wait_for(lambda: cached(controller, "a") == [], "the controller to let the workflow go")
    assert phase_of(kubectl, "steps") == "Succeeded"


def cached(controllers: Controllers, identity: str) -> list[str]:
    """The names of the workflows a controller's store holds."""
    with contextlib.closing(sqlite3.connect(controllers.home(identity) / "argosy.db")) as db:
        return [name for (name,) in db.execute("SELECT name FROM workflows")]


def test_an_invalid_manifest_fails_saying_why(controller: Controllers,
                                              kubectl: Kubectl) -> None:
    apply(kubectl, STEPS.replace("entrypoint: main", "entrypoint: nope"))
    wait_phase(kubectl, "steps", "Failed")
    assert workflow(kubectl, "steps")["status"]["message"] == \
        'invalid spec: spec.entrypoint: unknown template "nope"'


BLOCKING = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: blocking
spec:
  entrypoint: main
  volumes: [{name: shared, hostPath: {path: DIR}}]
  templates:
  - name: main
    steps:
    - - name: first
        template: step
        arguments: {parameters: [{name: num, value: "1"}]}
    - - name: second
        template: step
        arguments: {parameters: [{name: num, value: "2"}]}
  - name: step
    inputs:
      parameters: [{name: num}]
    container:
      image: busybox
      command: [sh, -c]
      volumeMounts: [{name: shared, mountPath: /shared}]
      args:
      - |
        echo {{inputs.parameters.num}} >> /shared/runs
        while [ ! -e /shared/go-{{inputs.parameters.num}} ]; do sleep 0.05; done
"""


def blocking(tmp_path: Path, *, suspended: bool = False) -> str:
    manifest = BLOCKING.replace("DIR", str(tmp_path))
    return manifest.replace("  entrypoint: main\n", "  entrypoint: main\n  suspend: true\n") \
        if suspended else manifest


def pods(kubectl: Kubectl, name: str) -> list[dict]:
    return json.loads(kubectl("get", "pods", "-l", f"workflows.argoproj.io/workflow={name}",
                              "-o", "json").stdout)["items"]


def running_pod(kubectl: Kubectl, name: str, count: int = 1) -> list[dict]:
    return wait_for(lambda: (found := [p for p in pods(kubectl, name)
                                       if p["status"].get("phase") == "Running"])
                    and len(found) >= count and found, f"{count} running pod(s) of {name}")


def test_kubectl_delete_stops_the_workflow_and_its_pods_go(
        controller: Controllers, kubectl: Kubectl, tmp_path: Path) -> None:
    apply(kubectl, blocking(tmp_path))
    running_pod(kubectl, "blocking")
    kubectl("delete", "workflow", "blocking")
    wait_for(lambda: not pods(kubectl, "blocking"), "the workflow's pods to go")
    assert (tmp_path / "runs").read_text() == "1\n"
    # the controller forgot it: a new workflow of the same name runs from the start
    apply(kubectl, blocking(tmp_path))
    wait_for(lambda: (tmp_path / "runs").read_text() == "1\n1\n", "the new workflow's step")


def node(kubectl: Kubectl, name: str, display: str) -> dict | None:
    nodes = (workflow(kubectl, name).get("status") or {}).get("nodes") or {}
    return next((n for n in nodes.values() if n["displayName"] == display), None)


def test_suspend_and_resume_through_kubectl_patch(controller: Controllers, kubectl: Kubectl,
                                                  tmp_path: Path) -> None:
    apply(kubectl, blocking(tmp_path, suspended=True))
    wait_phase(kubectl, "blocking", "Running")
    assert not (tmp_path / "runs").exists()  # suspended from the start: no step runs
    kubectl("patch", "workflow", "blocking", "--type", "merge", "-p",
            '{"spec":{"suspend":null}}')
    running_pod(kubectl, "blocking")
    kubectl("patch", "workflow", "blocking", "--type", "merge", "-p",
            '{"spec":{"suspend":true}}')
    engine_state = Store(controller.home("a"))
    wait_for(lambda: engine_state.find("default", "blocking").manifest["spec"].get("suspend"),
             "the controller's engine to suspend the workflow")
    (tmp_path / "go-1").touch()
    wait_for(lambda: (node(kubectl, "blocking", "first") or {}).get("phase") == "Succeeded",
             "the first step to succeed")
    assert node(kubectl, "blocking", "second") is None  # suspended: not started
    kubectl("patch", "workflow", "blocking", "--type", "merge", "-p",
            '{"spec":{"suspend":false}}')
    (tmp_path / "go-2").touch()
    wait_phase(kubectl, "blocking", "Succeeded")
    assert (tmp_path / "runs").read_text() == "1\n2\n"


APPROVAL = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: approval-
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: approve
        template: approve
    - - name: after
        template: say
  - name: approve
    suspend: {}
  - name: say
    container: {image: busybox, command: [sh, -c, "echo approved"]}
"""


def test_argosy_verbs_against_the_cluster(controller: Controllers, kubectl: Kubectl,
                                          kubeconfig: Path, tmp_path: Path) -> None:
    env = {"KUBECONFIG": str(kubeconfig), "ARGOSY_STORE": "kubernetes"}
    home = tmp_path / "cli-home"
    submitted = run_cli("submit", "-", "-o", "name", home=home, env=env, stdin=APPROVAL)
    assert submitted.code == 0, submitted.stderr
    name = submitted.stdout.strip()
    assert name.startswith("approval-")
    wait_for(lambda: node(kubectl, name, "approve"), "the suspend node")
    assert phase_of(kubectl, name) == "Running"
    resumed = run_cli("resume", name, home=home, env=env)
    assert (resumed.code, resumed.stdout) == (0, f"workflow {name} resumed\n")
    wait_phase(kubectl, name, "Succeeded")
    got = run_cli("get", name, "-o", "json", home=home, env=env).json()
    assert got["status"]["phase"] == "Succeeded"
    listed = run_cli("list", home=home, env=env)
    assert listed.stdout.splitlines()[1].split()[:2] == [name, "Succeeded"]
    logs = run_cli("logs", name, home=home, env=env)
    assert logs.code == 0, logs.stderr
    (line,) = logs.stdout.splitlines()
    assert line.startswith(f"{name}-say-") and line.endswith(": approved")
    refused = {"resubmit": [name], "node set": [
        name, "--message", "m", "--node-field-selector", "name=x"]}
    for verb, args in refused.items():
        unsupported = run_cli(*verb.split(), *args, home=home, env=env)
        assert unsupported.code == 2
        assert f"argosy {verb} is not available with --store kubernetes" in unsupported.stderr
    assert not (home / "argosy.db").exists()  # nothing local


FLAKY = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: flaky
spec:
  entrypoint: main
  arguments:
    parameters: [{name: fail, value: "yes"}]
  templates:
  - name: main
    steps:
    - - name: good
        template: say
    - - name: check
        template: check
  - name: say
    container: {image: busybox, command: [sh, -c, "echo good"]}
  - name: check
    container:
      image: busybox
      command: [sh, -c]
      args: ["echo fail={{workflow.parameters.fail}}; test {{workflow.parameters.fail}} = no"]
"""


def test_argosy_retry_and_logs_against_the_cluster(controller: Controllers, kubectl: Kubectl,
                                                   kubeconfig: Path, tmp_path: Path) -> None:
    env = {"KUBECONFIG": str(kubeconfig), "ARGOSY_STORE": "kubernetes"}
    home = tmp_path / "cli-home"
    apply(kubectl, FLAKY)
    wait_phase(kubectl, "flaky", "Failed")
    before = {n["displayName"]: n for n in workflow(kubectl, "flaky")["status"]["nodes"].values()}
    logs = run_cli("logs", "flaky", "--node", "check", home=home, env=env)
    assert logs.code == 0, logs.stderr
    assert [line.split(": ", 1)[1] for line in logs.stdout.splitlines()] == ["fail=yes"]
    retried = run_cli("retry", "flaky", "-p", "fail=no", home=home, env=env)
    assert retried.code == 0, retried.stderr
    wait_phase(kubectl, "flaky", "Succeeded")
    wf = workflow(kubectl, "flaky")
    assert wf["spec"]["arguments"]["parameters"] == [{"name": "fail", "value": "no"}]
    assert "argosy.io/retry" not in wf["metadata"].get("annotations", {})
    after = {n["displayName"]: n for n in wf["status"]["nodes"].values()}
    assert after["good"]["startedAt"] == before["good"]["startedAt"]  # not run again
    logs = run_cli("logs", "flaky", "--node", "check", home=home, env=env)
    assert logs.stdout.splitlines()[-1].endswith(": fail=no")
    running = run_cli("retry", "flaky", home=home, env=env)
    assert running.code == 2
    assert "must be Failed/Error to retry, it is Succeeded" in running.stderr


def skipped_fanout(name: str, count: int) -> str:
    return textwrap.dedent(f"""\
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata:
          name: {name}
        spec:
          entrypoint: main
          templates:
          - name: main
            steps:
            - - name: step
                template: say
                withSequence: {{count: "{count}"}}
                when: "{{{{item}}}} < 0"
          - name: say
            container: {{image: busybox, command: [sh, -c, "echo hi"]}}
        """)


def status_writes(double: Double, name: str) -> int:
    return sum(1 for method, path, _ in double.requests
               if method == "PUT" and path.endswith(f"/workflows/{name}/status"))


def test_status_writes_are_batched(controller: Controllers, kubectl: Kubectl,
                                   double: Double) -> None:
    apply(kubectl, skipped_fanout("fanout", 300))
    wait_phase(kubectl, "fanout", "Succeeded")
    assert len(workflow(kubectl, "fanout")["status"]["nodes"]) == 302
    # 300 nodes created and finished: a few writes, not one per transition
    assert 1 <= status_writes(double, "fanout") <= 30


def test_ten_thousand_nodes_stay_under_a_mebibyte(controller: Controllers, kubectl: Kubectl,
                                                  kubeconfig: Path, tmp_path: Path) -> None:
    apply(kubectl, skipped_fanout("big", 10_000))
    wait_phase(kubectl, "big", "Succeeded", timeout=150)
    raw = kubectl("get", "workflow", "big", "-o", "json").stdout
    assert len(raw.encode()) < 1 << 20
    status = json.loads(raw)["status"]
    assert "nodes" not in status
    nodes = json.loads(gzip.decompress(base64.b64decode(status["compressedNodes"])))
    assert len(nodes) == 10_002
    assert sum(1 for n in nodes.values() if n["type"] == "Skipped") == 10_000
    assert kubectl("get", "wf", "big").stdout.splitlines()[1].split()[1] == "Succeeded"
    got = run_cli("get", "big", "-o", "json", home=tmp_path / "cli", env={
        "KUBECONFIG": str(kubeconfig), "ARGOSY_STORE": "kubernetes"}).json()
    assert len(got["status"]["nodes"]) == 10_002


def test_a_workflow_deleted_while_no_controller_ran_leaves_its_name_free(
        controllers: Controllers, kubectl: Kubectl) -> None:
    controllers.start("a")
    apply(kubectl, STEPS)
    wait_phase(kubectl, "steps", "Succeeded")
    controllers.stop()
    kubectl("delete", "workflow", "steps")
    apply(kubectl, STEPS.replace("value: world", "value: again"))
    controllers.start("a")  # its store still holds the first "steps"
    wait_phase(kubectl, "steps", "Succeeded")
    assert node(kubectl, "steps", "world")["outputs"]["result"] == "again"


def test_ttl_strategy_deletes_the_object(controller: Controllers, kubectl: Kubectl) -> None:
    ttl = "  entrypoint: main\n  ttlStrategy: {secondsAfterCompletion: 1}\n"
    apply(kubectl, STEPS.replace("  entrypoint: main\n", ttl))
    wait_for(lambda: kubectl("get", "wf", "steps", check=False).returncode == 1,
             "the workflow to go once its ttlStrategy ran out")
    assert "NotFound" in kubectl("get", "wf", "steps", check=False).stderr


TEMPLATES = """\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: greet
spec:
  entrypoint: main
  arguments:
    parameters: [{name: who, value: namespace}]
  templates:
  - name: main
    inputs:
      parameters: [{name: who}]
    container: {image: busybox, command: [sh, -c, "echo hello {{inputs.parameters.who}}"]}
---
apiVersion: argoproj.io/v1alpha1
kind: ClusterWorkflowTemplate
metadata:
  name: shout
spec:
  templates:
  - name: shout
    container: {image: busybox, command: [sh, -c, "echo HELLO"]}
"""

REFERRING = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: referring
spec:
  workflowTemplateRef: {name: greet}
  arguments:
    parameters: [{name: who, value: cluster}]
---
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: shouting
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: shout
        templateRef: {name: shout, template: shout, clusterScope: true}
"""


def test_references_resolve_against_the_clusters_templates(controller: Controllers,
                                                           kubectl: Kubectl) -> None:
    apply(kubectl, TEMPLATES)
    apply(kubectl, REFERRING)
    wait_phase(kubectl, "referring", "Succeeded")
    assert node(kubectl, "referring", "referring")["outputs"]["result"] == "hello cluster"
    wait_phase(kubectl, "shouting", "Succeeded")
    assert node(kubectl, "shouting", "shout")["outputs"]["result"] == "HELLO"
    kubectl("delete", "clusterworkflowtemplate", "shout")
    apply(kubectl, REFERRING.split("---\n")[1].replace("name: shouting", "name: again"))
    wait_phase(kubectl, "again", "Failed")
    assert 'ClusterWorkflowTemplate "shout" not found' in \
        workflow(kubectl, "again")["status"]["message"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    except httpx.ConnectError:
        return {}  # not listening yet
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_say_phases_api_calls_and_who_leads(controllers: Controllers,
                                                    kubectl: Kubectl) -> None:
    ports = {"a": free_port(), "b": free_port()}
    controllers.start("a", "--metrics-port", str(ports["a"]), "--metrics-host", "127.0.0.1")
    apply(kubectl, STEPS)
    wait_phase(kubectl, "steps", "Succeeded")
    controllers.start("b", "--metrics-port", str(ports["b"]), "--metrics-host", "127.0.0.1")
    leader = wait_for(lambda: (m := scrape(ports["a"])).get(("argosy_workflows", (
        ("phase", "Succeeded"),))) == 1 and m, "the leader's metrics to count the workflow")
    assert leader[("argosy_leader", ())] == 1
    assert leader[("argosy_workflows", (("phase", "Running"),))] == 0
    assert leader[("argosy_queue_depth", ())] >= 0
    assert leader[("argosy_k8s_requests_total", (("code", "200"), ("method", "PUT")))] >= 1
    standby = wait_for(lambda: scrape(ports["b"]), "the standby's metrics")
    assert standby[("argosy_leader", ())] == 0
