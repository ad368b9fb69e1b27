"""Argo's outbound nodes (getOutboundNodes) without listing the children of nodes whose kind
does not look at them: each task after a loop of 100,000 would pay for that list."""

from __future__ import annotations

import pytest

from argosy.engine.nodes import NodeBook
from argosy.spec.models import NodeStatus


class Untouchable(list):
    """A children list that fails the test when it is walked."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        raise AssertionError("children listed")


def book(*nodes: NodeStatus) -> NodeBook:
    found = NodeBook()
    found.nodes = {n.id: n for n in nodes}  # type: ignore[attr-defined]
    return found


def node(nid: str, kind: str, **fields: object) -> NodeStatus:
    return NodeStatus(id=nid, name=nid, displayName=nid, type=kind, **fields)


@pytest.mark.parametrize("kind", ["Suspend", "Skipped", "DAG", "Steps", "StepGroup"])
def test_kinds_that_do_not_look_at_children_do_not_list_them(kind: str) -> None:
    leaf = node("leaf", "Pod")
    parent = node("p", kind, outboundNodes=["leaf"] if kind in ("DAG", "Steps") else None)
    parent.children = Untouchable(f"c{i}" for i in range(1000))
    expected = ["leaf"] if kind in ("DAG", "Steps") else ["p"]
    assert book(parent, leaf).outbound_of(parent) == expected


def test_a_task_group_hangs_from_its_children_and_a_retry_from_its_last_attempt() -> None:
    a, b = node("a", "Pod"), node("b", "Suspend")
    group = node("g", "TaskGroup", children=["a", "b"])
    retry = node("r", "Retry", children=["a", "b"])
    pod = node("pod", "Pod")
    nodes = book(a, b, group, retry, pod)
    assert nodes.outbound_of(group) == ["a", "b"]
    assert nodes.outbound_of(retry) == ["b"]
    assert nodes.outbound_of(pod) == ["pod"]
    assert nodes.outbound_of(node("e", "TaskGroup")) == ["e"]
