"""The simulated kubelet: pods' containers really run, so logs, exits, messages and deadlines are
real."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config, watch

from tests.hostile.inside import running
from tests.kube.conftest import finished, pod_manifest, wait_for
from tests.nonroot.test_as_nobody import NOBODY, as_nobody


def _sleeping(marker: str) -> list[int]:
    """The host's ``sleep MARKER`` processes (a container's pids are its own PID namespace's,
    so the test finds them by what they run)."""
    return running(f"sleep\0{marker}\0".encode())


def _marker() -> str:
    """A sleep duration no other process uses."""
    return f"{300 + uuid.uuid4().int % 10**6}.5"


def test_init_containers_run_in_order_then_the_containers(core: client.CoreV1Api) -> None:
    # Containers share only volumes, as in Kubernetes: each has a file system of its own.
    work = {"volumeMounts": [{"name": "work", "mountPath": "/work"}]}
    manifest = pod_manifest("p", "cat /work/order; echo main >> /work/order", container=work)
    manifest["spec"]["initContainers"] = [
        {"name": f"init{i}", "image": "busybox", **work,
         "command": ["sh", "-c", f"echo init{i} >> /work/order; echo init{i} >> /mine"]}
        for i in (1, 2)]
    manifest["spec"]["volumes"] = [{"name": "work", "emptyDir": {}}]
    core.create_namespaced_pod("default", manifest)
    pod = finished(core, "p")
    assert pod.status.phase == "Succeeded"
    assert [s.state.terminated.reason for s in pod.status.init_container_statuses] == [
        "Completed", "Completed"]
    assert core.read_namespaced_pod_log("p", "default") == "init1\ninit2\n"
    assert core.read_namespaced_pod_log("p", "default", container="init2") == ""


def test_a_failing_init_container_fails_the_pod(core: client.CoreV1Api) -> None:
    manifest = pod_manifest("p", "echo never")
    manifest["spec"]["initContainers"] = [{"name": "init", "image": "busybox",
                                           "command": ["sh", "-c", "exit 4"]}]
    core.create_namespaced_pod("default", manifest)
    pod = finished(core, "p")
    assert pod.status.phase == "Failed"
    assert pod.status.init_container_statuses[0].state.terminated.exit_code == 4
    assert pod.status.container_statuses[0].state.waiting.reason == "PodInitializing"


def test_a_sidecar_runs_beside_the_containers_and_is_stopped_after(
        core: client.CoreV1Api) -> None:
    shared = {"volumeMounts": [{"name": "shared", "mountPath": "/shared"}]}
    manifest = pod_manifest("p", "while [ ! -e /shared/up ]; do sleep 0.05; done; echo saw it",
                            container=shared)
    manifest["spec"]["initContainers"] = [
        {"name": "side", "image": "busybox", "restartPolicy": "Always", **shared,
         "command": ["sh", "-c", "touch /shared/up; exec sleep 300"]}]
    manifest["spec"]["volumes"] = [{"name": "shared", "emptyDir": {}}]
    core.create_namespaced_pod("default", manifest)
    pod = finished(core, "p")
    assert pod.status.phase == "Succeeded"
    wait_for(lambda: "terminated" in core.read_namespaced_pod("p", "default").to_dict()[
        "status"]["init_container_statuses"][0]["state"] and True, "the sidecar to stop")


def test_env_from_fields_config_maps_secrets_and_references(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "cm"},
                                                  "data": {"color": "blue"}})
    core.create_namespaced_secret("default", {"metadata": {"name": "s"},
                                              "stringData": {"token": "t0k"}})
    env = [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
           {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "color"}}},
           {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}},
           {"name": "BOTH", "value": "$(COLOR)-$(POD)"}]
    manifest = pod_manifest("envy", 'echo "$POD $COLOR $TOKEN $BOTH $1"',
                            container={"env": env, "args": ["sh", "$(COLOR)"]})
    core.create_namespaced_pod("default", manifest)
    finished(core, "envy")
    assert core.read_namespaced_pod_log("envy", "default") == "envy blue t0k blue-envy blue\n"


def test_termination_message_is_capped_and_falls_back_to_logs(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod_manifest(
        "big", "head -c 5000 /dev/zero | tr '\\0' x > /dev/termination-log"))
    core.create_namespaced_pod("default", pod_manifest(
        "fallback", "echo one; echo two; exit 2",
        container={"terminationMessagePolicy": "FallbackToLogsOnError"}))
    path = "/tmp/argosy-kube-message-test"
    core.create_namespaced_pod("default", pod_manifest(
        "custom", f"printf custom > {path}", container={"terminationMessagePath": path}))
    assert finished(core, "big").status.container_statuses[0].state.terminated.message == \
        "x" * 4096
    assert finished(core, "fallback").status.container_statuses[0].state.terminated.message == \
        "one\ntwo\n"
    assert finished(core, "custom").status.container_statuses[0].state.terminated.message == \
        "custom"
    assert not Path(path).exists()  # written to the container's own file, not the host's


def test_an_image_without_a_command_maps_to_a_host_command(
        core: client.CoreV1Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images = tmp_path / "images.yaml"
    images.write_text(yaml.safe_dump({"example/greeter:1": {"entrypoint": ["echo", "hi"]}}))
    monkeypatch.setenv("ARGOSY_IMAGE_ENTRYPOINTS", str(images))
    core.create_namespaced_pod("default", {"metadata": {"name": "mapped"}, "spec": {
        "restartPolicy": "Never", "containers": [
            {"name": "main", "image": "example/greeter:1", "args": ["there"]}]}})
    core.create_namespaced_pod("default", {"metadata": {"name": "unknown"}, "spec": {
        "restartPolicy": "Never", "containers": [{"name": "main", "image": "example/other"}]}})
    assert finished(core, "mapped").status.phase == "Succeeded"
    assert core.read_namespaced_pod_log("mapped", "default") == "hi there\n"
    failed = finished(core, "unknown").status.container_statuses[0].state.terminated
    assert (failed.exit_code, failed.reason) == (128, "StartError")
    assert "entrypoint of image" in failed.message


def test_active_deadline_kills_the_pod(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod_manifest("slow", "exec sleep 300",
                                                       activeDeadlineSeconds=1))
    pod = finished(core, "slow")
    assert (pod.status.phase, pod.status.reason) == ("Failed", "DeadlineExceeded")
    assert pod.status.message == "Pod was active on the node longer than the specified deadline"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 143


def test_restart_policy_on_failure_restarts_the_container(core: client.CoreV1Api) -> None:
    # A restarted container is a new one, with a fresh layer: the tries are kept in a volume.
    script = "echo try >> /state/tries; [ $(wc -l < /state/tries) -ge 2 ]"
    manifest = pod_manifest("retry", script, restartPolicy="OnFailure", container={
        "volumeMounts": [{"name": "state", "mountPath": "/state"}]})
    manifest["spec"]["volumes"] = [{"name": "state", "emptyDir": {}}]
    created = core.create_namespaced_pod("default", manifest)
    pod = finished(core, "retry")
    waits = [s["state"]["waiting"]["reason"] for e in watch.Watch().stream(
        core.list_namespaced_pod, "default", resource_version=created.metadata.resource_version,
        timeout_seconds=1) if e["type"] == "MODIFIED"
        for s in e["raw_object"]["status"].get("containerStatuses", [])
        if "waiting" in s["state"]]
    assert "CrashLoopBackOff" in waits
    assert pod.status.phase == "Succeeded"
    status = pod.status.container_statuses[0]
    assert status.restart_count == 1
    assert (status.last_state.terminated.exit_code, status.last_state.terminated.reason) == (
        1, "Error")
    assert core.read_namespaced_pod_log("retry", "default", previous=True) == ""


def test_deleting_a_running_pod_kills_its_processes(core: client.CoreV1Api) -> None:
    # The container ignores SIGTERM and leaves a child behind: the grace period runs out and
    # every process of the container is killed.
    marker = _marker()
    script = f"trap '' TERM; sleep {marker} & wait"
    core.create_namespaced_pod("default", pod_manifest("doomed", script,
                                                       terminationGracePeriodSeconds=1))
    wait_for(lambda: _sleeping(marker), "the child")
    deleted = core.delete_namespaced_pod("doomed", "default")
    assert deleted.metadata.deletion_timestamp is not None
    assert deleted.metadata.deletion_grace_period_seconds == 1
    wait_for(lambda: not core.list_namespaced_pod("default").items, "the pod to go")
    assert _sleeping(marker) == []


# A double run in a separate process (under unshare or setpriv) with one pod running sys.argv[1];
# prints the pod's phase, exit code and termination message.
POD_RUN = """
import pathlib, sys, tempfile, time
sys.path.insert(0, ".")
from kubernetes import client, config
from tests.kube.double import Double
root = pathlib.Path(tempfile.mkdtemp())
with Double(root=root / "pods") as double:
    api = config.new_client_from_config(str(double.write_kubeconfig(root / "kubeconfig")))
    core = client.CoreV1Api(api)
    core.create_namespaced_pod("default", {"metadata": {"name": "p"}, "spec": {
        "restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox",
        "command": ["sh", "-c", sys.argv[1]]}]}})
    end = time.monotonic() + 60
    while time.monotonic() < end:
        pod = core.read_namespaced_pod("p", "default")
        if pod.status.phase in ("Succeeded", "Failed"):
            done = pod.status.container_statuses[0].state.terminated
            print(pod.status.phase, done.exit_code, done.message or "")
            break
        time.sleep(0.1)
"""


def _run_a_pod(wrapper: list[str], script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    runner = tmp_path / "run.py"
    runner.write_text(POD_RUN)
    return subprocess.run([*wrapper, sys.executable, str(runner), script], capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).parents[2], check=False)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_a_hostile_container_harms_only_its_namespace(tmp_path: Path) -> None:
    """A container that SIGKILLs every process it can see, run by a double that is the init of a
    throwaway PID namespace (which that signal cannot kill): the double records the pod's end."""
    done = _run_a_pod(["unshare", "--pid", "--fork", "--mount-proc"], "kill -KILL -1; exit 7",
                      tmp_path)
    if "unshare failed" in done.stderr or "Operation not permitted" in done.stderr:
        pytest.skip(f"no PID namespace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "Failed 7"


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv(1) to drop CAP_SYS_ADMIN")
def test_termination_messages_without_cap_sys_admin(tmp_path: Path) -> None:
    """As a user without CAP_SYS_ADMIN, the kubelet mounts through a user namespace."""
    done = _run_a_pod(["setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin"],
                      "printf msg > /dev/termination-log", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "Succeeded 0 msg"


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("setpriv")),
                    reason="needs root, unshare(1) and setpriv(1) to run as root and as nobody")
@pytest.mark.parametrize("user", ["root", "nobody"])
def test_a_pods_writes_outside_its_volumes_stay_in_its_own_layer(user: str, tmp_path: Path,
                                                                 scratch: Path) -> None:
    """A container writing a fresh top-level path and a file under /etc, as argosay writes
    /output, changes nothing on the host: what it writes lands in its own layer. The double runs
    in a throwaway PID namespace, as root and as nobody (whose kubelet takes a user namespace)."""
    marker = uuid.uuid4().hex
    top, etc = Path(f"/argosy-probe-{marker}"), Path(f"/etc/argosy-probe-{marker}")
    script = (f"mkdir -p {top}/deep && echo mine > {top}/deep/f && echo x > {etc} && "
              f"cat {top}/deep/f {etc} > /dev/termination-log")
    if user == "nobody":
        runner = scratch / "run.py"
        runner.write_text(POD_RUN)
        os.chown(runner, NOBODY, NOBODY)
        done = as_nobody(scratch, sys.executable, str(runner), script)
    else:
        done = _run_a_pod(["unshare", "--pid", "--fork", "--mount-proc"], script, tmp_path)
    landed = [p for p in (top, etc) if p.exists()]
    for path in landed:  # a regression's litter, cleared before it is reported
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert landed == []
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "Succeeded 0 mine\nx", done.stdout + done.stderr


def test_the_command_line_serves_and_writes_a_kubeconfig(tmp_path: Path) -> None:
    kubeconfig, images = tmp_path / "kubeconfig", tmp_path / "images.yaml"
    images.write_text(yaml.safe_dump({"example/greeter": {"entrypoint": ["echo", "hi"]}}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.kube.double", "--port", "0", "--kubeconfig",
         str(kubeconfig), "--images", str(images)], cwd=Path(__file__).parents[2],
        stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("serving the Kubernetes API double at http://127.0.0.1:")
        api = config.new_client_from_config(str(kubeconfig))
        names = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
        assert "default" in names
        assert client.VersionApi(api).get_code().git_version == "v1.32.0"
        core = client.CoreV1Api(api)
        core.create_namespaced_pod("default", {"metadata": {"name": "mapped"}, "spec": {
            "restartPolicy": "Never", "containers": [{"name": "main",
                                                      "image": "example/greeter"}]}})
        finished(core, "mapped")
        assert core.read_namespaced_pod_log("mapped", "default") == "hi\n"
        api.close()
    finally:
        proc.terminate()
        assert proc.wait(30) == 0


def test_a_force_deleted_pod_is_gone_at_once_and_its_process_killed(
        core: client.CoreV1Api) -> None:
    marker = _marker()
    core.create_namespaced_pod("default", pod_manifest("forced", f"sleep {marker}; true"))
    wait_for(lambda: _sleeping(marker), "the process")
    core.delete_namespaced_pod("forced", "default", grace_period_seconds=0)
    assert core.list_namespaced_pod("default").items == []
    wait_for(lambda: not _sleeping(marker), "the process to be killed")


def test_volumes_are_shared_between_containers(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "settings"},
                                                  "data": {"greeting": "hello"}})
    core.create_namespaced_persistent_volume_claim("default", {
        "metadata": {"name": "claim"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                "resources": {"requests": {"storage": "1Mi"}}}})
    manifest = pod_manifest("vols", "cat /mnt/argosy-work/out /etc/argosy-settings/greeting "
                            "/mnt/argosy-claim/kept; touch /mnt/argosy-claim/no || echo "
                            "read-only", container={"volumeMounts": [
                                {"name": "work", "mountPath": "/mnt/argosy-work"},
                                {"name": "settings", "mountPath": "/etc/argosy-settings"},
                                {"name": "claim", "mountPath": "/mnt/argosy-claim",
                                 "readOnly": True}]})
    manifest["spec"]["initContainers"] = [{
        "name": "init", "image": "busybox", "command": [
            "sh", "-c", "echo made > /mnt/argosy-work/out; echo kept > /mnt/argosy-claim/kept"],
        "volumeMounts": [{"name": "work", "mountPath": "/mnt/argosy-work"},
                         {"name": "claim", "mountPath": "/mnt/argosy-claim"}]}]
    manifest["spec"]["volumes"] = [
        {"name": "work", "emptyDir": {}}, {"name": "settings", "configMap": {"name": "settings"}},
        {"name": "claim", "persistentVolumeClaim": {"claimName": "claim"}}]
    core.create_namespaced_pod("default", manifest)
    assert finished(core, "vols").status.phase == "Succeeded", core.read_namespaced_pod_log(
        "vols", "default")
    log = core.read_namespaced_pod_log("vols", "default")
    assert log.startswith("made\nhellokept\n") and log.endswith("\nread-only\n"), log
    assert not Path("/mnt/argosy-work").exists()  # mounted in the pod's namespace only


def test_an_unsupported_volume_is_a_start_error(core: client.CoreV1Api) -> None:
    manifest = pod_manifest("odd", "true", container={"volumeMounts": [
        {"name": "nfs", "mountPath": "/mnt/nfs"}]})
    manifest["spec"]["volumes"] = [{"name": "nfs", "nfs": {"server": "x", "path": "/"}}]
    core.create_namespaced_pod("default", manifest)
    terminated = finished(core, "odd").status.container_statuses[0].state.terminated
    assert terminated.reason == "StartError"
    assert terminated.message == (
        'volumeMount "nfs": nfs volumes are not supported by the API double')


def test_working_dir_is_honoured_and_made_in_the_containers_view(
        core: client.CoreV1Api, tmp_path: Path) -> None:
    core.create_namespaced_pod("default", pod_manifest("here", "pwd",
                                                       container={"workingDir": "/etc"}))
    missing = tmp_path / "missing"
    core.create_namespaced_pod("default", pod_manifest(
        "made", "pwd; touch f", container={"workingDir": str(missing)}))
    finished(core, "here")
    assert core.read_namespaced_pod_log("here", "default") == "/etc\n"
    assert finished(core, "made").status.phase == "Succeeded"
    assert core.read_namespaced_pod_log("made", "default") == f"{missing}\n"
    assert not missing.exists()  # as a container runtime makes it: in the container's view


def test_a_deadline_set_on_a_running_pod_stops_it(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod_manifest("stoppable", "exec sleep 300"))
    wait_for(lambda: core.read_namespaced_pod("stoppable", "default").status.phase == "Running",
             "the pod to run")
    core.patch_namespaced_pod("stoppable", "default", {"spec": {"activeDeadlineSeconds": 1}})
    pod = finished(core, "stoppable")
    assert (pod.status.phase, pod.status.reason) == ("Failed", "DeadlineExceeded")


def test_each_container_has_a_tmp_of_its_own(core: client.CoreV1Api) -> None:
    """Each container sees a /tmp of its own, as an image gives it, and volumes mounted under it
    still work."""
    name = f"argosy-private-{os.getpid()}"
    for pod in ("one", "two"):
        manifest = pod_manifest(pod, f"echo {pod} > /tmp/{name}; sleep 0.5; cat /tmp/{name}"
                                f"; cat /tmp/shared/made", container={"volumeMounts": [
                                    {"name": "shared", "mountPath": "/tmp/shared"}]})
        manifest["spec"]["volumes"] = [{"name": "shared", "emptyDir": {}}]
        manifest["spec"]["initContainers"] = [{
            "name": "init", "image": "busybox", "command": [
                "sh", "-c", f"echo {pod}-init > /tmp/shared/made; echo x > /tmp/{name}"],
            "volumeMounts": [{"name": "shared", "mountPath": "/tmp/shared"}]}]
        core.create_namespaced_pod("default", manifest)
    for pod in ("one", "two"):
        assert finished(core, pod).status.phase == "Succeeded"
        assert core.read_namespaced_pod_log(pod, "default") == f"{pod}\n{pod}-init\n"
    assert not Path("/tmp", name).exists()


def test_a_command_that_is_not_there_is_a_start_error(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod_manifest(
        "absent", "", container={"command": ["argosy-no-such-command"]}))
    core.create_namespaced_pod("default", pod_manifest(
        "absent-path", "", container={"command": ["/no/such/program"]}))
    terminated = finished(core, "absent").status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (128, "StartError")
    assert terminated.message == ('failed to start container: exec: "argosy-no-such-command": '
                                  "executable file not found in $PATH")
    terminated = finished(core, "absent-path").status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (128, "StartError")
    assert "stat /no/such/program: no such file or directory" in terminated.message


def test_where_the_kernel_gives_no_sandbox_containers_run_unisolated_with_the_notice(
        core: client.CoreV1Api, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from argosy.plugins import local

    monkeypatch.setattr(local, "_probe_private_tmp", lambda: "unshare: Operation not permitted")
    core.create_namespaced_pod("default", pod_manifest("plain", "echo hi"))
    core.create_namespaced_pod("default", pod_manifest(
        "mounts", "true", container={"volumeMounts": [{"name": "v", "mountPath": "/v"}]},
        volumes=[{"name": "v", "emptyDir": {}}]))
    assert finished(core, "plain").status.phase == "Succeeded"
    assert core.read_namespaced_pod_log("plain", "default") == "hi\n"
    terminated = finished(core, "mounts").status.container_statuses[0].state.terminated
    assert (terminated.reason, terminated.message) == ("StartError", (
        "volumes cannot be mounted here: containers run unisolated, without a mount namespace "
        "of their own"))
    assert [m for m in caplog.messages if "unisolated" in m] == [
        "argosy: steps run unisolated, without a private /tmp, because unshare: Operation not "
        "permitted (set ARGOSY_SANDBOX=off to choose this and silence the notice)"]


def test_a_sandbox_without_a_layer_is_refused_by_name(core: client.CoreV1Api,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGOSY_SANDBOX", "tmp")
    core.create_namespaced_pod("default", pod_manifest("tmp-only", "true"))
    terminated = finished(core, "tmp-only").status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (128, "StartError")
    assert terminated.message.startswith("ARGOSY_SANDBOX=tmp gives a container no layer")
