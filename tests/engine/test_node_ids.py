"""Node ids are Argo's, ``<workflow>-<fnv32a(node name)>``, and 32 bits collide: a loop of
100,000 iterations has a few pairs of names with one hash. The node that comes second gets
an id of its own instead of being taken for the first (which lost iterations: a run ended
with 99,994 of 100,000 nodes, six of them failing to start in a directory already in use)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from argosy.api.service import submit
from argosy.engine.nodes import fnv32a
from argosy.engine.run import Engine
from argosy.store import Store

# Two step names whose node names in workflow "collide" hash alike (found by search).
A, B = "xwzhlbx", "tmwpkmu"


def collide() -> dict[str, Any]:
    def say(name: str) -> dict[str, Any]:
        return {"name": name, "template": "say", "arguments": {"parameters": [
            {"name": "what", "value": name}]}}

    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": "collide"},
            "spec": {"entrypoint": "main", "templates": [
                {"name": "main", "steps": [[say(A), say(B)]]},
                {"name": "say", "inputs": {"parameters": [{"name": "what"}]},
                 "container": {"image": "busybox",
                               "command": ["echo", "{{inputs.parameters.what}}"]}},
            ]}}


def test_two_nodes_whose_names_hash_alike_both_run(argosy_home: Path) -> None:
    assert fnv32a(f"collide[0].{A}") == fnv32a(f"collide[0].{B}")
    store = Store(argosy_home)
    record = submit(store, collide())
    final = asyncio.run(Engine(store).run(record.uid))
    assert final.phase == "Succeeded"
    nodes = store.workflow(final)["status"]["nodes"]
    pods = {n["displayName"]: n for n in nodes.values() if n["type"] == "Pod"}
    assert set(pods) == {A, B}
    assert pods[A]["id"] != pods[B]["id"]
    assert {name: pod["outputs"]["result"] for name, pod in pods.items()} == {A: A, B: B}
    # Each id is its node's again for a later engine (resume, retry): the holder keeps Argo's.
    group = next(n for n in nodes.values() if n["type"] == "StepGroup")
    assert sorted(group["children"]) == sorted(p["id"] for p in pods.values())
    assert f"collide-{fnv32a(f'collide[0].{A}')}" in {pods[A]["id"], pods[B]["id"]}
