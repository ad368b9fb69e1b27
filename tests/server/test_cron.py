"""argo-server's CronWorkflowService: create, list, get, update, lint, suspend, resume, delete."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from argosy.errors import ArgosyError, NotFound
from tests.server.rest_harness import Server

CRON = "/api/v1/cron-workflows"


def cron(name: str, **spec: object) -> dict:
    return {"metadata": {"name": name},
            "spec": {"schedules": ["0 3 * * *"], "suspend": True, **spec,
                     "workflowSpec": {"entrypoint": "main", "templates": [
                         {"name": "main", "container": {"image": "busybox",
                                                        "command": ["true"]}}]}}}


def test_cron_workflow_crud_suspend_and_resume(http: httpx.Client) -> None:
    created = http.post(f"{CRON}/team-c", json={"cronWorkflow": cron("nightly")})
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["kind"] == "CronWorkflow" and body["metadata"]["namespace"] == "team-c"
    assert http.post(f"{CRON}/team-c", json={"cronWorkflow": cron("nightly")}).status_code == 409
    listed = http.get(f"{CRON}/team-c").json()
    assert [c["metadata"]["name"] for c in listed["items"]] == ["nightly"]
    resumed = http.put(f"{CRON}/team-c/nightly/resume", json={})
    assert resumed.status_code == 200 and resumed.json()["spec"]["suspend"] is False
    suspended = http.put(f"{CRON}/team-c/nightly/suspend", json={}).json()
    assert suspended["spec"]["suspend"] is True
    updated = http.put(f"{CRON}/team-c/nightly",
                       json={"cronWorkflow": cron("ignored", timezone="Europe/Paris")}).json()
    assert updated["metadata"]["name"] == "nightly"
    assert updated["metadata"]["uid"] == body["metadata"]["uid"]
    assert http.get(f"{CRON}/team-c/nightly").json()["spec"]["timezone"] == "Europe/Paris"
    assert http.delete(f"{CRON}/team-c/nightly").json() == {}
    gone = http.get(f"{CRON}/team-c/nightly")
    assert gone.status_code == 404 and "nightly" in gone.json()["message"]
    assert http.put(f"{CRON}/team-c/nightly/suspend", json={}).status_code == 404


def test_a_faulty_cron_workflow_is_refused_naming_the_field(http: httpx.Client) -> None:
    bad = cron("bad", schedules=["every day"], concurrencyPolicy="Sometimes")
    for path in (f"{CRON}/default/lint", f"{CRON}/default"):
        resp = http.post(path, json={"cronWorkflow": bad})
        assert resp.status_code == 400, resp.text
        message = resp.json()["message"]
        assert "spec.schedules[0]" in message and "concurrencyPolicy" in message
    assert http.post(f"{CRON}/default/lint", json={"cronWorkflow": cron("fine")}).is_success
    other = http.post(f"{CRON}/default", json={"cronWorkflow": dict(cron("x"),
                                                                     kind="Workflow")})
    assert other.status_code == 400 and "expected CronWorkflow" in other.json()["message"]
    elsewhere = dict(cron("y"), metadata={"name": "y", "namespace": "other"})
    assert http.post(f"{CRON}/default", json={"cronWorkflow": elsewhere}).status_code == 400


@pytest.mark.parametrize("remote", [False, True], ids=["local", "server"])
def test_client_cron_methods(server: Server, remote: bool, tmp_path: Path) -> None:
    from argosy.client import Client

    if remote:
        client = Client(url=server.url, token=server.token, namespace="team-k")
    else:
        client = Client(tmp_path / "home", namespace="team-k")
    made = client.create_cron(yaml.safe_dump(dict(cron("weekly"), kind="CronWorkflow",
                                                  apiVersion="argoproj.io/v1alpha1")))
    assert made["metadata"]["namespace"] == "team-k"
    assert [c["metadata"]["name"] for c in client.list_crons()] == ["weekly"]
    assert client.resume_cron("weekly")["spec"]["suspend"] is False
    assert client.suspend_cron("weekly")["spec"]["suspend"] is True
    assert client.get_cron("weekly")["spec"]["schedules"] == ["0 3 * * *"]
    with pytest.raises(ArgosyError, match=r"spec\.timezone"):  # InvalidWorkflow locally
        client.create_cron(dict(cron("tz", timezone="Nowhere/Else"), kind="CronWorkflow",
                                apiVersion="argoproj.io/v1alpha1"))
    client.delete_cron("weekly")
    with pytest.raises(NotFound):
        client.get_cron("weekly")
