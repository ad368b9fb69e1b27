"""The ``steps`` template type: groups run one after another, the steps of a group in parallel.

Nodes follow Argo: the Steps node's first child is the StepGroup ``name[0]``; each step is
``name[i].step`` (``name[i].step(j:item)`` in a loop); later groups hang from the outbound nodes
of the group before.
"""

from __future__ import annotations

from collections import ChainMap
from typing import Any

from pydantic import RootModel

from argosy.plugin import (
    ExpressionError,
    Fault,
    LoopError,
    NodeContext,
    NodeError,
    NodeStatus,
    Outcome,
    Scope,
    Step,
    TemplateType,
    evaluate_when,
    expand,
    failed_or_error,
    hookimpl,
)


class Steps(RootModel[list[list[dict[str, Any]]]]):
    """Parallel groups of steps, as plain dicts so each is substituted when its turn comes."""


class Parallel:
    """Template-level ``parallelism`` and ``failFast`` over a group's children."""

    def __init__(self, ctx: NodeContext) -> None:
        self.slots = ctx.child_slots()
        self.fail_fast = ctx.template.fail_fast is True
        self.failed = False

    async def run(self, start: Any) -> NodeStatus | None:
        """Start a child when a slot is free; with failFast, none after a failure."""
        if self.slots is None:
            return await start()
        async with self.slots:
            if self.failed and self.fail_fast:
                return None
            return await start()


async def run(ctx: NodeContext) -> Outcome:
    scope = ctx.scope.child({"steps": {}})
    groups: list[list[dict[str, Any]]] = ctx.body.root
    parallel = Parallel(ctx)
    prev: NodeStatus | None = None
    for i, group in enumerate(groups):
        parents = [ctx.node.id] if prev is None else _after(ctx, prev)
        sg = ctx.group(f"{ctx.node.name}[{i}]", f"[{i}]", "StepGroup", parents)
        phase, message = await _run_group(ctx, sg, group, scope, parallel)
        if not sg.fulfilled:
            ctx.finish(sg, phase, message)
        prev = sg
        if failed_or_error(phase):
            ctx.node.outbound_nodes = _after(ctx, sg)
            # As Argo: an unsuccessful group (even one in Error, e.g. a withParam that is no
            # list) fails the Steps node with the group's message.
            return Outcome("Failed", sg.message or "", scope=scope)
    if prev is not None:
        ctx.node.outbound_nodes = _after(ctx, prev)
    return Outcome("Succeeded", scope=scope)


def _after(ctx: NodeContext, group: NodeStatus) -> list[str]:
    """The outbound nodes of a group's children (the group itself when it has none)."""
    if not group.children:
        return [group.id]
    return [o for c in ctx.children_of(group) for o in ctx.outbound_of(c)]


async def _run_group(ctx: NodeContext, sg: NodeStatus, group: list[dict[str, Any]],
                     scope: Scope, parallel: Parallel) -> tuple[str, str | None]:
    planned: list[tuple[Step, list[tuple[str, dict[str, Any]]]]] = []
    try:
        for raw in group:
            planned.append(_plan(ctx, raw, scope))
    except (NodeError, ExpressionError, LoopError) as exc:
        return "Error", str(exc)
    owners = []
    for index, (step, runs) in enumerate(planned):
        if not runs:
            ctx.skip(f"{sg.name}.{step.name}", step.name, "Skipped", "Skipped, empty params",
                     [sg.id], step.template)
        owners += [index] * len(runs)
    # Each iteration's Step is parsed as it starts: a loop of 100,000 never holds them all.
    results = await ctx.run_children((
        _run_step(ctx, sg, step, suffix, Step.model_validate(body), parallel, scope)
        for step, runs in planned for suffix, body in runs), slots=parallel.slots)
    by_step: list[list[NodeStatus]] = [[] for _ in planned]
    for index, node in zip(owners, results, strict=True):
        if node is not None:
            by_step[index].append(node)
    outcome: tuple[str, str | None] = ("Succeeded", None)
    for (step, _), nodes in zip(planned, by_step, strict=True):
        _expose(ctx, scope, sg, step, nodes)
        for node in nodes:
            if (failed_or_error(node.phase) and not step.continues_on(node.phase)
                    and outcome[0] == "Succeeded"):
                outcome = ("Failed", f"child '{node.id}' failed")
    if parallel.failed and parallel.fail_fast:
        outcome = ("Failed", "template has failed or errored children and failFast enabled")
    return outcome


def _plan(ctx: NodeContext, raw: dict[str, Any],
          scope: Scope) -> tuple[Step, list[tuple[str, dict[str, Any]]]]:
    """The step, and its runs: (name suffix, substituted step) for each loop iteration."""
    # `steps.name` is the name of the step being resolved (Argo's variable).
    local = scope.child({"steps": ChainMap({"name": raw.get("name")}, scope["steps"])})
    resolved = ctx.substitute(raw, local, defer_items=True)
    step = Step.model_validate(resolved)
    if not step.loops:
        return step, [("", resolved)]
    return step, expand(resolved, step, scope)


async def _run_step(ctx: NodeContext, sg: NodeStatus, step: Step, suffix: str,
                    expanded: Step, parallel: Parallel, scope: Scope) -> NodeStatus | None:
    name = f"{sg.name}.{step.name}{suffix}"
    display = f"{step.name}{suffix}"
    if expanded.when:
        try:
            proceed = evaluate_when(expanded.when)
        except ExpressionError as exc:
            node = ctx.skip(name, display, "Error", str(exc), [sg.id], step.template)
            return node
        if not proceed:
            return ctx.skip(name, display, "Skipped", f"when '{expanded.when}' evaluated false",
                            [sg.id], step.template)

    async def go() -> NodeStatus:
        return await ctx.run_child(name, expanded.inline.dump() if expanded.inline
                                   else expanded.template or "",
                                   expanded.arguments, display_name=display, parents=[sg.id])

    node = await parallel.run(go)
    if node is None:
        return None
    if failed_or_error(node.phase) and not step.continues_on(node.phase):
        parallel.failed = True
    await ctx.run_hooks(expanded, node, scope, "steps")
    return node


def _expose(ctx: NodeContext, scope: Scope, sg: NodeStatus, step: Step,
            nodes: list[NodeStatus]) -> None:
    """Make ``steps.<name>.…`` available to later groups and to the template's outputs."""
    if step.loops:
        view = ctx.aggregate_view(sg, nodes)
    elif nodes:
        view = ctx.node_view(nodes[0])
    else:
        return
    scope.data["steps"][step.name] = view


def validate(body: Steps, path: str) -> list[Fault]:
    return []


@hookimpl
def argosy_template_types() -> list[TemplateType]:
    return [TemplateType("steps", "Steps", run, Steps, validate, leaf=False)]
