"""Actions: Argo's verbs applied to a running workflow.

suspend, resume, stop, terminate and node set, from other processes, arrive as actions in
the store; the run polls for them and applies them here.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from argosy.spec.models import NodeStatus
from argosy.spec.selectors import node_matcher

ACTION_POLL_SECONDS = 0.2


class Actions:
    """How a :class:`~argosy.engine.workflow.WorkflowRun` applies actions."""

    async def _control_loop(self) -> None:
        while True:
            await asyncio.sleep(ACTION_POLL_SECONDS)
            await self._apply_actions()

    async def _apply_actions(self) -> None:
        if not self.store.exists(self.uid):
            # Deleted while running: terminate, and write nothing more about it.
            self.deleted = True
            if self.main_task is not None and not self.main_task.done():
                self.shutdown = "Terminate"
                self.main_task.cancel()
            return
        for action_id, kind, payload in self.store.actions_after(self.uid, self.applied_action):
            self.apply_action(kind, payload)
            self.applied_action = action_id
            self.store.set_applied_action(self.uid, action_id)

    def apply_action(self, kind: str, payload: dict[str, Any]) -> None:
        """Argo's suspend / resume / stop / terminate / node set, applied in this engine."""
        spec = self.manifest["spec"]
        if kind == "suspend":
            spec["suspend"] = True
            self.running_allowed.clear()
        elif kind == "resume":
            spec.pop("suspend", None)
            self.running_allowed.set()
            for node in self._select(payload.get("nodeFieldSelector")):
                if node.type == "Suspend" and not node.fulfilled:
                    self.resume_node(node)
        elif kind in ("stop", "terminate"):
            self.shutdown = "Stop" if kind == "stop" else "Terminate"
            self.stop_message = payload.get("message") or None
            spec["shutdown"] = self.shutdown
            if self.main_task is not None and not self.main_task.done():
                self.main_task.cancel()
        elif kind == "set":
            for node in self._select(payload.get("nodeFieldSelector")):
                self.set_node(node, payload)
        self.store.update_manifest(self.uid, self.manifest)
        if self.listener.on_workflow:
            self.listener.on_workflow(self)

    def _select(self, selector: str | None) -> list[NodeStatus]:
        match = node_matcher(selector)
        return [n for n in self.nodes.values()
                if match(n.model_dump(by_alias=True, exclude_none=True))]

    def resume_node(self, node: NodeStatus) -> None:
        """Release a suspend node, durably: it is Succeeded before its coroutine knows."""
        self.finish(node, "Succeeded")
        waiter = self.resume_waiters.pop(node.id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def set_node(self, node: NodeStatus, payload: dict[str, Any]) -> None:
        """``argo node set``: output parameters, message, phase of a node."""
        params = payload.get("outputParameters") or {}
        if params:
            outputs = dict(node.outputs or {})
            current = {p["name"]: p for p in outputs.get("parameters", [])}
            for key, value in params.items():
                current[key] = {"name": key, "value": str(value)}
            outputs["parameters"] = list(current.values())
            node.outputs = outputs
        if payload.get("message") is not None:
            node.message = payload["message"]
        phase = payload.get("phase")
        if phase and node.type == "Suspend" and not node.fulfilled:
            node.message = node.message if payload.get("message") else None
            self.resume_node(node)
            if phase != "Succeeded":
                self.finish(node, phase, payload.get("message"))
        elif phase:
            self.finish(node, phase, payload.get("message"))
        else:
            self.persist(node)

    async def wait_for_resume(self, node: NodeStatus, timeout: float | None = None) -> None:
        """Until ``resume`` (or ``node set``) releases this suspend node, or ``timeout``."""
        if node.fulfilled or (timeout is not None and timeout <= 0):
            return
        waiter = self.resume_waiters.setdefault(
            node.id, asyncio.get_running_loop().create_future())
        if timeout is None:
            await waiter
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiter), max(0.0, timeout))
