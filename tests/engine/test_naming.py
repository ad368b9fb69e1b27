"""Node ids and node names as Argo's controller makes them, checked on real in-process runs.

Argo: ``wf.NodeID(name)`` is the workflow name for the root and ``<wf>-<fnv32a(name)>`` else;
steps are ``<steps>[i].<step>``, DAG tasks ``<dag>.<task>``, loop iterations ``<name>(i:label)``;
displayName is the name less its boundary's name and the ``[i].``/``.`` separator.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from argosy.api.service import submit
from argosy.engine.run import Engine, fnv32a, node_id
from argosy.store import Store

# FNV-1a, 32 bits, from its published parameters (offset basis and prime).
OFFSET_BASIS = 2166136261
PRIME = 16777619


def reference_fnv1a_32(text: str) -> int:
    h = OFFSET_BASIS
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * PRIME) % 2**32
    return h


@pytest.mark.parametrize(("text", "value"), [
    ("", 2166136261),
    ("a", 0xE40C292C),
    ("foobar", 0xBF9CF968),
])
def test_fnv32a_known_vectors(text: str, value: int) -> None:
    assert fnv32a(text) == value


@pytest.mark.parametrize("text", ["wf[0].a", "wf.B(0:1)", "wf[1].b(1:k1:v1,k2:v2)", "ünï-cödé",
                                  "x" * 300])
def test_fnv32a_matches_reference(text: str) -> None:
    assert fnv32a(text) == reference_fnv1a_32(text)


def test_node_id() -> None:
    assert node_id("my-wf", "my-wf") == "my-wf"
    assert node_id("my-wf", "my-wf[0]") == f"my-wf-{reference_fnv1a_32('my-wf[0]')}"
    assert node_id("my-wf", "my-wf[0].step") == f"my-wf-{reference_fnv1a_32('my-wf[0].step')}"
    # Argo's ids are decimal, not hex.
    assert node_id("w", "w.a") == "w-" + str(reference_fnv1a_32("w.a"))


# ---- real runs ----------------------------------------------------------------------------------


def run_workflow(manifest: str, home: Path) -> dict[str, Any]:
    """Submit and execute a workflow in this process; return it in Argo's shape."""
    store = Store(home)
    try:
        record = submit(store, manifest)
        asyncio.run(Engine(store).run(record.uid))
        return store.workflow(store.get(record.uid))
    finally:
        store.close()


def by_name(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in wf["status"]["nodes"].values()}


def nid(name: str, wf: str = "wf") -> str:
    return wf if name == wf else f"{wf}-{reference_fnv1a_32(name)}"


ECHO = """
  - name: echo
    inputs: {parameters: [{name: m}]}
    container: {image: alpine, command: [echo, "{{inputs.parameters.m}}"]}
"""

STEPS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: a
        template: echo
        arguments: {parameters: [{name: m, value: hi}]}
    - - name: b
        template: echo
        arguments: {parameters: [{name: m, value: "{{item}}"}]}
        withItems: [x, {k2: v2, k1: v1}, 3, true]
      - name: c
        template: echo
        when: "x == y"
        arguments: {parameters: [{name: m, value: c}]}
      - name: e
        template: echo
        arguments: {parameters: [{name: m, value: "{{item}}"}]}
        withParam: "[]"
    - - name: pause
        template: wait
      - name: d
        template: inner
  - name: wait
    suspend: {duration: "0"}
  - name: inner
    dag:
      tasks:
      - name: T
        template: echo
        arguments: {parameters: [{name: m, value: t}]}
""" + ECHO

DAG = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: A
        template: sub
      - name: B
        depends: A
        template: echo
        arguments: {parameters: [{name: m, value: "{{item}}"}]}
        withItems: [1, 2]
      - name: C
        depends: A.Failed
        template: echo
        arguments: {parameters: [{name: m, value: c}]}
      - name: D
        depends: B
        when: "a == b"
        template: echo
        arguments: {parameters: [{name: m, value: d}]}
  - name: sub
    steps:
    - - name: x
        template: echo
        arguments: {parameters: [{name: m, value: x}]}
""" + ECHO


@pytest.fixture(scope="module")
def steps_wf(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_workflow(STEPS, tmp_path_factory.mktemp("steps"))


@pytest.fixture(scope="module")
def dag_wf(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_workflow(DAG, tmp_path_factory.mktemp("dag"))


def test_every_node_id_is_argos(steps_wf: dict[str, Any], dag_wf: dict[str, Any]) -> None:
    for wf in (steps_wf, dag_wf):
        for key, node in wf["status"]["nodes"].items():
            assert key == node["id"] == nid(node["name"])


def test_steps_node_names_types_and_phases(steps_wf: dict[str, Any]) -> None:
    assert steps_wf["status"]["phase"] == "Succeeded"
    got = {name: (n["type"], n["phase"], n["displayName"], n.get("templateName"))
           for name, n in by_name(steps_wf).items()}
    assert got == {
        "wf": ("Steps", "Succeeded", "wf", "main"),
        "wf[0]": ("StepGroup", "Succeeded", "[0]", None),
        "wf[0].a": ("Pod", "Succeeded", "a", "echo"),
        "wf[1]": ("StepGroup", "Succeeded", "[1]", None),
        "wf[1].b(0:x)": ("Pod", "Succeeded", "b(0:x)", "echo"),
        "wf[1].b(1:k1:v1,k2:v2)": ("Pod", "Succeeded", "b(1:k1:v1,k2:v2)", "echo"),
        "wf[1].b(2:3)": ("Pod", "Succeeded", "b(2:3)", "echo"),
        "wf[1].b(3:true)": ("Pod", "Succeeded", "b(3:true)", "echo"),
        "wf[1].c": ("Skipped", "Skipped", "c", "echo"),
        "wf[1].e": ("Skipped", "Skipped", "e", "echo"),
        "wf[2]": ("StepGroup", "Succeeded", "[2]", None),
        "wf[2].pause": ("Suspend", "Succeeded", "pause", "wait"),
        "wf[2].d": ("DAG", "Succeeded", "d", "inner"),
        "wf[2].d.T": ("Pod", "Succeeded", "T", "echo"),
    }


def test_steps_messages_of_nodes_that_did_not_run(steps_wf: dict[str, Any]) -> None:
    nodes = by_name(steps_wf)
    assert nodes["wf[1].c"]["message"] == "when 'x == y' evaluated false"
    assert nodes["wf[1].e"]["message"] == "Skipped, empty params"
    assert "message" not in nodes["wf[0].a"]


def test_steps_boundaries(steps_wf: dict[str, Any]) -> None:
    boundary = {name: n.get("boundaryID") for name, n in by_name(steps_wf).items()}
    assert boundary.pop("wf") is None
    assert boundary.pop("wf[2].d.T") == nid("wf[2].d")
    assert set(boundary.values()) == {"wf"}


def test_steps_children_chain_through_outbound_nodes(steps_wf: dict[str, Any]) -> None:
    children = {name: n.get("children", [])
                for name, n in by_name(steps_wf).items()}
    # As in Argo's executeStepGroup, the empty loop's Skipped node is made while the group is
    # expanded, before any step of the group runs; `when` is looked at step by step after that.
    group1 = [nid(n) for n in ("wf[1].e", "wf[1].b(0:x)", "wf[1].b(1:k1:v1,k2:v2)",
                               "wf[1].b(2:3)", "wf[1].b(3:true)", "wf[1].c")]
    assert children == {
        "wf": [nid("wf[0]")],
        "wf[0]": [nid("wf[0].a")],
        "wf[0].a": [nid("wf[1]")],
        "wf[1]": group1,
        # Every outbound node of the previous group (skipped ones too) leads to the next group.
        **{name: [nid("wf[2]")] for name in ("wf[1].b(0:x)", "wf[1].b(1:k1:v1,k2:v2)",
                                            "wf[1].b(2:3)", "wf[1].b(3:true)", "wf[1].c",
                                            "wf[1].e")},
        "wf[2]": [nid("wf[2].pause"), nid("wf[2].d")],
        "wf[2].pause": [],
        "wf[2].d": [nid("wf[2].d.T")],
        "wf[2].d.T": [],
    }


def test_steps_outbound_nodes(steps_wf: dict[str, Any]) -> None:
    nodes = by_name(steps_wf)
    # The outbound nodes of the last group's children; a DAG child contributes its own.
    assert nodes["wf"]["outboundNodes"] == [nid("wf[2].pause"), nid("wf[2].d.T")]
    assert nodes["wf[2].d"]["outboundNodes"] == [nid("wf[2].d.T")]
    for name, node in nodes.items():
        if node["type"] not in ("Steps", "DAG"):
            assert "outboundNodes" not in node, name


def test_dag_node_names_types_and_phases(dag_wf: dict[str, Any]) -> None:
    assert dag_wf["status"]["phase"] == "Succeeded"
    got = {name: (n["type"], n["phase"], n["displayName"], n.get("boundaryID"))
           for name, n in by_name(dag_wf).items()}
    assert got == {
        "wf": ("DAG", "Succeeded", "wf", None),
        "wf.A": ("Steps", "Succeeded", "A", "wf"),
        "wf.A[0]": ("StepGroup", "Succeeded", "[0]", nid("wf.A")),
        "wf.A[0].x": ("Pod", "Succeeded", "x", nid("wf.A")),
        "wf.B": ("TaskGroup", "Succeeded", "B", "wf"),
        "wf.B(0:1)": ("Pod", "Succeeded", "B(0:1)", "wf"),
        "wf.B(1:2)": ("Pod", "Succeeded", "B(1:2)", "wf"),
        "wf.C": ("Skipped", "Omitted", "C", "wf"),
        "wf.D": ("Skipped", "Skipped", "D", "wf"),
    }


def test_dag_messages_of_nodes_that_did_not_run(dag_wf: dict[str, Any]) -> None:
    nodes = by_name(dag_wf)
    assert nodes["wf.C"]["message"] == "omitted: depends condition not met"
    assert nodes["wf.D"]["message"] == "when 'a == b' evaluated false"
    assert nodes["wf.C"]["templateName"] == nodes["wf.D"]["templateName"] == "echo"


def test_dag_children_are_dependents(dag_wf: dict[str, Any]) -> None:
    children = {name: set(n.get("children", [])) for name, n in by_name(dag_wf).items()}
    assert children == {
        "wf": {nid("wf.A")},
        "wf.A": {nid("wf.A[0]")},
        "wf.A[0]": {nid("wf.A[0].x")},
        # A's dependents hang from A's outbound node, the pod inside A's steps.
        "wf.A[0].x": {nid("wf.B"), nid("wf.C")},
        "wf.B": {nid("wf.B(0:1)"), nid("wf.B(1:2)")},
        "wf.B(0:1)": {nid("wf.D")},
        "wf.B(1:2)": {nid("wf.D")},
        "wf.C": set(),
        "wf.D": set(),
    }
    # Iterations are children in loop order.
    assert by_name(dag_wf)["wf.B"]["children"] == [nid("wf.B(0:1)"), nid("wf.B(1:2)")]


def test_dag_outbound_nodes(dag_wf: dict[str, Any]) -> None:
    nodes = by_name(dag_wf)
    # The DAG's targets are its leaf tasks, C and D; each is its own outbound node.
    assert nodes["wf"]["outboundNodes"] == [nid("wf.C"), nid("wf.D")]
    assert nodes["wf.A"]["outboundNodes"] == [nid("wf.A[0].x")]


def test_dag_task_group_template_name(dag_wf: dict[str, Any]) -> None:
    assert by_name(dag_wf)["wf.B"].get("templateName") == "echo"


def test_leaf_nodes_carry_their_inputs_and_outputs(dag_wf: dict[str, Any]) -> None:
    node = by_name(dag_wf)["wf.B(1:2)"]
    assert node["inputs"] == {"parameters": [{"name": "m", "value": "2"}]}
    assert node["outputs"] == {"result": "2", "exitCode": "0"}
    assert node["progress"] == "1/1"
    assert dag_wf["status"]["progress"] == "3/3"
