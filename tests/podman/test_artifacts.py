"""Artifacts with the podman executor: input artifacts bound into the container, output
artifacts copied out of it (``podman cp``) once it ended."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.artifacts.flows import check_copied, check_flow, flow
from tests.podman.conftest import leftover_containers
from tests.podman.test_executor import nodes, run

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("podman_images")]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "argosy-home"


def test_artifacts_flow_between_containers(home: Path) -> None:
    result = run(home, flow("pm-art"))
    assert result.code == 0, result.stderr
    wf = result.json()
    check_flow(wf)
    check_copied(home, "pm-art")
    assert leftover_containers(wf["metadata"]["uid"]) == []


def test_a_missing_output_artifact_is_an_error_naming_its_path(home: Path) -> None:
    result = run(home, """
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {name: pm-missing}
    spec:
      entrypoint: main
      templates:
      - name: main
        container: {image: busybox, command: ["true"]}
        outputs: {artifacts: [{name: a, path: /tmp/nothing}]}
    """)
    assert result.code == 1, result.stderr
    root = nodes(result.json())["pm-missing"]
    assert (root["phase"], root["message"]) == (
        "Error", "failed to save outputs: open /tmp/nothing: no such file or directory")
