"""The kubernetes executor against the API server double: one real Pod per step.

Workflows run through the real ``argosy`` command with ``--executor kubernetes``; the double's
kubelet runs each pod's containers as host processes, and the real kubectl looks at them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from argosy.kube import NODE_NAME_ANNOTATION, WORKFLOW_LABEL
from argosy.plugins.kubernetes import Gone, PodWatch, _pause, _retryable, _WatchError
from tests.conftest import REPO, CliResult, run_cli
from tests.kube.conftest import Kubectl, pod_manifest, wait_for
from tests.kube.double import Double

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def double(tmp_path: Path) -> Iterator[Double]:
    """Containers get a file system of their own, as in a cluster: parallel steps writing one
    path must not meet."""
    with Double(root=tmp_path / "pods", bookmark_every=0.2) as server:
        yield server


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "argosy-home"


def argosy(home: Path, kubeconfig: Path, *args: str, stdin: str | None = None) -> CliResult:
    return run_cli(*args, home=home, stdin=stdin, env={"KUBECONFIG": str(kubeconfig)})


def run_k8s(home: Path, kubeconfig: Path, manifest: str, *extra: str) -> CliResult:
    return argosy(home, kubeconfig, "run", "--executor", "kubernetes", "-", "-o", "json",
                  *extra, stdin=textwrap.dedent(manifest))


def nodes_by_display(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in wf["status"]["nodes"].values()}


def pods_of(core: client.CoreV1Api, workflow: str) -> list[Any]:
    return core.list_namespaced_pod("default", label_selector=f"{WORKFLOW_LABEL}={workflow}").items


STEPS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: pods}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: hello, template: hello}
    - - name: add
        template: add
        arguments: {parameters: [{name: x, value: "{{steps.hello.outputs.parameters.word}}"}]}
  - name: hello
    container:
      image: alpine:3
      command: [sh, -c, "echo hello from a pod; printf 'first\\nsecond' > /tmp/word.txt"]
    outputs:
      parameters: [{name: word, valueFrom: {path: /tmp/word.txt}}]
  - name: add
    inputs: {parameters: [{name: x}]}
    script:
      image: python:3
      command: [python3]
      source: |
        print('''{{inputs.parameters.x}}'''.split()[-1], 40 + 2)
"""


@pytest.mark.cluster
def test_steps_run_as_pods_that_kubectl_lists_and_logs(
        home: Path, kubeconfig: Path, kubectl: Kubectl, core: client.CoreV1Api) -> None:
    done = run_k8s(home, kubeconfig, STEPS)
    assert done.code == 0, done.stderr
    wf = done.json()
    assert wf["status"]["phase"] == "Succeeded"
    nodes = nodes_by_display(wf)
    assert nodes["hello"]["outputs"]["parameters"][0]["value"] == "first\nsecond"
    assert nodes["hello"]["outputs"]["exitCode"] == "0"
    assert nodes["add"]["outputs"]["result"] == "second 42"

    listed = kubectl("get", "pods", "-l", f"{WORKFLOW_LABEL}=pods", "-o", "json")
    pods = {p["metadata"]["annotations"][NODE_NAME_ANNOTATION]: p
            for p in json.loads(listed.stdout)["items"]}
    assert set(pods) == {"pods[0].hello", "pods[1].add"}
    hello = pods["pods[0].hello"]
    assert hello["metadata"]["name"] == f"pods-hello-{nodes['hello']['id'].rsplit('-', 1)[-1]}"
    assert hello["status"]["phase"] == "Succeeded"
    logs = kubectl("logs", hello["metadata"]["name"], "-c", "main")
    assert logs.stdout == "hello from a pod\n"
    assert argosy(home, kubeconfig, "logs", "pods").stdout.count("hello from a pod") == 1


@pytest.mark.cluster
def test_a_failing_step_reports_its_exit_code(home: Path, kubeconfig: Path) -> None:
    done = run_k8s(home, kubeconfig, """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: fails}
        spec:
          entrypoint: main
          templates:
          - name: main
            container: {image: alpine, command: [sh, -c, "echo oops >&2; exit 3"]}
        """)
    assert done.code == 1
    root = done.json()["status"]["nodes"]["fails"]
    assert root["phase"] == "Failed"
    assert root["message"] == "Error (exit code 3)"
    assert root["outputs"]["exitCode"] == "3"


POD_SHAPE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: shaped}
spec:
  entrypoint: main
  serviceAccountName: workflow-sa
  imagePullSecrets: [{name: registry}]
  nodeSelector: {disk: ssd}
  podMetadata: {labels: {team: data}}
  podPriorityClassName: low
  volumes: [{name: scratch, emptyDir: {}}]
  volumeClaimTemplates:
  - metadata: {name: work}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
  templates:
  - name: main
    activeDeadlineSeconds: 600
    metadata: {annotations: {note: shaped}, labels: {tier: batch}}
    tolerations: [{key: dedicated, operator: Equal, value: argosy, effect: NoSchedule}]
    affinity:
      nodeAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
          nodeSelectorTerms: [{matchExpressions: [{key: disk, operator: In, values: [ssd]}]}]
    securityContext: {runAsNonRoot: false}
    priorityClassName: high
    podSpecPatch: '{"containers": [{"name": "main", "resources": {"limits": {"cpu": "1"}}}]}'
    initContainers:
    - {name: prepare, image: alpine, command: [sh, -c, "echo ready > /mnt/scratch/init"],
       volumeMounts: [{name: scratch, mountPath: /mnt/scratch}]}
    sidecars:
    - {name: side, image: alpine, command: [sh, -c, "sleep 300"]}
    container:
      image: alpine
      command: [sh, -c]
      args: ["cat /mnt/scratch/init; echo $FROM_MAP; echo kept > /mnt/work/f; cat /mnt/work/f"]
      resources: {requests: {memory: 16Mi}}
      env: [{name: FROM_MAP, valueFrom: {configMapKeyRef: {name: settings, key: colour}}}]
      volumeMounts: [{name: scratch, mountPath: /mnt/scratch}, {name: work, mountPath: /mnt/work}]
"""


def test_every_pod_shaping_field_reaches_the_pod(
        home: Path, kubeconfig: Path, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "settings"},
                                                  "data": {"colour": "green"}})
    done = run_k8s(home, kubeconfig, POD_SHAPE)
    assert done.code == 0, done.stderr
    assert done.json()["status"]["nodes"]["shaped"]["outputs"]["result"] == (
        "ready\ngreen\nkept")
    (pod,) = pods_of(core, "shaped")
    meta, spec = pod.metadata, pod.spec
    assert meta.name == "shaped"
    assert meta.labels == {WORKFLOW_LABEL: "shaped", "workflows.argoproj.io/completed": "false",
                           "team": "data", "tier": "batch"}
    assert meta.annotations["note"] == "shaped"
    assert meta.annotations[NODE_NAME_ANNOTATION] == "shaped"
    assert spec.service_account_name == "workflow-sa"
    assert [s.name for s in spec.image_pull_secrets] == ["registry"]
    assert spec.node_selector == {"disk": "ssd"}
    assert spec.tolerations[0].key == "dedicated"
    assert spec.affinity.node_affinity is not None
    assert spec.security_context.run_as_non_root is False
    assert spec.priority_class_name == "high"
    assert spec.active_deadline_seconds == 600
    main = spec.containers[0]
    assert main.name == "main"
    assert main.resources.requests == {"memory": "16Mi"}
    assert main.resources.limits == {"cpu": "1"}  # from podSpecPatch, merged by name
    assert [(c.name, c.restart_policy) for c in spec.init_containers] == [
        ("prepare", None), ("side", "Always")]  # a sidecar is a native sidecar
    claims = {v.name: v.persistent_volume_claim for v in spec.volumes}
    assert claims["work"].claim_name == "shaped-work"
    assert core.read_namespaced_persistent_volume_claim("shaped-work", "default")


def test_outputs_from_files_need_sh_in_the_image(home: Path, kubeconfig: Path,
                                                 image_without_sh: str) -> None:
    done = run_k8s(home, kubeconfig, """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: bare}
        spec:
          entrypoint: main
          templates:
          - name: main
            container: {image: "bare:1", command: [/bin/true]}
            outputs: {parameters: [{name: out, valueFrom: {path: /tmp/out}}]}
        """)
    assert done.code == 1
    message = done.json()["status"]["nodes"]["bare"]["message"]
    assert "bare:1 needs sh" in message and "output parameters from files" in message


@pytest.mark.cluster
def test_pod_gc_on_pod_completion_deletes_each_pod(
        home: Path, kubeconfig: Path, core: client.CoreV1Api) -> None:
    done = run_k8s(home, kubeconfig, STEPS.replace(
        "  entrypoint: main\n", "  entrypoint: main\n  podGC: {strategy: OnPodCompletion}\n"))
    assert done.code == 0, done.stderr
    assert pods_of(core, "pods") == []


@pytest.mark.cluster
def test_pod_gc_on_workflow_success_keeps_a_failed_workflows_pods(
        home: Path, kubeconfig: Path, core: client.CoreV1Api) -> None:
    manifest = """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: gc-NAME}
        spec:
          entrypoint: main
          podGC: {strategy: OnWorkflowSuccess}
          templates:
          - name: main
            container: {image: alpine, command: [sh, -c, "exit CODE"]}
        """
    ok = run_k8s(home, kubeconfig, manifest.replace("NAME", "ok").replace("CODE", "0"))
    failed = run_k8s(home, kubeconfig, manifest.replace("NAME", "failed").replace("CODE", "1"))
    assert (ok.code, failed.code) == (0, 1)
    assert pods_of(core, "gc-ok") == []
    assert len(pods_of(core, "gc-failed")) == 1


def test_lint_for_the_kubernetes_executor_accepts_pod_fields_the_local_one_rejects(
        home: Path, kubeconfig: Path) -> None:
    nfs = POD_SHAPE.replace("volumes: [{name: scratch, emptyDir: {}}]",
                            "volumes: [{name: scratch, nfs: {server: nas, path: /x}}]")
    assert nfs != POD_SHAPE
    local = argosy(home, kubeconfig, "run", "-", stdin=nfs)
    assert local.code == 2
    assert "by the local executor: it mounts emptyDir" in local.stderr
    unknown = argosy(home, kubeconfig, "run", "--executor", "nomad", "-", stdin=POD_SHAPE)
    assert unknown.code == 2
    assert "no executor named 'nomad'" in unknown.stderr
    selective = STEPS.replace("  entrypoint: main\n", "  entrypoint: main\n  podGC: {strategy: "
                              "OnPodSuccess, labelSelector: {matchLabels: {a: b}}}\n")
    rejected = argosy(home, kubeconfig, "run", "--executor", "kubernetes", "-", stdin=selective)
    assert rejected.code == 2
    assert "spec.podGC.labelSelector: labelSelector is not supported by the kubernetes " \
           "executor yet" in rejected.stderr


def test_the_executor_chosen_per_workflow_and_in_config(
        home: Path, kubeconfig: Path, core: client.CoreV1Api) -> None:
    annotated = STEPS.replace("metadata: {name: pods}", "metadata: {name: pods, annotations: "
                              "{argosy.io/executor: kubernetes}}")
    done = argosy(home, kubeconfig, "run", "-", "-o", "json", stdin=annotated)
    assert done.code == 0, done.stderr
    assert len(pods_of(core, "pods")) == 2
    home.joinpath("config.yaml").write_text("executor: kubernetes\n")
    done = argosy(home, kubeconfig, "run", "-", "-o", "json",
                  stdin=STEPS.replace("name: pods", "name: configured"))
    assert done.code == 0, done.stderr
    assert len(pods_of(core, "configured")) == 2


@pytest.mark.cluster
def test_stop_deletes_the_running_pod(
        home: Path, kubeconfig: Path, core: client.CoreV1Api) -> None:
    home.mkdir(parents=True)
    home.joinpath("config.yaml").write_text("executor: kubernetes\n")
    wf = textwrap.dedent("""
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: sleepy}
        spec:
          entrypoint: main
          templates:
          - name: main
            container: {image: alpine, command: [sh, -c, "echo started; sleep 300"]}
        """)
    assert argosy(home, kubeconfig, "submit", "-", stdin=wf).code == 0
    wait_for(lambda: any(p.status.phase == "Running" for p in pods_of(core, "sleepy")),
             "the pod to run")
    assert argosy(home, kubeconfig, "stop", "sleepy").code == 0
    waited = argosy(home, kubeconfig, "wait", "sleepy")
    assert "Failed" in waited.stdout, waited.stdout + waited.stderr
    wait_for(lambda: pods_of(core, "sleepy") == [], "the pod to be deleted")
    assert "started" in argosy(home, kubeconfig, "logs", "sleepy").stdout


def test_kill_9_of_the_engine_readopts_the_running_pod(
        home: Path, kubeconfig: Path, core: client.CoreV1Api) -> None:
    """No step runs twice: the restarted engine finds each pod by its name and adopts it."""
    shared = Path("/var/tmp") / f"argosy-kube-durable-{uuid.uuid4().hex}"
    shared.mkdir()
    counts = shared / "counts"
    wf = textwrap.dedent(f"""
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {{name: durable}}
        spec:
          entrypoint: main
          volumes: [{{name: shared, hostPath: {{path: {shared}, type: Directory}}}}]
          templates:
          - name: main
            steps:
            - - {{name: a, template: slow}}
            - - {{name: b, template: slow}}
          - name: slow
            container:
              image: alpine
              command: [sh, -c, "echo {{{{pod.name}}}} >> /shared/counts; sleep 2; echo done"]
              volumeMounts: [{{name: shared, mountPath: /shared}}]
        """)
    env = dict(os.environ, ARGOSY_HOME=str(home), KUBECONFIG=str(kubeconfig))
    engine = subprocess.Popen(
        [sys.executable, "-m", "argosy.cli", "run", "--executor", "kubernetes", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        text=True, start_new_session=True)
    engine.stdin.write(wf)
    engine.stdin.close()
    wait_for(lambda: any(p.status.phase == "Running" for p in pods_of(core, "durable")),
             "the first pod to run")
    os.killpg(engine.pid, signal.SIGKILL)
    engine.wait()
    time.sleep(0.5)
    waited = argosy(home, kubeconfig, "wait", "durable")
    assert "Succeeded" in waited.stdout, waited.stdout + waited.stderr
    ran = counts.read_text().split()
    shutil.rmtree(shared)
    assert len(ran) == 2 and len(set(ran)) == 2, ran
    assert len(pods_of(core, "durable")) == 2


def test_the_watch_resumes_lists_again_after_410_gone_and_backs_off(
        tmp_path: Path) -> None:
    """The watch resumes from the last resourceVersion; one the server no longer keeps (its
    window is 5 events here) is a 410, after which the pods are listed again."""
    small = Double(root=tmp_path / "small", window=5, bookmark_every=0.2)
    with small:
        api = client.CoreV1Api(config.new_client_from_config(
            str(small.write_kubeconfig(tmp_path / "small.kubeconfig"))))
        watch = PodWatch(api, "default")
        wait_for(watch.listed.is_set, "the first list")
        stale = api.list_namespaced_pod("default").metadata.resource_version
        for i in range(8):
            api.create_namespaced_pod("default", pod_manifest(f"p{i}", "true") | {
                "metadata": {"name": f"p{i}", "labels": {WORKFLOW_LABEL: "w"}}})
        wait_for(lambda: len(watch.pods) == 8, "the watch to see every pod")
        with pytest.raises(Gone):
            watch._watch(stale)
        watch.closed = True
    assert _pause(_WatchError(429, "slow down"), 1) <= 0.3
    busy = client.ApiException(status=429)
    busy.headers = {"Retry-After": "7"}
    assert _retryable(busy) and _pause(busy, 1) == 7.0
    assert not _retryable(client.ApiException(status=403))


@pytest.mark.cluster
def test_the_rbac_manifest_applies(kubectl: Kubectl) -> None:
    applied = kubectl("apply", "-f", str(REPO / "deploy" / "rbac.yaml"))
    assert "role.rbac.authorization.k8s.io/argosy-executor created" in applied.stdout
    role = json.loads(kubectl("get", "role", "argosy-executor", "-o", "json").stdout)
    verbs = {r["resources"][0]: set(r["verbs"]) for r in role["rules"]}
    assert {"create", "watch", "delete", "deletecollection"} <= verbs["pods"]
