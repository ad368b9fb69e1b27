"""The ``suspend`` template type: wait for a duration, or until the workflow is resumed.

The deadline counts from the node's recorded ``startedAt``, so a restarted engine waits only
for what is left rather than starting the duration again.
"""

from __future__ import annotations

from argosy.plugin import (
    ArgoModel,
    DurationError,
    Fault,
    NodeContext,
    Outcome,
    TemplateType,
    hookimpl,
    parse_duration,
    seconds_since,
)


class Suspend(ArgoModel):
    duration: str | int | None = None


async def run(ctx: NodeContext) -> Outcome:
    duration = ctx.body.duration
    if duration is None or str(duration) == "":
        await ctx.wait_for_resume()
    else:
        remaining = parse_duration(duration) - seconds_since(ctx.node.started_at)
        await ctx.wait_for_resume(remaining)
    # Values given with `node set --output-parameter` feed outputs with valueFrom.supplied.
    supplied = {p["name"]: p.get("value") for p in (ctx.node.outputs or {}).get("parameters", [])}
    if not ctx.node.fulfilled:  # the duration expired
        unset = _defaults_for_unset(ctx, supplied)
        if isinstance(unset, str):
            return Outcome("Error", unset)
        supplied |= unset
    phase = ctx.node.phase if ctx.node.fulfilled else "Succeeded"
    return Outcome(phase, ctx.node.message or "", outputs=supplied)


def _defaults_for_unset(ctx: NodeContext, supplied: dict) -> dict[str, str] | str:
    """Argo's OverrideOutputParametersWithDefault when a suspend expires: each supplied output
    not set takes its default; one without a default is an error (the message returned)."""
    defaults = {}
    for param in ctx.template.outputs.parameters:
        value_from = param.value_from
        if value_from is None or value_from.supplied is None or param.name in supplied:
            continue
        if value_from.default is None:
            return (f"raw output parameter '{param.name}' has not been set and does not have "
                    "a default value")
        defaults[param.name] = str(value_from.default)  # a string field: scalars are text
    return defaults


def validate(body: Suspend, path: str) -> list[Fault]:
    if body.duration is None or "{{" in str(body.duration):
        return []
    try:
        parse_duration(body.duration)
    except DurationError as exc:
        return [Fault(f"{path}.duration", str(exc))]
    return []


@hookimpl
def argosy_template_types() -> list[TemplateType]:
    return [TemplateType("suspend", "Suspend", run, Suspend, validate)]
