"""archiveLogs: each pod's log kept as Argo's output artifact ``main-logs`` (``main.log`` in
the node's key folder), decided in Argo's order: the repository's archiveLogs when true, else
the template's ``archiveLocation.archiveLogs``, else the workflow's ``spec.archiveLogs``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from argosy.objects import ObjectService
from argosy.store import Store
from tests.artifacts.test_artifacts import nodes
from tests.engine.test_semantics import run_workflow

SPEC = """
  entrypoint: main
  {archive}
  templates:
  - name: main
    steps:
    - - {{name: plain, template: plain}}
      - {{name: quiet, template: quiet}}
      - {{name: loud, template: loud}}
  - name: plain
    container: {{image: alpine, command: [sh, -c, "echo to out; echo to err >&2; exit 1"]}}
  - name: quiet
    archiveLocation: {{archiveLogs: false}}
    container: {{image: alpine, command: [sh, -c, "echo quiet"]}}
  - name: loud
    archiveLocation: {{archiveLogs: true}}
    container: {{image: alpine, command: [sh, -c, "echo loud"]}}
"""


def archived(wf: dict[str, Any], home: Path) -> dict[str, str]:
    """Each node's archived log, by display name, checked to be where Argo keys it."""
    found = {}
    for name, node in nodes(wf).items():
        for art in (node.get("outputs") or {}).get("artifacts") or []:
            assert art["name"] == "main-logs"
            pod = node["id"].replace("wf-", f"wf-{node['templateName']}-")
            assert art["plugin"] == {"name": "local", "key": f"wf/{pod}/main.log"}
            found[name] = (home / "artifacts" / art["plugin"]["key"]).read_text()
    return found


@pytest.mark.parametrize(("workflow", "config", "expected"), [
    ("", "", {"loud"}),  # only the template that asks
    ("archiveLogs: true", "", {"plain", "loud"}),  # the template's false wins over the workflow
    ("archiveLogs: false", "artifactRepository: {archiveLogs: true, local: {}}",
     {"plain", "quiet", "loud"}),  # the repository's true wins over both
])
def test_archive_logs_in_argos_order(tmp_path: Path, workflow: str, config: str,
                                     expected: set[str]) -> None:
    if config:
        tmp_path.mkdir(exist_ok=True)
        (tmp_path / "config.yaml").write_text(config + "\n")
    wf = run_workflow(SPEC.format(archive=workflow), tmp_path)
    logs = archived(wf, tmp_path)
    assert set(logs) == expected
    assert logs.get("loud", "loud\n") == "loud\n"
    if "plain" in expected:  # a failed step's log too, stdout then stderr
        assert logs["plain"] == "to out\nto err\n"
        assert nodes(wf)["plain"]["phase"] == "Failed"


def test_archive_logs_of_a_config_map_repository(tmp_path: Path) -> None:
    """archiveLogs beside the repository in the namespace's artifact-repositories ConfigMap."""
    store = Store(tmp_path)
    try:
        ObjectService(store).put({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "artifact-repositories", "annotations": {
                "workflows.argoproj.io/default-artifact-repository": "mine"}},
            "data": {"mine": "archiveLogs: true\nlocal: {}\n"}})
    finally:
        store.close()
    wf = run_workflow(SPEC.format(archive=""), tmp_path)
    assert set(archived(wf, tmp_path)) == {"plain", "quiet", "loud"}
