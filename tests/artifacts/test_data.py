"""The ``data`` template type: keys listed from the artifact repository, then transformed."""

from __future__ import annotations

import json
from pathlib import Path

from argosy.api.service import lint_document
from argosy.spec.loader import load_documents
from tests.artifacts.test_artifacts import nodes
from tests.engine.test_semantics import HEAD, run_workflow

# Three steps write a file each under the workflow's key folder; a data template lists the
# .txt ones there (key-only s3: a prefix in the workflow's repository) and each is read back.
SPEC = """
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: gen
        template: gen
        withItems: [a.txt, b.txt, c.log]
        arguments: {parameters: [{name: file, value: "{{item}}"}]}
    - - {name: list, template: list}
    - - name: read
        template: read
        withParam: "{{steps.list.outputs.result}}"
        arguments: {artifacts: [{name: f, s3: {key: "{{item}}"}}]}
  - name: gen
    inputs: {parameters: [{name: file}]}
    container: {image: alpine, command: [sh, -c, "echo {{inputs.parameters.file}} > /tmp/f"]}
    outputs:
      artifacts:
      - {name: out, path: /tmp/f, archive: {none: {}}, s3: {key: "wf/{{inputs.parameters.file}}"}}
  - name: list
    data:
      source: {artifactPaths: {name: logs, s3: {key: wf}}}
      transformation:
      - expression: 'filter(data, {# endsWith ".txt"})'
      - expression: 'map(data, {# + ""})'
  - name: read
    inputs: {artifacts: [{name: f, path: /tmp/f}]}
    container: {image: alpine, command: [cat, /tmp/f]}
"""


def test_artifact_paths_filtered_and_looped_over(tmp_path: Path) -> None:
    wf = run_workflow(SPEC, tmp_path)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    listed = nodes(wf)["list"]
    assert listed["type"] == "Pod"
    assert json.loads(listed["outputs"]["result"]) == ["wf/a.txt", "wf/b.txt"]
    read = sorted(n["outputs"]["result"] for n in nodes(wf).values()
                  if n["displayName"].startswith("read("))
    assert read == ["a.txt", "b.txt"]


def test_a_failing_expression_is_an_error_naming_its_step(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: list
  templates:
  - name: list
    data:
      source: {artifactPaths: {name: all}}
      transformation: [{expression: "data + 1"}, {expression: "data"}]
""", tmp_path)
    root = nodes(wf)["wf"]
    assert root["phase"] == "Error"
    assert root["message"].startswith("transformation[0]: "), root["message"]


def test_lint_names_what_a_data_template_cannot_have() -> None:
    [doc] = load_documents(HEAD + """
  entrypoint: list
  templates:
  - name: list
    data:
      source: {}
      transformation: [{}]
""")
    assert [f"{f.path}: {f.message}" for f in lint_document(doc)] == [
        "spec.templates[0].data.source.artifactPaths: artifactPaths (an artifact naming a "
        "repository) is required: it is the one source Argo has",
        "spec.templates[0].data.transformation[0].expression: expression is required: it is "
        "the one transformation Argo has"]
