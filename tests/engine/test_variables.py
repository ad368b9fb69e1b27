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
    store = Store(tmp_path / "home")
    record = submit(store, yaml.safe_load(NO_INPUTS))
    assert asyncio.run(Engine(store).run(record.uid)).phase == "Succeeded"
    [node] = [n for n in store.nodes(record.uid).values() if n.get("type") == "Pod"]
    assert node["outputs"]["result"] == "null"
