"""The podman executor with a real podman: each step a container of its image.

Workflows run through the real ``argosy`` command with ``--executor podman``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from argosy.plugin import ArgosyError, ProcessRequest
from argosy.plugins.podman import ContainerExecutor, container_name, create_args
from tests.conformance.test_argo_lifecycle import wait_for
from tests.conftest import REPO, CliResult, run_cli
from tests.podman.conftest import ENTRYPOINT_TAG, leftover_containers

pytestmark = pytest.mark.timeout(180)

needs_podman = pytest.mark.usefixtures("podman_images")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "argosy-home"


def run(home: Path, manifest: str, *extra: str, executor: str = "podman",
        env: dict[str, str] | None = None) -> CliResult:
    return run_cli("run", "--executor", executor, "-", "-o", "json", *extra, home=home,
                   stdin=textwrap.dedent(manifest), env=env)


def nodes(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in wf["status"]["nodes"].values()}


def params(node: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in (node.get("outputs") or {}).get("parameters") or []}


def one_container(template: str, steps: str = "") -> str:
    """A workflow whose entrypoint is a steps template running ``c`` once."""
    return f"""
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {{generateName: pm-}}
    spec:
      entrypoint: main
      templates:
      - name: main
        steps:
        - - {{name: c, template: c}}
{textwrap.indent(textwrap.dedent(template), "      ")}
{steps}"""


@needs_podman
def test_outputs_env_working_dir_and_script(home: Path) -> None:
    result = run(home, """
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {generateName: pm-}
    spec:
      entrypoint: main
      templates:
      - name: main
        steps:
        - - {name: c, template: c}
          - {name: s, template: s}
      - name: c
        container:
          image: busybox
          command: [sh, -c]
          args: ['echo out; echo err >&2; printf v1 > /tmp/out; pwd; echo "[$FOO]$HOME"']
          workingDir: /work/here
          env: [{name: FOO, value: " a b "}, {name: HOME, value: /elsewhere}]
        outputs:
          parameters: [{name: o, valueFrom: {path: /tmp/out}}]
      - name: s
        script:
          image: alpine:3.23
          command: [sh]
          source: |
            echo "script at $0"; exit 3
    """)
    assert result.code == 1, result.stderr
    wf = result.json()
    c, s = nodes(wf)["c"], nodes(wf)["s"]
    assert c["phase"] == "Succeeded"
    assert c["outputs"]["result"] == "out\n/work/here\n[ a b ]/elsewhere"
    assert c["outputs"]["exitCode"] == "0"
    assert params(c) == {"o": "v1"}
    assert (s["phase"], s["message"]) == ("Failed", "Error (exit code 3)")
    assert s["outputs"]["result"] == "script at /argo/staging/script"
    logs = run_cli("logs", wf["metadata"]["name"], home=home)
    assert "err" in logs.stdout and "out" in logs.stdout
    assert leftover_containers(wf["metadata"]["uid"]) == []


@needs_podman
@pytest.mark.parametrize(("container", "expected"), [
    ({}, "entrypoint cmd"),  # the image's entrypoint and cmd
    ({"args": ["a1", "a2"]}, "entrypoint a1 a2"),  # args replace the cmd
    ({"command": ["echo", "c"]}, "c"),  # command replaces the entrypoint and drops the cmd
    ({"command": ["echo"], "args": ["c", "a"]}, "c a"),
])
def test_entrypoint_and_cmd_as_kubernetes_combines_them(home: Path, container: dict[str, Any],
                                                        expected: str) -> None:
    body = json.dumps({"image": ENTRYPOINT_TAG, **container})
    result = run(home, one_container(f"""
    - name: c
      container: {body}
    """))
    assert result.code == 0, result.stderr
    assert nodes(result.json())["c"]["outputs"]["result"] == expected


@needs_podman
def test_env_from_config_maps_and_secrets(home: Path, tmp_path: Path) -> None:
    objects = tmp_path / "objects.yaml"
    objects.write_text(textwrap.dedent("""
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: settings}
    data: {mode: fast}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: creds}
    data: {token: czNjcjN0Cm11bHRp}   # "s3cr3t\\nmulti"
    """))
    assert run_cli("apply", "-f", str(objects), home=home).code == 0
    result = run(home, one_container("""
    - name: c
      container:
        image: busybox
        command: [sh, -c, 'echo "$CFG_mode/$TOKEN"']
        envFrom: [{configMapRef: {name: settings}, prefix: CFG_}]
        env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: creds, key: token}}}]
    """))
    assert result.code == 0, result.stderr
    assert nodes(result.json())["c"]["outputs"]["result"] == "fast/s3cr3t\nmulti"


@needs_podman
def test_volumes_claims_host_paths_and_empty_dirs(home: Path, tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "in").write_text("from host\n")
    result = run(home, f"""
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {{generateName: pm-}}
    spec:
      entrypoint: main
      volumeClaimTemplates:
      - metadata: {{name: work}}
        spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Mi}}}}}}
      volumes:
      - {{name: host, hostPath: {{path: {host}, type: Directory}}}}
      - {{name: scratch, emptyDir: {{}}}}
      templates:
      - name: main
        steps:
        - - {{name: write, template: write}}
        - - {{name: read, template: read}}
      - name: write
        container:
          image: busybox
          command: [sh, -c, 'cat /host/in > /work/shared; echo > /scratch/x; echo out > /host/out']
          volumeMounts:
          - {{name: work, mountPath: /work}}
          - {{name: host, mountPath: /host}}
          - {{name: scratch, mountPath: /scratch}}
      - name: read
        container:
          image: busybox
          command: [sh, -c, 'cat /work/shared; ls /scratch | wc -l; touch /ro/x || echo read-only']
          volumeMounts:
          - {{name: work, mountPath: /work}}
          - {{name: scratch, mountPath: /scratch}}
          - {{name: host, mountPath: /ro, readOnly: true}}
    """)
    assert result.code == 0, result.stderr
    read = nodes(result.json())["read"]
    lines = read["outputs"]["result"].splitlines()
    assert lines[0] == "from host" and lines[1].strip() == "0" and lines[-1] == "read-only"
    assert (host / "out").read_text() == "out\n"


@needs_podman
def test_memory_limit_is_enforced(home: Path) -> None:
    result = run(home, one_container("""
    - name: c
      container:
        image: busybox
        command: [sh, -c, 'x=$(head -c 60000000 /dev/zero | tr "\\0" a); echo survived']
        resources: {limits: {memory: 20Mi, cpu: 500m}}
    """))
    assert result.code == 1, result.stderr
    c = nodes(result.json())["c"]
    assert c["phase"] == "Failed"
    assert c["outputs"]["exitCode"] == "137"  # killed by the kernel at the limit
    assert "survived" not in c["outputs"].get("result", "")
    # The runtime tells an OOM kill when it can (podman with cgroups v1 cannot).
    assert c["message"] in ("OOMKilled (exit code 137)", "Error (exit code 137)")
    assert not Path("oom").exists()  # conmon's marker stays in the node's directory


@needs_podman
@pytest.mark.parametrize(("network", "expected"), [("", "lo"), ("hostNetwork: true", "host")])
def test_no_network_unless_the_workflow_asks(home: Path, network: str, expected: str) -> None:
    manifest = one_container("""
    - name: c
      container:
        image: busybox
        command: [sh, -c, 'ls /sys/class/net | tr "\\n" " "']
    """).replace("entrypoint: main", f"entrypoint: main\n      {network}")
    result = run(home, manifest)
    assert result.code == 0, result.stderr
    interfaces = nodes(result.json())["c"]["outputs"]["result"].split()
    if expected == "lo":
        assert interfaces == ["lo"]
    else:
        assert sorted(interfaces) == sorted(os.listdir("/sys/class/net"))


@needs_podman
def test_image_pull_policy(home: Path) -> None:
    result = run(home, """
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {generateName: pm-}
    spec:
      entrypoint: main
      templates:
      - name: main
        steps:
        - - {name: never, template: never}
          - {name: always, template: always}
          - {name: present, template: present}
      - name: never
        container: {image: argosy-test/absent:1, imagePullPolicy: Never, command: ["true"]}
      - name: always
        container: {image: "localhost:1/absent:1", imagePullPolicy: Always, command: ["true"]}
      - name: present
        container: {image: "alpine:3.7", imagePullPolicy: Never, command: ["true"]}
    """)
    assert result.code == 1, result.stderr
    by_name = nodes(result.json())
    assert by_name["never"]["phase"] == "Error"
    assert by_name["never"]["message"] == (
        'image "argosy-test/absent:1" is not present on this machine and its imagePullPolicy '
        "is Never: pull or build it first")
    assert by_name["always"]["phase"] == "Error"
    assert by_name["always"]["message"].startswith(
        'image "localhost:1/absent:1" cannot be pulled (imagePullPolicy Always): ')
    assert by_name["present"]["phase"] == "Succeeded"


@needs_podman
def test_deadline_kills_the_container_and_keeps_its_log(home: Path) -> None:
    result = run(home, one_container("""
    - name: c
      activeDeadlineSeconds: 2
      container:
        image: busybox
        command: [sh, -c, 'echo started; sleep 300']
    """))
    assert result.code == 1, result.stderr
    wf = result.json()
    c = nodes(wf)["c"]
    assert c["phase"] == "Failed" and "deadline" in c["message"].lower()
    assert leftover_containers(wf["metadata"]["uid"]) == []
    logs = run_cli("logs", wf["metadata"]["name"], home=home)
    assert "started" in logs.stdout


@needs_podman
def test_restarted_engine_adopts_the_running_container(home: Path, tmp_path: Path) -> None:
    """kill -9 of the engine while a step runs: the next engine waits for the same container,
    which runs once, and collects its outputs."""
    counts = tmp_path / "counts"
    counts.mkdir()
    manifest = one_container("""
    - name: c
      container:
        image: busybox
        command: [sh, -c, 'echo ran >> /counts/c; sleep 3; echo done; printf 42 > /tmp/o']
        volumeMounts: [{name: counts, mountPath: /counts}]
      outputs:
        parameters: [{name: o, valueFrom: {path: /tmp/o}}]
    """).replace("entrypoint: main", f"entrypoint: main\n      volumes: [{{name: counts, "
                                     f"hostPath: {{path: {counts}}}}}]")
    (tmp_path / "wf.yaml").write_text(textwrap.dedent(manifest))
    env = dict(os.environ, ARGOSY_HOME=str(home))
    engine = subprocess.Popen([sys.executable, "-m", "argosy.cli", "run", "--executor", "podman",
                               str(tmp_path / "wf.yaml")], env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        wait_for(lambda: (counts / "c").exists())
    finally:
        os.killpg(engine.pid, signal.SIGKILL)
        engine.wait()
    listed = json.loads(run_cli("list", "-o", "json", home=home).stdout)
    name = listed[0]["metadata"]["name"] if isinstance(listed, list) else \
        listed["items"][0]["metadata"]["name"]
    waited = run_cli("wait", name, home=home)  # its annotation names the executor
    assert waited.code == 0, waited.stderr
    wf = json.loads(run_cli("get", name, "-o", "json", home=home).stdout)
    assert wf["status"]["phase"] == "Succeeded"
    c = nodes(wf)["c"]
    assert params(c) == {"o": "42"}
    assert c["outputs"]["result"] == "done"
    assert (counts / "c").read_text() == "ran\n"  # the step ran once
    assert leftover_containers(wf["metadata"]["uid"]) == []


def test_what_it_cannot_run_is_rejected_by_name(home: Path) -> None:
    result = run(home, one_container("""
    - name: c
      container: {image: busybox, command: ["true"]}
      sidecars: [{name: side, image: busybox, command: ["true"]}]
    """))
    assert result.code == 2
    assert "sidecars is not supported by the podman executor yet" in result.stderr
    result = run(home, one_container("""
    - name: c
      container:
        image: busybox
        command: ["true"]
        securityContext: {seccompProfile: {type: Unconfined}}
    """))
    assert result.code == 2
    assert "seccompProfile is not supported by the podman executor yet" in result.stderr
    result = run(home, one_container("""
    - name: c
      container: {image: busybox, command: [sh, -c, "echo a > /tmp/a"]}
      outputs: {artifacts: [{name: a, path: /tmp/a}]}
    """))
    assert result.code == 2
    assert "artifacts is not supported by the podman executor yet" in result.stderr


def test_no_runtime_installed_is_said(home: Path, tmp_path: Path) -> None:
    result = run(home, one_container("""
    - name: c
      container: {image: busybox, command: ["true"]}
    """), executor="container", env={"PATH": str(tmp_path)})
    assert result.code == 1, result.stderr
    c = nodes(result.json())["c"]
    assert c["phase"] == "Error"
    assert c["message"].startswith("the container executor needs podman or docker, and none "
                                   "is installed")


def _request(container: dict[str, Any], **extra: Any) -> ProcessRequest:
    return ProcessRequest(argv=[], env={"A": "secret", "B": "two\nsecret lines"},
                          working_dir=None, node_dir=Path("/n"),
                          image=container.get("image", "busybox"),
                          template={"container": container, **extra},
                          workflow={"metadata": {"name": "wf", "uid": "u-1"}, "spec": {}},
                          node={"id": "wf-1"})


def test_create_args_map_the_pod_fields() -> None:
    args = create_args(_request({
        "image": "busybox", "command": ["sh"], "args": ["-c", "x"], "imagePullPolicy": "Always",
        "resources": {"limits": {"memory": "1Gi", "cpu": "250m"}},
        "securityContext": {"runAsUser": 1000, "readOnlyRootFilesystem": True,
                            "allowPrivilegeEscalation": False,
                            "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}},
    }, securityContext={"runAsGroup": 100}), "argosy-u-1-wf-1", "tok")
    assert args[-3:] == ["busybox", "-c", "x"]
    for flag in ("--pull=always", "--network=none", "--memory=1073741824", "--cpus=0.25",
                 "--user=1000:100", "--read-only", "--env-file=/n/container-env", "--env=B",
                 '--entrypoint=["sh"]',
                 "--security-opt=no-new-privileges", "--cap-add=NET_ADMIN", "--cap-drop=ALL",
                 "argosy.io/node-token=tok", "argosy.io/workflow-uid=u-1"):
        assert flag in args
    assert not [a for a in args if "secret" in a]  # env values never reach the command line


@pytest.mark.parametrize(("field", "value", "fault"), [
    ("imagePullPolicy", "Sometimes", "imagePullPolicy: 'Sometimes' is not one of Always"),
    ("resources", {"limits": {"memory": "lots"}}, "resources.limits.memory: 'lots' is not"),
])
def test_bad_pod_fields_are_named(field: str, value: Any, fault: str) -> None:
    with pytest.raises(ArgosyError, match=fault.replace("(", r"\(")):
        create_args(_request({"image": "busybox", field: value}), "n", "t")


def test_container_picks_podman_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for binary in ("podman", "docker"):
        (tmp_path / binary).write_text("#!/bin/sh\n")
        (tmp_path / binary).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert ContainerExecutor("container", ("podman", "docker")).binary() == \
        str(tmp_path / "podman")
    (tmp_path / "podman").unlink()
    assert ContainerExecutor("container", ("podman", "docker")).binary() == \
        str(tmp_path / "docker")


def test_a_collected_container_is_not_run_again(tmp_path: Path) -> None:
    """An engine killed after a container was collected and removed, before it recorded the
    node's outcome: the next one takes the outcome from the node's directory."""
    import asyncio
    from dataclasses import replace

    (tmp_path / "stdout").write_text("done\n")
    (tmp_path / "container-outcome.json").write_text(json.dumps(
        {"exitCode": 3, "message": "Error (exit code 3)", "files": {"/tmp/o": "42"}}))
    request = replace(_request({"image": "busybox"}), node_dir=tmp_path)
    executor = ContainerExecutor("podman", ("no-such-runtime",))  # nothing could run it
    outcome = asyncio.run(executor.run_process(request))
    assert (outcome.phase, outcome.message, outcome.exit_code) == \
        ("Failed", "Error (exit code 3)", 3)
    assert outcome.result == "done"
    assert outcome.read_file is not None and outcome.read_file("/tmp/o") == "42"


@needs_podman
def test_a_container_of_an_earlier_run_is_replaced(tmp_path: Path) -> None:
    """A container left by an earlier run of the node (then `argosy retry` emptied its
    directory) has the node's name but not its token: it is removed, the step runs anew."""
    import asyncio
    from dataclasses import replace

    request = replace(_request({"image": "busybox", "command": ["echo", "new"]}),
                      env={}, node_dir=tmp_path / "node", workflow={
                          "metadata": {"name": "wf", "uid": f"u{os.getpid()}"}, "spec": {}})
    name = container_name(request)
    subprocess.run(["podman", "create", "--name", name, "--label", "argosy.io/node-token=old",
                    "busybox", "echo", "old"], check=True, capture_output=True)
    try:
        outcome = asyncio.run(ContainerExecutor("podman", ("podman",)).run_process(request))
    finally:
        subprocess.run(["podman", "rm", "--force", name], capture_output=True)
    assert (outcome.phase, outcome.result) == ("Succeeded", "new")


@needs_podman
def test_stop_and_terminate_kill_the_container(home: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "wf.yaml"
    manifest.write_text(textwrap.dedent(one_container("""
    - name: c
      container:
        image: busybox
        command: [sh, -c, 'echo started; sleep 300']
    """)))
    for verb in ("stop", "terminate"):
        submitted = run_cli("submit", str(manifest), "-o", "json", home=home,
                            env={"ARGOSY_EXECUTOR": "podman"})
        assert submitted.code == 0, submitted.stderr
        wf = submitted.json()
        name, uid = wf["metadata"]["name"], wf["metadata"]["uid"]
        wait_for(lambda: leftover_containers(uid))  # noqa: B023
        assert run_cli(verb, name, home=home).code == 0
        assert run_cli("wait", name, home=home).code == 1
        assert leftover_containers(uid) == []
        logs = run_cli("logs", name, home=home)
        assert "started" in logs.stdout, verb


@needs_podman
def test_cancelled_while_the_container_is_made_leaves_none(tmp_path: Path) -> None:
    """A stop that lands while the runtime is still making the container: the container it
    made is stopped and removed, not left running."""
    import asyncio
    from dataclasses import replace

    uid = f"c{os.getpid()}"
    request = replace(_request({"image": "busybox", "command": ["sleep", "300"]}), env={},
                      node_dir=tmp_path / "node",
                      workflow={"metadata": {"name": "wf", "uid": uid}, "spec": {}})
    executor = ContainerExecutor("podman", ("podman",))
    executor.grace_seconds = 0

    async def cancel_early() -> None:
        task = asyncio.ensure_future(executor.run_process(request))
        await asyncio.sleep(0.05)  # the runtime's run --detach is under way
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_early())
    assert leftover_containers(uid) == []
