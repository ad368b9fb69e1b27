"""Node bookkeeping: Argo's node ids, creating, finishing and persisting nodes, their edges."""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from argosy.spec.models import NodeStatus
from argosy.store import now_rfc3339

HOST = socket.gethostname()


def fnv32a(text: str) -> int:
    h = 0x811C9DC5
    for byte in text.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


@functools.lru_cache(maxsize=4096)  # a node's id is asked for thrice as it starts
def node_id(workflow_name: str, node_name: str) -> str:
    """Argo's node id: the workflow name for the root, else ``<wf>-<fnv32a(name)>``."""
    if node_name == workflow_name:
        return workflow_name
    return f"{workflow_name}-{fnv32a(node_name)}"


def free_id(workflow_name: str, node_name: str, held_by: Callable[[str], str | None]) -> str:
    """The id of node ``node_name``: Argo's (:func:`node_id`), unless another node holds it
    (``held_by(id)``: that node's name, None if free), as 32-bit hashes of 100,000 names do a
    few times; then the first free of a sequence derived from the name. A node keeps the id
    it got, so the same names against the same nodes give the same ids (a restarted engine,
    a retry)."""
    nid = node_id(workflow_name, node_name)
    probe = 0
    while (holder := held_by(nid)) is not None and holder != node_name:
        probe += 1
        nid = node_id(workflow_name, f"{node_name}\0{probe}")
    return nid


class NodeBook:
    """Nodes of a :class:`~argosy.engine.workflow.WorkflowRun` in memory and in the store."""

    def id_of(self, name: str) -> str:
        """The id of this workflow's node ``name`` (:func:`free_id`)."""
        def held_by(nid: str) -> str | None:
            node = self.nodes.get(nid)
            return None if node is None else node.name

        return free_id(self.name, name, held_by)

    def node_dir(self, nid: str) -> Path:
        return self.store.run_dir(self.uid) / nid

    def ensure_node(self, name: str, display_name: str, node_type: str, phase: str, *,
                    boundary_id: str | None, parents: list[str], template_name: str | None,
                    message: str | None = None, finished: bool = False,
                    inputs: dict[str, Any] | None = None) -> NodeStatus:
        """Find the node by its deterministic id, or create and persist it."""
        nid = self.id_of(name)
        node = self.nodes.get(nid)
        if node is not None:
            return node
        now = now_rfc3339()
        node = NodeStatus(id=nid, name=name, displayName=display_name, type=node_type,
                          templateName=template_name, phase=phase, boundaryID=boundary_id,
                          startedAt=now, finishedAt=now if finished else None, message=message,
                          inputs=inputs)
        if node_type in ("Pod", "Container"):
            node.host_node_name = HOST
        self.nodes[nid] = node
        self._count_leaf(node, created=True)
        edges = []
        for parent_id in parents:
            parent = self.nodes.get(parent_id)
            if parent is None:
                continue
            # A node created just now cannot be anyone's child yet: no need to search.
            children = parent.children if parent.children is not None else []
            edges.append((parent_id, len(children), nid))
            children.append(nid)
            parent.children = children
            if parent_id in self._children_sets:
                self._children_sets[parent_id].add(nid)
        self.persist(node, edges)
        return node

    def _link(self, node: NodeStatus, parents: list[str]) -> None:
        """Hang a node found already done (carried over by a memoized resubmit) from its
        parents, which were created after it."""
        edges = []
        for parent_id in parents:
            parent = self.nodes.get(parent_id)
            if parent is None:
                continue
            known = self._children_sets.get(parent_id)
            if known is None:
                known = self._children_sets[parent_id] = set(parent.children or [])
            if node.id in known:
                continue
            known.add(node.id)
            parent.children = [*(parent.children or []), node.id]
            edges.append((parent_id, len(parent.children) - 1, node.id))
        if edges:
            self.store.add_edges(self.uid, edges)

    def _count_leaf(self, node: NodeStatus, *, created: bool = False) -> None:
        if node.type not in ("Pod", "Container"):
            return
        if created:
            self.leaves_total += 1
        if node.phase == "Succeeded":
            self.leaves_done += 1

    def set_phase(self, node: NodeStatus, phase: str, message: str | None = None) -> None:
        node.phase = phase
        if message is not None:
            node.message = message
        self.persist(node)

    def finish(self, node: NodeStatus, phase: str, message: str | None = None) -> None:
        node.phase = phase
        if message:
            node.message = message
        node.finished_at = now_rfc3339()
        node.daemoned = None
        if node.type in ("Pod", "Container"):
            node.progress = "1/1" if phase == "Succeeded" else "0/1"
            if phase == "Succeeded":
                self.leaves_done += 1
        self.persist(node)

    def persist(self, node: NodeStatus, edges: list[tuple[str, int, str]] | None = None) -> None:
        if self.deleted:
            return
        body = node.model_dump_json(by_alias=True, exclude_none=True, exclude={"children"})
        self.store.put_node(self.uid, node.id, body, edges)
        if self.listener.on_node:
            self.listener.on_node(self, node)
        hook = self.engine.registry.pm.hook.argosy_node_event
        if hook.get_hookimpls():
            hook(workflow_name=self.name, namespace=self.namespace,
                 node=node.model_dump(by_alias=True, exclude_none=True))

    def outbound_of(self, node: NodeStatus) -> list[str]:
        """Argo's getOutboundNodes: the nodes a successor hangs from."""
        if node.type in ("Skipped", "Suspend", "HTTP", "Plugin"):
            return [node.id]
        if node.type == "Retry":
            return [node.children[-1]] if node.children else self._outbound_nodes(node)
        # Only the kinds that look at their children list them: each task after a loop of
        # 100,000 would otherwise build that list again.
        if node.type not in ("TaskGroup", "Container", "Pod"):
            return self._outbound_nodes(node)
        children = [self.nodes[c] for c in node.children or [] if c in self.nodes]
        if node.type == "Pod" and not any(c.type == "Container" for c in children):
            return [node.id]
        # A containerSet's pod is a group of its containers; a container whose child lies
        # outside its pod is the deepest node of the set.
        if not children:
            return [node.id]
        out: list[str] = []
        for child in children:
            if node.type == "Container" and child.boundary_id != node.boundary_id:
                out.append(node.id)
            else:
                out.extend(self.outbound_of(child))
        return list(dict.fromkeys(out))

    def _outbound_nodes(self, node: NodeStatus) -> list[str]:
        out = [o for nid in node.outbound_nodes or [] for o in self.outbound_of(self.nodes[nid])]
        return out or [node.id]

    def _error_node(self, name: str, display: str, boundary_id: str | None, parents: list[str],
                    message: str, template: dict[str, Any], node_type: str = "Pod") -> NodeStatus:
        node = self.ensure_node(name, display, node_type, "Error", boundary_id=boundary_id,
                                parents=parents, template_name=template.get("name"),
                                message=message)
        if not node.fulfilled:
            self.finish(node, "Error", message)
        return node

