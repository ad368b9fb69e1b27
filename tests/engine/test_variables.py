"""Argo variables resolved by the engine: steps.name, tasks.name, workflow.parameters.json."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from argosy.api.service import submit
from argosy.engine.run import Engine
from argosy.store import Store

WORKFLOW = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: names-}
spec:
  entrypoint: main
  arguments: {parameters: [{name: colour, value: blue}]}
  templates:
  - name: main
    dag:
      tasks:
      - name: first
        template: say
        arguments: {parameters: [{name: m, value: "task {{tasks.name}}"}]}
      - {name: second, template: steps, depends: first}
  - name: steps
    steps:
    - - name: inner
        template: say
        arguments: {parameters: [{name: m, value: "step {{steps.name}}"}]}
    - - name: all
        template: say
        arguments: {parameters: [{name: m, value: "{{workflow.parameters.json}}"}]}
  - name: say
    inputs: {parameters: [{name: m}]}
    container: {image: busybox, command: [echo, "{{inputs.parameters.m}}"]}
"""


def test_step_task_names_and_parameters_json(tmp_path: Path) -> None:
    store = Store(tmp_path / "home")
    record = submit(store, yaml.safe_load(WORKFLOW))
    assert asyncio.run(Engine(store).run(record.uid)).phase == "Succeeded"
    results = {n["displayName"]: n.get("outputs", {}).get("result")
               for n in store.nodes(record.uid).values()}
    assert results["first"] == "task first"
    assert results["inner"] == "step inner"
    assert results["all"] == '[{"name":"colour","value":"blue"}]'


def result_of_one_pod(tmp_path: Path, manifest: str) -> str:
    """Run a workflow of one pod to success and return the pod's outputs.result."""
    store = Store(tmp_path / "home")
    record = submit(store, yaml.safe_load(manifest))
    assert asyncio.run(Engine(store).run(record.uid)).phase == "Succeeded"
    [node] = [n for n in store.nodes(record.uid).values() if n.get("type") == "Pod"]
    return node["outputs"]["result"]


NO_INPUTS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: no-inputs-}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: busybox, command: [echo, "{{inputs.parameters}}"]}
"""


def test_inputs_parameters_of_a_template_without_inputs_is_null(tmp_path: Path) -> None:
    # Argo marshals the template's absent parameter list, so the tag reads `null`.
    assert result_of_one_pod(tmp_path, NO_INPUTS) == "null"


SCRIPT_WITHOUT_SOURCE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: no-source-}
spec:
  entrypoint: main
  templates:
  - name: main
    script: {image: busybox, command: [echo], args: [hello]}
"""


def test_script_without_source_runs_its_command_and_args(tmp_path: Path) -> None:
    # As Argo: no source file is appended, the command and args run as a container's would.
    assert result_of_one_pod(tmp_path, SCRIPT_WITHOUT_SOURCE) == "hello"


def test_numbers_and_booleans_in_string_fields_become_text(tmp_path: Path) -> None:
    # Argo's YAML decoding writes scalars into string-typed fields as text (floats as float32).
    manifest = NO_INPUTS.replace('command: [echo, "{{inputs.parameters}}"]',
                                 "command: [echo], args: [1, true, 1.5, 1.23456789, 1.0e+8]")
    assert result_of_one_pod(tmp_path, manifest) == "1 true 1.5 1.2345679 1e+08"
