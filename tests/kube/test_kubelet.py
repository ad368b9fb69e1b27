"""The simulated kubelet: pods' containers really run, so logs, exits, messages and deadlines are
real."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config, watch

from tests.kube.conftest import finished, pod_manifest, wait_for
from tests.kube.double import Double


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def test_init_containers_run_in_order_then_the_containers(core: client.CoreV1Api) -> None:
    manifest = pod_manifest("p", "cat order; echo main >> order")
    manifest["spec"]["initContainers"] = [
        {"name": f"init{i}", "image": "busybox", "command": ["sh", "-c", f"echo init{i} >> order"]}
        for i in (1, 2)]
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


def test_a_sidecar_runs_beside_the_containers_and_is_stopped_after(core: client.CoreV1Api,
                                                                   tmp_path: Path) -> None:
    marker = tmp_path / "sidecar-up"
    manifest = pod_manifest("p", f'while [ ! -e {marker} ]; do sleep 0.05; done; echo saw it')
    manifest["spec"]["initContainers"] = [
        {"name": "side", "image": "busybox", "restartPolicy": "Always",
         "command": ["sh", "-c", f"touch {marker}; exec sleep 300"]}]
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
    script = "echo try >> tries; [ $(wc -l < tries) -ge 2 ]"
    created = core.create_namespaced_pod("default", pod_manifest("retry", script,
                                                                 restartPolicy="OnFailure"))
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


def test_deleting_a_running_pod_kills_its_processes(core: client.CoreV1Api,
                                                    double: object) -> None:
    # The container ignores SIGTERM and leaves a child behind: the grace period runs out and
    # the whole process group is killed.
    # $$ is Kubernetes' escape of $, as in the real kubelet.
    script = "trap '' TERM; sleep 300 & echo $! > child; echo $$$$ > pid; wait"
    core.create_namespaced_pod("default", pod_manifest("doomed", script,
                                                       terminationGracePeriodSeconds=1))
    pod_dir = wait_for(lambda: next(Path(double.root).glob("default_doomed_*"), None),
                       "the pod's directory")
    pid_file, child_file = pod_dir / "pid", pod_dir / "child"
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip()
             and child_file.exists() and child_file.read_text().strip(), "the pids")
    pids = [int(pid_file.read_text()), int(child_file.read_text())]
    deleted = core.delete_namespaced_pod("doomed", "default")
    assert deleted.metadata.deletion_timestamp is not None
    assert deleted.metadata.deletion_grace_period_seconds == 1
    wait_for(lambda: not core.list_namespaced_pod("default").items, "the pod to go")
    assert not any(_alive(pid) for pid in pids)


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
        core: client.CoreV1Api, double: object) -> None:
    core.create_namespaced_pod("default", pod_manifest("forced", "echo $$$$ > pid; sleep 300"))
    pod_dir = wait_for(lambda: next(Path(double.root).glob("default_forced_*"), None),
                       "the pod's directory")
    pid = int(wait_for(lambda: (pod_dir / "pid").exists() and (pod_dir / "pid").read_text()
                       .strip(), "the pid"))
    core.delete_namespaced_pod("forced", "default", grace_period_seconds=0)
    assert core.list_namespaced_pod("default").items == []
    wait_for(lambda: not _alive(pid), "the process to be killed")


def test_volumes_are_shared_between_containers(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "settings"},
                                                  "data": {"greeting": "hello"}})
    core.create_namespaced_persistent_volume_claim("default", {
        "metadata": {"name": "claim"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                "resources": {"requests": {"storage": "1Mi"}}}})
    manifest = pod_manifest("vols", "cat /mnt/argosy-work/out /etc/argosy-settings/greeting "
                            "/mnt/argosy-claim/kept", container={"volumeMounts": [
                                {"name": "work", "mountPath": "/mnt/argosy-work"},
                                {"name": "settings", "mountPath": "/etc/argosy-settings"},
                                {"name": "claim", "mountPath": "/mnt/argosy-claim"}]})
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
    assert core.read_namespaced_pod_log("vols", "default") == "made\nhellokept\n"
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


def test_working_dir_is_honoured_and_must_exist(core: client.CoreV1Api, tmp_path: Path) -> None:
    core.create_namespaced_pod("default", pod_manifest("here", "pwd",
                                                       container={"workingDir": str(tmp_path)}))
    core.create_namespaced_pod("default", pod_manifest(
        "nowhere", "pwd", container={"workingDir": str(tmp_path / "missing")}))
    finished(core, "here")
    assert core.read_namespaced_pod_log("here", "default") == f"{tmp_path}\n"
    terminated = finished(core, "nowhere").status.container_statuses[0].state.terminated
    assert terminated.reason == "StartError" and "does not exist on this host" in terminated.message


def test_a_deadline_set_on_a_running_pod_stops_it(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod_manifest("stoppable", "exec sleep 300"))
    wait_for(lambda: core.read_namespaced_pod("stoppable", "default").status.phase == "Running",
             "the pod to run")
    core.patch_namespaced_pod("stoppable", "default", {"spec": {"activeDeadlineSeconds": 1}})
    pod = finished(core, "stoppable")
    assert (pod.status.phase, pod.status.reason) == ("Failed", "DeadlineExceeded")


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_a_private_tmp_per_container_where_the_double_is_asked_for_one(tmp_path: Path) -> None:
    """``--private-tmp``: each container sees a /tmp of its own, as an image gives it, and
    volumes mounted under it still work (the pods' files here are under the host's /tmp)."""
    with Double(root=tmp_path / "pods", private_tmp=True) as double:
        api = client.CoreV1Api(config.new_client_from_config(
            str(double.write_kubeconfig(tmp_path / "kubeconfig"))))
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
            api.create_namespaced_pod("default", manifest)
        for pod in ("one", "two"):
            assert finished(api, pod).status.phase == "Succeeded"
            assert api.read_namespaced_pod_log(pod, "default") == f"{pod}\n{pod}-init\n"
    assert not Path("/tmp", name).exists()
