"""Daemons: ``daemon: true`` nodes that serve their scope, as Argo's controller runs them.

A daemon node's run goes on in a task of its own. Once it is daemoned (its process runs and is
ready: :meth:`~argosy.engine.context.NodeContext.daemoned`) its scope goes on; the steps or dag
node whose boundary it is kills it when it ends (Argo's killDaemonedChildren), and the
workflow kills any left when it ends. A restarted engine re-adopts a daemon that was serving.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from contextvars import ContextVar

from argosy.spec.models import NodeStatus

# Every node shares the host's network, so a daemon serves on the host's loopback address.
POD_IP = "127.0.0.1"
# Inside a daemon node's run: (resolved once it is daemoned, the node its scope waits for).
_DAEMON: ContextVar[tuple[asyncio.Future[None], str] | None] = ContextVar("argosy_daemon",
                                                                          default=None)


class Daemons:
    """The daemons a :class:`~argosy.engine.workflow.WorkflowRun` has serving."""

    async def _daemon(self, nid: str, boundary_id: str | None,
                      body: Awaitable[NodeStatus]) -> NodeStatus:
        """Run a daemon node's ``body`` until it is daemoned (or ends): then its scope goes on,
        and the body runs on until the daemon exits or its scope ends (:meth:`end_daemons`)."""
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        known = self.nodes.get(nid)
        if known is not None and known.daemoned:
            ready.set_result(None)  # an engine before this one saw it serve: it is re-adopted
        token = _DAEMON.set((ready, nid))
        task = asyncio.ensure_future(body)
        _DAEMON.reset(token)
        try:
            await asyncio.wait((task, ready), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise
        if task.done():
            return task.result()
        serving = self.daemons.setdefault(boundary_id, {})
        serving[nid] = task
        task.add_done_callback(lambda _: serving.pop(nid, None))
        return self.nodes[nid]

    def mark_daemoned(self, node: NodeStatus, pod_ip: str | None = None) -> None:
        held = _DAEMON.get()
        for nid in dict.fromkeys([node.id, *([held[1]] if held else [])]):
            daemon = self.nodes.get(nid)
            if daemon is not None and not daemon.fulfilled and not daemon.daemoned:
                daemon.daemoned = True
                if daemon.type == "Pod":
                    daemon.pod_ip = pod_ip or POD_IP
                self.set_phase(daemon, "Running")
        if held is not None and not held[0].done():
            held[0].set_result(None)

    async def end_daemons(self, boundary_id: str | None, everywhere: bool = False) -> None:
        """Kill the daemons a scope started, as Argo's killDaemonedChildren: each one's node
        ends Succeeded. A detaching engine leaves them running for its successor."""
        scopes = list(self.daemons) if everywhere else [boundary_id]
        tasks = {nid: task for scope in scopes
                 for nid, task in list(self.daemons.get(scope, {}).items())}
        for task in tasks.values():
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks.values(), return_exceptions=True)
        if self.engine.detached:
            return
        for nid in tasks:
            daemon = self.nodes[nid]
            for node in [*(self.nodes[c] for c in daemon.children or [] if c in self.nodes),
                         daemon]:
                if not node.fulfilled:
                    logs = self._process_log(node)
                    if logs and not self.deleted:
                        self.store.keep_log(self.uid, node.id, logs)
                    self.finish(node, "Succeeded")
