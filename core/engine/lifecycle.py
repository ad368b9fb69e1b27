"""Workflow lifecycle: a workflow from start to finish.

Start (metadata, locks), the entrypoint under its deadline, exit handler and lifecycle
hooks, shutdown, and the finished workflow's status, metrics and retention.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from pathlib import Path
from typing import Any

from argosy.engine.metrics import MetricError
from argosy.engine.metrics import evaluate as emit_metrics
from argosy.engine.metrics import to_row as metric_row
from argosy.engine.sync import SyncError, holder_key
from argosy.errors import ArgosyError, ExpressionError
from argosy.expr.substitute import Scope, evaluate, go_str, substitute, to_json
from argosy.spec.durations import seconds_since
from argosy.spec.models import Arguments, NodeStatus, failed_or_error
from argosy.store import WorkflowRecord, now_rfc3339, remove_tree


class WorkflowLifecycle:
    """A :class:`~argosy.engine.workflow.WorkflowRun` from start to finish."""

    async def execute(self) -> WorkflowRecord:
        if self.record.phase not in ("Pending", "Running"):
            return self.record
        started = self.record.started_at or now_rfc3339()
        if not self.record.started_at:
            try:
                self._apply_workflow_metadata()
            except (ArgosyError, ExpressionError) as exc:
                self._update(started_at=started)
                self._finish_workflow("Error", f"spec.workflowMetadata: {exc}")
                return self.store.get(self.uid)
        if not await self._workflow_lock(started):
            return self.store.get(self.uid)
        self._update(phase="Running", started_at=started)
        self._emit_workflow("started")
        control = asyncio.ensure_future(self._control_loop())
        try:
            await self._apply_actions()
            phase, message = await self._main()
            if self.deleted:
                return self.record
            if self.shutdown != "Terminate":
                await self._run_exit_handler(phase)
                await self._workflow_hooks(phase)
        except asyncio.CancelledError:
            await self.end_daemons(None, everywhere=True)
            if not self.engine.detached and not self.deleted:
                self._stop_running("Stopped: interrupted")
                self._finish_workflow("Failed", "Stopped: interrupted")
            raise
        finally:
            control.cancel()
        await self.end_daemons(None, everywhere=True)
        self._finish_workflow(phase, message)
        return self.store.get(self.uid)

    async def _workflow_lock(self, started: str) -> bool:
        """``spec.synchronization``: the workflow waits Pending until it holds its locks."""
        sync = self.manifest["spec"].get("synchronization")
        if not sync:
            return True

        def waiting(message: str) -> None:
            self._update(phase="Pending", message=message)
            self._sync_status()

        try:
            await self.engine.sync.acquire(holder_key(self.namespace, self.name), sync,
                                           on_wait=waiting, **self._sync_args())
        except SyncError as exc:
            self._update(started_at=started)
            self._finish_workflow("Failed", f"Failed to acquire the synchronization lock. {exc}")
            return False
        self._update(message=None)
        self._sync_status()
        return True

    async def _main(self) -> tuple[str, str | None]:
        """The entrypoint as a task that ``stop`` and ``terminate`` can cancel."""
        if self.shutdown:
            return self._shut_down()
        await self._workflow_hooks()
        self.main_task = asyncio.ensure_future(self._execute_entrypoint())
        try:
            return await asyncio.shield(self.main_task)
        except asyncio.CancelledError:
            if self.shutdown and self.main_task.cancelled():
                return self._shut_down()
            # Cancelled from outside (Ctrl-C): let the nodes kill their processes first.
            self.main_task.cancel()
            with contextlib.suppress(BaseException):
                await self.main_task
            raise

    def _shut_down(self) -> tuple[str, str]:
        message = f"Stopped with strategy '{self.shutdown}'"
        # `stop --message` is for the nodes that were running, as in Argo.
        self._stop_running(self.stop_message or message)
        self.running_allowed.set()  # exit handlers run even in a suspended workflow
        return "Failed", message

    async def _execute_entrypoint(self) -> tuple[str, str | None]:
        """Run the entrypoint under ``spec.activeDeadlineSeconds``; the workflow's phase."""
        spec = self.wf.spec
        deadline = spec.active_deadline_seconds
        run = self.execute_node(self.name, self.resolve_template(spec.entrypoint or ""),
                                spec.arguments, display_name=self.name, boundary_id=None,
                                parents=[], root=True)
        try:
            if deadline is None:
                root = await run
            else:
                remaining = float(deadline) - seconds_since(self.record.started_at)
                root = await asyncio.wait_for(run, max(0.0, remaining))
        except TimeoutError:
            self._stop_running("Step exceeded its deadline")
            return "Failed", "Step exceeded its deadline"
        except ArgosyError as exc:
            return "Error", str(exc)
        if root.phase in ("Succeeded", "Failed", "Error"):
            return root.phase, root.message
        return ("Succeeded", None) if root.phase in ("Skipped", "Omitted") else ("Error",
                                                                               root.message)

    def _apply_workflow_metadata(self) -> None:
        """``spec.workflowMetadata``: labels and annotations, ``labelsFrom`` expressions."""
        wm = self.manifest["spec"].get("workflowMetadata") or {}
        if not wm:
            return
        meta = self.manifest.setdefault("metadata", {})
        labels = dict(meta.get("labels") or {}) | dict(wm.get("labels") or {})
        for key, source in (wm.get("labelsFrom") or {}).items():
            labels[key] = go_str(evaluate(source.get("expression", ""), self.globals,
                                          self.functions))
        meta["labels"] = labels
        meta["annotations"] = dict(meta.get("annotations") or {}) | dict(
            wm.get("annotations") or {})
        self.globals.data["workflow"]["labels"] = labels
        self.globals.data["workflow"]["annotations"] = meta["annotations"]
        self.store.update_manifest(self.uid, self.manifest)

    async def _run_exit_handler(self, phase: str) -> None:
        """``spec.onExit`` / ``spec.hooks.exit``: runs whatever the outcome, as node <wf>.onExit."""
        spec = self.manifest["spec"]
        hook = (spec.get("hooks") or {}).get("exit") or (
            {"template": spec["onExit"]} if spec.get("onExit") else None)
        if not hook:
            return
        self._set_status_variables(phase)
        with contextlib.suppress(ArgosyError):
            arguments = Arguments.model_validate(
                substitute(hook.get("arguments") or {}, self.globals, functions=self.functions))
            await self.execute_node(f"{self.name}.onExit",
                                    self.resolve_template(hook.get("template") or ""), arguments,
                                    display_name=f"{self.name}.onExit", boundary_id=None,
                                    parents=[])

    def _set_status_variables(self, phase: str) -> None:
        self.globals.set("workflow.status", phase)
        self.globals.set("workflow.failures", to_json(self._failures()))
        elapsed = seconds_since(self.record.started_at)
        self.globals.set("workflow.duration", go_str(float(elapsed)))

    async def _workflow_hooks(self, phase: str = "Running") -> None:
        """Expression hooks of ``spec.hooks``, checked when the workflow starts and ends."""
        hooks = {k: v for k, v in (self.manifest["spec"].get("hooks") or {}).items()
                 if k != "exit" and v.get("expression")}
        if not hooks:
            return
        self._set_status_variables(phase)
        for hook_name, hook in hooks.items():
            name = f"{self.name}.hooks.{hook_name}"
            if self.id_of(name) in self.nodes:
                continue
            with contextlib.suppress(ArgosyError, ExpressionError):
                if evaluate(hook["expression"], self.globals, self.functions):
                    arguments = Arguments.model_validate(substitute(
                        hook.get("arguments") or {}, self.globals, functions=self.functions))
                    await self.execute_node(name, self.resolve_template(hook["template"]),
                                            arguments, display_name=name, boundary_id=None,
                                            parents=[])

    def _failures(self) -> list[dict[str, Any]]:
        return [{"displayName": n.display_name, "message": n.message or "",
                 "templateName": n.template_name or "", "phase": n.phase,
                 "podName": n.id, "finishedAt": n.finished_at or ""}
                for n in self.nodes.values()
                if failed_or_error(n.phase) and n.type in ("Pod", "Container")]

    def _retention(self, phase: str) -> None:
        """``ttlStrategy``: when the workflow may be deleted."""
        ttl = self.manifest["spec"].get("ttlStrategy") or {}
        key = "secondsAfterSuccess" if phase == "Succeeded" else "secondsAfterFailure"
        seconds = ttl.get(key, ttl.get("secondsAfterCompletion"))
        if seconds is not None:
            self.store.set_expiry(self.uid, time.time() + float(seconds))

    def _emit_metrics(self, metrics: dict[str, Any], scope: Scope) -> str | None:
        """Evaluate and keep ``metrics.prometheus``; a faulty metric is reported, not fatal."""
        try:
            samples = emit_metrics(metrics.get("prometheus") or [], scope, self.functions)
        except (MetricError, ExpressionError) as exc:
            return f"metric: {exc}"
        if samples:
            self.store.add_metrics(self.uid, [metric_row(s) for s in samples])
        return None

    def _finish_workflow(self, phase: str, message: str | None) -> None:
        self.engine.sync.release_workflow(self.namespace, self.name)
        self._sync_status()
        if self.manifest["spec"].get("metrics"):
            self._set_status_variables(phase)
            self._emit_metrics(self.manifest["spec"]["metrics"], self.globals)
        self._retention(phase)
        exit_node = self.nodes.get(self.id_of(f"{self.name}.onExit"))
        if exit_node is not None and failed_or_error(exit_node.phase) and phase == "Succeeded":
            phase, message = exit_node.phase, exit_node.message
        extra = dict(self.record.status_extra)
        outputs = self.globals.data.get("_outputs")
        if outputs:
            extra["outputs"] = {"parameters": [{"name": k, "value": v}
                                               for k, v in outputs.items()]}
        if self.globals.data.get("_artifacts"):
            extra.setdefault("outputs", {})["artifacts"] = list(
                self.globals.data["_artifacts"].values())
        self._collect_artifacts()
        self._update(phase=phase, finished_at=now_rfc3339(), message=message,
                     progress=self.progress(), status_extra=extra)
        # Its pods are gone, as under any podGC: what they left that lasts (outputs, logs)
        # is in the store now.
        remove_later(self.store.run_dir(self.uid))
        gc = (self.manifest["spec"].get("volumeClaimGC") or {}).get("strategy")
        if phase == "Succeeded" or gc == "OnWorkflowCompletion":  # Argo's default: on success
            remove_tree(self.store.claims_dir(self.uid))
        self._emit_workflow("finished")

    def _stop_running(self, message: str) -> None:
        for node in list(self.nodes.values()):
            if not node.fulfilled:
                # Its processes are killed by now: what they printed is its log, as a killed
                # pod's is.
                logs = self._process_log(node)
                if logs and not self.deleted:
                    self.store.keep_log(self.uid, node.id, logs)
                self.finish(node, "Failed", message)

    def _process_log(self, node: NodeStatus) -> list[Path]:
        """The files holding what the node's process printed, for a node that ends without
        its outcome (stopped, terminated, past its deadline, interrupted)."""
        try:
            files = getattr(self.engine.executor, "log_files", None)
        except ArgosyError:
            return []
        if files is None or node.type not in ("Pod", "Container"):
            return []
        return [f for f in files(self.node_dir(node.id)) if f.exists()]

    def _update(self, **fields: Any) -> None:
        if self.deleted:
            return
        self.store.update_status(self.uid, **fields)
        for key, value in fields.items():
            setattr(self.record, key, value)
        if self.listener.on_workflow:
            self.listener.on_workflow(self)

    def _emit_workflow(self, event: str) -> None:
        hook = self.engine.registry.pm.hook.argosy_workflow_event
        hook(event=event, workflow={"metadata": {"name": self.name, "namespace": self.namespace,
                                                 "uid": self.uid},
                                    "status": self.record.status()})


def remove_later(path: Path) -> None:
    """Remove ``path`` off the engine's loop: it is renamed out of the way at once (a dot name,
    which the engine's sweep removes if this process ends first), then deleted by a thread
    that the interpreter waits for at exit. A workflow's node directories hold every node's
    writable layer: removing them took ~0.3-1 ms per node."""
    gone = path.with_name(f".removed-{path.name}")
    try:
        path.rename(gone)
    except FileNotFoundError:
        return
    except OSError:  # e.g. a leftover of that name: remove it here, as before
        remove_tree(path)
        return
    threading.Thread(target=remove_tree, args=(gone,), name="argosy-remove").start()

