"""Action routes answer with the workflow after the action, as argo-server does."""

from __future__ import annotations

import httpx

from tests.server.rest_harness import API, wait_node, wait_phase


def test_actions_return_the_workflow_after_them(http: httpx.Client) -> None:
    manifest = {"metadata": {"name": "acted"}, "spec": {"entrypoint": "nap", "templates": [
        {"name": "nap", "container": {"image": "busybox", "command": ["sleep", "30"]}}]}}
    assert http.post(f"{API}/default", json={"workflow": manifest}).is_success
    wait_node(http, "default", "acted", "acted", "Running")
    suspended = http.put(f"{API}/default/acted/suspend", json={}).json()
    assert suspended["spec"]["suspend"] is True
    resumed = http.put(f"{API}/default/acted/resume", json={}).json()
    assert "suspend" not in resumed["spec"]
    terminated = http.put(f"{API}/default/acted/terminate", json={}).json()
    assert terminated["spec"]["shutdown"] == "Terminate"
    assert wait_phase(http, "default", "acted")["status"]["phase"] == "Failed"
