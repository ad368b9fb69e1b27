"""The unchanged official Python client against the API server double."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client, dynamic, watch
from kubernetes.client.rest import ApiException

from tests.kube.conftest import finished, pod_manifest, wait_for
from tests.kube.double import Double

WIDGETS = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {
                               "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
}


def status_of(exc: ApiException) -> dict[str, Any]:
    return json.loads(exc.body)


def test_errors_are_status_objects(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("nope", "default")
    assert missing.value.status == 404
    assert status_of(missing.value) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'configmaps "nope" not found', "reason": "NotFound",
        "details": {"name": "nope", "kind": "configmaps"}, "code": 404}

    created = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    with pytest.raises(ApiException) as exists:
        core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    assert (exists.value.status, status_of(exists.value)["reason"]) == (409, "AlreadyExists")

    with pytest.raises(ApiException) as invalid:
        core.create_namespaced_pod("default", {"metadata": {"name": "p"},
                                               "spec": {"containers": [{"name": "main"}]}})
    status = status_of(invalid.value)
    assert (invalid.value.status, status["reason"]) == (422, "Invalid")
    assert status["message"] == 'Pod "p" is invalid: spec.containers[0].image: Required value'
    assert status["details"]["causes"] == [{"reason": "FieldValueRequired",
                                            "message": "Required value",
                                            "field": "spec.containers[0].image"}]

    with pytest.raises(ApiException) as no_namespace:
        core.create_namespaced_config_map("elsewhere", {"metadata": {"name": "c"}})
    assert status_of(no_namespace.value)["message"] == 'namespaces "elsewhere" not found'

    deleted = core.delete_namespaced_config_map("c", "default")  # a V1Status, as a dict
    assert deleted == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                       "details": {"name": "c", "kind": "configmaps",
                                   "uid": created.metadata.uid}}


def test_optimistic_concurrency_and_resource_versions(core: client.CoreV1Api) -> None:
    first = core.create_namespaced_config_map(
        "default", {"metadata": {"generateName": "cfg-"}, "data": {"a": "1"}})
    name = first.metadata.name
    assert name.startswith("cfg-") and len(name) > len("cfg-")
    assert first.metadata.uid and first.metadata.creation_timestamp
    first.data = {"a": "2"}
    second = core.replace_namespaced_config_map(name, "default", first)
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    first.data = {"a": "3"}  # still carries the first resourceVersion
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_config_map(name, "default", first)
    assert (stale.value.status, status_of(stale.value)["reason"]) == (409, "Conflict")
    listed = core.list_namespaced_config_map("default")
    assert int(listed.metadata.resource_version) >= int(second.metadata.resource_version)


def test_label_and_field_selectors(core: client.CoreV1Api) -> None:
    for name, labels in (("a", {"tier": "web", "env": "prod"}), ("b", {"tier": "db"}),
                         ("c", {"env": "dev"})):
        core.create_namespaced_config_map("default", {"metadata": {"name": name,
                                                                   "labels": labels}})

    def names(**kwargs: Any) -> list[str]:
        return [i.metadata.name for i in core.list_namespaced_config_map("default", **kwargs)
                .items]
    assert names(label_selector="tier=web") == ["a"]
    assert names(label_selector="tier==db") == ["b"]
    assert names(label_selector="tier!=web") == ["b", "c"]
    assert names(label_selector="tier in (web,db)") == ["a", "b"]
    assert names(label_selector="tier notin (web)") == ["b", "c"]
    assert names(label_selector="env") == ["a", "c"]
    assert names(label_selector="!env") == ["b"]
    assert names(label_selector="tier,env=prod") == ["a"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.name!=b,metadata.namespace=default") == ["a", "c"]
    with pytest.raises(ApiException) as unsupported:
        names(field_selector="data.a=1")
    assert unsupported.value.status == 400
    assert status_of(unsupported.value)["message"] == "field label not supported: data.a"


def test_list_pages_with_limit_and_continue(core: client.CoreV1Api) -> None:
    for i in range(5):
        core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
    seen, token = [], None
    while True:
        page = core.list_namespaced_config_map("default", limit=2, _continue=token)
        seen += [i.metadata.name for i in page.items]
        assert len(page.items) <= 2
        token = page.metadata._continue
        if not token:
            break
    assert seen == ["c0", "c1", "c2", "c3", "c4"]


def test_pod_runs_its_containers_for_real(core: client.CoreV1Api) -> None:
    script = "echo hello; echo out >&2; printf done > /dev/termination-log; exit 3"
    created = core.create_namespaced_pod("default", pod_manifest("p", script))
    assert created.status.phase == "Pending"
    assert created.spec.containers[0].termination_message_path == "/dev/termination-log"
    pod = finished(core, "p")
    assert pod.status.phase == "Failed"
    terminated = pod.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason, terminated.message) == (3, "Error", "done")
    assert pod.spec.node_name
    assert core.read_namespaced_pod_log("p", "default") == "hello\nout\n"


def test_watch_streams_events_from_a_resource_version(core: client.CoreV1Api) -> None:
    start = core.create_namespaced_config_map("default", {"metadata": {"name": "w"}})
    core.patch_namespaced_config_map("w", "default", {"data": {"k": "v"}})
    core.delete_namespaced_config_map("w", "default")
    events = [(e["type"], e["raw_object"]["metadata"]["name"])
              for e in watch.Watch().stream(
                  core.list_namespaced_config_map, "default",
                  resource_version=start.metadata.resource_version, timeout_seconds=1)
              if e["type"] != "BOOKMARK"]
    assert events == [("MODIFIED", "w"), ("DELETED", "w")]


def test_watch_sends_bookmarks_and_ends_at_its_timeout(core: client.CoreV1Api) -> None:
    types = [e["type"] for e in watch.Watch().stream(
        core.list_namespaced_pod, "default", allow_watch_bookmarks=True, timeout_seconds=1)]
    assert "BOOKMARK" in types  # the fixture's double bookmarks every 0.2 s


def test_watch_is_chunked(double: Double) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", double.port)
    conn.request("GET", "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1")
    response = conn.getresponse()
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.read() == b""  # nothing happened, and the stream ended at the timeout
    conn.close()


def test_watch_of_an_expired_resource_version_is_gone(tmp_path: Path) -> None:
    from kubernetes import config
    with Double(root=tmp_path / "pods", window=3) as small:
        api = config.new_client_from_config(
            str(small.write_kubeconfig(tmp_path / "kubeconfig")))
        core = client.CoreV1Api(api)
        first = core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
        for i in range(5):
            core.patch_namespaced_config_map("x", "default", {"data": {"n": str(i)}})
        stale = first.metadata.resource_version
        raw = core.list_namespaced_config_map("default", watch=True, resource_version=stale,
                                              _preload_content=False)
        event = json.loads(raw.data.decode().splitlines()[0])
        assert event["type"] == "ERROR"
        assert event["object"]["code"] == 410
        assert event["object"]["reason"] == "Expired"
        with pytest.raises(ApiException) as gone:  # the client retries once, then raises
            list(watch.Watch().stream(core.list_namespaced_config_map, "default",
                                      resource_version=stale, timeout_seconds=1))
        assert gone.value.status == 410
        api.close()


def test_log_follow_streams_while_the_container_runs(core: client.CoreV1Api,
                                                     tmp_path: Path) -> None:
    go = tmp_path / "go"  # seen by the pod through a hostPath volume
    script = 'echo first; while [ ! -e /signal/go ]; do sleep 0.05; done; echo second'
    core.create_namespaced_pod("default", pod_manifest(
        "f", script, container={"volumeMounts": [{"name": "signal", "mountPath": "/signal"}]},
        volumes=[{"name": "signal", "hostPath": {"path": str(tmp_path)}}]))
    wait_for(lambda: core.read_namespaced_pod("f", "default").status.phase == "Running",
             "the pod to run")
    stream = core.read_namespaced_pod_log("f", "default", follow=True, _preload_content=False)
    lines = stream.stream(amt=None)
    assert next(lines) == b"first\n"  # the container is still waiting for the go file
    go.touch()
    assert b"".join(lines) == b"second\n"


def test_logs_by_container_and_tail(core: client.CoreV1Api) -> None:
    manifest = pod_manifest("two", "echo 1; echo 2; echo 3")
    manifest["spec"]["containers"].append(
        {"name": "side", "image": "busybox", "command": ["echo", "from side"]})
    core.create_namespaced_pod("default", manifest)
    finished(core, "two")
    with pytest.raises(ApiException) as which:
        core.read_namespaced_pod_log("two", "default")
    assert status_of(which.value)["message"] == (
        "a container name must be specified for pod two, choose one of: [main side]")
    assert core.read_namespaced_pod_log("two", "default", container="main", tail_lines=2) == \
        "2\n3\n"
    assert core.read_namespaced_pod_log("two", "default", container="side") == "from side\n"


def test_patch_types(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    containers = [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}]
    apps.create_namespaced_deployment("default", {
        "metadata": {"name": "d"}, "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {"metadata": {"labels": {"app": "d"}},
                         "spec": {"containers": containers}}}})
    patched = apps.patch_namespaced_deployment("d", "default", {"spec": {"template": {"spec": {
        "containers": [{"name": "b", "image": "y:2"}]}}}})  # strategic: merged by name
    assert [(c.name, c.image) for c in patched.spec.template.spec.containers] == [
        ("a", "x:1"), ("b", "y:2")]
    assert patched.metadata.generation == 2

    core = client.CoreV1Api(api)
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"},
                                                  "data": {"a": "1", "b": "2"}})
    ops = [{"op": "replace", "path": "/data/a", "value": "9"}, {"op": "remove", "path": "/data/b"}]
    assert core.patch_namespaced_config_map("c", "default", ops).data == {"a": "9"}
    with pytest.raises(ApiException) as failed:
        core.patch_namespaced_config_map("c", "default", [{"op": "remove", "path": "/data/z"}])
    assert failed.value.status == 422


def test_custom_resources_from_a_crd(api: client.ApiClient) -> None:
    client.ApiextensionsV1Api(api).create_custom_resource_definition(WIDGETS)
    custom = client.CustomObjectsApi(api)
    args = ("example.com", "v1", "default", "widgets")
    created = custom.create_namespaced_custom_object(
        *args, {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                "spec": {"size": 1}, "status": {"phase": "ignored"}})
    assert "status" not in created  # the status subresource owns status
    custom.patch_namespaced_custom_object_status(*args, "w", {"status": {"phase": "Ready"}})
    custom.patch_namespaced_custom_object(*args, "w", {"spec": {"size": 2},
                                                       "status": {"phase": "ignored"}})
    got = custom.get_namespaced_custom_object(*args, "w")
    assert (got["spec"], got["status"], got["metadata"]["generation"]) == (
        {"size": 2}, {"phase": "Ready"}, 2)
    listed = custom.list_namespaced_custom_object(*args)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w"]
    strategic = httpx.patch(
        f"{api.configuration.host}/apis/example.com/v1/namespaces/default/widgets/w",
        content=b'{"spec": {}}',
        headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert (strategic.status_code, strategic.json()["reason"]) == (415, "UnsupportedMediaType")


def test_cluster_scoped_custom_resources_and_the_dynamic_client(api: client.ApiClient) -> None:
    crd = json.loads(json.dumps(WIDGETS).replace("Namespaced", "Cluster")
                     .replace("widget", "gadget").replace("Widget", "Gadget"))
    del crd["spec"]["versions"][0]["subresources"]
    client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
    dyn = dynamic.DynamicClient(api)
    gadgets = dyn.resources.get(api_version="example.com/v1", kind="Gadget")
    assert not gadgets.namespaced
    gadgets.create(body={"apiVersion": "example.com/v1", "kind": "Gadget",
                         "metadata": {"name": "g"}, "status": {"phase": "kept"}})
    assert gadgets.get(name="g").status.phase == "kept"  # no status subresource declared
    config_maps = dyn.resources.get(api_version="v1", kind="ConfigMap")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"},
            "data": {"a": "1"}}
    config_maps.server_side_apply(body=body, namespace="default", field_manager="argosy")
    body["data"] = {"b": "2"}
    applied = config_maps.server_side_apply(body=body, namespace="default",
                                            field_manager="argosy")
    assert dict(applied.data) == {"a": "1", "b": "2"}  # merged: field ownership is not modelled
    pods = dyn.resources.get(api_version="v1", kind="Pod")
    pods.create(body=pod_manifest("dp", "true"), namespace="default")
    assert pods.get(name="dp", namespace="default").metadata.name == "dp"


def test_deleting_an_owner_collects_its_dependents(core: client.CoreV1Api) -> None:
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    core.create_namespaced_config_map("default", {"metadata": {"name": "dep",
                                                               "ownerReferences": [ref]}})
    core.create_namespaced_pod("default", {**pod_manifest("dep-pod", "sleep 60"),
                                           "metadata": {"name": "dep-pod",
                                                        "ownerReferences": [ref]}})
    core.delete_namespaced_config_map("owner", "default")
    wait_for(lambda: not core.list_namespaced_pod("default").items, "the dependent pod to go")
    assert [c.metadata.name for c in core.list_namespaced_config_map("default").items] == []


def test_orphan_propagation_keeps_dependents(core: client.CoreV1Api) -> None:
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    core.create_namespaced_config_map("default", {"metadata": {"name": "dep",
                                                               "ownerReferences": [ref]}})
    core.delete_namespaced_config_map("owner", "default", propagation_policy="Orphan")
    dep = core.read_namespaced_config_map("dep", "default")
    assert not dep.metadata.owner_references


def test_a_job_runs_its_pod_to_completion(api: client.ApiClient) -> None:
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    template = {"spec": pod_manifest("ignored", "echo from the job")["spec"]}
    batch.create_namespaced_job("default", {"metadata": {"name": "j"},
                                            "spec": {"template": template}})
    job = wait_for(lambda: (j := batch.read_namespaced_job("j", "default")).status.conditions
                   and j, "the job to finish")
    assert [c.type for c in job.status.conditions] == ["SuccessCriteriaMet", "Complete"]
    assert job.status.succeeded == 1
    pods = core.list_namespaced_pod("default", label_selector="job-name=j").items
    assert len(pods) == 1
    assert core.read_namespaced_pod_log(pods[0].metadata.name, "default") == "from the job\n"
    batch.delete_namespaced_job("j", "default", propagation_policy="Background")
    wait_for(lambda: not core.list_namespaced_pod("default").items, "the job's pod to go")


def test_a_parallel_job_names_its_pods_after_itself(api: client.ApiClient) -> None:
    # A pod template's own name is ignored, as by the real controller (Argo's k8s-jobs gives
    # one): three pods at once, each named after the job.
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    template = {"metadata": {"name": "rand"}, "spec": pod_manifest("x", "echo $$")["spec"]}
    batch.create_namespaced_job("default", {"metadata": {"name": "j"}, "spec": {
        "template": template, "completions": 3, "parallelism": 3}})
    job = wait_for(lambda: (j := batch.read_namespaced_job("j", "default")).status.conditions
                   and j, "the job to finish")
    assert (job.status.conditions[-1].type, job.status.succeeded) == ("Complete", 3)
    pods = core.list_namespaced_pod("default", label_selector="job-name=j").items
    assert len(pods) == 3 and all(p.metadata.name.startswith("j-") for p in pods)


def test_a_failing_job_stops_at_its_backoff_limit(api: client.ApiClient) -> None:
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    template = {"spec": pod_manifest("ignored", "exit 1")["spec"]}
    batch.create_namespaced_job("default", {"metadata": {"name": "j"}, "spec": {
        "template": template, "backoffLimit": 1}})
    job = wait_for(lambda: (j := batch.read_namespaced_job("j", "default")).status.conditions
                   and j, "the job to fail")
    assert job.status.conditions[-1].type == "Failed"
    assert job.status.conditions[-1].reason == "BackoffLimitExceeded"
    assert job.status.failed == 2
    assert len(core.list_namespaced_pod("default").items) == 2


def test_pod_status_patches_merge_conditions_by_type(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod_manifest("gated", "true"))
    gate = {"type": "example.com/gate", "status": "True"}
    patched = core.patch_namespaced_pod_status("gated", "default",
                                               {"status": {"conditions": [gate]}})
    assert "example.com/gate" in [c.type for c in patched.status.conditions]
    pod = finished(core, "gated")
    types = [c.type for c in pod.status.conditions]
    assert "example.com/gate" in types and "Ready" in types  # the kubelet keeps others' own


def test_finalizers_hold_a_deletion_until_removed(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {
        "name": "held", "finalizers": ["example.com/hold"]}})
    core.delete_namespaced_config_map("held", "default")
    assert core.read_namespaced_config_map("held", "default").metadata.deletion_timestamp
    core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_config_map("held", "default")
    assert gone.value.status == 404


def test_deleting_a_namespace_deletes_its_objects(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "team"}})
    assert core.read_namespace("team").status.phase == "Active"
    core.create_namespaced_config_map("team", {"metadata": {"name": "c"}})
    core.delete_namespace("team")
    assert core.list_config_map_for_all_namespaces(field_selector="metadata.namespace=team"
                                                   ).items == []
    with pytest.raises(ApiException):
        core.read_namespace("team")


def test_dry_run_stores_nothing(core: client.CoreV1Api) -> None:
    dry = core.create_namespaced_config_map("default", {"metadata": {"name": "dry"}},
                                            dry_run="All")
    assert dry.metadata.name == "dry"
    assert core.list_namespaced_config_map("default").items == []


def test_leases_and_services(api: client.ApiClient) -> None:
    coordination = client.CoordinationV1Api(api)
    lease = coordination.create_namespaced_lease("default", {
        "metadata": {"name": "leader"}, "spec": {"holderIdentity": "a",
                                                 "leaseDurationSeconds": 15}})
    lease.spec.holder_identity = "b"
    assert coordination.replace_namespaced_lease("leader", "default", lease
                                                 ).spec.holder_identity == "b"
    service = client.CoreV1Api(api).create_namespaced_service("default", {
        "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
                                              "ports": [{"port": 80}]}})
    assert service.spec.type == "ClusterIP" and service.spec.cluster_ip
    assert (service.spec.ports[0].protocol, service.spec.ports[0].target_port) == ("TCP", 80)


def _widgets_with_one(api: client.ApiClient
                      ) -> tuple[client.ApiextensionsV1Api, client.CustomObjectsApi]:
    """The widgets CRD and one widget, w."""
    extensions = client.ApiextensionsV1Api(api)
    extensions.create_custom_resource_definition(WIDGETS)
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", {
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    return extensions, custom


def test_deleting_a_crd_deletes_its_custom_resources(api: client.ApiClient) -> None:
    extensions, custom = _widgets_with_one(api)
    extensions.delete_custom_resource_definition("widgets.example.com")
    with pytest.raises(ApiException) as gone:
        custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
    assert gone.value.status == 404
    extensions.create_custom_resource_definition(WIDGETS)
    assert custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets"
                                                )["items"] == []


def test_updating_a_crd_keeps_its_custom_resources(api: client.ApiClient) -> None:
    extensions, custom = _widgets_with_one(api)
    extensions.patch_custom_resource_definition("widgets.example.com", {"spec": {"names": {
        "shortNames": ["wd"]}}})
    assert [w["metadata"]["name"] for w in custom.list_namespaced_custom_object(
        "example.com", "v1", "default", "widgets")["items"]] == ["w"]


def test_a_watch_list_ends_its_initial_events_with_a_bookmark(double: Double) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", double.port)
    conn.request("GET", "/api/v1/namespaces?watch=1&sendInitialEvents=true"
                 "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1")
    events = [json.loads(line) for line in conn.getresponse().read().splitlines()]
    conn.close()
    initial = [e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"]
    assert initial == ["default", "kube-node-lease", "kube-public", "kube-system"]
    end = events[len(initial)]
    assert end["type"] == "BOOKMARK"
    assert end["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_field_selectors_on_pod_phase_and_events(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod_manifest("ok", "true"))
    core.create_namespaced_pod("default", pod_manifest("bad", "false"))
    finished(core, "ok"), finished(core, "bad")
    succeeded = core.list_namespaced_pod("default", field_selector="status.phase=Succeeded")
    assert [p.metadata.name for p in succeeded.items] == ["ok"]
    core.create_namespaced_event("default", {
        "metadata": {"generateName": "ok."}, "reason": "Checked", "type": "Normal",
        "message": "looked at", "involvedObject": {"kind": "Pod", "name": "ok",
                                                   "namespace": "default"}})
    events = core.list_namespaced_event("default", field_selector="involvedObject.name=ok")
    assert [e.reason for e in events.items] == ["Checked"]
    assert core.list_namespaced_event("default", field_selector="involvedObject.name=bad"
                                      ).items == []
