"""The resource type's pieces that need no cluster: Argo's conditions (Kubernetes' label selector
grammar over gjson paths), kubectl's flags, jsonPath and jqFilter outputs, and lint.

Runs against the API server double are in tests/kube/test_resource.py.
"""

from __future__ import annotations

import json

import pytest

from argosy.engine.run import NodeError
from argosy.plugins.resource import (
    jq_filter,
    jsonpath_template,
    lookup,
    parse_flags,
)
from argosy.registry import default_registry
from argosy.spec.lint import lint
from argosy.spec.selectors import SelectorError, parse_requirements

JOB = {"apiVersion": "batch/v1", "kind": "Job",
       "metadata": {"name": "pi", "labels": {"b": "2", "a": "<1>"}},
       "spec": {"completions": 3},
       "status": {"succeeded": 3, "ratio": 0.5, "ready": True, "phase": "Succeeded",
                  "conditions": [{"type": "Complete", "status": "True"},
                                 {"type": "SuccessCriteriaMet", "status": "True"}],
                  "nothing": None, "replicaStatuses": {"Worker": {"succeeded": 2}}}}


def holds(condition: str, obj: dict = JOB) -> bool:
    return all(r.matches(lambda key: lookup(obj, key)) for r in parse_requirements(condition))


# ---- conditions ------------------------------------------------------------------------------


@pytest.mark.parametrize(("condition", "expected"), [
    ("status.succeeded > 2", True),
    ("status.succeeded > 3", False),
    ("status.succeeded < 4", True),
    ("status.succeeded = 3", True),
    ("status.succeeded == 3", True),
    ("status.succeeded != 3", False),
    ("status.phase == Succeeded", True),
    ("status.phase in (Failed, Error)", False),
    ("status.phase in (Succeeded,Error)", True),
    ("status.phase notin (Failed, Error)", True),
    ("status.missing notin (x)", True),  # absent: notin and != hold, as in Kubernetes
    ("status.missing != x", True),
    ("status.missing == x", False),
    ("status.missing > 0", False),  # absent: > and < never hold
    ("status.missing < 9", False),
    ("status.phase > 1", False),  # not an integer: > never holds
    ("status.ready == true", True),  # booleans read as gjson prints them
    ("status.ratio == 0.5", True),
    ("status.nothing", True),  # null exists (gjson), and reads empty
    ("status.nothing ==", True),
    ("status.missing", False),
    ("!status.missing", True),
    ("!status.succeeded", False),
    ("status.conditions.0.type == Complete", True),
    ("status.conditions.1.type == Complete", False),
    ("status.replicaStatuses.Worker.succeeded = 2", True),
    ("metadata.name == pi, status.succeeded > 2", True),  # comma = AND
    ("metadata.name == pi, status.succeeded > 3", False),
])
def test_conditions_read_fields_as_argo_does(condition: str, expected: bool) -> None:
    assert holds(condition) is expected


@pytest.mark.parametrize(("condition", "fault"), [
    ("status.succeeded > two", "must be an integer"),
    ("status.succeeded > -1", "starting and ending with an alphanumeric"),  # as Kubernetes
    ("status.phase in Failed", "expected: '('"),
    ("status.phase in (a b)", "expected: ',', ')' or identifier"),
    ("status.phase ~ x", "expected"),
    ("status.phase ==, ", "identifier after ','"),
    ("status.phase == a=b", "expected: ',' or end"),
    ("a" * 64, "at most 63 characters"),
    ("status.phase == has space", "expected: ',' or end"),
    ("status.phase == -x", "starting and ending with an alphanumeric"),
    ("!status.phase == x", "after !status.phase"),
    ("status.conditions.# == 2", "key 'status.conditions.#'"),  # a key is a label key
    ("status.replica*.Worker.succeeded = 2", "key 'status.replica*"),
])
def test_bad_conditions_are_refused_naming_the_fault(condition: str, fault: str) -> None:
    with pytest.raises(SelectorError, match=None) as caught:
        parse_requirements(condition)
    assert fault in str(caught.value)


def test_requirements_print_as_kubernetes_does() -> None:
    printed = [str(r) for r in parse_requirements(
        "status.phase in (b, a), !x, y, status.failed>1, z notin (c)")]
    assert printed == ["status.failed>1", "status.phase in (a,b)", "!x", "y", "z notin (c)"]


# ---- flags -------------------------------------------------------------------------------------


def test_flags_map_kubectls_arguments() -> None:
    flags = parse_flags(["configmap", "--selector", "cleanup=true", "--validate=false",
                         "-n", "team", "--ignore-not-found", "--cascade=orphan"], "delete")
    assert (flags.kind, flags.name) == ("configmap", None)
    assert flags.options == {"selector": "cleanup=true", "validate": "false", "namespace": "team",
                             "ignore_not_found": True, "cascade": "orphan"}
    named = parse_flags(["pod/p1"], "patch")
    assert (named.kind, named.name) == ("pod", "p1")


@pytest.mark.parametrize(("flags", "fault"), [
    (["--kubeconfig", "x"], "kubectl flag --kubeconfig is not supported"),
    (["-o", "yaml"], "kubectl flag -o is not supported"),
    (["--wait"], "kubectl flag --wait is not supported"),
    (["--selector"], "--selector needs a value"),
    (["--validate=maybe"], "--validate=maybe is not one of"),
    (["--dry-run=client"], "only server"),
    (["--grace-period=soon"], "--grace-period=soon is not a number of seconds"),
    (["a", "b", "c"], "expected [KIND [NAME]]"),
    (["-l", "a=b"], "--selector is not supported with action get: a resource template manages"),
    (["--force-conflicts"], "--force-conflicts is not supported with action get"),
])
def test_flags_argosy_cannot_honour_are_refused(flags: list[str], fault: str) -> None:
    with pytest.raises(NodeError) as caught:
        parse_flags(flags, "get" if "--grace-period=soon" not in flags else "delete")
    assert fault in str(caught.value)


# ---- outputs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("template", "expected"), [
    ("{.metadata.name}", "pi"),
    ("{.spec.completions}", "3"),
    ("{.status.ratio}", "0.5"),
    ("{.status.ready}", "true"),
    ("{.metadata.labels}", '{"a":"\\u003c1\\u003e","b":"2"}'),  # Go's json: sorted, escaped
    ("{.status.conditions[*].type}", "Complete SuccessCriteriaMet"),
    ('{.status.conditions[?(@.type=="Complete")].status}', "True"),
    ("{.status.missing}", ""),  # kubectl get allows missing keys
    ("name={.metadata.name}!", "name=pi!"),
    ('{range .status.conditions[*]}{.type}={.status}{"\\n"}{end}',
     "Complete=True\nSuccessCriteriaMet=True\n"),
    ("{range .status.missing[*]}x{end}done", "done"),
])
def test_json_path_outputs_print_as_kubectl_does(template: str, expected: str) -> None:
    assert jsonpath_template(template, JOB) == expected


def test_jq_filter_outputs_print_as_argo_does() -> None:
    assert jq_filter(JOB, ".metadata.name") == "pi"
    assert jq_filter(JOB, ".status.conditions[].type") == "Complete\nSuccessCriteriaMet"
    assert json.loads(jq_filter(JOB, ".")) == JOB
    assert jq_filter(JOB, ".metadata.labels") == '{"a":"\\u003c1\\u003e","b":"2"}'
    with pytest.raises(NodeError, match="jqFilter"):
        jq_filter(JOB, ".[")


# ---- lint --------------------------------------------------------------------------------------


def workflow(resource: dict, outputs: dict | None = None) -> dict:
    template = {"name": "main", "resource": resource, **({"outputs": outputs} if outputs else {})}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": "r"}, "spec": {"entrypoint": "main", "templates": [template]}}


CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"


def faults(doc: dict) -> list[str]:
    found = lint(doc, template_types=default_registry().validators())
    return [f"{f.path}: {f.message}" for f in found]


def test_lint_accepts_resource_templates() -> None:
    assert faults(workflow(
        {"action": "create", "manifest": CONFIG_MAP, "successCondition": "data.a == b",
         "failureCondition": "data.a in (c, d)", "setOwnerReference": True,
         "flags": ["--validate=false"]},
        {"parameters": [{"name": "n", "valueFrom": {"jsonPath": "{.metadata.name}"}},
                        {"name": "o", "valueFrom": {"jqFilter": "."}}]})) == []


@pytest.mark.parametrize(("resource", "outputs", "fault"), [
    ({"action": "destroy", "manifest": CONFIG_MAP}, None,
     "spec.templates[0].resource.action: 'destroy' is not one of get, create"),
    ({"action": "patch", "mergeStrategy": "yaml", "manifest": CONFIG_MAP}, None,
     "resource.mergeStrategy: 'yaml' is not one of strategic, merge, json"),
    ({"action": "get"}, None, "resource.manifest: must provide at least one of flags or manifest"),
    ({"action": "get", "manifest": CONFIG_MAP, "successCondition": "a > b"}, None,
     "resource.successCondition: 'a > b' failed to parse"),
    ({"action": "delete", "manifest": CONFIG_MAP, "failureCondition": "a"}, None,
     "not supported for the delete action"),
    ({"action": "create", "manifestFrom": {"artifact": {"name": "m"}}}, None,
     "resource.manifestFrom: manifestFrom is not supported by argosy's artifacts yet"),
    ({"action": "get", "manifest": CONFIG_MAP},
     {"parameters": [{"name": "p", "valueFrom": {"path": "/tmp/x"}}]},
     "resource templates take output parameters from a jsonPath or a jqFilter"),
])
def test_lint_refuses_what_argo_refuses(resource: dict, outputs: dict | None,
                                        fault: str) -> None:
    found = faults(workflow(resource, outputs))
    assert any(fault in f for f in found), found


def test_json_path_outside_resource_templates_is_refused() -> None:
    doc = workflow({"action": "get", "manifest": CONFIG_MAP})
    doc["spec"]["templates"][0] = {
        "name": "main", "container": {"image": "alpine", "command": ["true"]},
        "outputs": {"parameters": [{"name": "p", "valueFrom": {"jsonPath": "{.x}"}}]}}
    assert any("jsonPath reads the object of a resource template" in f for f in faults(doc))
