"""argo-server's template services, SubmitWorkflow, and 501 for what argosy does not serve."""

from __future__ import annotations

import httpx

from tests.server.rest_harness import API, Server, wait_phase

WFT = "/api/v1/workflow-templates"
CWFT = "/api/v1/cluster-workflow-templates"


def template(name: str, kind: str = "WorkflowTemplate") -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": kind, "metadata": {"name": name},
            "spec": {"entrypoint": "say",
                     "arguments": {"parameters": [{"name": "message", "value": "hello"}]},
                     "templates": [{"name": "say", "inputs": {"parameters": [{"name": "message"}]},
                                    "container": {"image": "busybox", "command": ["echo"],
                                                  "args": ["{{inputs.parameters.message}}"]}}]}}


def test_workflow_template_crud_and_lint(http: httpx.Client) -> None:
    created = http.post(f"{WFT}/team-t", json={"template": template("crud")})
    assert created.status_code == 200, created.text
    assert created.json()["metadata"]["namespace"] == "team-t"
    again = http.post(f"{WFT}/team-t", json={"template": template("crud")})
    assert again.status_code == 409
    listed = http.get(f"{WFT}/team-t").json()
    assert [t["metadata"]["name"] for t in listed["items"]] == ["crud"]
    changed = template("crud")
    changed["spec"]["arguments"]["parameters"][0]["value"] = "changed"
    updated = http.put(f"{WFT}/team-t/crud", json={"template": changed}).json()
    assert updated["spec"]["arguments"]["parameters"][0]["value"] == "changed"
    assert updated["metadata"]["uid"] == created.json()["metadata"]["uid"]
    bad = template("bad")
    bad["spec"]["templates"][0]["steps"] = [[{"name": "x", "templateRef": {
        "name": "nope", "template": "t"}}]]
    del bad["spec"]["templates"][0]["container"]
    linted = http.post(f"{WFT}/team-t/lint", json={"template": bad})
    assert linted.status_code == 400
    assert 'WorkflowTemplate "nope" not found in namespace "team-t"' in linted.json()["message"]
    assert http.delete(f"{WFT}/team-t/crud").json() == {}
    gone = http.get(f"{WFT}/team-t/crud")
    assert gone.status_code == 404 and "crud" in gone.json()["message"]


def test_submit_from_templates_of_both_scopes(http: httpx.Client) -> None:
    assert http.post(f"{WFT}/default", json={"template": template("greet")}).is_success
    assert http.post(CWFT, json={"template": template("shout", "ClusterWorkflowTemplate")}
                     ).is_success
    assert [t["metadata"]["name"] for t in http.get(CWFT).json()["items"]] == ["shout"]
    assert "namespace" not in http.get(f"{CWFT}/shout").json()["metadata"]
    for kind, name in (("WorkflowTemplate", "greet"), ("ClusterWorkflowTemplate", "shout")):
        resp = http.post(f"{API}/default/submit", json={
            "resourceKind": kind, "resourceName": name,
            "submitOptions": {"parameters": ["message=hi"], "labels": "from=api"}})
        assert resp.status_code == 200, resp.text
        wf = resp.json()
        assert wf["metadata"]["labels"]["from"] == "api"
        done = wait_phase(http, "default", wf["metadata"]["name"])
        assert done["status"]["phase"] == "Succeeded"
        [pod] = [n for n in done["status"]["nodes"].values() if n["type"] == "Pod"]
        assert pod["inputs"]["parameters"][0]["value"] == "hi"
    missing = http.post(f"{API}/default/submit", json={"resourceKind": "WorkflowTemplate",
                                                        "resourceName": "nope"})
    assert missing.status_code == 400
    assert 'WorkflowTemplate "nope" not found' in missing.json()["message"]


def test_a_workflow_referring_to_a_template_is_created_and_dry_run(http: httpx.Client) -> None:
    assert http.post(f"{WFT}/refs", json={"template": template("greet")}).is_success
    wf = {"metadata": {"name": "by-ref"}, "spec": {"workflowTemplateRef": {"name": "greet"}}}
    dry = http.post(f"{API}/refs", json={"workflow": wf, "serverDryRun": True})
    assert dry.status_code == 200 and dry.json()["spec"]["entrypoint"] == "say"
    assert http.post(f"{API}/refs", json={"workflow": wf}).is_success
    assert wait_phase(http, "refs", "by-ref")["status"]["phase"] == "Succeeded"


def test_routes_argosy_does_not_serve_answer_501_naming_the_feature(http: httpx.Client) -> None:
    for method, path in (("GET", "/api/v1/archived-workflows"),
                         ("POST", "/api/v1/workflow-event-bindings/default"),
                         ("GET", "/api/v1/sensors/default")):
        resp = http.request(method, path, json={})
        assert resp.status_code == 501, (method, path)
        assert "not implemented by argosy" in resp.json()["message"]
    assert "archive" in http.get("/api/v1/archived-workflows").json()["message"]
    other = http.get("/api/v1/nothing-here")
    assert other.status_code == 404
    assert other.json()["message"] == "no such route: GET /api/v1/nothing-here"


def test_a_namespaced_token_reaches_its_templates_only(server: Server, http: httpx.Client
                                                      ) -> None:
    import subprocess
    import sys

    made = subprocess.run([sys.executable, "-m", "argosy.cli", "auth", "token", "--namespace",
                           "team-a"], capture_output=True, text=True,
                          env={"ARGOSY_HOME": str(server.home), "PATH": "/usr/bin:/bin"})
    token = made.stdout.strip().splitlines()[-1]
    with server.client(token) as team:
        assert team.post(f"{WFT}/team-a", json={"template": template("mine")}).is_success
        assert team.get(f"{WFT}/team-b").status_code == 403
        assert team.get(CWFT).status_code == 403
