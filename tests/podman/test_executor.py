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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from argosy.plugin import ArgosyError, ProcessRequest
from argosy.plugins.podman import ContainerExecutor, container_name, create_args
from tests.conformance.test_argo_lifecycle import wait_for
from tests.conftest import REPO, CliResult, run_cli
from tests.podman.conftest import ENTRYPOINT_TAG, leftover_containers, leftover_pods

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


def one_container(template: str) -> str:
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
"""


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
    # As Argo tells it (podman's state says it, or conmon's marker where cgroups v1 hide it).
    assert c["message"] == "OOMKilled (exit code 137)"
    assert not Path("oom").exists()  # conmon's marker stays in the node's directory


@needs_podman
def test_a_kill_not_for_memory_is_no_oom(home: Path) -> None:
    result = run(home, one_container("""
    - name: c
      container:
        image: busybox
        command: [sh, -c, 'exit 137']
        resources: {limits: {memory: 20Mi}}
    """))
    c = nodes(result.json())["c"]
    assert (c["phase"], c["message"]) == ("Failed", "Error (exit code 137)")


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
    # The deadline counts from a start time of whole seconds, and starting a container takes
    # a while: 4 s leaves it time to print before the kill.
    result = run(home, one_container("""
    - name: c
      activeDeadlineSeconds: 4
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


def _crash_then_wait(home: Path, tmp_path: Path, manifest: str,
                     running: Callable[[], bool]) -> dict[str, Any]:
    """Run the workflow, kill -9 its engine once ``running``, then wait for it with another
    engine (its annotation names the executor): the workflow as it ended."""
    (tmp_path / "wf.yaml").write_text(textwrap.dedent(manifest))
    env = dict(os.environ, ARGOSY_HOME=str(home))
    engine = subprocess.Popen([sys.executable, "-m", "argosy.cli", "run", "--executor", "podman",
                               str(tmp_path / "wf.yaml")], env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        wait_for(running)
    finally:
        os.killpg(engine.pid, signal.SIGKILL)
        engine.wait()
    listed = json.loads(run_cli("list", "-o", "json", home=home).stdout)
    name = listed[0]["metadata"]["name"] if isinstance(listed, list) else \
        listed["items"][0]["metadata"]["name"]
    waited = run_cli("wait", name, home=home)
    assert waited.code == 0, waited.stderr
    return json.loads(run_cli("get", name, "-o", "json", home=home).stdout)


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
    wf = _crash_then_wait(home, tmp_path, manifest, lambda: (counts / "c").exists())
    assert wf["status"]["phase"] == "Succeeded"
    c = nodes(wf)["c"]
    assert params(c) == {"o": "42"}
    assert c["outputs"]["result"] == "done"
    assert (counts / "c").read_text() == "ran\n"  # the step ran once
    assert leftover_containers(wf["metadata"]["uid"]) == []


def test_what_it_cannot_run_is_rejected_by_name(home: Path) -> None:
    result = run(home, one_container("""
    - name: c
      container:
        image: busybox
        command: ["true"]
        securityContext: {seccompProfile: {type: Unconfined}}
    """))
    assert result.code == 2
    assert "seccompProfile is not supported by the podman executor yet" in result.stderr


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
        "image": "busybox", "command": ["sh", "-c"], "args": ["x"], "imagePullPolicy": "Always",
        "resources": {"limits": {"memory": "1Gi", "cpu": "250m"}},
        "securityContext": {"runAsUser": 1000, "readOnlyRootFilesystem": True,
                            "allowPrivilegeEscalation": False,
                            "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}},
    }, securityContext={"runAsGroup": 100}), "argosy-u-1-wf-1", "tok")
    assert args[-3:] == ["busybox", "-c", "x"]
    for flag in ("--pull=always", "--network=none", "--memory=1073741824", "--cpus=0.25",
                 "--user=1000:100", "--read-only", "--env-file=/n/container-env", "--env=B",
                 "--entrypoint=sh",
                 "--security-opt=no-new-privileges", "--cap-add=NET_ADMIN", "--cap-drop=ALL",
                 "argosy.io/node-token=tok", "argosy.io/workflow-uid=u-1"):
        assert flag in args
    assert not [a for a in args if "secret" in a]  # env values never reach the command line


def test_a_pods_container_joins_the_pod_with_its_own_fields() -> None:
    from dataclasses import replace

    side = {"name": "side", "image": "alpine:3.19", "command": ["sleep"], "args": ["9"],
            "resources": {"limits": {"memory": "1Ki"}}}
    request = replace(_request({"image": "busybox", "resources": {"limits": {"cpu": "2"}}},
                               sidecars=[side], daemon=True), container=side,
                      image="alpine:3.19")
    args = create_args(request, container_name(request), "tok")
    assert container_name(request) == "argosy-u-1-wf-1-side"
    assert "--pod=argosy-u-1-wf-1-pod" in args and not [a for a in args if "--network" in a]
    assert "--memory=1024" in args and not [a for a in args if "--cpus" in a]
    assert "--entrypoint=sleep" in args and args[-2:] == ["alpine:3.19", "9"]


def test_docker_has_no_pods(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The docker executor rejects what needs a pod by name; the container executor says so
    when it found docker rather than podman."""
    import asyncio
    from dataclasses import replace

    assert "Template.sidecars" in ContainerExecutor("docker", ("docker",)).rejects
    assert "Template.sidecars" not in ContainerExecutor("podman", ("podman",)).rejects
    (tmp_path / "docker").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    side = {"name": "side", "image": "busybox"}
    request = replace(_request({"image": "busybox"}, sidecars=[side]),
                      node_dir=tmp_path / "node")
    outcome = asyncio.run(ContainerExecutor("container", ("podman", "docker"))
                          .run_process(request))
    assert outcome.phase == "Error" and "docker has no pods" in outcome.message


FAKE_RUNTIME = """#!/bin/sh
case "$1" in
  logs) if [ "$2" = --follow ]; then echo "the end"; echo "the end"; exit 0; fi
        echo "the whole log"; echo "the end" ;;
  container) echo '[{"State": {"ExitCode": 0, "Status": "exited"}, "Config": {}}]' ;;
esac
"""


def test_the_log_kept_is_the_whole_log_not_the_followers(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A follower racing the container's end may miss or repeat lines (podman 4.3 under load
    does): once the container ended, its whole log is read again and replaces the follower's."""
    import asyncio
    from dataclasses import replace

    (tmp_path / "podman").write_text(FAKE_RUNTIME)
    (tmp_path / "podman").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin:/bin")
    request = replace(_request({"image": "busybox"}), node_dir=tmp_path / "node", env={})
    outcome = asyncio.run(ContainerExecutor("podman", ("podman",)).run_process(request))
    assert (outcome.phase, outcome.result) == ("Succeeded", "the whole log\nthe end")


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


def test_a_failed_pod_making_whose_waiters_all_stopped_leaves_no_unread_error(
        tmp_path: Path) -> None:
    """Every container waiting for its pod is stopped before ``pod create`` fails: the making
    ends on its own, and its error is read, not logged by asyncio as never retrieved."""
    import asyncio
    import gc
    from dataclasses import replace

    from argosy.plugins.podman import Cli, _make_pod, _making

    podman = tmp_path / "podman"
    podman.write_text("#!/bin/sh\nsleep 0.2\necho 'no space left' >&2\nexit 125\n")
    podman.chmod(0o755)
    request = replace(_request({"image": "busybox"}, sidecars=[{"name": "s"}]),
                      node_dir=tmp_path / "node")
    unread: list[dict[str, Any]] = []

    async def stop_every_waiter() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, context: unread.append(
            context))
        cli = Cli(str(podman), {}, tmp_path)
        waiters = [asyncio.ensure_future(_make_pod(cli, request)) for _ in range(2)]
        await asyncio.sleep(0.05)
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        while _making:  # the making goes on, unwatched, to its end
            await asyncio.sleep(0.02)
        gc.collect()

    asyncio.run(stop_every_waiter())
    assert unread == []


@needs_podman
def test_init_containers_and_sidecars_share_the_pod(home: Path) -> None:
    """Init containers run first, each to its end, writing to a volume the pod shares; a
    sidecar serves on the pod's loopback (no network of the host's) and is killed once main
    exited; each container's log is kept under its name, and the pod goes with them."""
    result = run(home, one_container("""
    - name: c
      volumes: [{name: shared, emptyDir: {}}]
      initContainers:
      - name: first
        image: busybox
        command: [sh, -c, 'echo one > /shared/init; echo first ran']
        volumeMounts: [{name: shared, mountPath: /shared}]
      - name: second
        image: busybox
        command: [sh, -c, 'echo two >> /shared/init']
        volumeMounts: [{name: shared, mountPath: /shared}]
      sidecars:
      - name: server
        image: busybox
        command: [sh, -c, 'echo serving; while true; do echo pong | nc -l -p 7777; done']
      container:
        image: busybox
        command: [sh, -c, 'cat /shared/init; until nc 127.0.0.1 7777; do sleep 0.2; done;
                  ls /sys/class/net']
        volumeMounts: [{name: shared, mountPath: /shared}]
    """))
    assert result.code == 0, result.stderr
    wf = result.json()
    c = nodes(wf)["c"]
    assert c["phase"] == "Succeeded"
    assert c["outputs"]["result"].split() == ["one", "two", "pong", "lo"]
    name = wf["metadata"]["name"]
    for container, shown in (("first", "first ran"), ("server", "serving")):
        logs = run_cli("logs", name, c["id"], "-c", container, home=home)
        assert shown in logs.stdout, (container, logs.stdout, logs.stderr)
    assert leftover_containers(wf["metadata"]["uid"]) == []
    assert leftover_pods(wf["metadata"]["uid"]) == []


@needs_podman
def test_a_failed_init_container_fails_the_node_and_main_never_runs(home: Path) -> None:
    result = run(home, one_container("""
    - name: c
      initContainers: [{name: setup, image: busybox, command: [sh, -c, 'exit 3']}]
      container: {image: busybox, command: [sh, -c, 'echo main ran']}
    """))
    assert result.code == 1, result.stderr
    c = nodes(result.json())["c"]
    assert c["phase"] == "Failed" and c["message"] == "setup: Error (exit code 3)"
    assert "main ran" not in (c.get("outputs") or {}).get("result", "")
    assert leftover_pods(result.json()["metadata"]["uid"]) == []


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@needs_podman
def test_daemon_serves_once_ready_and_is_killed_with_its_scope(home: Path) -> None:
    """A daemon's node is daemoned once its httpGet and exec probes pass (the exec one in the
    running container); the steps after it reach it at its IP; it is killed when they end."""
    port = _free_port()
    result = run(home, one_container(f"""
    - name: c
      steps:
      - - {{name: server, template: server}}
      - - {{name: client, template: client,
            arguments: {{parameters: [{{name: ip, value: "{{{{steps.server.ip}}}}"}}]}}}}
    - name: server
      daemon: true
      container:
        image: busybox
        command: [sh, -c, 'mkdir /www; echo hello-daemon > /www/index.html;
                  sleep 1; httpd -f -p {port} -h /www']
        readinessProbe:
          httpGet: {{path: /, port: {port}}}
          periodSeconds: 1
      sidecars:
      - name: side
        image: busybox
        command: [sh, -c, 'sleep 2; touch /tmp/side-ready; sleep 300']
        readinessProbe:
          exec: {{command: [test, -f, /tmp/side-ready]}}
          periodSeconds: 1
    - name: client
      inputs: {{parameters: [{{name: ip}}]}}
      container:
        image: busybox
        command: [wget, -qO-, "http://{{{{inputs.parameters.ip}}}}:{port}/"]
    """))
    assert result.code == 0, result.stderr
    wf = result.json()
    by_name = nodes(wf)
    assert by_name["client"]["outputs"]["result"] == "hello-daemon"
    assert by_name["server"]["phase"] == "Succeeded" and "daemoned" not in by_name["server"]
    assert leftover_containers(wf["metadata"]["uid"]) == []
    assert leftover_pods(wf["metadata"]["uid"]) == []


@needs_podman
def test_logs_stream_while_the_container_runs(home: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "wf.yaml"
    manifest.write_text(textwrap.dedent(one_container("""
    - name: c
      container:
        image: busybox
        command: [sh, -c, 'echo first line; sleep 300; echo never']
    """)))
    submitted = run_cli("submit", str(manifest), "-o", "json", home=home,
                        env={"ARGOSY_EXECUTOR": "podman"})
    assert submitted.code == 0, submitted.stderr
    name = submitted.json()["metadata"]["name"]
    shown = tmp_path / "shown"
    with open(shown, "wb") as out:
        follow = subprocess.Popen([sys.executable, "-m", "argosy.cli", "logs", "-f", name],
                                  env=dict(os.environ, ARGOSY_HOME=str(home)), cwd=REPO,
                                  stdout=out, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: "first line" in shown.read_text())
        wf = json.loads(run_cli("get", name, "-o", "json", home=home).stdout)
        assert nodes(wf)["c"]["phase"] == "Running"  # shown before the container ended
    finally:
        run_cli("terminate", name, home=home)
        run_cli("wait", name, home=home)
        follow.kill()
        follow.wait()


@needs_podman
def test_container_set_in_images_sharing_its_volumes(home: Path) -> None:
    """Each container of a set in its image, after its dependencies, sharing the volumes the
    set mounts (not /tmp, as in a pod); main gives the node its result and outputs."""
    result = run(home, one_container("""
    - name: c
      volumes: [{name: workspace, emptyDir: {}}]
      containerSet:
        volumeMounts: [{name: workspace, mountPath: /workspace}]
        containers:
        - name: a
          image: busybox
          command: [sh, -c, 'echo from-a > /workspace/a; echo private > /tmp/a']
        - name: main
          image: busybox
          dependencies: [a]
          command: [sh, -c, 'cat /workspace/a; cat /tmp/a 2>/dev/null || echo no-tmp;
                    printf 7 > /workspace/out']
      outputs:
        parameters: [{name: out, valueFrom: {path: /workspace/out}}]
    """))
    assert result.code == 0, result.stderr
    wf = result.json()
    c = nodes(wf)["c"]
    assert c["outputs"]["result"].split() == ["from-a", "no-tmp"]
    assert params(c) == {"out": "7"}
    assert {n["displayName"]: n["phase"] for n in wf["status"]["nodes"].values()
            if n["type"] == "Container"} == {"a": "Succeeded", "main": "Succeeded"}
    assert leftover_containers(wf["metadata"]["uid"]) == []
    assert leftover_pods(wf["metadata"]["uid"]) == []


@needs_podman
def test_restarted_engine_adopts_the_pod(home: Path, tmp_path: Path) -> None:
    """kill -9 of the engine while a pod's containers run: the next engine waits for the same
    pod, each of its containers runs once, and the pod goes at the end."""
    counts = tmp_path / "counts"
    counts.mkdir()
    manifest = one_container("""
    - name: c
      initContainers:
      - {name: setup, image: busybox, command: [sh, -c, 'echo ran >> /counts/setup'],
         volumeMounts: [{name: counts, mountPath: /counts}]}
      sidecars:
      - {name: side, image: busybox, command: [sh, -c, 'echo ran >> /counts/side; sleep 300'],
         volumeMounts: [{name: counts, mountPath: /counts}]}
      container:
        image: busybox
        command: [sh, -c, 'echo ran >> /counts/main; sleep 3; echo done']
        volumeMounts: [{name: counts, mountPath: /counts}]
    """).replace("entrypoint: main", f"entrypoint: main\n      volumes: [{{name: counts, "
                                     f"hostPath: {{path: {counts}}}}}]")
    wf = _crash_then_wait(home, tmp_path, manifest,
                          lambda: (counts / "main").exists() and (counts / "side").exists())
    assert nodes(wf)["c"]["outputs"]["result"] == "done"
    for container in ("setup", "side", "main"):
        assert (counts / container).read_text() == "ran\n", container  # each ran once
    assert leftover_containers(wf["metadata"]["uid"]) == []
    assert leftover_pods(wf["metadata"]["uid"]) == []
