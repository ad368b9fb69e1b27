"""Hostile requests: each is a 4xx that names the fault, and nothing is stored by it.

Before these checks, a lone surrogate or 300-900 levels of nesting were 500s (some after the
workflow was stored, after which every list of its namespace was a 500 too), label values of
any JSON type were stored, and a read-only token could DELETE a workflow named "lint".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from argosy.api.auth import Auth
from tests.server.rest_harness import API, Server, start_server, workflow

JSON = {"Content-Type": "application/json"}


def _names(client: httpx.Client, namespace: str = "default") -> list[str]:
    resp = client.get(f"{API}/{namespace}")
    assert resp.status_code == 200, resp.text
    return [wf["metadata"]["name"] for wf in resp.json()["items"]]


def _refused(resp: httpx.Response, *needles: str) -> None:
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["code"] == 3
    for needle in needles:
        assert needle in body["message"], body["message"]


def _with_surrogate(body: dict) -> str:
    """A lone surrogate only arrives as a JSON escape: ``@S@`` in ``body`` becomes one."""
    return json.dumps(body).replace("@S@", "\\ud800")


SURROGATE_LABEL = _with_surrogate({"workflow": workflow("sur-label", "true", metadata={
    "labels": {"a": "@S@"}})})
SURROGATE_PARAMETER = _with_surrogate({"workflow": workflow("sur-param", "true", arguments={
    "parameters": [{"name": "p", "value": "x@S@y"}]})})


@pytest.mark.parametrize(("body", "path"), [
    (SURROGATE_LABEL, "body.workflow.metadata.labels.a"),
    (SURROGATE_PARAMETER, "body.workflow.spec.arguments.parameters[0].value")])
def test_lone_surrogate_is_a_400_and_nothing_is_stored(http: httpx.Client, body: str,
                                                       path: str) -> None:
    for route in (f"{API}/default", f"{API}/default/lint"):
        _refused(http.post(route, content=body, headers=JSON), path, "lone UTF-16 surrogate")
    assert not {"sur-label", "sur-param"} & set(_names(http))


def test_lone_surrogate_in_a_verb_body_is_a_400(http: httpx.Client) -> None:
    http.post(f"{API}/default", json={"workflow": workflow("verb-target", "true")})
    body = _with_surrogate({"nodeFieldSelector": "displayName=a", "message": "@S@"})
    _refused(http.put(f"{API}/default/verb-target/stop", content=body, headers=JSON),
              "body.message")
    # outputParameters is JSON inside a string: its escape is escaped once more.
    body = json.dumps({"nodeFieldSelector": "displayName=a",
                       "outputParameters": json.dumps({"x": "@S@"})})
    body = body.replace("@S@", "\\\\ud800")
    _refused(http.put(f"{API}/default/verb-target/set", content=body, headers=JSON),
              "outputParameters.x", "surrogate")


@pytest.mark.parametrize("depth", [101, 300, 600, 900, 5000])
def test_deep_nesting_is_a_400_and_nothing_is_stored(http: httpx.Client, depth: int) -> None:
    name = f"deep-{depth}"
    nested = "[" * depth + "]" * depth
    body = json.dumps({"workflow": workflow(name, "true", affinity={"x": "@N@"})})
    body = body.replace('"@N@"', nested)
    for route in (f"{API}/default", f"{API}/default/lint"):
        _refused(http.post(route, content=body, headers=JSON), "nested more than 100 levels")
    assert name not in _names(http)


def test_nesting_within_the_bound_is_served(http: httpx.Client) -> None:
    wf = workflow("shallow-enough", "true")
    value: list = []
    for _ in range(90):
        value = [value]
    wf["spec"]["affinity"] = {"x": value}
    resp = http.post(f"{API}/default", json={"workflow": wf})
    assert resp.status_code in (200, 400), resp.text  # whatever lint says, never a 500
    assert http.get(f"{API}/default").status_code == 200


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_numbers_json_cannot_carry_are_a_400(http: httpx.Client, number: bytes) -> None:
    body = (b'{"workflow": {"metadata": {"name": "nan"}, "spec": {"entrypoint": "main",'
            b' "priority": ' + number + b', "templates": []}}}')
    _refused(http.post(f"{API}/default", content=body, headers=JSON),
             "body.workflow.spec.priority", "is not a JSON number")
    assert "nan" not in _names(http)


def test_label_and_annotation_values_must_be_strings(http: httpx.Client) -> None:
    wf = workflow("typed-labels", "true", metadata={
        "labels": {"n": 1, "ok": "yes", "m": {"a": "b"}}, "annotations": {"flag": True}})
    _refused(http.post(f"{API}/default", json={"workflow": wf}),
             "metadata.labels.n: n must be a string, not number 1",
             "metadata.labels.m", "metadata.annotations.flag")
    assert "typed-labels" not in _names(http)


@pytest.mark.parametrize("namespace", ["Upper", "under_score", "-dash", "a" * 64, "dot.ted"])
def test_invalid_namespaces_in_the_path_are_a_400(http: httpx.Client, namespace: str) -> None:
    for method, route in (("GET", f"{API}/{namespace}"), ("GET", f"{API}/{namespace}/x"),
                          ("DELETE", f"{API}/{namespace}/x"),
                          ("GET", f"/api/v1/workflow-events/{namespace}"),
                          ("GET", f"/artifacts/{namespace}/a/b/c")):
        _refused(http.request(method, route), "invalid namespace")
    _refused(http.post(f"{API}/{namespace}", json={"workflow": workflow("ns", "true")}),
             "invalid namespace")


def test_invalid_namespace_in_the_manifest_is_a_400(http: httpx.Client) -> None:
    # Through the path's namespace only a matching one gets in: the dry run lints the rest.
    wf = workflow("ns-in-body", "true", metadata={"namespace": "Bad_NS"})
    _refused(http.post(f"{API}/default", json={"workflow": wf}), "does not match")


def test_read_only_token_cannot_delete_a_workflow_named_lint(server: Server,
                                                             http: httpx.Client) -> None:
    assert http.post(f"{API}/default", json={"workflow": workflow("lint", "true")}
                     ).status_code == 200
    token = Auth(server.home).create_token(read_only=True)
    with server.client(token) as reader:
        resp = reader.delete(f"{API}/default/lint")
        assert resp.status_code == 403, resp.text
        assert "read-only" in resp.json()["message"]
        lint = reader.post(f"{API}/default/lint", json={"workflow": workflow("x", "true")})
        assert lint.status_code == 200, lint.text
    assert "lint" in _names(http)


# ---- DNS rebinding: without tokens, only the server's own host names -------------------------


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(Path(tmp_path_factory.mktemp("open")) / "home", auth_mode="none",
                       run_engine=False)
    yield srv
    srv.stop()


@pytest.mark.parametrize("host", ["evil.example", "evil.example:2746", "127.0.0.1.nip.io",
                                  "[::2]:80", ""])
def test_auth_mode_none_refuses_foreign_host_headers(open_server: Server, host: str) -> None:
    resp = httpx.get(f"{open_server.url}{API}/default", headers={"Host": host})
    assert resp.status_code == 403, resp.text
    assert "is not allowed" in resp.json()["message"]


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:2746", "127.0.0.1:1", "[::1]:2746",
                                  "localhost."])
def test_auth_mode_none_serves_loopback_host_names(open_server: Server, host: str) -> None:
    resp = httpx.get(f"{open_server.url}{API}/default", headers={"Host": host})
    assert resp.status_code == 200, resp.text


def test_allowed_hosts_adds_names(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "home", auth_mode="none", run_engine=False,
                       allowed_hosts=["argo.example.org"])
    try:
        for host, status in (("argo.example.org:8080", 200), ("localhost", 200),
                             ("evil.example", 403)):
            resp = httpx.get(f"{srv.url}/api/v1/version", headers={"Host": host})
            assert resp.status_code == status, (host, resp.text)
    finally:
        srv.stop()


# ---- query strings that cost the server more than their size --------------------------------


def test_field_selector_is_parsed_in_linear_time() -> None:
    """A term's value was matched with a backtracking pattern: 15 kB of spaces held the event
    loop 7 s, 100 kB minutes. The child's timeout only guards against a hang."""
    import subprocess
    import sys

    code = ("from argosy.api.server import _field_matcher\n"
            "keep = _field_matcher('metadata.name=a' + ' ' * 200_000 + 'b , status.phase = x ')\n"
            "assert not keep({'metadata.name': 'a', 'status.phase': 'x'})\n"
            "assert keep({'metadata.name': 'a' + ' ' * 200_000 + 'b', 'status.phase': 'x'})\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_fields_keep_paths_below_a_listed_prefix_only() -> None:
    from argosy.api.server import Cleaner

    wf = {"metadata": {"name": "a", "labels": {"x": "y"}}, "status": {"phase": "Running"}}
    cleaner = Cleaner.parse("metadata.name,statusx")
    assert cleaner is not None and cleaner.clean(wf) == {"metadata": {"name": "a"}}
    dropping = Cleaner.parse("-metadata.labels")
    assert dropping is not None
    assert dropping.clean(wf) == {"metadata": {"name": "a"}, "status": {"phase": "Running"}}
