"""Argo's examples that wait for a person: suspend, resume, node set, and ttlStrategy.

A real engine process serves the store; the test steers the workflow through the service
layer, as the CLI and the REST server do, from another process than the engine's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from argosy.api.service import WorkflowService
from argosy.store import Store
from tests.conftest import ARGO_EXAMPLES

pytestmark = pytest.mark.skipif(not ARGO_EXAMPLES.exists(), reason=(
    "the conformance corpus (../shared/conformance) is not beside this clone"))


@pytest.fixture
def service(tmp_path: Path) -> Iterator[WorkflowService]:
    home = tmp_path / "home"
    home.mkdir()
    engine = subprocess.Popen(
        [sys.executable, "-m", "argosy.cli", "engine", "--exit-when-idle", "60"],
        env=dict(os.environ, ARGOSY_HOME=str(home)), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        yield WorkflowService(Store(home))
    finally:
        engine.terminate()
        engine.wait(10)


def wait_for(check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {check}")


def node(wf: dict[str, Any], display: str) -> dict[str, Any] | None:
    return next((n for n in wf["status"].get("nodes", {}).values()
                 if n["displayName"] == display), None)


def running_node(service: WorkflowService, name: str, display: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        n = node(service.get("default", name), display)
        return n if n and n["phase"] == "Running" else None
    return wait_for(check)


def finished(service: WorkflowService, name: str, timeout: float = 60) -> dict[str, Any]:
    return wait_for(lambda: (wf := service.get("default", name))["status"]["phase"]
                    in ("Succeeded", "Failed", "Error") and wf, timeout)


def submit(service: WorkflowService, example: str) -> str:
    wf = service.submit(ARGO_EXAMPLES / example, start_engine=False)
    return wf["metadata"]["name"]


def test_suspend_template_waits_for_resume(service: WorkflowService) -> None:
    name = submit(service, "suspend-template.yaml")
    running_node(service, name, "approve")
    time.sleep(0.5)
    wf = service.get("default", name)
    assert wf["status"]["phase"] == "Running"
    assert node(wf, "delay") is None  # nothing after the suspend step starts
    service.resume("default", name)
    running_node(service, name, "delay")
    wf = finished(service, name, timeout=60)
    assert wf["status"]["phase"] == "Succeeded"
    assert node(wf, "approve")["phase"] == "Succeeded"
    assert node(wf, "release")["phase"] == "Succeeded"


def test_suspend_outputs_supplied_by_node_set(service: WorkflowService) -> None:
    name = submit(service, "suspend-template-outputs.yaml")
    running_node(service, name, "approve")
    service.set_node("default", name, "displayName=approve",
                     output_parameters={"message": "approved by a person"})
    service.resume("default", name, "displayName=approve")
    wf = finished(service, name)
    assert wf["status"]["phase"] == "Succeeded"
    assert node(wf, "release")["inputs"]["parameters"][0]["value"] == "approved by a person"
    logs = dict(service.logs("default", name))
    assert logs["release"] == "approved by a person"


def test_intermediate_parameters_approval(service: WorkflowService, tmp_path: Path) -> None:
    # The example's deploy step runs Argo's test image; its command is not ours to run.
    text = (ARGO_EXAMPLES / "intermediate-parameters.yaml").read_text()
    text = text.replace("'argoproj/argosay:v2'", "busybox").replace("- /argosay", "- echo")
    name = service.submit(text, start_engine=False)["metadata"]["name"]
    running_node(service, name, "approval")
    service.set_node("default", name, "displayName=approval",
                     output_parameters={"approve": "YES"})
    service.resume("default", name)
    wf = finished(service, name)
    assert wf["status"]["phase"] == "Succeeded"
    assert node(wf, "deploy-prod")["phase"] == "Succeeded"


def test_gc_ttl_deletes_the_workflow_after_success(service: WorkflowService) -> None:
    name = submit(service, "gc-ttl.yaml")
    assert finished(service, name)["status"]["phase"] == "Succeeded"
    wait_for(lambda: not service.list(), timeout=30)
