"""argo-server's workflow endpoints against a real server process executing real workflows."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import yaml

from tests.conftest import REPO
from tests.server.rest_harness import API, Server, wait_node, wait_phase, workflow


def test_create_runs_to_succeeded_and_get_shows_argo_status(http: httpx.Client) -> None:
    body = {"namespace": "default", "serverDryRun": False,
            "workflow": workflow("hello", "echo hello world")}
    resp = http.post(f"{API}/default", json=body)
    assert resp.status_code == 200, resp.text
    created = resp.json()
    assert created["metadata"]["name"] == "hello"
    assert created["metadata"]["namespace"] == "default"
    assert created["apiVersion"] == "argoproj.io/v1alpha1"
    assert created["kind"] == "Workflow"
    wf = wait_phase(http, "default", "hello")
    assert wf["status"]["phase"] == "Succeeded"
    assert wf["status"]["progress"] == "1/1"
    [node] = wf["status"]["nodes"].values()
    assert (node["type"], node["phase"], node["displayName"]) == ("Pod", "Succeeded", "hello")


def test_generate_name_and_namespace_from_the_path(http: httpx.Client) -> None:
    manifest = workflow("ignored", "true")
    manifest["metadata"] = {"generateName": "gen-"}
    created = http.post(f"{API}/team-x", json={"workflow": manifest}).json()
    name = created["metadata"]["name"]
    assert name.startswith("gen-") and len(name) == len("gen-") + 5
    assert created["metadata"]["namespace"] == "team-x"
    assert wait_phase(http, "team-x", name)["status"]["phase"] == "Succeeded"
    assert http.get(f"{API}/default/{name}").status_code == 404


def test_server_dry_run_validates_without_creating(http: httpx.Client) -> None:
    resp = http.post(f"{API}/default", json={"serverDryRun": True,
                                              "workflow": workflow("dry", "true")})
    assert resp.status_code == 200
    assert resp.json()["metadata"]["name"] == "dry"
    assert http.get(f"{API}/default/dry").status_code == 404


def test_create_twice_is_a_conflict(http: httpx.Client) -> None:
    assert http.post(f"{API}/default", json={"workflow": workflow("twice", "true")}).is_success
    resp = http.post(f"{API}/default", json={"workflow": workflow("twice", "true")})
    assert resp.status_code == 409
    assert resp.json() == {"code": 6, "message":
                           'workflows.argoproj.io "twice" already exists in namespace "default"'}


def test_list_label_selector_limit_continue_and_fields(http: httpx.Client) -> None:
    for i in range(5):
        labels = {"suite": "paging", "parity": "even" if i % 2 == 0 else "odd"}
        manifest = workflow(f"page-{i}", "true", metadata={"labels": labels})
        assert http.post(f"{API}/paging", json={"workflow": manifest}).is_success
    for i in range(5):
        wait_phase(http, "paging", f"page-{i}")

    def names(page: dict) -> list[str]:
        return sorted(wf["metadata"]["name"] for wf in page["items"])

    odd = http.get(f"{API}/paging", params={"listOptions.labelSelector": "parity=odd"}).json()
    assert names(odd) == ["page-1", "page-3"]
    both = http.get(f"{API}/paging",
                    params={"listOptions.labelSelector": "suite=paging,parity in (even)"}).json()
    assert names(both) == ["page-0", "page-2", "page-4"]
    # Argo's controller labels: the phase is selectable as argo's UI does.
    done = http.get(f"{API}/paging", params={
        "listOptions.labelSelector": "workflows.argoproj.io/phase=Succeeded"}).json()
    assert len(done["items"]) == 5

    seen: list[str] = []
    params: dict[str, str | int] = {"listOptions.limit": 2}
    pages = 0
    while True:
        page = http.get(f"{API}/paging", params=params).json()
        pages += 1
        assert len(page["items"]) <= 2
        seen += [wf["metadata"]["name"] for wf in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
        params["listOptions.continue"] = token
    assert pages == 3
    assert sorted(seen) == [f"page-{i}" for i in range(5)]

    trimmed = http.get(f"{API}/paging", params={
        "fields": "metadata,items.metadata.name,items.status.phase",
        "listOptions.fieldSelector": "metadata.name=page-3"}).json()
    assert trimmed == {"metadata": {}, "items": [
        {"metadata": {"name": "page-3"}, "status": {"phase": "Succeeded"}}]}
    dropped = http.get(f"{API}/paging", params={"fields": "-items.spec,items.status"}).json()
    assert all(set(wf) == {"metadata", "apiVersion", "kind"} for wf in dropped["items"])


def test_list_all_namespaces(http: httpx.Client) -> None:
    assert http.post(f"{API}/ns-one", json={"workflow": workflow("in-one", "true")}).is_success
    assert http.post(f"{API}/ns-two", json={"workflow": workflow("in-two", "true")}).is_success
    found = {(wf["metadata"]["namespace"], wf["metadata"]["name"])
             for wf in http.get(API).json()["items"]}
    assert {("ns-one", "in-one"), ("ns-two", "in-two")} <= found


def test_get_with_fields(http: httpx.Client) -> None:
    http.post(f"{API}/default", json={"workflow": workflow("fielded", "true")})
    wait_phase(http, "default", "fielded")
    got = http.get(f"{API}/default/fielded", params={"fields": "metadata.name,status.phase"})
    assert got.json() == {"metadata": {"name": "fielded"}, "status": {"phase": "Succeeded"}}


def test_delete(http: httpx.Client) -> None:
    http.post(f"{API}/default", json={"workflow": workflow("doomed", "true")})
    wait_phase(http, "default", "doomed")
    resp = http.delete(f"{API}/default/doomed")
    assert (resp.status_code, resp.json()) == (200, {})
    assert http.get(f"{API}/default/doomed").status_code == 404
    assert http.delete(f"{API}/default/doomed").status_code == 404


def test_log_and_log_follow(http: httpx.Client) -> None:
    script = "for i in 1 2 3; do echo line-$i; sleep 0.3; done; echo tail-end"
    http.post(f"{API}/default", json={"workflow": workflow("talker", script)})
    # follow: streams while the pod runs and ends when the workflow ends
    with http.stream("GET", f"{API}/default/talker/log",
                     params={"logOptions.follow": "true", "logOptions.container": "main"}) as r:
        assert r.status_code == 200
        entries = [json.loads(line)["result"] for line in r.iter_lines() if line]
    assert [e["content"] for e in entries] == ["line-1", "line-2", "line-3", "tail-end"]
    assert {e["podName"] for e in entries} == {"talker"}
    assert wait_phase(http, "default", "talker")["status"]["phase"] == "Succeeded"

    def contents(**params: str) -> list[str]:
        resp = http.get(f"{API}/default/talker/log", params=params)
        assert resp.status_code == 200
        return [json.loads(line)["result"]["content"] for line in resp.text.splitlines()]

    assert contents() == ["line-1", "line-2", "line-3", "tail-end"]
    assert contents(grep="line-") == ["line-1", "line-2", "line-3"]
    assert contents(**{"logOptions.tailLines": "2"}) == ["line-3", "tail-end"]
    assert contents(podName="nobody") == []
    assert contents(podName="talker") == ["line-1", "line-2", "line-3", "tail-end"]
    pod = http.get(f"{API}/default/talker/talker/log")
    assert [json.loads(x)["result"]["content"] for x in pod.text.splitlines()][-1] == "tail-end"
    sse = http.get(f"{API}/default/talker/log", headers={"Accept": "text/event-stream"})
    assert sse.headers["content-type"].startswith("text/event-stream")
    assert sse.text.startswith('data: {"result": {"content": "line-1", "podName": "talker"}}\n\n')


def test_log_pod_names_follow_argo(http: httpx.Client) -> None:
    manifest = {"metadata": {"name": "podnames"}, "spec": {"entrypoint": "main", "templates": [
        {"name": "main", "steps": [[{"name": "say", "template": "say"}]]},
        {"name": "say", "container": {"image": "busybox", "command": ["echo", "from-step"]}}]}}
    http.post(f"{API}/default", json={"workflow": manifest})
    wait_phase(http, "default", "podnames")
    [entry] = [json.loads(x)["result"] for x in
               http.get(f"{API}/default/podnames/log").text.splitlines()]
    # Argo's v2 pod name: <workflow>-<template>-<fnv32a(node name)>
    from argosy.engine.run import fnv32a
    assert entry == {"content": "from-step",
                     "podName": f"podnames-say-{fnv32a('podnames[0].say')}"}


def test_suspend_holds_the_next_step_until_resume(http: httpx.Client) -> None:
    manifest = {"metadata": {"name": "pausable"}, "spec": {"entrypoint": "main", "templates": [
        {"name": "main", "steps": [[{"name": "first", "template": "nap"}],
                                   [{"name": "second", "template": "nap"}]]},
        {"name": "nap", "container": {"image": "busybox", "command": ["sleep", "0.5"]}}]}}
    http.post(f"{API}/default", json={"workflow": manifest})
    wait_node(http, "default", "pausable", "first", "Running")
    resp = http.put(f"{API}/default/pausable/suspend",
                    json={"name": "pausable", "namespace": "default"})
    assert resp.status_code == 200
    wf = wait_node(http, "default", "pausable", "first", "Succeeded")
    time.sleep(1)  # room for a wrongly started second step to show up
    wf = http.get(f"{API}/default/pausable").json()
    assert wf["spec"]["suspend"] is True
    assert wf["status"]["phase"] == "Running"
    names = {n["displayName"] for n in wf["status"]["nodes"].values()}
    assert "second" not in names
    assert http.put(f"{API}/default/pausable/resume", json={}).status_code == 200
    wf = wait_phase(http, "default", "pausable")
    assert wf["status"]["phase"] == "Succeeded"
    assert "suspend" not in wf["spec"]
    assert wf["status"]["progress"] == "2/2"


def test_resource_version_orders_replies_and_events(http: httpx.Client) -> None:
    """Every reply carries the workflow's change counter as metadata.resourceVersion, growing
    with each change, so a client can drop a reply older than an event it already has."""
    manifest = {"metadata": {"name": "versioned"}, "spec": {"entrypoint": "main", "templates": [
        {"name": "main", "steps": [[{"name": "gate", "template": "gate"}]]},
        {"name": "gate", "suspend": {}}]}}
    created = http.post(f"{API}/default", json={"workflow": manifest}).json()
    wait_node(http, "default", "versioned", "gate", "Running")
    seen = int(http.get(f"{API}/default/versioned").json()["metadata"]["resourceVersion"])
    assert seen > int(created["metadata"]["resourceVersion"])
    # The reply is the workflow after the resume: by then it may even have finished.
    resumed = http.put(f"{API}/default/versioned/resume", json={}).json()
    assert int(resumed["metadata"]["resourceVersion"]) > seen
    done = wait_phase(http, "default", "versioned")
    assert int(done["metadata"]["resourceVersion"]) >= int(resumed["metadata"]["resourceVersion"])
    listed = http.get(f"{API}/default").json()["items"]
    assert [w["metadata"]["resourceVersion"] for w in listed
            if w["metadata"]["name"] == "versioned"] == [done["metadata"]["resourceVersion"]]


def test_set_supplies_outputs_and_resume_releases_the_suspend_node(http: httpx.Client) -> None:
    manifest = {"metadata": {"name": "approval"}, "spec": {"entrypoint": "flow", "templates": [
        {"name": "flow", "steps": [
            [{"name": "approve", "template": "approve"}],
            [{"name": "announce", "template": "announce", "arguments": {"parameters": [
                {"name": "text", "value": "{{steps.approve.outputs.parameters.text}}"}]}}]]},
        {"name": "approve", "suspend": {},
         "outputs": {"parameters": [{"name": "text", "valueFrom": {"supplied": {}}}]}},
        {"name": "announce", "inputs": {"parameters": [{"name": "text"}]},
         "container": {"image": "busybox", "command": ["echo", "{{inputs.parameters.text}}"]}},
    ]}}
    http.post(f"{API}/default", json={"workflow": manifest})
    wait_node(http, "default", "approval", "approve", "Running")
    resp = http.put(f"{API}/default/approval/set", json={
        "nodeFieldSelector": "displayName=approve",
        "outputParameters": json.dumps({"text": "approved-by-api"})})
    assert resp.status_code == 200, resp.text
    resp = http.put(f"{API}/default/approval/resume",
                    json={"nodeFieldSelector": "displayName=approve"})
    assert resp.status_code == 200
    assert wait_phase(http, "default", "approval")["status"]["phase"] == "Succeeded"
    lines = [json.loads(x)["result"]["content"]
             for x in http.get(f"{API}/default/approval/log").text.splitlines()]
    assert lines == ["approved-by-api"]


def test_set_phase_fails_the_suspend_node(http: httpx.Client) -> None:
    manifest = {"metadata": {"name": "rejected"}, "spec": {"entrypoint": "gate", "templates": [
        {"name": "gate", "suspend": {}}]}}
    http.post(f"{API}/default", json={"workflow": manifest})
    wait_node(http, "default", "rejected", "rejected", "Running")
    resp = http.put(f"{API}/default/rejected/set", json={
        "nodeFieldSelector": "displayName=rejected", "phase": "Failed", "message": "no"})
    assert resp.status_code == 200
    wf = wait_phase(http, "default", "rejected")
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["nodes"]["rejected"]["message"] == "no"


def test_stop_and_terminate(http: httpx.Client) -> None:
    for name in ("to-stop", "to-terminate"):
        http.post(f"{API}/default", json={"workflow": workflow(name, "sleep 60")})
    for name in ("to-stop", "to-terminate"):
        wait_phase(http, "default", name, ("Running",))
    assert http.put(f"{API}/default/to-stop/stop", json={"message": "enough"}).is_success
    assert http.put(f"{API}/default/to-terminate/terminate", json={}).is_success
    stopped = wait_phase(http, "default", "to-stop")
    terminated = wait_phase(http, "default", "to-terminate")
    assert (stopped["status"]["phase"], stopped["status"]["message"]) == (
        "Failed", "Stopped with strategy 'Stop'")
    assert (terminated["status"]["phase"], terminated["status"]["message"]) == (
        "Failed", "Stopped with strategy 'Terminate'")
    # a finished workflow cannot be stopped: FailedPrecondition, a 400 through the gateway
    again = http.put(f"{API}/default/to-stop/terminate")
    assert again.status_code == 400
    assert again.json() == {"code": 9,
                            "message": "cannot terminate workflow to-stop: it is Failed"}


def test_retry_with_parameters_and_resubmit(http: httpx.Client) -> None:
    manifest = workflow("flaky", 'test "{{workflow.parameters.outcome}}" = pass',
                        arguments={"parameters": [{"name": "outcome", "value": "fail"}]})
    http.post(f"{API}/default", json={"workflow": manifest})
    assert wait_phase(http, "default", "flaky")["status"]["phase"] == "Failed"
    bad = http.put(f"{API}/default/flaky/retry", json={"parameters": ["no-equals-sign"]})
    assert bad.status_code == 400
    assert "expected NAME=VALUE" in bad.json()["message"]
    resp = http.put(f"{API}/default/flaky/retry", json={"parameters": ["outcome=pass"]})
    assert resp.status_code == 200, resp.text
    assert wait_phase(http, "default", "flaky")["status"]["phase"] == "Succeeded"
    running_retry = http.put(f"{API}/default/flaky/retry")
    assert running_retry.status_code == 400
    assert running_retry.json()["code"] == 9

    again = http.put(f"{API}/default/flaky/resubmit", json={"memoized": False})
    assert again.status_code == 200
    new = again.json()
    assert new["metadata"]["name"].startswith("flaky-")
    assert new["metadata"]["labels"] == {
        "workflows.argoproj.io/resubmitted-from-workflow": "flaky"}
    assert wait_phase(http, "default", new["metadata"]["name"])["status"]["phase"] == "Succeeded"


def test_retry_of_a_succeeded_workflow_restarts_the_selected_nodes(http: httpx.Client) -> None:
    manifest = {"metadata": {"name": "done"}, "spec": {"entrypoint": "main", "templates": [
        {"name": "main", "steps": [[{"name": "kept", "template": "draw"}],
                                   [{"name": "again", "template": "draw"}]]},
        {"name": "draw", "script": {"image": "busybox", "command": ["sh"],
                                    "source": "cat /proc/sys/kernel/random/uuid"}}]}}
    http.post(f"{API}/default", json={"workflow": manifest})
    before = wait_phase(http, "default", "done")
    assert before["status"]["phase"] == "Succeeded"
    for body in ({}, {"restartSuccessful": True}, {"nodeFieldSelector": "displayName=again"}):
        refused = http.put(f"{API}/default/done/retry", json=body)
        assert refused.status_code == 400
        assert refused.json()["message"] == ("To retry a succeeded workflow, set the options "
                                             "restartSuccessful and nodeFieldSelector")
    resp = http.put(f"{API}/default/done/retry", json={
        "restartSuccessful": True, "nodeFieldSelector": "displayName=again"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"]["phase"] == "Running"
    after = wait_phase(http, "default", "done")
    assert after["status"]["phase"] == "Succeeded"

    def drawn(wf: dict) -> dict[str, str]:
        return {n["displayName"]: n["outputs"]["result"] for n in wf["status"]["nodes"].values()
                if n["type"] == "Pod"}

    assert drawn(after)["kept"] == drawn(before)["kept"]
    assert drawn(after)["again"] != drawn(before)["again"]


def test_lint_good_and_bad(http: httpx.Client) -> None:
    good = http.post(f"{API}/default/lint", json={"workflow": workflow("linted", "true")})
    assert good.status_code == 200
    assert good.json()["metadata"]["name"] == "linted"
    assert http.get(f"{API}/default/linted").status_code == 404
    manifest = {"metadata": {"name": "broken"}, "spec": {"entrypoint": "missing", "templates": [
        {"name": "main", "dag": {"tasks": [{"name": "a", "template": "main",
                                            "depends": "ghost"}]}}]}}
    bad = http.post(f"{API}/default/lint", json={"workflow": manifest})
    assert bad.status_code == 400
    body = bad.json()
    assert body["code"] == 3
    # every fault, each with its path
    assert "spec.entrypoint" in body["message"]
    assert "spec.templates[0].dag.tasks[0].depends" in body["message"]
    assert "ghost" in body["message"]


def test_info_version_openapi(server: Server) -> None:
    # public: no token needed
    info = httpx.get(f"{server.url}/api/v1/info")
    assert info.status_code == 200 and info.json()["links"] == []
    version = httpx.get(f"{server.url}/api/v1/version").json()
    from argosy import __version__
    assert version["version"] == __version__
    assert set(version) == {"version", "buildDate", "gitCommit", "gitTag", "gitTreeState",
                            "goVersion", "compiler", "platform"}
    spec = httpx.get(f"{server.url}/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/workflows/{namespace}", "/api/v1/workflows/{namespace}/{name}",
                 "/api/v1/workflows/{namespace}/lint", "/api/v1/workflows/{namespace}/{name}/log",
                 "/api/v1/workflow-events/{namespace}", "/api/v1/info", "/api/v1/version",
                 "/metrics"):
        assert path in paths, path
    for verb in ("suspend", "resume", "stop", "terminate", "retry", "resubmit", "set"):
        assert "put" in paths[f"/api/v1/workflows/{{namespace}}/{{name}}/{verb}"]
    create = paths["/api/v1/workflows/{namespace}"]["post"]["requestBody"]
    ref = create["content"]["application/json"]["schema"]["$ref"]
    model = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"workflow", "namespace", "serverDryRun"} <= set(model["properties"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_metrics(http: httpx.Client) -> None:
    http.post(f"{API}/metered", json={"workflow": workflow("counted", "true")})
    wait_phase(http, "metered", "counted")
    resp = http.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    lines = resp.text.splitlines()
    assert "# TYPE argo_workflows_gauge gauge" in lines
    assert "# TYPE argo_workflows_total_count counter" in lines
    succeeded = len(http.get(API, params={
        "listOptions.labelSelector": "workflows.argoproj.io/phase=Succeeded"}).json()["items"])
    # the poller counts at its own pace: wait until it has seen the finished workflow
    for _ in range(100):
        lines = http.get("/metrics").text.splitlines()
        if 'argo_workflows_total_count{namespace="metered",phase="Succeeded"} 1' in lines and \
                f'argo_workflows_gauge{{phase="Succeeded"}} {succeeded}' in lines:
            break
        time.sleep(0.1)
    assert 'argo_workflows_total_count{namespace="metered",phase="Succeeded"} 1' in lines
    assert f'argo_workflows_gauge{{phase="Succeeded"}} {succeeded}' in lines


def test_custom_metrics_of_workflows(http: httpx.Client) -> None:
    manifest = workflow("measured", "true", metrics={"prometheus": [
        {"name": "argosy_test_result", "help": "A constant from the workflow",
         "labels": [{"key": "team", "value": "blue"}], "gauge": {"value": "42"}}]})
    http.post(f"{API}/default", json={"workflow": manifest})
    assert wait_phase(http, "default", "measured")["status"]["phase"] == "Succeeded"
    lines = http.get("/metrics").text.splitlines()
    assert "# TYPE argosy_test_result gauge" in lines
    assert 'argosy_test_result{team="blue"} 42' in lines


def test_output_artifacts_of_a_notebook_step(server: Server, http: httpx.Client) -> None:
    pytest.importorskip("papermill")
    manifest = yaml.safe_load((REPO / "examples" / "notebook-pipeline.yaml").read_text())
    manifest["metadata"] = {"name": "nb-artifacts"}
    manifest["spec"]["arguments"]["parameters"][0]["value"] = str(
        REPO / "examples" / "notebooks" / "steps")
    resp = http.post(f"{API}/default", json={"workflow": manifest})
    assert resp.status_code == 200, resp.text
    wf = wait_phase(http, "default", "nb-artifacts", timeout=180)
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    node = next(n for n in wf["status"]["nodes"].values() if n["displayName"] == "prepare")
    assert node["outputs"]["artifacts"] == [{"name": "notebook",
                                             "path": "/tmp/.argosy/notebook.ipynb"}]

    paths = [f"/artifacts/default/nb-artifacts/{node['id']}/notebook",
             f"/artifact-files/default/workflow/nb-artifacts/{node['id']}/outputs/notebook"]
    for path in paths:
        resp = http.get(path)
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-disposition"] == (
            'attachment; filename="notebook.ipynb"; filename*=UTF-8\'\'notebook.ipynb')
        cells = json.loads(resp.content)["cells"]
        assert any("injected-parameters" in c["metadata"].get("tags", []) for c in cells)
        assert server.client(token=None).get(path).status_code == 401

    missing = {f"/artifacts/default/nb-artifacts/{node['id']}/model": "artifact \"model\"",
               "/artifacts/default/nb-artifacts/nope/notebook": 'node "nope"',
               f"/artifacts/default/no-such-wf/{node['id']}/notebook": "no-such-wf",
               f"/artifact-files/default/archived-workflows/nb-artifacts/{node['id']}/outputs/"
               "notebook": "archived-workflows",
               f"/artifact-files/default/workflow/nb-artifacts/{node['id']}/inputs/notebook":
                   "inputs"}
    for path, fault in missing.items():
        resp = http.get(path)
        assert (resp.status_code, resp.json()["code"]) == (404, 5), path
        assert fault in resp.json()["message"], resp.text
