"""WorkflowTemplates and ClusterWorkflowTemplates through the CLI: apply, the template verbs,
submit --from, references resolved when a workflow is submitted, and lint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TEMPLATE = """\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: greet
spec:
  entrypoint: say
  arguments:
    parameters: [{name: message, value: hello}]
  templateDefaults:
    container:
      env: [{name: SUFFIX, value: "-from-defaults"}]
  templates:
  - name: say
    inputs: {parameters: [{name: message}]}
    container:
      image: busybox
      command: [sh, -c]
      args: ['echo "{{inputs.parameters.message}}$SUFFIX"']
"""
CLUSTER = """\
apiVersion: argoproj.io/v1alpha1
kind: ClusterWorkflowTemplate
metadata:
  name: shared
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: inner
        templateRef: {name: greet, template: say}
        arguments: {parameters: [{name: message, value: nested}]}
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def logs(cli: Any, name: str) -> str:
    result = cli("logs", name)
    assert result.code == 0, result.stderr
    return result.stdout


def test_apply_creates_then_configures_and_the_template_verbs(cli: Any, tmp_path: Path) -> None:
    file = write(tmp_path, "t.yaml", TEMPLATE + "---\n" + CLUSTER)
    first = cli("apply", "-f", file)
    assert first.code == 0, first.stderr
    assert first.stdout.splitlines() == ["workflowtemplate.argoproj.io/greet created",
                                         "clusterworkflowtemplate.argoproj.io/shared created"]
    again = cli("apply", "-f", file)
    assert "workflowtemplate.argoproj.io/greet configured" in again.stdout
    got = cli("template", "get", "greet", "-o", "json").json()
    assert got["metadata"]["namespace"] == "default"
    assert int(got["metadata"]["resourceVersion"]) > 1
    assert cli("template", "list", "-o", "name").stdout.split() == ["greet"]
    assert cli("cluster-template", "list", "-o", "name").stdout.split() == ["shared"]
    assert cli("template", "list", "-n", "other", "-o", "name").stdout == ""
    created = cli("template", "create", write(tmp_path, "again.yaml", TEMPLATE))
    assert created.code == 2 and 'WorkflowTemplate "greet" already exists' in created.stderr
    assert cli("template", "delete", "greet").code == 0
    missing = cli("template", "get", "greet")
    assert missing.code == 1
    assert 'WorkflowTemplate "greet" not found in namespace "default"' in missing.stderr


def test_submit_from_a_workflow_template_merges_parameters(cli: Any, tmp_path: Path) -> None:
    assert cli("template", "create", write(tmp_path, "t.yaml", TEMPLATE)).code == 0
    result = cli("submit", "--from", "workflowtemplate/greet", "-p", "message=hi", "--wait",
                 "-o", "json")
    assert result.code == 0, result.stderr
    name = result.stdout.strip().splitlines()[0] if not result.stdout.startswith("{") else \
        json.loads(result.stdout)["metadata"]["name"]
    wf = cli("get", name, "-o", "json").json()
    assert wf["status"]["phase"] == "Succeeded"
    assert wf["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] == "greet"
    assert wf["spec"]["workflowTemplateRef"] == {"name": "greet"}
    # the template's templateDefaults came with its spec
    assert "hi-from-defaults" in logs(cli, name)


def test_cluster_templates_are_referenced_with_cluster_scope(cli: Any, tmp_path: Path) -> None:
    assert cli("apply", "-f", write(tmp_path, "t.yaml", TEMPLATE)).code == 0
    assert cli("cluster-template", "create", write(tmp_path, "c.yaml", CLUSTER)).code == 0
    wf_file = write(tmp_path, "wf.yaml", """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: refs-}
spec:
  workflowTemplateRef: {name: shared, clusterScope: true}
  templateDefaults:
    container:
      env: [{name: SUFFIX, value: "-workflow-defaults"}]
""")
    result = cli("run", wf_file, "-o", "json")
    assert result.code == 0, result.stderr
    wf = result.json()
    inner = [n for n in wf["status"]["nodes"].values() if n["displayName"] == "inner"]
    assert [n["phase"] for n in inner] == ["Succeeded"]
    # The workflow's templateDefaults reach the templates it references.
    assert "nested-workflow-defaults" in logs(cli, wf["metadata"]["name"])


def test_a_missing_reference_is_named_by_submit_and_lint(cli: Any, tmp_path: Path) -> None:
    wf_file = write(tmp_path, "wf.yaml", """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: refs-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, templateRef: {name: greet, template: say},
         arguments: {parameters: [{name: message, value: m}]}}
""")
    fault = ('wf.yaml:9:19: spec.templates[0].steps[0][0].templateRef: WorkflowTemplate "greet" '
             'not found in namespace "default"')
    submitted = cli("submit", wf_file)
    assert submitted.code == 2 and fault in submitted.stderr
    linted = cli("lint", "-o", "simple", wf_file)
    assert linted.code == 2 and fault in linted.stdout
    # A template in the same files resolves it.
    both = write(tmp_path, "both.yaml", TEMPLATE + "---\n" + Path(wf_file).read_text())
    assert cli("lint", both).code == 0
    assert cli("template", "lint", write(tmp_path, "c.yaml", CLUSTER)).code == 2


def test_lint_resolves_references_across_the_files_it_is_given(cli: Any, tmp_path: Path,
                                                               argosy_home: Path) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    write(folder, "a-workflow.yaml", """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: refs-}
spec: {workflowTemplateRef: {name: greet}}
""")
    write(folder, "b-templates.yaml", TEMPLATE)
    linted = cli("lint", str(folder))
    assert linted.code == 0, linted.stdout
    assert not argosy_home.exists()  # lint makes no store
