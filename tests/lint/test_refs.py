"""References to WorkflowTemplates resolved against a store: merging, copying, naming faults."""

from __future__ import annotations

from typing import Any

import yaml

from argosy.registry import default_registry
from argosy.spec.lint import lint
from argosy.spec.refs import join_spec, resolve_references

PRINT = yaml.safe_load("""
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: print}
spec:
  entrypoint: say
  arguments:
    parameters: [{name: message, value: from-template}, {name: other, value: kept}]
  templateDefaults: {activeDeadlineSeconds: 30}
  templates:
  - name: say
    inputs: {parameters: [{name: message}]}
    container: {image: busybox, command: [echo], args: ["{{inputs.parameters.message}}"]}
  - name: twice
    steps:
    - - {name: one, template: say, arguments: {parameters: [{name: message, value: a}]}}
    - - name: two
        templateRef: {name: shared, template: leaf, clusterScope: true}
""")
SHARED = yaml.safe_load("""
apiVersion: argoproj.io/v1alpha1
kind: ClusterWorkflowTemplate
metadata: {name: shared}
spec:
  templates:
  - {name: leaf, suspend: {duration: "0"}}
  - name: loop
    steps: [[{name: again, templateRef: {name: shared, template: loop, clusterScope: true},
              when: "1 == 0"}]]
""")


def lookup(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    objects = {("WorkflowTemplate", "default", "print"): PRINT,
               ("ClusterWorkflowTemplate", "", "shared"): SHARED}
    return objects.get((kind, namespace, name))


def workflow(spec: str) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"generateName": "w-"}, "spec": yaml.safe_load(spec)}


def resolved(spec: str, namespace: str = "default") -> tuple[dict[str, Any], list[str]]:
    wf = workflow(spec)
    faults = resolve_references(wf, namespace, lookup)
    faults += lint(wf, template_types=default_registry().validators())
    return wf, [f"{f.path}: {f.message}" for f in faults]


def test_workflow_template_ref_merges_the_spec_with_the_workflows_arguments_first() -> None:
    wf, faults = resolved("""
      workflowTemplateRef: {name: print}
      arguments: {parameters: [{name: message, value: from-workflow}, {name: new, value: x}]}
    """)
    assert faults == []
    spec = wf["spec"]
    assert spec["entrypoint"] == "say"
    assert spec["arguments"]["parameters"] == [
        {"name": "message", "value": "from-workflow"}, {"name": "other", "value": "kept"},
        {"name": "new", "value": "x"}]
    assert spec["templateDefaults"] == {"activeDeadlineSeconds": 30}
    assert spec["workflowTemplateRef"] == {"name": "print"}


def test_join_spec_replaces_a_parameter_whole_and_keeps_the_workflows_suspend() -> None:
    joined = join_spec({"arguments": {"parameters": [{"name": "p", "valueFrom": {"x": 1}}]}},
                       {"suspend": True, "arguments": {"parameters": [{"name": "p",
                                                                       "value": "v"}]}})
    assert joined["arguments"]["parameters"] == [{"name": "p", "valueFrom": {"x": 1}}]
    assert "suspend" not in joined


def test_template_ref_copies_the_template_and_what_it_calls_in_its_own_scope() -> None:
    wf, faults = resolved("""
      entrypoint: main
      templates:
      - name: main
        dag:
          tasks:
          - {name: a, templateRef: {name: print, template: twice}}
      - {name: say, suspend: {}}
    """)
    assert faults == []
    names = [t["name"] for t in wf["spec"]["templates"]]
    assert names == ["main", "say", "print-twice", "print-say", "shared-leaf"]
    assert wf["spec"]["templates"][0]["dag"]["tasks"][0] == {"name": "a",
                                                              "template": "print-twice"}
    twice = wf["spec"]["templates"][2]["steps"]
    # "say" inside the WorkflowTemplate is its own say, not the workflow's.
    assert twice[0][0]["template"] == "print-say"
    assert twice[1][0]["template"] == "shared-leaf" and "templateRef" not in twice[1][0]


def test_a_recursive_reference_is_copied_once() -> None:
    wf, faults = resolved("""
      entrypoint: main
      templates:
      - {name: main, steps: [[{name: s, templateRef: {name: shared, template: loop,
                                                      clusterScope: true}}]]}
    """)
    assert faults == []
    loop = wf["spec"]["templates"][1]
    assert loop["name"] == "shared-loop"
    assert loop["steps"][0][0]["template"] == "shared-loop"


def test_missing_references_are_named_at_their_path() -> None:
    _, faults = resolved("""
      entrypoint: main
      templates:
      - name: main
        steps:
        - - {name: a, templateRef: {name: nope, template: x}}
          - {name: b, templateRef: {name: print, template: nope}}
          - {name: c, templateRef: {name: print, template: say, clusterScope: true}}
          - {name: d, template: main, hooks: {exit: {templateRef: {name: print}}}}
    """)
    assert faults == [
        'spec.templates[0].steps[0][0].templateRef: WorkflowTemplate "nope" not found in '
        'namespace "default"',
        'spec.templates[0].steps[0][1].templateRef: WorkflowTemplate "print" has no template '
        '"nope"',
        'spec.templates[0].steps[0][2].templateRef: ClusterWorkflowTemplate "print" not found',
        "spec.templates[0].steps[0][3].hooks.exit.templateRef.template: templateRef.template is "
        "required"]


def test_a_workflow_template_is_looked_up_in_the_workflows_namespace() -> None:
    _, faults = resolved("workflowTemplateRef: {name: print}\n", namespace="team-a")
    assert faults == ['spec.workflowTemplateRef: WorkflowTemplate "print" not found in '
                      'namespace "team-a"']


def test_copies_do_not_take_a_name_the_workflow_uses() -> None:
    wf, faults = resolved("""
      entrypoint: main
      templates:
      - {name: main, steps: [[{name: s, templateRef: {name: shared, template: leaf,
                                                      clusterScope: true}}]]}
      - {name: shared-leaf, suspend: {}}
    """)
    assert faults == []
    assert wf["spec"]["templates"][0]["steps"][0][0]["template"] == "shared-leaf-2"
