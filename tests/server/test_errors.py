"""A client's mistakes are 4xx in argo-server's error shape, naming the fault; never 5xx."""

from __future__ import annotations

import httpx
import pytest

from argosy.api.server import MAX_BODY
from tests.server.rest_harness import API, Server, start_server, workflow


def error(resp: httpx.Response, status: int, code: int) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == code
    return body["message"]


def test_malformed_json(http: httpx.Client) -> None:
    resp = http.post(f"{API}/default", content=b'{"workflow": {',
                     headers={"Content-Type": "application/json"})
    assert error(resp, 400, 3).startswith("malformed JSON body")


def test_yaml_is_not_json(http: httpx.Client) -> None:
    text = b"workflow:\n  metadata: {name: x}\n  spec: [unclosed\n"
    resp = http.post(f"{API}/default", content=text,
                     headers={"Content-Type": "application/json"})
    assert error(resp, 400, 3).startswith("malformed JSON body")


@pytest.mark.parametrize("body, fault", [
    ([], "body: Input should be a valid dictionary"),
    ({}, "body.workflow: Field required"),
    ({"workflow": "kind: Workflow"}, "body.workflow: Input should be a valid dictionary"),
    ({"workflow": {"metadata": "x"}}, "workflow.metadata: expected an object"),
    ({"workflow": {"spec": [1]}}, "workflow.spec: expected an object"),
    ({"workflow": {}, "serverDryRun": "maybe"}, "body.serverDryRun"),
])
def test_wrong_shapes(http: httpx.Client, body: object, fault: str) -> None:
    assert fault in error(http.post(f"{API}/default", json=body), 400, 3)


def test_invalid_workflow_names_every_fault(http: httpx.Client) -> None:
    manifest = {"metadata": {"name": "Bad_Name"}, "spec": {"entrypoint": "nowhere",
                                                           "templates": [{"name": "main"}]}}
    message = error(http.post(f"{API}/default", json={"workflow": manifest}), 400, 3)
    lines = message.splitlines()
    assert len(lines) >= 3, message
    assert any(line.startswith("metadata.name") for line in lines)
    assert any(line.startswith("spec.entrypoint") and "nowhere" in line for line in lines)
    assert any(line.startswith("spec.templates[0]") for line in lines)
    assert http.get(f"{API}/default/Bad_Name").status_code == 404


def test_namespace_in_body_must_match_the_path(http: httpx.Client) -> None:
    manifest = workflow("elsewhere", "true", metadata={"namespace": "other"})
    message = error(http.post(f"{API}/default", json={"workflow": manifest}), 400, 3)
    assert message == ('workflow.metadata.namespace: "other" does not match the request '
                       'path\'s namespace "default"')
    resp = http.post(f"{API}/default", json={"namespace": "x", "workflow": workflow("a", "")})
    assert "namespace" in error(resp, 400, 3)


def test_unknown_workflow_is_404(http: httpx.Client) -> None:
    for method, path in (("GET", "/ghost"), ("DELETE", "/ghost"), ("PUT", "/ghost/suspend"),
                         ("PUT", "/ghost/resume"), ("PUT", "/ghost/retry"),
                         ("PUT", "/ghost/resubmit"), ("GET", "/ghost/log")):
        resp = http.request(method, f"{API}/default{path}")
        assert error(resp, 404, 5) == 'workflows.argoproj.io "ghost" not found', path


def test_unknown_path_is_404_and_wrong_method_405(http: httpx.Client) -> None:
    assert error(http.get("/api/v1/nothing-here"), 404, 5) == (
        "no such route: GET /api/v1/nothing-here")
    resp = http.patch(f"{API}/default/x")
    assert error(resp, 405, 12) == "Method Not Allowed"
    assert "GET" in resp.headers["allow"]
    assert error(http.get(f"{API}/default/x/suspend"), 405, 12) == "Method Not Allowed"
    assert error(http.post("/api/v1/version"), 405, 12) == "Method Not Allowed"


def test_oversized_body_is_413(http: httpx.Client) -> None:
    big = {"workflow": workflow("big", "true", metadata={
        "annotations": {"blob": "x" * (MAX_BODY + 1)}})}
    message = error(http.post(f"{API}/default", json=big), 413, 8)
    assert message == f"request body is larger than the limit of {MAX_BODY} bytes"

    def chunks():  # no Content-Length: the limit holds while reading
        yield b'{"workflow": {"metadata": {"annotations": {"blob": "'
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"y" * 65536
        yield b'"}}}}'

    resp = http.post(f"{API}/default", content=chunks(),
                     headers={"Content-Type": "application/json"})
    assert error(resp, 413, 8) == message


def test_small_limit_is_configurable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    srv: Server = start_server(tmp_path / "home", max_body=1000, run_engine=False)
    try:
        with srv.client() as client:
            ok = client.post(f"{API}/default/lint", json={"workflow": workflow("s", "true")})
            assert ok.status_code == 200
            big = {"workflow": workflow("s", "x" * 2000)}
            assert client.post(f"{API}/default/lint", json=big).status_code == 413
    finally:
        srv.stop()


@pytest.mark.parametrize("params, fault", [
    ({"listOptions.limit": "many"}, "listOptions.limit"),
    ({"listOptions.limit": "-1"}, "listOptions.limit"),
    ({"listOptions.continue": "%%%"}, "invalid continue token"),
    ({"listOptions.labelSelector": "a in (b"}, "listOptions.labelSelector"),
    ({"listOptions.fieldSelector": "spec.x=1"}, "listOptions.fieldSelector"),
])
def test_bad_list_options(http: httpx.Client, params: dict[str, str], fault: str) -> None:
    assert fault in error(http.get(f"{API}/default", params=params), 400, 3)


def test_bad_lifecycle_bodies(http: httpx.Client) -> None:
    http.post(f"{API}/default", json={"workflow": {
        "metadata": {"name": "held"}, "spec": {"entrypoint": "gate",
                                               "templates": [{"name": "gate", "suspend": {}}]}}})
    set_path = f"{API}/default/held/set"
    assert "nodeFieldSelector is required" in error(http.put(set_path, json={}), 400, 3)
    resp = http.put(set_path, json={"nodeFieldSelector": "displayName=held",
                                    "outputParameters": "{not json"})
    assert "outputParameters: not JSON" in error(resp, 400, 3)
    resp = http.put(set_path, json={"nodeFieldSelector": "displayName=held",
                                    "phase": "Running"})
    assert "phase must be Succeeded, Failed or Error" in error(resp, 400, 3)
    resp = http.put(f"{API}/default/held/retry", json={"parameters": "a=b"})
    assert "body.parameters" in error(resp, 400, 3)
    assert http.put(f"{API}/default/held/terminate").status_code == 200
