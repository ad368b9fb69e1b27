"""Every ``/argosy/api/v1`` route through a real Jupyter server (pytest-jupyter's ``jp_fetch``),
on the local backend: the service layer and an engine inside the Jupyter server."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from jupyter_harness import (
    API,
    call,
    echo,
    failing,
    gate,
    node_phase,
    phase_is,
    sleeper,
    wait_for,
)
from tornado.httpclient import HTTPClientError

from argosy.store import Store


async def error(fetch: Any, method: str, *path: str, body: Any = None,
                **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """A request expected to fail: (status, JSON body)."""
    if body is not None:
        kwargs["body"] = body if isinstance(body, str) else json.dumps(body)
    elif method in ("POST", "PUT"):
        kwargs["body"] = ""
    with pytest.raises(HTTPClientError) as caught:
        await fetch(*API, *path, method=method, **kwargs)
    resp = caught.value.response
    assert resp is not None
    return caught.value.code, json.loads(resp.body)


async def test_submit_get_list_delete(jp_fetch: Any, argosy_home: Path) -> None:
    created = await call(jp_fetch, "POST", "workflows", "default",
                         body={"workflow": echo("hello-nb")})
    assert created["metadata"]["name"] == "hello-nb"
    assert created["metadata"]["namespace"] == "default"

    wf = await wait_for(jp_fetch, "hello-nb", phase_is("Succeeded", "Failed", "Error"))
    assert wf["status"]["phase"] == "Succeeded"
    (node,) = [n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"]
    assert node["outputs"]["parameters"] == [{"name": "said", "value": "hello from argosy"}]

    # The CLI's store is the extension's: the same workflow, seen from outside Jupyter.
    store = Store(argosy_home)
    assert store.find("default", "hello-nb").phase == "Succeeded"
    # ...run by the engine inside the Jupyter server (this process).
    pids = {pid for (pid,) in store.db.execute("SELECT pid FROM engines WHERE serving = 1")}
    store.close()
    assert pids == {os.getpid()}

    listed = await call(jp_fetch, "GET", "workflows", "default")
    assert [w["metadata"]["name"] for w in listed["items"]] == ["hello-nb"]
    everywhere = await call(jp_fetch, "GET", "workflows",
                            params={"fields": "items.metadata.name"})
    assert everywhere == {"items": [{"metadata": {"name": "hello-nb"}}]}
    picked = await call(jp_fetch, "GET", "workflows", "default",
                        params={"listOptions.fieldSelector": "status.phase=Failed"})
    assert picked["items"] == []

    assert await call(jp_fetch, "DELETE", "workflows", "default", "hello-nb") == {}
    status, body = await error(jp_fetch, "GET", "workflows", "default", "hello-nb")
    assert (status, body["code"]) == (404, 5)


async def test_lint_and_dry_run(jp_fetch: Any) -> None:
    linted = await call(jp_fetch, "POST", "workflows", "default", "lint",
                        body={"workflow": echo("lint-me")})
    assert linted["spec"]["entrypoint"] == "main"
    bad = echo("bad")
    bad["spec"]["entrypoint"] = "nowhere"
    bad["spec"]["templates"][0]["container"].pop("image")
    status, body = await error(jp_fetch, "POST", "workflows", "default", "lint",
                               body={"workflow": bad})
    assert (status, body["code"]) == (400, 3)
    faults = body["message"].splitlines()
    assert faults[0] == 'spec.entrypoint: unknown template "nowhere"'
    assert "spec.templates[0].container.image: image is required" in faults

    dry = await call(jp_fetch, "POST", "workflows", "default",
                     body={"workflow": echo("dry"), "serverDryRun": True})
    assert dry["metadata"]["name"] == "dry"
    assert (await call(jp_fetch, "GET", "workflows", "default"))["items"] == []


async def test_bad_requests(jp_fetch: Any) -> None:
    status, body = await error(jp_fetch, "POST", "workflows", "default", body="{not json")
    assert status == 400 and body["code"] == 3
    assert body["message"].startswith("malformed JSON body"), body
    status, body = await error(jp_fetch, "POST", "workflows", "default", body={"x": 1})
    assert (status, body) == (400, {"code": 3, "message": "body.workflow: Field required"})
    wf = echo("elsewhere")
    wf["metadata"]["namespace"] = "other"
    status, body = await error(jp_fetch, "POST", "workflows", "default", body={"workflow": wf})
    assert (status, body["message"]) == (400, 'workflow.metadata.namespace: "other" does not '
                                               "match the request path's namespace \"default\"")
    await call(jp_fetch, "POST", "workflows", "default", body={"workflow": echo("twice")})
    status, body = await error(jp_fetch, "POST", "workflows", "default",
                               body={"workflow": echo("twice")})
    assert (status, body["code"]) == (409, 6)
    status, body = await error(jp_fetch, "GET", "workflows", "default",
                               params={"listOptions.limit": "many"})
    assert (status, body["message"]) == (400, "listOptions.limit: not an integer: 'many'")
    status, body = await error(jp_fetch, "PUT", "workflows", "default", "nope", "suspend")
    assert (status, body["code"]) == (404, 5)

    # Hostile input is refused here as by the REST server, and nothing is stored.
    for method, path in (("GET", ("workflows", "Bad_NS")), ("GET", ("workflows", "a_b", "x")),
                         ("PUT", ("workflows", "A", "x", "suspend"))):
        status, body = await error(jp_fetch, method, *path)
        assert (status, body["code"]) == (400, 3), body
        assert "invalid namespace" in body["message"]
    nan = echo("nan")
    nan["spec"]["priority"] = "@NAN@"
    status, body = await error(jp_fetch, "POST", "workflows", "default",
                               body=json.dumps({"workflow": nan}).replace('"@NAN@"', "NaN"))
    assert (status, body["code"]) == (400, 3) and "not a JSON number" in body["message"], body
    deep = echo("deep")
    deep["spec"]["affinity"] = {"x": json.loads("[" * 150 + "]" * 150)}
    status, body = await error(jp_fetch, "POST", "workflows", "default", body={"workflow": deep})
    assert (status, body["code"]) == (400, 3), body


async def test_logs_and_follow(jp_fetch: Any) -> None:
    slow = echo("logged")
    slow["spec"]["templates"][0]["container"]["args"] = [
        "echo one; sleep 1; echo two; echo two > /tmp/said"]
    await call(jp_fetch, "POST", "workflows", "default", body={"workflow": slow})
    await wait_for(jp_fetch, "logged", node_phase("logged", "Running"))
    resp = await jp_fetch(*API, "workflows", "default", "logged", "log",
                          params={"logOptions.follow": "true"})
    lines = [json.loads(line)["result"] for line in resp.body.decode().splitlines()]
    pod = lines[0]["podName"]
    assert lines == [{"content": "one", "podName": pod}, {"content": "two", "podName": pod}]
    assert pod.startswith("logged")

    sse = await jp_fetch(*API, "workflows", "default", "logged", pod, "log",
                         headers={"Accept": "text/event-stream"},
                         params={"logOptions.tailLines": "1"})
    assert sse.headers["Content-Type"].startswith("text/event-stream")
    assert sse.body.decode() == (
        f'data: {{"result": {{"content": "two", "podName": "{pod}"}}}}\n\n')


async def test_output_artifact(jp_fetch: Any, argosy_home: Path) -> None:
    await call(jp_fetch, "POST", "workflows", "default", body={"workflow": echo("kept")})
    wf = await wait_for(jp_fetch, "kept", phase_is("Succeeded"))
    (node,) = [n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"]
    store = Store(argosy_home)
    store.put_artifact(wf["metadata"]["uid"], node["id"], "notebook",
                       '/tmp/.argosy/ä "x".ipynb', b'{"cells": []}')
    store.close()
    resp = await jp_fetch(*API, "artifacts", "default", "kept", node["id"], "notebook")
    # Any file name survives: plain ASCII for old clients, RFC 5987 for the rest.
    assert (resp.body, resp.headers["Content-Disposition"]) == (
        b'{"cells": []}',
        'attachment; filename="? \'x\'.ipynb"; filename*=UTF-8\'\'%C3%A4%20%22x%22.ipynb')
    code, body = await error(jp_fetch, "GET", "artifacts", "default", "kept", node["id"], "x")
    assert (code, body["code"]) == (404, 5)
    assert body["message"] == (f'artifact "x" of node "{node["id"]}" of workflow '
                               '"default/kept" not found')


async def test_event_stream(jp_fetch: Any) -> None:
    await call(jp_fetch, "POST", "workflows", "default", body={"workflow": echo("watched")})
    await wait_for(jp_fetch, "watched", phase_is("Succeeded"))
    resp = await jp_fetch(*API, "workflow-events", "default",
                          params={"listOptions.timeoutSeconds": "1",
                                  "fields": "result.type,result.object.metadata.name,"
                                            "result.object.status.phase"})
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    events = [json.loads(line[len("data: "):]) for line in resp.body.decode().split("\n\n")
              if line.startswith("data: ")]
    seen = {"metadata": {"name": "watched"}, "status": {"phase": "Succeeded"}}
    assert events[0] == {"result": {"type": "ADDED", "object": seen}}
    # A write the hub had not polled yet when the stream opened comes after, as MODIFIED.
    assert all(e == {"result": {"type": "MODIFIED", "object": seen}} for e in events[1:])


async def test_suspend_resume_stop_terminate(jp_fetch: Any) -> None:
    await call(jp_fetch, "POST", "workflows", "default", body={"workflow": sleeper("nap")})
    await wait_for(jp_fetch, "nap", node_phase("nap", "Running"))
    suspended = await call(jp_fetch, "PUT", "workflows", "default", "nap", "suspend",
                           body={"name": "nap", "namespace": "default"})
    assert suspended["metadata"]["name"] == "nap"
    await wait_for(jp_fetch, "nap", lambda wf: wf["spec"].get("suspend") is True)
    await call(jp_fetch, "PUT", "workflows", "default", "nap", "resume")
    await wait_for(jp_fetch, "nap", lambda wf: not wf["spec"].get("suspend"))
    await call(jp_fetch, "PUT", "workflows", "default", "nap", "terminate")
    wf = await wait_for(jp_fetch, "nap", phase_is("Failed", "Error", "Succeeded"))
    assert (wf["status"]["phase"], wf["status"]["message"]) == (
        "Failed", "Stopped with strategy 'Terminate'")
    status, body = await error(jp_fetch, "PUT", "workflows", "default", "nap", "stop")
    assert (status, body) == (400, {"code": 9, "message": "cannot stop workflow nap: it is "
                                                         "Failed"})

    await call(jp_fetch, "POST", "workflows", "default", body={"workflow": sleeper("halt")})
    await wait_for(jp_fetch, "halt", node_phase("halt", "Running"))
    await call(jp_fetch, "PUT", "workflows", "default", "halt", "stop",
               body={"message": "enough"})
    wf = await wait_for(jp_fetch, "halt", phase_is("Failed", "Error", "Succeeded"))
    assert (wf["status"]["phase"], wf["status"]["message"]) == (
        "Failed", "Stopped with strategy 'Stop'")


async def test_set_node(jp_fetch: Any) -> None:
    await call(jp_fetch, "POST", "workflows", "default", body={"workflow": gate("gated")})
    await wait_for(jp_fetch, "gated", node_phase("approve", "Running"))
    status, body = await error(jp_fetch, "PUT", "workflows", "default", "gated", "set",
                               body={"phase": "Succeeded"})
    assert (status, body["message"]) == (
        400, "nodeFieldSelector is required, e.g. displayName=approve")
    await call(jp_fetch, "PUT", "workflows", "default", "gated", "set",
               body={"nodeFieldSelector": "displayName=approve", "phase": "Succeeded"})
    wf = await wait_for(jp_fetch, "gated", phase_is("Succeeded", "Failed", "Error"))
    assert wf["status"]["phase"] == "Succeeded"
    assert node_phase("after", "Succeeded")(wf)


async def test_resume_suspend_step(jp_fetch: Any) -> None:
    await call(jp_fetch, "POST", "workflows", "default", body={"workflow": gate("gate2")})
    await wait_for(jp_fetch, "gate2", node_phase("approve", "Running"))
    await call(jp_fetch, "PUT", "workflows", "default", "gate2", "resume",
               body={"nodeFieldSelector": "displayName=approve"})
    wf = await wait_for(jp_fetch, "gate2", phase_is("Succeeded", "Failed", "Error"))
    assert wf["status"]["phase"] == "Succeeded"


async def test_retry_and_resubmit(jp_fetch: Any) -> None:
    await call(jp_fetch, "POST", "workflows", "default", body={"workflow": failing("flaky")})
    wf = await wait_for(jp_fetch, "flaky", phase_is("Succeeded", "Failed", "Error"))
    assert wf["status"]["phase"] == "Failed"
    retried = await call(jp_fetch, "PUT", "workflows", "default", "flaky", "retry",
                         body={"parameters": []})
    assert retried["status"]["phase"] == "Running"
    wf = await wait_for(jp_fetch, "flaky", phase_is("Failed", "Error", "Succeeded"))
    assert wf["status"]["phase"] == "Failed"

    again = await call(jp_fetch, "PUT", "workflows", "default", "flaky", "resubmit")
    name = again["metadata"]["name"]
    assert name.startswith("flaky-") and name != "flaky"
    labels = again["metadata"]["labels"]
    assert labels["workflows.argoproj.io/resubmitted-from-workflow"] == "flaky"
    status, body = await error(jp_fetch, "PUT", "workflows", "default", "flaky", "retry",
                               body={"parameters": ["novalue"]})
    assert (status, body["message"]) == (400, "parameters: expected NAME=VALUE, got 'novalue'")


async def test_info_and_version(jp_fetch: Any) -> None:
    from argosy import __version__

    assert (await call(jp_fetch, "GET", "version"))["version"] == __version__
    assert await call(jp_fetch, "GET", "info") == {"links": [], "columns": [], "modals": {},
                                                   "navColor": ""}


ROUTES = [
    ("GET", ("workflows",)),
    ("GET", ("workflows", "default")),
    ("POST", ("workflows", "default")),
    ("POST", ("workflows", "default", "lint")),
    ("GET", ("workflows", "default", "wf")),
    ("DELETE", ("workflows", "default", "wf")),
    *[("PUT", ("workflows", "default", "wf", verb))
      for verb in ("suspend", "resume", "stop", "terminate", "set", "retry", "resubmit")],
    ("GET", ("workflows", "default", "wf", "log")),
    ("GET", ("workflows", "default", "wf", "pod", "log")),
    ("GET", ("workflow-events",)),
    ("GET", ("workflow-events", "default")),
    ("GET", ("info",)),
    ("GET", ("version",)),
    ("GET", ("artifacts", "default", "wf", "node", "notebook")),
]


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=lambda r: "/".join(r) if
                         isinstance(r, tuple) else r)
async def test_unauthenticated_is_403(jp_fetch: Any, method: str,
                                      path: tuple[str, ...]) -> None:
    body = json.dumps({"workflow": echo("wf")}) if method in ("POST", "PUT") else None
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch(*API, *path, method=method, body=body,
                       headers={"Authorization": ""})
    assert caught.value.code == 403
    assert caught.value.response is not None
    assert json.loads(caught.value.response.body)["code"] == 7



async def test_templates_crons_and_submit_from_a_template(jp_fetch: Any) -> None:
    """The REST server's template and cron routes, as the panel calls them."""
    spec = echo("unused")["spec"]
    body = {"template": {"metadata": {"name": "greet"}, "spec": spec}}
    assert (await call(jp_fetch, "POST", "workflow-templates", "default", "lint",
                       body=body))["metadata"]["name"] == "greet"
    created = await call(jp_fetch, "POST", "workflow-templates", "default", body=body)
    assert created["kind"] == "WorkflowTemplate"
    listed = await call(jp_fetch, "GET", "workflow-templates", "default")
    assert [t["metadata"]["name"] for t in listed["items"]] == ["greet"]
    assert (await call(jp_fetch, "GET", "workflow-templates", "default", "greet")
            )["spec"]["entrypoint"] == "main"
    await call(jp_fetch, "POST", "cluster-workflow-templates", body=body)
    assert [t["metadata"]["name"] for t in (await call(
        jp_fetch, "GET", "cluster-workflow-templates"))["items"]] == ["greet"]

    submitted = await call(jp_fetch, "POST", "workflows", "default", "submit", body={
        "resourceKind": "WorkflowTemplate", "resourceName": "greet"})
    name = submitted["metadata"]["name"]
    assert submitted["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] == "greet"
    assert (await wait_for(jp_fetch, name, phase_is("Succeeded", "Failed", "Error"))
            )["status"]["phase"] == "Succeeded"

    cron = {"cronWorkflow": {"metadata": {"name": "nightly"}, "spec": {
        "schedules": ["0 3 * * *"], "workflowSpec": spec}}}
    assert (await call(jp_fetch, "POST", "cron-workflows", "default", "lint", body=cron)
            )["spec"]["schedules"] == ["0 3 * * *"]
    await call(jp_fetch, "POST", "cron-workflows", "default", body=cron)
    crons = await call(jp_fetch, "GET", "cron-workflows", "default")
    assert [c["metadata"]["name"] for c in crons["items"]] == ["nightly"]
    suspended = await call(jp_fetch, "PUT", "cron-workflows", "default", "nightly", "suspend",
                           body={})
    assert suspended["spec"]["suspend"] is True
    resumed = await call(jp_fetch, "PUT", "cron-workflows", "default", "nightly", "resume",
                         body={})
    assert not resumed["spec"].get("suspend")

    status, err = await error(jp_fetch, "GET", "workflow-templates", "default", "nope")
    assert (status, err["message"]) == (
        404, 'WorkflowTemplate "nope" not found in namespace "default"')
    status, err = await error(jp_fetch, "POST", "cron-workflows", "default",
                              body={"cronWorkflow": {"kind": "Workflow"}})
    assert (status, err["message"]) == (
        400, 'cronWorkflow.kind: expected CronWorkflow, not "Workflow"')
    assert await call(jp_fetch, "DELETE", "cron-workflows", "default", "nightly") == {}
    assert await call(jp_fetch, "DELETE", "workflow-templates", "default", "greet") == {}
    assert await call(jp_fetch, "DELETE", "cluster-workflow-templates", "greet") == {}
