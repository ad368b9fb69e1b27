"""`argosy server --store kubernetes`: argo-server's REST API over the cluster's objects (the
API server double), with `argosy controller` running the workflows; driven with httpx and the
official `argo-workflows` client, as the local server's tests drive it."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster.conftest import Controllers
from tests.kube.conftest import Kubectl
from tests.kube.double import Double
from tests.server.rest_harness import API, Server, start_server, wait_node, wait_phase

pytestmark = pytest.mark.timeout(240)

SAY = {"name": "say", "inputs": {"parameters": [{"name": "word", "value": "hi"}]},
       "container": {"image": "busybox", "command": ["sh", "-c"],
                     "args": ["echo {{inputs.parameters.word}}"]}}


def steps(name: str, **meta: Any) -> dict[str, Any]:
    """Two steps, each saying its word; ``gate`` adds a suspend node between them."""
    return {"metadata": {"name": name, **meta}, "spec": {"entrypoint": "main", "templates": [
        {"name": "main", "steps": [
            [{"name": "one", "template": "say",
              "arguments": {"parameters": [{"name": "word", "value": "one"}]}}],
            [{"name": "gate", "template": "gate"}],
            [{"name": "two", "template": "say",
              "arguments": {"parameters": [{"name": "word", "value": "two"}]}}]]},
        {"name": "gate", "suspend": {}}, SAY]}}


@pytest.fixture
def server(controller: Controllers, kubeconfig: Path, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    srv = start_server(tmp_path / "server-home", store="kubernetes")
    yield srv
    srv.stop()


def events(http: httpx.Client, path: str, until: Any) -> list[dict[str, Any]]:
    """The event stream's results until ``until(results)`` holds (the stream's timeout ends it
    otherwise)."""
    found: list[dict[str, Any]] = []
    with http.stream("GET", path, params={"listOptions.timeoutSeconds": 60}) as resp:
        assert resp.status_code == 200, resp.read()
        for line in resp.iter_lines():
            if line.startswith("data: "):
                found.append(json.loads(line[6:])["result"])
                if until(found):
                    break
    return found


def test_workflows_logs_events_and_verbs(server: Server, kubectl: Kubectl) -> None:
    http = server.client()
    assert server.client(token=None).get(f"{API}/default").status_code == 401
    created = http.post(f"{API}/default", json={"workflow": steps("gated",
                                                                  labels={"team": "a"})})
    assert created.status_code == 200, created.text
    assert created.json()["metadata"]["uid"]
    # kubectl sees the object the REST create made; the controller runs it
    assert "gated" in kubectl("get", "wf").stdout
    wait_node(http, "default", "gated", "gate", "Running")
    suspended = http.put(f"{API}/default/gated/suspend")
    assert suspended.status_code == 200 and suspended.json()["spec"]["suspend"] is True
    resumed = http.put(f"{API}/default/gated/resume", json={})
    assert resumed.status_code == 200, resumed.text
    wf = wait_phase(http, "default", "gated")
    assert wf["status"]["phase"] == "Succeeded"
    assert {n["displayName"] for n in wf["status"]["nodes"].values()} >= {"one", "gate", "two"}

    logs = http.get(f"{API}/default/gated/log", params={"logOptions.container": "main"})
    assert logs.status_code == 200
    lines = [json.loads(line)["result"] for line in logs.text.splitlines()]
    assert [r["content"] for r in lines] == ["one", "two"]
    assert all(r["podName"].startswith("gated-say-") for r in lines)
    followed = http.get(f"{API}/default/gated/log", params={"logOptions.follow": "true"})
    assert [json.loads(line)["result"]["content"] for line in followed.text.splitlines()] == [
        "one", "two"]  # a finished workflow's stream ends
    one = http.get(f"{API}/default/gated/log", params={"podName": "one", "grep": "o"})
    assert [json.loads(line)["result"]["content"] for line in one.text.splitlines()] == ["one"]

    # list: selectors and pages as locally
    http.post(f"{API}/default", json={"workflow": steps("other")})
    wait_node(http, "default", "other", "gate", "Running")
    names = lambda body: [wf["metadata"]["name"] for wf in body["items"]]  # noqa: E731
    assert names(http.get(f"{API}/default").json()) == ["other", "gated"]
    assert names(http.get(f"{API}/default", params={
        "listOptions.labelSelector": "team=a"}).json()) == ["gated"]
    assert names(http.get(f"{API}/default", params={
        "listOptions.fieldSelector": "status.phase=Running"}).json()) == ["other"]
    first = http.get(f"{API}/default", params={"listOptions.limit": 1}).json()
    assert names(first) == ["other"] and "nodes" not in first["items"][0]["status"]
    rest = http.get(f"{API}/default", params={"listOptions.limit": 1, "listOptions.continue":
                                              first["metadata"]["continue"]}).json()
    assert names(rest) == ["gated"] and not rest["metadata"].get("continue")
    assert http.get(f"{API}").json()["items"]  # every namespace

    # the event stream: the listing as ADDED, then the changes from the cluster's watch
    seen = events(http, "/api/v1/workflow-events/default",
                  lambda found: len(found) >= 2)
    assert {(r["type"], r["object"]["metadata"]["name"]) for r in seen} == {
        ("ADDED", "other"), ("ADDED", "gated")}
    http.put(f"{API}/default/other/stop")
    stopped = events(http, "/api/v1/workflow-events/default?listOptions.fieldSelector="
                     "metadata.name=other",
                     lambda found: found[-1]["object"]["status"].get("phase") == "Failed")
    assert stopped[0]["type"] == "ADDED"
    assert stopped[-1]["type"] == "MODIFIED"
    deleted = http.delete(f"{API}/default/other")
    assert deleted.status_code == 200
    assert "other" not in kubectl("get", "wf").stdout
    assert http.get(f"{API}/default/other").status_code == 404

    # what only a local store has answers 501 saying so, never a 500
    for method, path in (("PUT", f"{API}/default/gated/resubmit"),
                         ("PUT", f"{API}/default/gated/set"),
                         ("GET", "/artifacts/default/gated/gated/main-logs")):
        refused = http.request(method, path, json={"nodeFieldSelector": "name=x"}
                               if path.endswith("/set") else None)
        assert refused.status_code == 501, (path, refused.text)
        assert "not available with --store kubernetes" in refused.json()["message"]
    bad = http.post(f"{API}/default", json={"workflow": {"metadata": {"name": "Bad_Name"},
                                                         "spec": {"entrypoint": "x"}}})
    assert bad.status_code == 400, bad.text
    assert http.get("/metrics").status_code == 200


TEMPLATE = {"metadata": {"name": "greet"}, "spec": {"entrypoint": "say", "templates": [SAY]}}


def test_templates_crons_and_submit_from_a_template(server: Server, kubectl: Kubectl) -> None:
    http = server.client()
    made = http.post("/api/v1/workflow-templates/default", json={"template": TEMPLATE})
    assert made.status_code == 200, made.text
    assert "greet" in kubectl("get", "workflowtemplates").stdout  # the cluster's own object
    dup = http.post("/api/v1/workflow-templates/default", json={"template": TEMPLATE})
    assert dup.status_code == 409
    listed = http.get("/api/v1/workflow-templates/default").json()
    assert [t["metadata"]["name"] for t in listed["items"]] == ["greet"]
    cluster = dict(TEMPLATE, metadata={"name": "shared"})
    assert http.post("/api/v1/cluster-workflow-templates",
                     json={"template": cluster}).status_code == 200
    assert http.get("/api/v1/cluster-workflow-templates/shared").json()["metadata"][
        "name"] == "shared"
    bad = http.post("/api/v1/workflow-templates/default/lint", json={"template": {
        "metadata": {"name": "bad"}, "spec": {"entrypoint": "nope", "templates": [SAY]}}})
    assert bad.status_code == 400 and "nope" in bad.json()["message"]

    run = http.post(f"{API}/default/submit", json={
        "resourceKind": "WorkflowTemplate", "resourceName": "greet",
        "submitOptions": {"parameters": ["word=from-template"]}})
    assert run.status_code == 200, run.text
    name = run.json()["metadata"]["name"]
    assert wait_phase(http, "default", name)["status"]["phase"] == "Succeeded"
    logs = http.get(f"{API}/default/{name}/log", params={"logOptions.container": "main"})
    assert json.loads(logs.text.splitlines()[0])["result"]["content"] == "from-template"

    cron = {"metadata": {"name": "nightly"}, "spec": {
        "schedule": "0 3 * * *", "workflowSpec": TEMPLATE["spec"]}}
    assert http.post("/api/v1/cron-workflows/default",
                     json={"cronWorkflow": cron}).status_code == 200
    suspended = http.put("/api/v1/cron-workflows/default/nightly/suspend")
    assert suspended.status_code == 200 and suspended.json()["spec"]["suspend"] is True
    got = json.loads(kubectl("get", "cronworkflow", "nightly", "-o", "json").stdout)
    assert got["spec"]["suspend"] is True
    assert http.delete("/api/v1/cron-workflows/default/nightly").status_code == 200
    assert http.get("/api/v1/cron-workflows/default").json()["items"] == []
    assert http.delete("/api/v1/workflow-templates/default/greet").status_code == 200
    assert http.get("/api/v1/workflow-templates/default/greet").status_code == 404


def test_the_official_client(server: Server) -> None:
    # Its models are made from the bodies in place: each gets a copy of the shared ones.
    import argo_workflows
    from argo_workflows.apis import WorkflowServiceApi, WorkflowTemplateServiceApi

    from tests.server.test_argo_client import model

    config = argo_workflows.Configuration(host=server.url, api_key={"BearerToken": server.token},
                                          api_key_prefix={"BearerToken": "Bearer"})
    with argo_workflows.ApiClient(config) as client:
        workflows = WorkflowServiceApi(client)
        body = {"namespace": "default", "workflow": {
            "metadata": {"name": "official"},
            "spec": {"entrypoint": "say", "templates": [copy.deepcopy(SAY)]}}}
        created = workflows.create_workflow("default", model(
            client, WorkflowServiceApi, "create_workflow", body))
        assert created.metadata.name == "official"
        deadline = time.monotonic() + 60
        while (status := workflows.get_workflow("default", "official").to_dict().get(
                "status") or {}).get("phase") not in ("Succeeded", "Failed", "Error"):
            assert time.monotonic() < deadline, status  # none until the controller writes one
            time.sleep(0.2)
        assert status["phase"] == "Succeeded"
        listed = workflows.list_workflows("default")
        assert [w.metadata.name for w in listed["items"]] == ["official"]
        templates = WorkflowTemplateServiceApi(client)
        made = templates.create_workflow_template("default", model(
            client, WorkflowTemplateServiceApi, "create_workflow_template",
            {"namespace": "default", "template": copy.deepcopy(TEMPLATE)}))
        assert made.metadata.name == "greet"
        assert [t.metadata.name for t in
                templates.list_workflow_templates("default")["items"]] == ["greet"]


def test_the_server_deployment_applies(kubectl: Kubectl) -> None:
    """deploy/server.yaml and its RBAC: created by kubectl as they are, its Pod running
    `argosy server --store kubernetes` (arguments the CLI accepts) as the RBAC's account,
    behind a Service that selects it."""
    import yaml

    from argosy.cli.commands import server_cmd
    from tests.conftest import REPO

    deploy = REPO / "deploy"
    applied = kubectl("apply", "-f", str(deploy / "controller-rbac.yaml"),
                      "-f", str(deploy / "server-rbac.yaml"),
                      "-f", str(deploy / "server.yaml")).stdout
    for made in ("clusterrole.rbac.authorization.k8s.io/argosy-server",
                 "deployment.apps/argosy-server", "service/argosy-server"):
        assert f"{made} created" in applied
    got = json.loads(kubectl("get", "deployment", "argosy-server", "-n", "argo",
                             "-o", "json").stdout)
    pod = got["spec"]["template"]
    rbac = list(yaml.safe_load_all((deploy / "server-rbac.yaml").read_text()))
    account = next(o["metadata"]["name"] for o in rbac if o["kind"] == "ServiceAccount")
    assert pod["spec"]["serviceAccountName"] == account
    (container,) = pod["spec"]["containers"]
    verb, *options = container["args"]
    assert verb == "server"
    parsed = server_cmd.make_context("server", list(options)).params
    assert parsed["store"] == "kubernetes" and parsed["host"] == "0.0.0.0"
    service = json.loads(kubectl("get", "service", "argosy-server", "-n", "argo",
                                 "-o", "json").stdout)
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == container["ports"][0]["name"]
    assert container["ports"][0]["containerPort"] == parsed["port"]


def rbac_verb(method: str, path: str, query: dict[str, str]) -> tuple[str, str, str]:
    """(API group, resource, verb) of a request, as the API server authorizes it."""
    parts = path.strip("/").split("/")
    group = "" if parts[0] == "api" else parts[1]
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    if rest[:1] == ["namespaces"]:
        rest = rest[2:]
    resource, name, sub = [*rest, None, None][:3]
    verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method)
    if verb is None:
        verb = "get" if name else ("watch" if query.get("watch") in ("true", "1") else "list")
    return group, f"{resource}/{sub}" if sub else str(resource), verb


def test_the_servers_rbac_allows_every_request_it_makes(
        double: Double, kubectl: Kubectl, kubeconfig: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/server-rbac.yaml's ClusterRole allows each request the server made through its
    routes (the double authorizes everything, so this is checked here)."""
    import yaml
    from kubernetes import client, config

    from tests.conftest import REPO

    api = config.new_client_from_config(str(kubeconfig))
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", "default", "workflows",
                                           {"apiVersion": "argoproj.io/v1alpha1",
                                            "kind": "Workflow", **steps("ran")})
    wf = custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "default", "workflows",
                                             "ran")
    wf["status"] = {"phase": "Running", "nodes": {"ran-1": {
        "id": "ran-1", "name": "ran[0].one", "displayName": "one", "type": "Pod",
        "templateName": "say", "phase": "Running", "startedAt": "2024-01-01T00:00:00Z"}}}
    custom.replace_namespaced_custom_object_status("argoproj.io", "v1alpha1", "default",
                                                   "workflows", "ran", wf)
    api.close()
    mark = len(double.requests)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    srv = start_server(tmp_path / "server-home", store="kubernetes")
    try:
        http = srv.client()
        assert http.post(f"{API}/default", json={"workflow": steps("made")}).status_code == 200
        for verb in ("suspend", "resume", "stop", "terminate"):
            assert http.put(f"{API}/default/made/{verb}").status_code == 200, verb
        assert http.get(f"{API}/default/ran/log").status_code == 200
        assert http.get(f"{API}").status_code == 200
        events(http, "/api/v1/workflow-events/default", lambda found: len(found) >= 2)
        assert http.delete(f"{API}/default/made").status_code == 200
        for base, body in (("/api/v1/workflow-templates/default", {"template": TEMPLATE}),
                           ("/api/v1/cluster-workflow-templates", {"template": TEMPLATE}),
                           ("/api/v1/cron-workflows/default", {"cronWorkflow": {
                               "metadata": {"name": "greet"}, "spec": {
                                   "schedule": "0 3 * * *", "workflowSpec": TEMPLATE["spec"]}}})):
            assert http.post(base, json=body).status_code == 200, base
            assert http.get(base).status_code == 200
            assert http.put(f"{base}/greet", json=body).status_code == 200, base
            if "cron" in base:
                assert http.put(f"{base}/greet/suspend").status_code == 200
            assert http.delete(f"{base}/greet").status_code == 200
        lint = {"workflow": {"metadata": {"name": "x"}, "spec": {
            "entrypoint": "say", "arguments": {"parameters": [{"name": "p", "valueFrom": {
                "configMapKeyRef": {"name": "cm", "key": "k"}}}]}, "templates": [SAY]}}}
        assert http.post(f"{API}/default/lint", json=lint).status_code == 400  # no such cm
    finally:
        srv.stop()
    role = next(o for o in yaml.safe_load_all((REPO / "deploy" / "server-rbac.yaml").read_text())
                if o["kind"] == "ClusterRole")
    allowed = {(group, resource, verb) for rule in role["rules"]
               for group in rule["apiGroups"] for resource in rule["resources"]
               for verb in rule["verbs"]}
    made = {rbac_verb(*request) for request in double.requests[mark:]}
    assert ("", "pods/log", "get") in made and ("", "configmaps", "get") in made
    assert made <= allowed, sorted(made - allowed)
