"""Artifacts with the kubernetes executor and an S3 repository, against the API server double
and a real S3-protocol server: the pod has no hostPath; Argo's ``init`` and ``wait``
containers (argosy.artifact_agent, here run from this interpreter's environment as the
double's kubelet runs each container on this host) move the files to and from the bucket
with the credentials the kubelet fills in from the repository's Secret."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.artifacts.flows import check_flow, flow
from tests.artifacts.s3server import client as s3_client
from tests.artifacts.s3server import s3_server
from tests.artifacts.test_artifacts import web  # noqa: F401  (a fixture)
from tests.artifacts.test_s3 import get, secret, untar
from tests.conftest import run_cli
from tests.kube.test_artifacts import run_k8s

pytest.importorskip("boto3")
pytest.importorskip("moto.server")
pytestmark = pytest.mark.timeout(240)

SECRET = "my-s3-credentials"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with s3_server() as where:
        yield where


@pytest.fixture
def home(tmp_path: Path, endpoint: str, core: client.CoreV1Api,
         monkeypatch: pytest.MonkeyPatch) -> Path:
    """An argosy home whose repository is a bucket of the server, its credentials a Secret
    both argosy and the cluster hold; ``python3`` in the pods is this interpreter's."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    home = tmp_path / "argosy-home"
    home.mkdir()
    secret(home)
    core.create_namespaced_secret("default", {
        "metadata": {"name": SECRET},
        "stringData": {"accessKey": "AKIDEXAMPLE", "secretKey": "s3cr3t"}})
    s3_client(endpoint).create_bucket(Bucket="pods")
    configure(home, endpoint, "pods")
    return home


def configure(home: Path, endpoint: str, bucket: str) -> None:
    (home / "config.yaml").write_text(textwrap.dedent(f"""\
        artifactRepository:
          s3:
            endpoint: "{endpoint}"
            bucket: {bucket}
            insecure: true
            accessKeySecret: {{name: {SECRET}, key: accessKey}}
            secretKeySecret: {{name: {SECRET}, key: secretKey}}
        """))


def pods(core: client.CoreV1Api, workflow: str) -> list[dict[str, Any]]:
    listed = core.list_namespaced_pod(
        "default", label_selector=f"workflows.argoproj.io/workflow={workflow}")
    return [core.api_client.sanitize_for_serialization(p) for p in listed.items]


def check_pods_move_artifacts_through_s3(core: client.CoreV1Api, workflow: str) -> None:
    """Every pod of the workflow: no hostPath, the node's directory an emptyDir, argosy's
    init and wait containers with the credentials from the Secret."""
    found = pods(core, workflow)
    assert found
    for pod in found:
        spec = pod["spec"]
        assert not [v for v in spec.get("volumes") or [] if "hostPath" in v]
        assert {"name": "argosy-node", "emptyDir": {}} in spec["volumes"]
        init = spec["initContainers"][0]
        assert init["name"] == "init"
        assert init["command"][:3] == ["python3", "-m", "argosy.artifact_agent"]
        refs = [e["valueFrom"]["secretKeyRef"] for e in init["env"] if e.get("valueFrom")]
        assert {"name": SECRET, "key": "accessKey"} in refs
        # A wait container where there are outputs to upload.
        main = next(c for c in spec["containers"] if c["name"] == "main")
        outputs = any(e["name"] == "ARGOSY_ARTIFACTS" and e.get("value") for e in main["env"])
        waits = [c for c in spec["containers"] if c["name"] == "wait"]
        assert len(waits) == outputs and all(c["env"][:-1] == init["env"][:-1] for c in waits)


def test_artifacts_pass_between_pods_through_the_bucket(home: Path, kubeconfig: Path,
                                                        core: client.CoreV1Api,
                                                        endpoint: str) -> None:
    done = run_k8s(home, kubeconfig, flow("s3flow"))
    assert done.code == 0, done.stderr
    wf = done.json()
    check_flow(wf, lambda key: {"s3": {"endpoint": endpoint, "bucket": "pods", "insecure": True,
                                       "key": key}})
    gen = next(n for n in wf["status"]["nodes"].values() if n["displayName"] == "gen")
    pod = f"s3flow-gen-{gen['id'].rsplit('-', 1)[-1]}"
    s3 = s3_client(endpoint)
    assert untar(get(s3, "pods", f"s3flow/{pod}/file.tgz")) == {"f": b"hi\n"}
    assert get(s3, "pods", f"s3flow/{pod}/d/sub/x") == b"one\n"
    check_pods_move_artifacts_through_s3(core, "s3flow")


LOOP = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: s3loop}
spec:
  entrypoint: main
  archiveLogs: true
  templates:
  - name: main
    steps:
    - - name: make
        template: make
        arguments: {parameters: [{name: letter, value: "{{item}}"}]}
        withItems: [a, b, c]
    - - name: read
        template: read
        arguments: {parameters: [{name: letter, value: "{{item}}"}]}
        withItems: [a, b, c]
  - name: make
    inputs: {parameters: [{name: letter}]}
    container:
      image: busybox
      command: [sh, -c, "echo item {{inputs.parameters.letter}} > /tmp/o"]
    outputs:
      artifacts:
      - name: o
        path: /tmp/o
        archive: {none: {}}
        s3: {key: "loop/{{inputs.parameters.letter}}"}
  - name: read
    inputs:
      parameters: [{name: letter}]
      artifacts:
      - {name: i, path: /tmp/i, s3: {key: "loop/{{inputs.parameters.letter}}"}}
      - {name: web, path: /tmp/web, http: {url: "WEB/bundle.tgz"}}
      - {name: raw, path: /tmp/raw, raw: {data: " $(HOSTNAME)"}}
    container: {image: busybox, command: [cat, /tmp/i, /tmp/web, /tmp/raw]}
"""


def test_a_loop_of_artifacts_goes_through_the_bucket(home: Path, kubeconfig: Path,
                                                     core: client.CoreV1Api, endpoint: str,
                                                     web: str) -> None:  # noqa: F811
    """Keyed artifacts of a loop, with an http and a raw input fetched in each pod."""
    done = run_k8s(home, kubeconfig, LOOP.replace("WEB", web))
    assert done.code == 0, done.stderr
    wf = done.json()
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    results = sorted(n["outputs"]["result"] for n in wf["status"]["nodes"].values()
                     if n.get("templateName") == "read" and n["type"] == "Pod")
    # The plan reaches the pods as written: the kubelet expands no $(VAR) in it.
    assert results == [f"item {n}\nserved\n $(HOSTNAME)" for n in "abc"]
    s3 = s3_client(endpoint)
    assert [get(s3, "pods", f"loop/{n}") for n in "abc"] == [b"item a\n", b"item b\n",
                                                            b"item c\n"]
    # The logs, read through the API server, are archived by the engine.
    logs = [k["Key"] for k in s3.list_objects_v2(Bucket="pods", Prefix="s3loop/")["Contents"]]
    assert len([k for k in logs if k.endswith("/main.log")]) == 6
    check_pods_move_artifacts_through_s3(core, "s3loop")


def test_an_upload_that_fails_is_the_nodes_message(home: Path, kubeconfig: Path,
                                                   core: client.CoreV1Api,
                                                   endpoint: str) -> None:
    configure(home, endpoint, "no-such-bucket")
    done = run_k8s(home, kubeconfig, """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: noupload}
        spec:
          entrypoint: main
          templates:
          - name: main
            container: {image: busybox, command: [sh, -c, "echo x > /tmp/a"]}
            outputs: {artifacts: [{name: a, path: /tmp/a}]}
        """)
    assert done.code == 1
    node = done.json()["status"]["nodes"]["noupload"]
    assert node["phase"] == "Error"
    assert node["message"].startswith('failed to save outputs: artifact "a": '
                                      "s3://no-such-bucket/noupload/noupload/a.tgz at ")
    assert node["message"].endswith("The specified bucket does not exist")
    check_pods_move_artifacts_through_s3(core, "noupload")  # the wait container said so
    # A main container that failed says so first: its outputs are not expected then.
    failed = run_k8s(home, kubeconfig, """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: mainfails}
        spec:
          entrypoint: main
          templates:
          - name: main
            container: {image: busybox, command: [sh, -c, "echo x > /tmp/a; exit 3"]}
            outputs: {artifacts: [{name: a, path: /tmp/a}]}
        """).json()["status"]["nodes"]["mainfails"]
    assert (failed["phase"], failed["message"]) == ("Failed", "Error (exit code 3)")


def test_an_input_that_cannot_be_fetched_fails_the_init_container(
        home: Path, kubeconfig: Path) -> None:
    done = run_k8s(home, kubeconfig, """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: noinput}
        spec:
          entrypoint: main
          templates:
          - name: main
            inputs: {artifacts: [{name: i, path: /tmp/i, s3: {key: absent/key}}]}
            container: {image: busybox, command: [cat, /tmp/i]}
        """)
    assert done.code == 1
    node = done.json()["status"]["nodes"]["noinput"]
    assert node["phase"] in ("Error", "Failed")
    assert node["message"].startswith('init container "init" failed: artifact "i": '
                                      "s3://pods/absent/key at ")
    assert "the specified key does not exist" in node["message"]


def test_an_agent_that_fails_unforeseen_tells_the_node_why(home: Path,
                                                          kubeconfig: Path) -> None:
    """The agents' termination message falls back to their log's end (a traceback)."""
    done = run_k8s(home, kubeconfig, """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: agentfails}
        spec:
          entrypoint: main
          templates:
          - name: main
            podSpecPatch: |
              initContainers:
              - name: init
                command: [python3, -c, "raise SystemExit('boom in the agent')"]
            inputs: {artifacts: [{name: i, path: /tmp/i, raw: {data: x}}]}
            container: {image: busybox, command: [cat, /tmp/i]}
        """)
    assert done.code == 1
    node = done.json()["status"]["nodes"]["agentfails"]
    assert node["message"] == 'init container "init" failed: boom in the agent (exit code 1)'


def test_a_wrapper_killed_before_its_done_marker_does_not_leave_the_wait_container_waiting(
        home: Path, kubeconfig: Path) -> None:
    """The wait container sees the wrapper's FIFO closed without a done-marker: the node ends
    with main's own reason instead of waiting forever. (The command kills the lowest process
    running the wrapper's script: the wrapper, not one of its subshells.)"""
    done = run_cli("run", "--executor", "kubernetes", "-", "-o", "json", home=home,
                   timeout=150, env={"KUBECONFIG": str(kubeconfig)}, stdin=textwrap.dedent("""
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: killed}
        spec:
          entrypoint: main
          templates:
          - name: main
            container:
              image: busybox
              command:
              - sh
              - -c
              - |
                echo x > /tmp/a
                for p in /proc/[0-9]*; do
                  grep -qa d=/var/run/argo $p/cmdline 2>/dev/null && echo ${p#/proc/}
                done | sort -n | head -1 | xargs kill -9
            outputs: {artifacts: [{name: a, path: /tmp/a}]}
        """))
    assert done.code == 1, done.stderr
    node = done.json()["status"]["nodes"]["killed"]
    assert (node["phase"], node["message"]) == ("Failed", "Error (exit code 137)")


def test_a_main_container_that_cannot_start_does_not_leave_the_wait_container_waiting(
        home: Path, kubeconfig: Path, core: client.CoreV1Api, image_without_sh: str) -> None:
    """The wait container waits for main's done-marker; an image without sh never writes
    one: the node says why, and the pod, which would run on, is deleted."""
    done = run_k8s(home, kubeconfig, """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: nosh}
        spec:
          entrypoint: main
          templates:
          - name: main
            container: {image: "bare:1", command: [/bin/true]}
            outputs: {artifacts: [{name: a, path: /tmp/a}]}
        """)
    assert done.code == 1
    message = done.json()["status"]["nodes"]["nosh"]["message"]
    assert "bare:1 needs sh" in message and "artifacts" in message
    assert pods(core, "nosh") == []


def test_the_local_repository_keeps_the_hostpath(tmp_path: Path) -> None:
    """Without a plan (the default local repository), the pod is as before: no agents."""
    from argosy.plugin import ProcessRequest
    from argosy.plugins.kubernetes import build_pod

    request = ProcessRequest(
        argv=[], env={}, working_dir=None, node_dir=tmp_path, image="busybox",
        template={"container": {"image": "busybox", "command": ["true"]},
                  "outputs": {"artifacts": [{"name": "a", "path": "/tmp/a"}]}},
        workflow={"metadata": {"name": "w", "namespace": "default", "uid": "u"}, "spec": {}},
        node={"id": "w-1", "name": "w"})
    pod = build_pod(request, "token")
    assert [c["name"] for c in pod["spec"]["containers"]] == ["main"]
    assert "initContainers" not in pod["spec"]
    assert any("hostPath" in v for v in pod["spec"]["volumes"])


def test_the_agents_run_the_controllers_own_image(kubeconfig: Path, core: client.CoreV1Api,
                                                  tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """In a Pod (a service account's namespace file, HOSTNAME its name) the init and wait
    containers get that Pod's image; $ARGOSY_EXECUTOR_IMAGE overrides it."""
    from argosy import kube
    from argosy.plugins.kubernetes import DEFAULT_IMAGE, IMAGE_ENV, KubernetesExecutor

    core.create_namespaced_pod("default", {"metadata": {"name": "argosy-controller-1"}, "spec": {
        "containers": [{"name": "controller", "image": "registry.example/argosy:7",
                        "command": ["sleep", "60"]}]}})
    (tmp_path / "sa").mkdir()
    (tmp_path / "sa" / "namespace").write_text("default\n")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv(IMAGE_ENV, raising=False)
    executor = KubernetesExecutor()
    assert asyncio.run(executor.agent_image(executor.core())) == DEFAULT_IMAGE  # not in a Pod
    monkeypatch.setattr(kube, "SERVICE_ACCOUNT_DIR", tmp_path / "sa")
    monkeypatch.setenv("HOSTNAME", "argosy-controller-1")
    executor = KubernetesExecutor()
    assert asyncio.run(executor.agent_image(executor.core())) == "registry.example/argosy:7"
    monkeypatch.setenv(IMAGE_ENV, "mine:1")
    assert asyncio.run(executor.agent_image(executor.core())) == "mine:1"
    core.delete_namespaced_pod("argosy-controller-1", "default", grace_period_seconds=0)


def test_a_credential_given_as_a_value_is_refused_for_a_pod(tmp_path: Path) -> None:
    """The plan reaches the pod in its spec: credentials only as Secret references."""
    from argosy.plugin import ArgosyError, ProcessRequest
    from argosy.plugins.kubernetes import build_pod

    def request(secret: Any) -> ProcessRequest:
        repository = {"s3": {"bucket": "b", "key": "k", "accessKeySecret": secret}}
        return ProcessRequest(
            argv=[], env={}, working_dir=None, node_dir=tmp_path, image="busybox",
            template={"container": {"image": "busybox", "command": ["true"]},
                      "outputs": {"artifacts": [{"name": "a", "path": "/tmp/a"}]}},
            workflow={"metadata": {"name": "w", "namespace": "default", "uid": "u"},
                      "spec": {}},
            node={"id": "w-1", "name": "w"}, artifact_plan={"inputs": [], "outputs": [
                {"name": "a", "path": "/tmp/a", "repository": repository,
                 "location": {"s3": {"bucket": "b", "key": "k"}}}]})

    with pytest.raises(ArgosyError, match=r"s3\.accessKeySecret is given as a value"):
        build_pod(request("AKIDEXAMPLE"), "token")
    pod = build_pod(request({"name": "creds", "key": "id"}), "token")
    wait = next(c for c in pod["spec"]["containers"] if c["name"] == "wait")
    assert "AKIDEXAMPLE" not in str(pod)
    assert {"name": "ARGOSY_SECRET_0",
            "valueFrom": {"secretKeyRef": {"name": "creds", "key": "id"}}} in wait["env"]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root and unshare for a private /run")
def test_the_wrapper_leaves_copies_the_wait_container_can_read(tmp_path: Path) -> None:
    """The wait container may run as another user than main: with a done-marker to leave (a
    plan), the wrapper's copy of a private output is readable by all (a+rX)."""
    from argosy.plugins.kubernetes import WRAPPER

    (tmp_path / "d").mkdir(mode=0o700)
    script = f"""
        mount --make-rprivate / && mount -t tmpfs none /run &&
        mkdir -p /run/argo /run/argosy/node/outputs && echo token > /run/argosy/node/pod-token &&
        (umask 077; echo secret > {tmp_path}/d/f) &&
        ARGOSY_ARTIFACTS="0 {tmp_path}/d" ARGOSY_POD_TOKEN=token ARGOSY_DONE=main \\
            ARGOSY_MESSAGE=/run/message sh -c "$WRAPPER" argosy true &&
        stat -c %a /run/argosy/node/outputs/0 /run/argosy/node/outputs/0/f &&
        cat /run/argo/main.done"""
    done = subprocess.run(["unshare", "--mount", "--fork", "sh", "-c", script],
                          env={**os.environ, "WRAPPER": WRAPPER}, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["755", "644", "0"]


def test_an_inputs_credentials_reach_the_init_container_from_their_secret(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An http source's SecretKeySelectors, at any depth, become env vars the kubelet fills;
    the agent reads them back as the engine reads the Secret."""
    import json

    from argosy import artifact_agent
    from argosy.plugin import ProcessRequest
    from argosy.plugins.kubernetes import build_pod

    auth = {"basicAuth": {"usernameSecret": {"name": "web", "key": "user"},
                          "passwordSecret": {"name": "web", "key": "pass", "optional": True}}}
    request = ProcessRequest(
        argv=[], env={}, working_dir=None, node_dir=tmp_path, image="busybox",
        template={"container": {"image": "busybox", "command": ["true"]}},
        workflow={"metadata": {"name": "w", "namespace": "default", "uid": "u"}, "spec": {}},
        node={"id": "w-1", "name": "w"}, artifact_plan={"outputs": [], "inputs": [
            {"name": "i", "path": "/tmp/i", "http": {"url": "http://h/f", "auth": auth}}]})
    pod = build_pod(request, "token")
    init = pod["spec"]["initContainers"][0]
    assert [c["name"] for c in pod["spec"]["containers"]] == ["main"]  # nothing to upload
    env = {e["name"]: e for e in init["env"]}
    plan = json.loads(env["ARGOSY_ARTIFACT_PLAN"]["value"])
    basic = plan["inputs"][0]["http"]["auth"]["basicAuth"]
    user, password = basic["usernameSecret"]["env"], basic["passwordSecret"]["env"]
    assert env[user]["valueFrom"]["secretKeyRef"] == {"name": "web", "key": "user"}
    assert env[password]["valueFrom"]["secretKeyRef"] == {"name": "web", "key": "pass",
                                                          "optional": True}
    monkeypatch.setenv(user, "alice")
    assert artifact_agent._Planned.secret(basic["usernameSecret"], "where") == "alice"
    assert artifact_agent._Planned.secret(basic["passwordSecret"], "where") is None
