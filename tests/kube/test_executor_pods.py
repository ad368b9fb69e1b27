"""The kubernetes executor's pods beyond one container: container sets as one pod, daemons,
stdout kept apart from stderr, outputs larger than a termination message, and an API server
that answers 429 and 500 for a while."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from argosy.kube import WORKFLOW_LABEL
from tests.kube.conftest import Kubectl
from tests.kube.double import Double
from tests.kube.test_executor import argosy, nodes_by_display, pods_of, run_k8s

pytestmark = pytest.mark.timeout(180)

POD_IP = "127.0.0.2"  # a loopback address of its own, so the node's IP is seen to be the pod's


@pytest.fixture
def double(tmp_path: Path) -> Iterator[Double]:
    with Double(root=tmp_path / "pods", bookmark_every=0.2, pod_ip=POD_IP) as server:
        yield server


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "argosy-home"


SET = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: set}
spec:
  entrypoint: main
  templates:
  - name: main
    volumes: [{name: work, emptyDir: {}}]
    containerSet:
      volumeMounts: [{name: work, mountPath: /work}]
      containers:
      - {name: a, image: alpine:3, command: [sh, -c, "sleep 0.3; echo a >> /work/order"]}
      - {name: b, image: alpine:3, command: [sh, -c, "echo b >> /work/order"],
         dependencies: [a]}
      - {name: c, image: alpine:3, command: [sh, -c, "echo c >> /work/order"],
         dependencies: [a]}
      - name: main
        image: alpine:3
        command: [sh, -c, "sort /work/order | tr '\\\\n' ' '; echo oops >&2"]
        dependencies: [b, c]
    outputs:
      parameters: [{name: first, valueFrom: {path: /work/order}}]
"""


def test_a_container_set_is_one_pod_whose_containers_wait_for_their_dependencies(
        home: Path, kubeconfig: Path, core: client.CoreV1Api, kubectl: Kubectl) -> None:
    done = run_k8s(home, kubeconfig, SET)
    assert done.code == 0, done.stderr
    wf = done.json()
    nodes = nodes_by_display(wf)
    assert {n: nodes[n]["phase"] for n in ("a", "b", "c", "main")} == dict.fromkeys(
        ("a", "b", "c", "main"), "Succeeded")
    pod = nodes["set"]
    assert pod["type"] == "Pod" and pod["outputs"]["result"] == "a b c "
    assert pod["outputs"]["parameters"][0]["value"].splitlines()[0] == "a"
    (only,) = pods_of(core, "set")
    listed = kubectl("get", "pods", "-l", f"{WORKFLOW_LABEL}=set", "-o", "name")
    assert listed.stdout.strip() == f"pod/{only.metadata.name}"
    assert [c.name for c in only.spec.containers] == ["a", "b", "c", "main"]
    # Both streams are in the log; stdout and stderr pass separate tees, so their order may vary.
    logged = kubectl("logs", only.metadata.name, "-c", "main").stdout
    assert logged in ("a b c oops\n", "oops\na b c ")


def test_a_failed_dependency_means_its_dependents_never_run(home: Path,
                                                           kubeconfig: Path) -> None:
    done = run_k8s(home, kubeconfig, """
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {name: broken-set}
    spec:
      entrypoint: main
      templates:
      - name: main
        containerSet:
          containers:
          - {name: a, image: alpine:3, command: [sh, -c, "exit 3"]}
          - {name: b, image: alpine:3, command: [sh, -c, "echo ran"], dependencies: [a]}
          - {name: main, image: alpine:3, command: [sh, -c, "echo main"]}
    """)
    assert done.code == 1, done.stderr
    nodes = nodes_by_display(done.json())
    assert nodes["a"]["phase"] == "Failed" and "exit code 3" in nodes["a"]["message"]
    assert nodes["b"]["phase"] == "Failed"
    assert nodes["b"]["message"] == 'b: dependency "a" exited with non-zero code: 3'
    assert nodes["main"]["phase"] == "Succeeded"
    assert nodes["broken-set"]["phase"] == "Failed"
    assert "ran" not in (argosy(home, kubeconfig, "logs", "broken-set").stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_daemon_serves_its_scope_at_its_pods_ip_and_is_deleted_after(
        home: Path, kubeconfig: Path, core: client.CoreV1Api) -> None:
    port = free_port()
    done = run_k8s(home, kubeconfig, f"""
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {{name: served}}
    spec:
      entrypoint: main
      templates:
      - name: main
        steps:
        - - {{name: server, template: server}}
        - - name: client
            template: client
            arguments: {{parameters: [{{name: ip, value: "{{{{steps.server.ip}}}}"}}]}}
      - name: server
        daemon: true
        container:
          image: python:3
          command: [python3, -m, http.server, "{port}", --bind, "{POD_IP}"]
      - name: client
        inputs: {{parameters: [{{name: ip}}]}}
        script:
          image: python:3
          command: [python3]
          source: |
            import time, urllib.request
            for attempt in range(100):
                try:
                    urllib.request.urlopen("http://{{{{inputs.parameters.ip}}}}:{port}/")
                    break
                except OSError:
                    time.sleep(0.1)
            print("{{{{inputs.parameters.ip}}}}", "answered")
    """)
    assert done.code == 0, done.stderr
    nodes = nodes_by_display(done.json())
    assert nodes["server"]["phase"] == "Succeeded"  # killed as its scope ended, as in Argo
    assert nodes["server"]["podIP"] == POD_IP
    assert nodes["client"]["outputs"]["result"] == f"{POD_IP} answered"
    server = [p for p in pods_of(core, "served") if "server" in p.metadata.name]
    assert all(p.metadata.deletion_timestamp or p.status.phase != "Running" for p in server)


def test_a_daemon_that_exits_by_itself_fails(home: Path, kubeconfig: Path) -> None:
    done = run_k8s(home, kubeconfig, """
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {name: short-daemon}
    spec:
      entrypoint: main
      templates:
      - name: main
        steps:
        - - {name: server, template: server}
        - - {name: wait, template: wait}
      - name: server
        daemon: true
        container: {image: alpine:3, command: [sh, -c, "sleep 0.5"]}
      - name: wait
        container: {image: alpine:3, command: [sh, -c, "sleep 3"]}
    """)
    assert done.code == 0, done.stderr
    server = nodes_by_display(done.json())["server"]
    assert server["phase"] == "Failed" and server["outputs"]["exitCode"] == "0"


STREAMS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: streams}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: talk, template: talk}
    - - name: echo
        template: echo
        arguments: {parameters: [{name: x, value: "{{steps.talk.outputs.result}}"}]}
  - name: talk
    script:
      image: python:3
      command: [python3]
      source: |
        import sys
        print("to stdout", flush=True)
        print("to stderr", file=sys.stderr, flush=True)
        print("x" * 6000, flush=True)
        open("/tmp/big", "w").write("".join(f"line {i}\\n" for i in range(20000)))
        open("/tmp/small", "w").write("tiny")
    outputs:
      parameters:
      - {name: big, valueFrom: {path: /tmp/big}}
      - {name: small, valueFrom: {path: /tmp/small}}
  - name: echo
    inputs: {parameters: [{name: x}]}
    container: {image: alpine:3, command: [echo, "{{inputs.parameters.x}}"]}
"""


def test_the_result_is_stdout_alone_and_outputs_may_pass_the_termination_message(
        home: Path, kubeconfig: Path, core: client.CoreV1Api, kubectl: Kubectl) -> None:
    done = run_k8s(home, kubeconfig, STREAMS)
    assert done.code == 0, done.stderr
    talk = nodes_by_display(done.json())["talk"]
    assert talk["outputs"]["result"] == "to stdout\n" + "x" * 6000
    values = {p["name"]: p["value"] for p in talk["outputs"]["parameters"]}
    assert values["big"] == "".join(f"line {i}\n" for i in range(20000)).rstrip("\n")
    assert values["small"] == "tiny"
    # The log shows both streams, and argosy's copy has none of the wrapper's trailer.
    logs = argosy(home, kubeconfig, "logs", "streams", talk["id"]).stdout
    assert "to stdout" in logs and "to stderr" in logs and "line 19999" not in logs
    pod = next(p for p in pods_of(core, "streams") if "talk" in p.metadata.name)
    assert "to stderr" in kubectl("logs", pod.metadata.name, "-c", "main").stdout


def test_an_output_parameter_over_256_kib_fails_the_step_saying_so(
        home: Path, kubeconfig: Path) -> None:
    done = run_k8s(home, kubeconfig, """
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {name: huge}
    spec:
      entrypoint: main
      templates:
      - name: main
        container:
          image: alpine:3
          command: [sh, -c, "head -c 300000 /dev/zero | tr '\\\\0' x > /tmp/huge"]
        outputs:
          parameters: [{name: huge, valueFrom: {path: /tmp/huge}}]
    """)
    assert done.code == 1, done.stderr
    node = nodes_by_display(done.json())["huge"]
    assert node["phase"] == "Error"
    assert "/tmp/huge is 300000 bytes, more than the 262144 bytes (256 KiB)" in node["message"]


def test_the_executor_backs_off_while_the_server_answers_429_and_500(
        home: Path, kubeconfig: Path, double: Double) -> None:
    double.fail_next(429, 2, method="POST", retry_after="0")
    double.fail_next(500, 2, method="POST")
    done = run_k8s(home, kubeconfig, """
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {name: busy}
    spec:
      entrypoint: main
      templates:
      - name: main
        container: {image: alpine:3, command: [echo, through]}
    """)
    assert done.code == 0, done.stderr
    creates = [r for r in double.requests if r[0] == "POST" and r[1].endswith("/pods")]
    assert len(creates) == 5  # four refused, then the one that made the pod
    assert len(pods_of(client.CoreV1Api(_api(kubeconfig)), "busy")) == 1
    assert json.loads(done.stdout)["status"]["phase"] == "Succeeded"


def _api(kubeconfig: Path) -> client.ApiClient:
    from kubernetes import config

    return config.new_client_from_config(str(kubeconfig))

