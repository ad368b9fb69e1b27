"""Template lifecycle: one node through its template, from inputs to outcome.

Defaults, inputs, retries, synchronization, memoization, deadlines, and the template type's
``run``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pydantic import ValidationError

from argosy.artifacts import ArtifactError
from argosy.engine.artifacts import artifacts_view
from argosy.engine.context import NodeContext, NodeError
from argosy.engine.retry import decide, last_retry
from argosy.engine.sync import SyncError, holder_key
from argosy.errors import ArgosyError, ExpressionError
from argosy.expr.substitute import Leaf, Scope, evaluate, go_str, references, substitute, to_json
from argosy.kube import pod_name
from argosy.memo import MemoError, memoization_status
from argosy.plugin import Outcome, TemplateType
from argosy.spec.durations import DurationError, parse_duration, seconds_since
from argosy.spec.models import Arguments, NodeStatus, RetryStrategy, Template, failed_or_error

# References resolved later than template entry: by each step, task or loop iteration.
DEFERRED = ("steps", "tasks", "item")


def _deferred(body: str) -> bool:
    head = body.lstrip("= ").split(".", 1)[0].split("[", 1)[0]
    return head in DEFERRED or any(f"{name}." in body for name in ("steps", "tasks")) or (
        body.startswith("=") and "item" in body)


class TemplateLifecycle:
    """How a :class:`~argosy.engine.workflow.WorkflowRun` executes one node."""

    def resolve_template(self, ref: str | dict[str, Any]) -> dict[str, Any]:
        if isinstance(ref, dict):
            return ref
        try:
            return self.templates[ref]
        except KeyError:
            raise NodeError(f"template {ref!r} not found") from None

    def template_type(self, template: dict[str, Any]) -> TemplateType:
        keys = [k for k in template if k in self.types]
        if len(keys) != 1:
            name = template.get("name", "<inline>")
            if not keys:
                raise NodeError(f"template {name!r} has no template type "
                                f"(known: {', '.join(sorted(self.types))})")
            raise NodeError(f"template {name!r} has more than one type: {', '.join(keys)}")
        return self.types[keys[0]]

    def model(self, template: dict[str, Any]) -> Template:
        key = id(template)
        cached = self._model_cache.get(key)
        if cached is None:
            cached = self._model_cache[key] = Template.model_validate(template)
        return cached

    def with_defaults(self, template: dict[str, Any]) -> dict[str, Any]:
        """``spec.templateDefaults`` under the template's own fields (cached per template)."""
        defaults = self.manifest["spec"].get("templateDefaults")
        if not defaults:
            return template
        key = id(template)
        merged = self._defaults_cache.get(key)
        if merged is None:
            own_type = [k for k in template if k in self.types]
            base = {k: v for k, v in defaults.items() if k not in self.types or k in own_type}
            merged = self._defaults_cache[key] = _merge(base, template)
        return merged

    async def execute_node(self, name: str, template: dict[str, Any], arguments: Arguments, *,
                           display_name: str | None, boundary_id: str | None,
                           parents: list[str], root: bool = False) -> NodeStatus:
        nid = self.id_of(name)
        existing = self.nodes.get(nid)
        if existing is not None and existing.fulfilled:
            self._link(existing, parents)
            return existing
        display = display_name or name.rsplit(".", 1)[-1]
        template = self.with_defaults(template)
        try:
            ttype = self.template_type(template)
            tmpl = self.model(template)
        except (NodeError, ValidationError) as exc:
            return self._error_node(name, display, boundary_id, parents, str(exc), template)
        # As in Argo, spec.retryStrategy is the retryStrategy of every template without one.
        strategy = tmpl.retry_strategy
        if strategy is None:
            strategy = self.wf.spec.retry_strategy
        if strategy is not None:
            body = self._execute_retry(name, display, template, ttype, tmpl, strategy,
                                       arguments, boundary_id, parents)
        else:
            body = self._execute_once(name, display, template, ttype, tmpl, arguments,
                                      boundary_id, parents)
        if tmpl.daemon and ttype.node_type == "Pod":
            return await self._daemon(nid, boundary_id, body)
        return await body

    async def _execute_once(self, name: str, display: str, template: dict[str, Any],
                            ttype: TemplateType, tmpl: Template, arguments: Arguments,
                            boundary_id: str | None, parents: list[str],
                            retries: int | None = None) -> NodeStatus:
        existing = self.nodes.get(self.id_of(name))
        if existing is not None and existing.fulfilled:
            return existing
        if existing is None:
            await self.running_allowed.wait()  # a suspended workflow starts no new node
        # Like Argo, a pod beyond spec.parallelism gets no node until a slot frees up.
        slots = self.pod_slots if ttype.node_type == "Pod" else None
        async with slots or contextlib.nullcontext():
            node = existing
            if node is None:
                try:
                    inputs = self.resolve_inputs(tmpl, arguments)
                    arts = self.resolve_input_artifacts(tmpl, arguments, inputs)
                except (NodeError, ExpressionError) as exc:
                    return self._error_node(name, display, boundary_id, parents, str(exc),
                                            template, ttype.node_type)
                # A leaf waits Pending only for its locks; otherwise it starts right away.
                waits = ttype.leaf and bool(template.get("synchronization"))
                node = self.ensure_node(
                    name, display, ttype.node_type, "Pending" if waits else "Running",
                    boundary_id=boundary_id, parents=parents, template_name=tmpl.name,
                    inputs=_inputs_status(inputs, arts))
            inputs = {p["name"]: p.get("value")
                      for p in (node.inputs or {}).get("parameters", [])}
            scope = self.node_scope(node, tmpl, inputs, retries)
            await self._synchronized(node, template, ttype, tmpl, scope, new=existing is None)
        return node

    async def _synchronized(self, node: NodeStatus, template: dict[str, Any],
                            ttype: TemplateType, tmpl: Template, scope: Scope,
                            new: bool) -> None:
        """Run a node under its template's mutexes/semaphores, and through its memo cache.

        Argo's order: parallelism slot, then locks, then the memoization lookup.
        """
        lease = None
        sync = template.get("synchronization")
        if sync:
            holder = holder_key(self.namespace, self.name, node.id)

            def waiting(message: str) -> None:
                node.synchronization_status = {"waiting": self.engine.sync.waiting_for(holder)}
                self.set_phase(node, "Pending", message)
                self._sync_status()

            try:
                lease = await self.engine.sync.acquire(
                    holder, substitute(sync, scope, functions=self.functions),
                    on_wait=waiting, **self._sync_args())
            except SyncError as exc:
                self.finish(node, "Error", str(exc))
                return
            if node.synchronization_status is not None:
                node.synchronization_status, node.message = None, None
                self.persist(node)
            self._sync_status()
        try:
            memoized = template.get("memoize") and (new or lease is not None)
            if memoized and self._memo_hit(node, template, scope):
                return
            artifacts: list[dict[str, Any]] = []
            try:
                outcome = await self._run_type(ttype, node, template, scope)
                if tmpl.outputs.artifacts:
                    artifacts = await self.save_output_artifacts(node, tmpl, outcome, scope)
                if ttype.node_type == "Pod" and self.archives_logs(template):
                    artifacts.append(await self.archive_log(outcome, scope))
            except (NodeError, ExpressionError, ValidationError, DurationError,
                    ArtifactError) as exc:
                outcome = Outcome("Error", str(exc))
            self.finish_outcome(node, tmpl, outcome, scope, artifacts)
        finally:
            if lease is not None:
                await lease.release()
                self._sync_status()

    def _memo_hit(self, node: NodeStatus, template: dict[str, Any], scope: Scope) -> bool:
        """Look the node up in its memoize cache; on a hit it ends with the cached outputs."""
        memo = substitute(template["memoize"], scope, functions=self.functions)
        key = str(memo.get("key", ""))
        cache = ((memo.get("cache") or {}).get("configMap") or {}).get("name", "")
        try:
            entry = self.engine.memo.get(self.namespace, cache, key, memo.get("maxAge") or None)
        except MemoError as exc:
            self.finish(node, "Error", str(exc))
            return True
        node.memoization_status = memoization_status(entry is not None, key, cache)
        if entry is None:
            self.persist(node)
            return False
        node.outputs = entry.outputs or None
        for p in (entry.outputs or {}).get("parameters", []):
            if p.get("globalName"):
                self.export_global(p["globalName"], p.get("value", ""))
        self.finish(node, "Succeeded")
        return True

    def _sync_args(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "created": self.record.created_at,
                "priority": int(self.manifest["spec"].get("priority") or 0)}

    def _sync_status(self) -> None:
        """Mirror the locks held and awaited into ``status.synchronization``."""
        extra = dict(self.record.status_extra)
        now = self.engine.sync.status(self.namespace, self.name)
        if extra.get("synchronization", {}) == now:
            return
        if now:
            extra["synchronization"] = now
        else:
            extra.pop("synchronization", None)
        self._update(status_extra=extra)

    async def _execute_retry(self, name: str, display: str, template: dict[str, Any],
                             ttype: TemplateType, tmpl: Template, given: RetryStrategy,
                             arguments: Arguments, boundary_id: str | None,
                             parents: list[str]) -> NodeStatus:
        """A Retry node whose children ``name(0)``, ``name(1)``… are the attempts."""
        try:
            inputs = self.resolve_inputs(tmpl, arguments)
            arts = self.resolve_input_artifacts(tmpl, arguments, inputs)
            strategy = RetryStrategy.model_validate(substitute(
                given.dump(),
                self.globals.child({"inputs": {"parameters": inputs}}),
                functions=self.functions))
        except (NodeError, ExpressionError, ValidationError) as exc:
            return self._error_node(name, display, boundary_id, parents, str(exc), template,
                                    "Retry")
        retry = self.ensure_node(name, display, "Retry", "Running", boundary_id=boundary_id,
                                 parents=parents, template_name=tmpl.name,
                                 inputs=_inputs_status(inputs, arts))
        attempts: list[NodeStatus] = []
        while True:
            i = len(attempts)
            child = await self._execute_once(f"{name}({i})", f"{display}({i})", template, ttype,
                                             tmpl, arguments, boundary_id, [retry.id], i)
            attempts.append(child)
            if not failed_or_error(child.phase):
                return self._end_retry(retry, child, child.phase, None)
            try:
                decision = decide(strategy, attempts, self._retry_expression(strategy, attempts))
            except (ArgosyError, ExpressionError) as exc:
                return self._end_retry(retry, child, "Error", str(exc))
            if not decision.retry:
                return self._end_retry(retry, child, decision.phase, decision.message)
            if decision.wait > 0:
                self.set_phase(retry, "Running", f"Backoff for {go_str(decision.wait)}s")
                await asyncio.sleep(decision.wait)

    def _retry_expression(self, strategy: RetryStrategy,
                          attempts: list[NodeStatus]) -> bool | None:
        if not strategy.expression:
            return None
        scope = Scope({"lastRetry": last_retry(attempts), "retries": str(len(attempts) - 1)})
        return bool(evaluate(strategy.expression, scope, self.functions))

    def _end_retry(self, retry: NodeStatus, last: NodeStatus, phase: str,
                   message: str | None) -> NodeStatus:
        if last.outputs:
            retry.outputs = last.outputs
        self.finish(retry, phase, message)
        return retry

    async def _run_type(self, ttype: TemplateType, node: NodeStatus, template: dict[str, Any],
                        scope: Scope) -> Outcome:
        static = self._static.get(id(template))
        if static is not None:
            resolved, tmpl, body = static
        else:
            keep = _deferred if not ttype.leaf else None
            resolved = substitute(template, scope, keep=keep, functions=self.functions)
            tmpl = Template.model_validate(resolved)
            body = resolved[ttype.key]
            if ttype.body is not None:
                body = ttype.body.model_validate(body)
            if not _has_tags(template):
                # Nothing to substitute: every node of this template shares one parse.
                self._static[id(template)] = (template, tmpl, body)
        ctx = NodeContext(self, node, tmpl, resolved, body, scope, template_type=ttype)
        placed = [a for a in [*tmpl.inputs.artifacts, *tmpl.outputs.artifacts] if a.get("path")]
        if placed and not ttype.artifacts:
            return Outcome("Error", f'artifact "{placed[0].get("name")}": artifacts at a path are '
                           f"not supported by the {ttype.key} template type")
        try:
            if placed and getattr(self.executor, "moves_artifacts", False):
                ctx.artifact_plan = self.artifact_plan(node, tmpl, scope)
            if ttype.leaf and (node.inputs or {}).get("artifacts") and ctx.artifact_plan is None:
                ctx.artifact_mounts = await self.stage_input_artifacts(node)
        except (ArtifactError, OSError) as exc:
            return Outcome("Error", str(exc))
        if node.phase == "Pending":
            self.set_phase(node, "Running")
        if ttype.leaf:
            return await self._run_body(ttype, ctx, tmpl, node)
        try:
            return await self._run_body(ttype, ctx, tmpl, node)
        finally:
            await self.end_daemons(node.id)

    async def _run_body(self, ttype: TemplateType, ctx: NodeContext, tmpl: Template,
                        node: NodeStatus) -> Outcome:
        deadline = _deadline_of(tmpl)
        if deadline is None:
            return await ttype.run(ctx)
        try:
            return await asyncio.wait_for(ttype.run(ctx),
                                          max(0.0, deadline - seconds_since(node.started_at)))
        except TimeoutError:
            message = ("Pod was active on the node longer than the specified deadline"
                       if ttype.node_type == "Pod" else "Step exceeded its deadline")
            return Outcome("Failed", message, log_files=self._process_log(node))

    def resolve_inputs(self, tmpl: Template, arguments: Arguments) -> dict[str, Any]:
        """Input parameter values: the argument, else the input's value or default.

        An argument still naming another step's or task's output (one that did not run, so
        produced none) counts as not supplied: the input's default applies, as in Argo.
        """
        given = {p.name: p for p in arguments.parameters}
        values: dict[str, Any] = {}
        for p in tmpl.inputs.parameters:
            arg = given.get(p.name)
            absent = arg is not None and _unresolved_output(arg.value)
            if absent and p.value is None and p.default is None:
                raise NodeError(f"inputs.parameters.{p.name}: failed to resolve {arg.value}")
            if arg is not None and arg.value is not None and not absent:
                value = arg.value
            elif p.value is not None:
                value = p.value
            elif p.default is not None:
                value = p.default
            elif p.value_from is not None and p.value_from.supplied is not None:
                continue
            else:
                raise NodeError(f"inputs.parameters.{p.name} was not supplied")
            # As in Argo, a template input's enum is a hint for UIs, not checked at run time
            # (spec.arguments are checked against theirs when the workflow is submitted).
            values[p.name] = substitute(go_str(value), self.globals, functions=self.functions)
        return values

    def node_scope(self, node: NodeStatus, tmpl: Template, inputs: dict[str, Any],
                   retries: int | None = None) -> Scope:
        params = dict(inputs)
        extra = {"retries": str(retries)} if retries is not None else {}
        return self.globals.child(extra | {
            # Argo marshals the template's (absent) parameter list: `null` when there are none.
            "inputs": {"parameters": Leaf(to_json(
                [{"name": k, "value": v} for k, v in params.items()] or None), params),
                "artifacts": artifacts_view((node.inputs or {}).get("artifacts") or [])},
            # {{outputs.artifacts.NAME.path}}, {{outputs.parameters.NAME.path}}: where the
            # template is to write its outputs.
            "outputs": {"artifacts": {a.get("name"): {"path": a["path"]}
                                      for a in tmpl.outputs.artifacts if a.get("path")},
                        "parameters": {p.name: {"path": p.value_from.path}
                                       for p in tmpl.outputs.parameters
                                       if p.value_from is not None and p.value_from.path}},
            "node": {"name": node.name, "id": node.id},
            "pod": {"name": pod_name(self.name, {"id": node.id, "name": node.name,
                                                 "templateName": tmpl.name})},
        })


def _deadline_of(tmpl: Template) -> float | None:
    """Seconds a node may run: the tighter of ``activeDeadlineSeconds`` and ``timeout``."""
    limits = []
    if tmpl.active_deadline_seconds not in (None, ""):
        try:
            limits.append(float(tmpl.active_deadline_seconds))  # type: ignore[arg-type]
        except ValueError:
            raise NodeError("activeDeadlineSeconds is not a number: "
                            f"{tmpl.active_deadline_seconds!r}") from None
    if tmpl.timeout not in (None, ""):
        limits.append(parse_duration(tmpl.timeout))  # type: ignore[arg-type]
    return min(limits) if limits else None


def _unresolved_output(value: Any) -> bool:
    return isinstance(value, str) and any(
        ref.startswith(("steps.", "tasks.")) for ref in references(value))


def _has_tags(obj: Any) -> bool:
    if isinstance(obj, str):
        return "{{" in obj
    if isinstance(obj, dict):
        return any(_has_tags(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_tags(v) for v in obj)
    return False


def _inputs_status(inputs: dict[str, Any],
                   artifacts: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    status: dict[str, Any] = {}
    if inputs:
        status["parameters"] = [{"name": k, "value": v} for k, v in inputs.items()]
    if artifacts:
        status["artifacts"] = artifacts
    return status or None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
