"""The ``resource`` template type against the API server double, through the real ``argosy run``.

The double's Job controller runs each Job's pods through its kubelet and keeps the Job's status,
so conditions on ``status.succeeded``/``status.failed`` are decided by real processes.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from argosy.api.service import submit
from argosy.engine.run import node_id
from argosy.plugins import resource as resource_module
from argosy.plugins.resource import (
    NODE_ANNOTATION,
    RECORD,
    Cluster,
    Conditions,
    Ref,
    Request,
    act,
    parse_flags,
)
from argosy.spec.selectors import parse_requirements
from argosy.store import Store, runtime_dir
from tests.conftest import REPO, CliResult, run_cli
from tests.durability.harness import EngineProcess, wait_until
from tests.kube.conftest import install_crd, wait_for
from tests.kube.double import Double


def workflow(*templates: dict[str, Any], name: str = "res") -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name},
            "spec": {"entrypoint": templates[0]["name"], "templates": list(templates)}}


def resource(name: str, action: str, manifest: Any = None, outputs: dict[str, str] | None = None,
             **fields: Any) -> dict[str, Any]:
    """A resource template; ``outputs`` maps a parameter to ``jq:FILTER`` or a jsonPath."""
    body: dict[str, Any] = {"action": action, **fields}
    if manifest is not None:
        body["manifest"] = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest)
    template: dict[str, Any] = {"name": name, "resource": body}
    if outputs:
        template["outputs"] = {"parameters": [
            {"name": k, "valueFrom": {"jqFilter": v[3:]} if v.startswith("jq:") else
             {"jsonPath": v}} for k, v in outputs.items()]}
    return template


def steps(*names: str) -> dict[str, Any]:
    return {"name": "main", "steps": [[{"name": n, "template": n}] for n in names]}


def run(home: Path, kubeconfig: Path | None, doc: dict[str, Any],
        **env: str) -> tuple[CliResult, Any]:
    path = home.parent / "wf.yaml"
    path.write_text(yaml.safe_dump(doc))
    env = {"KUBECONFIG": str(kubeconfig or home.parent / "no-kubeconfig"),
           "HOME": str(home.parent), **env}
    done = run_cli("run", str(path), "-o", "json", home=home, env=env, timeout=120)
    return done, json.loads(done.stdout) if done.stdout.strip() else None


def node(wf: dict[str, Any], display: str) -> dict[str, Any]:
    found = [n for n in wf["status"]["nodes"].values() if n["displayName"] == display]
    assert len(found) == 1, (display, [n["displayName"] for n in wf["status"]["nodes"].values()])
    return found[0]


def outputs(wf: dict[str, Any], display: str) -> dict[str, str]:
    return {p["name"]: p.get("value") for p in
            (node(wf, display).get("outputs") or {}).get("parameters", [])}


def job(script: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"generateName": "pi-"},
            "spec": {**spec, "template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "main", "image": "busybox", "command": ["sh", "-c", script]}]}}}}


# ---- create, conditions, outputs ---------------------------------------------------------------


def test_a_created_job_is_waited_for_and_read_out(argosy_home: Path, kubeconfig: Path,
                                                  api: client.ApiClient) -> None:
    template = resource("main", "create", job("echo $((6 * 7))", completions=2, parallelism=2),
                        {"job-name": "{.metadata.name}", "completions": "jq:.spec.completions",
                         "job": "jq:."},
                        successCondition="status.succeeded > 1",
                        failureCondition="status.failed > 0")
    done, wf = run(argosy_home, kubeconfig, workflow(template))
    assert done.code == 0, done.stderr
    assert wf["status"]["phase"] == "Succeeded"
    out = outputs(wf, "res")
    assert out["job-name"].startswith("pi-") and out["completions"] == "2"
    job_obj = client.BatchV1Api(api).read_namespaced_job(out["job-name"], "default")
    assert job_obj.status.succeeded == 2
    assert json.loads(out["job"])["metadata"]["uid"] == job_obj.metadata.uid
    # The node that created it is named on it, so a restarted engine can find it.
    assert job_obj.metadata.annotations[NODE_ANNOTATION] == \
        f"{wf['metadata']['uid']}/{node(wf, 'res')['id']}"
    assert node(wf, "res")["type"] == "Pod"


def test_the_failure_condition_fails_the_node_saying_which(argosy_home: Path,
                                                           kubeconfig: Path) -> None:
    template = resource("main", "create", job("exit 3", backoffLimit=0),
                        {"job-name": "{.metadata.name}"},
                        successCondition="status.succeeded > 0",
                        failureCondition="status.failed > 0")
    done, wf = run(argosy_home, kubeconfig, workflow(template))
    assert done.code == 1
    res = node(wf, "res")
    assert (res["phase"], res["message"]) == ("Failed",
                                              "failure condition 'status.failed>0' evaluated true")
    assert "outputs" not in res


def test_until_a_condition_holds_the_node_watches_and_does_not_poll(
        argosy_home: Path, kubeconfig: Path, double: Double, api: client.ApiClient) -> None:
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gate"},
                "data": {"ready": "no"}}
    doc = workflow(resource("main", "create", manifest, successCondition="data.ready == yes"))
    path = argosy_home.parent / "wf.yaml"
    path.write_text(yaml.safe_dump(doc))
    proc = subprocess.Popen(
        [sys.executable, "-m", "argosy.cli", "run", str(path), "-o", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**__import__("os").environ, "ARGOSY_HOME": str(argosy_home),
             "KUBECONFIG": str(kubeconfig)})
    core = client.CoreV1Api(api)
    try:
        gate = "/api/v1/namespaces/default/configmaps"

        def watching() -> bool:
            return any(m == "GET" and p == gate and q.get("watch") in ("true", "True")
                       for m, p, q in double.requests)
        wait_for(watching, "the node to watch the config map")
        time.sleep(1.5)  # long enough for a poller to show itself
        assert proc.poll() is None, "the node did not wait for its condition"
        reads = [r for r in double.requests if r[0] == "GET" and r[1] == f"{gate}/gate"]
        core.patch_namespaced_config_map("gate", "default", {"data": {"ready": "yes"}})
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert json.loads(out)["status"]["phase"] == "Succeeded"
    assert len(reads) <= 1, reads  # the object is watched, not read again and again


# ---- every action ------------------------------------------------------------------------------


def config_map(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": data}


KEYS = "jq:.data | keys | join(\",\")"


def test_every_action(argosy_home: Path, kubeconfig: Path, api: client.ApiClient,
                      double: Double) -> None:
    doc = workflow(
        steps("create", "apply", "replace", "merge", "strategic", "json", "get", "delete"),
        resource("create", "create", config_map(a="1"), {"keys": KEYS}),
        resource("apply", "apply", config_map(a="2", b="x"), {"a": "{.data.a}", "keys": KEYS}),
        resource("replace", "replace", config_map(c="3"), {"keys": KEYS},
                 flags=["--field-manager=argo-user", "--validate=strict"]),
        resource("merge", "patch", config_map(d="4"), {"keys": KEYS}, mergeStrategy="merge"),
        resource("strategic", "patch", config_map(e="5"), {"keys": KEYS}),
        resource("json", "patch", [{"op": "add", "path": "/data/f", "value": "6"}],
                 {"keys": KEYS}, mergeStrategy="json", flags=["configmap", "cm"]),
        resource("get", "get", {"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "cm"}}, {"data": "{.data}"},
                 successCondition="data.f == 6"),
        resource("delete", "delete", {"apiVersion": "v1", "kind": "ConfigMap",
                                      "metadata": {"name": "cm"}}),
    )
    done, wf = run(argosy_home, kubeconfig, doc)
    assert done.code == 0, done.stderr + json.dumps(wf and wf["status"].get("message"))
    puts = [q for m, _, q in double.requests if m == "PUT"]
    assert puts == [{"fieldManager": "argo-user", "fieldValidation": "Strict"}]
    assert outputs(wf, "create") == {"keys": "a"}
    assert outputs(wf, "apply") == {"a": "2", "keys": "a,b"}
    assert outputs(wf, "replace") == {"keys": "c"}
    assert outputs(wf, "merge") == {"keys": "c,d"}
    assert outputs(wf, "strategic") == {"keys": "c,d,e"}
    assert outputs(wf, "json") == {"keys": "c,d,e,f"}
    assert json.loads(outputs(wf, "get")["data"]) == {"c": "3", "d": "4", "e": "5", "f": "6"}
    with pytest.raises(client.ApiException) as gone:
        client.CoreV1Api(api).read_namespaced_config_map("cm", "default")
    assert gone.value.status == 404


def test_a_failed_call_fails_the_node_with_the_servers_message(argosy_home: Path,
                                                               kubeconfig: Path) -> None:
    doc = workflow(resource("main", "get", config_map()))
    done, wf = run(argosy_home, kubeconfig, doc)
    assert done.code == 1
    assert node(wf, "res")["phase"] == "Failed"
    assert node(wf, "res")["message"] == 'configmaps "cm" not found'


# ---- custom resources --------------------------------------------------------------------------


def test_a_custom_resource_of_a_crd(argosy_home: Path, kubeconfig: Path,
                                    api: client.ApiClient) -> None:
    install_crd(api, "example.com", "v1", "Widget", "widgets", ("wd",))
    custom = client.CustomObjectsApi(api)

    def controller() -> None:  # plays the widget's operator: the widget becomes Ready
        def made() -> Any:
            try:
                return custom.get_namespaced_custom_object("example.com", "v1", "default",
                                                           "widgets", "w")
            except client.ApiException:
                return None
        wait_for(made, "the widget")
        custom.patch_namespaced_custom_object_status(
            "example.com", "v1", "default", "widgets", "w", {"status": {"phase": "Ready"}})
    threading.Thread(target=controller, daemon=True).start()
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
              "spec": {"size": 3}}
    doc = workflow(steps("make", "grow", "strategic"),
                   resource("make", "create", widget, {"phase": "{.status.phase}"},
                            successCondition="status.phase == Ready"),
                   resource("grow", "patch", [{"op": "replace", "path": "/spec/size",
                                               "value": 4}],
                            {"size": "{.spec.size}"}, mergeStrategy="json", flags=["wd", "w"]),
                   resource("strategic", "patch", {**widget, "spec": {"size": 5}}))
    done, wf = run(argosy_home, kubeconfig, doc)
    assert outputs(wf, "make") == {"phase": "Ready"}
    assert outputs(wf, "grow") == {"size": "4"}
    # Custom resources take no strategic merge patch, as Argo's docs warn; the server says so.
    assert node(wf, "strategic")["phase"] == "Failed"
    assert "the body of the request was in an unknown format" in node(wf, "strategic")["message"]
    assert done.code == 1


# ---- no cluster --------------------------------------------------------------------------------


def test_without_a_kubeconfig_the_node_says_so(argosy_home: Path) -> None:
    done, wf = run(argosy_home, None, workflow(resource("main", "get", config_map())))
    assert done.code == 1
    res = node(wf, "res")
    assert res["phase"] == "Failed"
    assert "no Kubernetes cluster configured" in res["message"]
    assert "no-kubeconfig does not exist" in res["message"]


# ---- re-attaching ------------------------------------------------------------------------------


def test_a_create_killed_before_its_record_adopts_the_object(
        argosy_home: Path, kubeconfig: Path, tmp_path: Path, double: Double,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The engine died after the server created the object and before the node recorded it:
    # the record says "creating", and the object carries the node's annotation.
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    node_dir = tmp_path / "node"
    node_dir.mkdir()
    (node_dir / RECORD).write_text('{"creating": true}')
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "g-"}}
    cluster = Cluster()
    req = Request("create", manifest, parse_flags([], "create"), "strategic", "default",
                  "uid/node", None)
    first = act(cluster, req, tmp_path / "other")  # the create before the crash, in effect
    again = act(cluster, req, node_dir)
    assert again[0] == first[0]
    posts = [r for r in double.requests if r[0] == "POST"]
    assert len(posts) == 1


# ---- setOwnerReference -------------------------------------------------------------------------


def test_set_owner_reference_ties_the_object_to_the_workflow(
        argosy_home: Path, kubeconfig: Path, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    made = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "owned-"}}
    doc = workflow(resource("main", "create", made, {"name": "{.metadata.name}"},
                            setOwnerReference=True), name="alone")
    # No Workflow object in the cluster: the label Argo gives a workflow's objects, and no
    # ownerReference that the garbage collector would take for an orphan's.
    done, wf = run(argosy_home, kubeconfig, doc)
    assert done.code == 0, done.stderr
    alone = core.read_namespaced_config_map(outputs(wf, "alone")["name"], "default")
    assert alone.metadata.labels == {"workflows.argoproj.io/workflow": "alone"}
    assert not alone.metadata.owner_references

    # A Workflow of that name in the cluster owns it, as in Argo: deleting it deletes the object.
    install_crd(api, "argoproj.io", "v1alpha1", "Workflow", "workflows", ("wf",))
    argo = client.CustomObjectsApi(api)
    owner = argo.create_namespaced_custom_object(
        "argoproj.io", "v1alpha1", "default", "workflows",
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "owner"},
         "spec": {"entrypoint": "main", "templates": []}})
    doc["metadata"]["name"] = "owner"
    done, wf = run(argosy_home, kubeconfig, doc)
    assert done.code == 0, done.stderr
    name = outputs(wf, "owner")["name"]
    refs = core.read_namespaced_config_map(name, "default").metadata.owner_references
    assert [(r.kind, r.name, r.uid, r.controller) for r in refs] == [
        ("Workflow", "owner", owner["metadata"]["uid"], True)]
    argo.delete_namespaced_custom_object("argoproj.io", "v1alpha1", "default", "workflows",
                                         "owner")
    wait_for(lambda: name not in [c.metadata.name for c in core.list_namespaced_config_map(
        "default").items], "the owned config map to be collected")
    assert core.read_namespaced_config_map(alone.metadata.name, "default")


def test_set_owner_reference_finds_the_workflow_in_the_served_api_group(
        argosy_home: Path, kubeconfig: Path, api: client.ApiClient) -> None:
    """Beside Argo's controller (``--api-group argosy.io``), the owner is argosy's Workflow of
    that name, not Argo's."""
    made = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "owned-"}}
    doc = workflow(resource("main", "create", made, {"name": "{.metadata.name}"},
                            setOwnerReference=True), name="owner")
    uids = {}
    for group in ("argoproj.io", "argosy.io"):
        install_crd(api, group, "v1alpha1", "Workflow", "workflows")
        uids[group] = client.CustomObjectsApi(api).create_namespaced_custom_object(
            group, "v1alpha1", "default", "workflows",
            {"apiVersion": f"{group}/v1alpha1", "kind": "Workflow", "metadata": {"name": "owner"},
             "spec": {"entrypoint": "main", "templates": []}})["metadata"]["uid"]
    done, wf = run(argosy_home, kubeconfig, doc, ARGOSY_API_GROUP="argosy.io")
    assert done.code == 0, done.stderr
    core = client.CoreV1Api(api)
    refs = core.read_namespaced_config_map(outputs(wf, "owner")["name"], "default").metadata
    assert [(r.api_version, r.uid) for r in refs.owner_references] == [
        ("argosy.io/v1alpha1", uids["argosy.io"])]


# ---- durability --------------------------------------------------------------------------------


def test_an_engine_killed_while_a_node_waits_re_attaches_and_creates_nothing_twice(
        argosy_home: Path, kubeconfig: Path, double: Double, api: client.ApiClient,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    argosy_home.mkdir(parents=True, exist_ok=True)
    core = client.CoreV1Api(api)
    gate = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gate-"},
            "data": {"ready": "no"}}
    store = Store(argosy_home)
    uid = submit(store, workflow(resource("main", "create", gate, {"name": "{.metadata.name}"},
                                          successCondition="data.ready == yes"))).uid
    record = runtime_dir(argosy_home) / uid / node_id("res", "res") / RECORD
    first = EngineProcess(argosy_home, exit_when_idle=600)
    try:
        wait_until(lambda: record.exists() and "ref" in record.read_text(), 60,
                   "the node to create and record its object")
        watches = len(double.requests)
        first.kill9()
        second = EngineProcess(argosy_home, exit_when_idle=1)
        wait_until(lambda: any(q.get("watch") in ("true", "True")
                               for _, _, q in double.requests[watches:]), 60,
                   "the next engine to watch the object again")
        [made] = core.list_namespaced_config_map("default").items
        core.patch_namespaced_config_map(made.metadata.name, "default",
                                         {"data": {"ready": "yes"}})
        assert second.wait(60) == 0
    finally:
        for engine in (first, locals().get("second")):
            if engine is not None and engine.proc.poll() is None:
                engine.kill9()
    done = store.get(uid)
    assert done.phase == "Succeeded"
    assert [m for m, p, _ in double.requests if m == "POST"] == ["POST"]
    assert [c.metadata.name for c in core.list_namespaced_config_map("default").items] == \
        [made.metadata.name]
    store.close()


# ---- the example -------------------------------------------------------------------------------


def test_the_kubernetes_job_example(argosy_home: Path, kubeconfig: Path,
                                    api: client.ApiClient) -> None:
    env = {"KUBECONFIG": str(kubeconfig)}
    done = run_cli("run", str(REPO / "examples" / "kubernetes-job.yaml"), "-o", "json",
                   "-p", "count=2", home=argosy_home, env=env, timeout=120)
    assert done.code == 0, done.stderr
    wf = json.loads(done.stdout)
    job = outputs(wf, "run-job")
    assert job["succeeded"] == "2"
    logs = run_cli("logs", wf["metadata"]["name"], home=argosy_home, env=env).stdout
    assert f"job {job['job-name']}: 2 pods succeeded" in logs
    assert client.BatchV1Api(api).list_namespaced_job("default").items == []
    # Deleted as kubectl deletes: its pods go with it.
    wait_for(lambda: not client.CoreV1Api(api).list_namespaced_pod(
        "default", label_selector=f"job-name={job['job-name']}").items, "the job's pods to go")


def test_a_watch_renewed_after_the_servers_window_still_sees_the_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The server keeps 3 events; other writes push the node's resourceVersion out of that
    # window while the watch is renewed (every second here): 410 Gone, then a fresh read.
    monkeypatch.setattr(resource_module, "WATCH_SECONDS", 1)
    with Double(root=tmp_path / "pods", window=3) as small:
        monkeypatch.setenv("KUBECONFIG", str(small.write_kubeconfig(tmp_path / "kc")))
        cluster = Cluster()
        with contextlib.closing(cluster.api):
            core = client.CoreV1Api(cluster.api)
            core.create_namespaced_config_map("default", {"metadata": {"name": "gate"}})
            first = cluster.api.sanitize_for_serialization(
                core.read_namespaced_config_map("gate", "default"))
            conditions = Conditions(parse_requirements("data.ready == yes"), [])
            found: list[Any] = []
            waiter = threading.Thread(target=lambda: found.append(resource_module.wait_for(
                cluster, Ref("v1", "ConfigMap", "default", "gate"), conditions, first,
                lambda: False)))
            waiter.start()
            for i in range(5):
                core.create_namespaced_config_map("default", {"metadata": {"name": f"x{i}"}})
            time.sleep(2.5)
            core.patch_namespaced_config_map("gate", "default", {"data": {"ready": "yes"}})
            waiter.join(30)
    assert [phase for _, phase, _ in found] == ["Succeeded"]


def test_a_condition_bad_once_substituted_fails_the_node_saying_why(argosy_home: Path) -> None:
    template = resource("main", "get", config_map(), successCondition="{{inputs.parameters.c}}")
    template["inputs"] = {"parameters": [{"name": "c", "value": "status.n > many"}]}
    done, wf = run(argosy_home, None, workflow(template))
    assert done.code == 1
    res = node(wf, "res")
    assert res["phase"] == "Failed"
    assert res["message"].startswith("resource.successCondition 'status.n > many' failed to "
                                     "parse: status.n>many: the value of > and < must be an "
                                     "integer")
