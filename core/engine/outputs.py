"""Outputs and variables: what nodes produce, and what templates read.

A node's outputs (parameters, result, artifacts, logs, metrics), the workflow's global
scope, and the views other nodes read (``steps.X``, ``tasks.X``, a loop's aggregate).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argosy.engine.artifacts import artifacts_view
from argosy.engine.context import NodeError
from argosy.engine.daemons import POD_IP
from argosy.errors import ExpressionError
from argosy.expr.substitute import Lazy, Leaf, Scope, go_str, loads, substitute, to_json
from argosy.memo import MemoError
from argosy.plugin import Outcome
from argosy.spec.durations import parse_time, seconds_since
from argosy.spec.models import NodeStatus, Template


class Outputs:
    """What nodes of a :class:`~argosy.engine.workflow.WorkflowRun` produce and read."""

    def _global_scope(self) -> Scope:
        meta = self.manifest.get("metadata", {})
        params = {p.name: go_str(p.value) for p in self.wf.spec.arguments.parameters
                  if p.value is not None}
        created = meta.get("creationTimestamp") or self.record.created_at
        params_json = to_json([{"name": k, "value": v} for k, v in params.items()])
        scope = Scope({"workflow": {
            "name": self.name, "namespace": self.namespace, "uid": self.uid,
            "serviceAccountName": self.wf.spec.service_account_name or "default",
            "mainEntrypoint": self.wf.spec.entrypoint or "",
            "creationTimestamp": _timestamp_view(created),
            # workflow.parameters.json: all of them as one JSON text (Argo's variable).
            "parameters": Leaf(params_json, {"json": params_json} | params),
            "labels": dict(meta.get("labels") or {}),
            "annotations": dict(meta.get("annotations") or {}),
            "status": "Running",
            "outputs": {"parameters": {}},
        }})
        scheduled = (meta.get("annotations") or {}).get("workflows.argoproj.io/scheduled-time")
        if scheduled:  # a CronWorkflow's run: the time it was scheduled for
            scope["workflow"]["scheduledTime"] = scheduled
        return scope

    def finish_outcome(self, node: NodeStatus, tmpl: Template, outcome: Outcome,
                       scope: Scope, artifacts: list[dict[str, Any]] | None = None) -> None:
        phase, message = outcome.phase, outcome.message or None
        outputs: dict[str, Any] = {}
        if outcome.result is not None:
            outputs["result"] = outcome.result
        if outcome.exit_code is not None:
            outputs["exitCode"] = str(outcome.exit_code)
        if tmpl.outputs.parameters and (phase == "Succeeded" or outcome.read_file is not None):
            try:
                params = self._output_parameters(tmpl, outcome, scope, outputs)
            except (NodeError, ExpressionError) as exc:
                params, phase, message = [], "Error", str(exc)
            if params:
                outputs["parameters"] = params
        if outcome.artifacts:
            for name, (path, content) in outcome.artifacts.items():
                self.store.put_artifact(self.uid, node.id, name, path, content)
            outputs["artifacts"] = [{"name": name, "path": path}
                                    for name, (path, _) in outcome.artifacts.items()]
        if artifacts:
            outputs["artifacts"] = [*outputs.get("artifacts", []), *artifacts]
        if outputs:
            node.outputs = outputs
        if (outcome.log is not None or outcome.log_files) and not self.deleted:
            self.store.keep_log(self.uid, node.id, outcome.log_parts)
        if tmpl.model_extra and tmpl.model_extra.get("metrics"):
            local = scope.child({"status": phase, "duration": go_str(float(
                seconds_since(node.started_at))), "exitCode": outputs.get("exitCode", ""),
                "outputs": {"result": outputs.get("result", ""), "parameters": {
                    p["name"]: p.get("value") for p in outputs.get("parameters", [])}}})
            message = self._emit_metrics(tmpl.model_extra["metrics"], local) or message
        memo = node.memoization_status
        if phase == "Succeeded" and memo and not memo.get("hit"):
            try:
                self.engine.memo.put(self.namespace, memo["cacheName"], memo["key"], node.id,
                                     outputs)
            except MemoError as exc:
                phase, message = "Error", str(exc)
        if node.type in ("Steps", "DAG") and not node.outbound_nodes:
            node.outbound_nodes = None
        self.finish(node, phase, message)

    def _output_parameters(self, tmpl: Template, outcome: Outcome, scope: Scope,
                           outputs: dict[str, Any]) -> list[dict[str, Any]]:
        params = []
        local = scope.child({"outputs": {"result": outputs.get("result"),
                                         "exitCode": outputs.get("exitCode")}})
        if outcome.scope is not None:
            local = outcome.scope.child(local.data)
        for p in tmpl.outputs.parameters:
            value = self._output_value(p, outcome, local)
            if value is None:
                continue
            params.append({"name": p.name, "value": value} |
                          ({"globalName": p.global_name} if p.global_name else {}))
            if p.global_name:
                self.export_global(p.global_name, value)
        return params

    def _output_value(self, p: Any, outcome: Outcome, scope: Scope) -> str | None:
        vf = p.value_from
        if vf is None:
            return go_str(p.value) if p.value is not None else None
        if vf.path:
            content = outcome.read_file(vf.path) if outcome.read_file else None
            if content is None:
                if vf.default is not None:
                    return go_str(vf.default).removesuffix("\n")
                if outcome.phase != "Succeeded":
                    return None
                raise NodeError(f"open {vf.path}: no such file or directory")
            return content.removesuffix("\n")
        if vf.expression:
            from argosy.expr.substitute import evaluate

            try:
                value = evaluate(vf.expression, scope, self.functions)
            except ExpressionError:
                if vf.default is not None:
                    return go_str(vf.default)
                raise
            return go_str(value) if value is not None else go_str(vf.default)
        if vf.parameter:
            value = substitute(vf.parameter, scope, functions=self.functions)
            if "{{" in value and vf.default is not None:
                return go_str(vf.default)
            return value
        if vf.supplied is not None or p.name in outcome.outputs:
            # Values the template type supplies: suspend's `node set`, resource's jsonPath.
            return outcome.outputs.get(p.name)
        if vf.default is not None:
            return go_str(vf.default)
        return None

    def export_global(self, name: str, value: str) -> None:
        self.globals.data["workflow"]["outputs"]["parameters"][name] = value
        self.globals.data.setdefault("_outputs", {})[name] = value

    def node_view(self, node: NodeStatus) -> Mapping[str, Any]:
        """``steps.<name>.…`` / ``tasks.<name>.…`` for one node, computed when referenced."""

        def compute() -> Mapping[str, Any]:
            outs = node.outputs or {}
            params = {p["name"]: p.get("value") for p in outs.get("parameters", [])}
            if node.phase in ("Skipped", "Omitted") and not params:
                params = self._skipped_defaults(node)
            view: dict[str, Any] = {
                "id": node.id, "status": node.phase, "startedAt": node.started_at or "",
                "finishedAt": node.finished_at or "", "hostNodeName": node.host_node_name or "",
                "ip": node.pod_ip or POD_IP,
                "outputs": {"parameters": Leaf(to_json(
                    [{"name": k, "value": v} for k, v in params.items()]), params)},
            }
            if "result" in outs:
                view["outputs"]["result"] = outs["result"]
            if outs.get("artifacts"):
                view["outputs"]["artifacts"] = artifacts_view(outs["artifacts"])
            if "exitCode" in outs:
                view["exitCode"] = outs["exitCode"]
                view["outputs"]["exitCode"] = outs["exitCode"]
            return view

        return Lazy(compute)

    def _skipped_defaults(self, node: NodeStatus) -> dict[str, Any]:
        """A skipped or omitted node's declared outputs that have a ``valueFrom.default``:
        Argo lets consumers read those; other outputs stay absent."""
        template = self.templates.get(node.template_name or "")
        if not template:
            return {}
        params = (template.get("outputs") or {}).get("parameters") or []
        return {p["name"]: go_str(p["valueFrom"]["default"]) for p in params
                if isinstance(p.get("valueFrom"), dict) and "default" in p["valueFrom"]}

    def aggregate_view(self, group: NodeStatus, children: list[NodeStatus]) -> Mapping[str, Any]:
        """A loop's aggregated outputs: JSON lists over its succeeded iterations."""

        def compute() -> Mapping[str, Any]:
            results: list[Any] = []
            maps: list[dict[str, Any]] = []
            per_name: dict[str, list[str]] = {}
            for child in children:
                outs = child.outputs or {}
                if child.phase != "Succeeded" or not outs:
                    continue
                params = outs.get("parameters") or []
                if params:
                    maps.append({p["name"]: p.get("value") for p in params})
                    for p in params:
                        per_name.setdefault(p["name"], []).append(p.get("value"))
                if "result" in outs:
                    results.append(_json_or_text(outs["result"]))
            by_name = {k: to_json(_all_json_or_text(v)) for k, v in per_name.items()}
            return {
                "id": group.id, "status": group.phase, "startedAt": group.started_at or "",
                "finishedAt": group.finished_at or "",
                "outputs": {"result": to_json(results),
                            "parameters": Leaf(to_json(maps), by_name)},
            }

        return Lazy(compute)


def _json_or_text(text: str) -> Any:
    try:
        return loads(text)
    except (ValueError, TypeError):
        return text


def _all_json_or_text(values: list[str]) -> list[Any]:
    # Argo's tryJSONUnmarshal: values become JSON only if every one is a JSON map or list.
    parsed = []
    for v in values:
        try:
            value = loads(v)
        except (ValueError, TypeError):
            return values
        if not isinstance(value, dict | list):
            return values
        parsed.append(value)
    return parsed


def _timestamp_view(text: str) -> Leaf:
    """``workflow.creationTimestamp`` and its strftime-style parts (``.Y``, ``.m``…)."""
    try:
        ts = parse_time(text)
    except ValueError:
        return Leaf(text, {})
    parts = {c: ts.strftime(f"%{c}") for c in "aAbBcCdDeFgGhHIjklmMnprRsStTuUVwWxXyYzZ"
             if c not in "n"}
    parts["s"] = str(int(ts.timestamp()))
    parts["RFC3339"] = text
    return Leaf(text, parts)
