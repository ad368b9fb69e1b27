"""The ``data`` template type: a list from a source, transformed by expressions (Argo 3.1+).

``source.artifactPaths`` is an artifact whose location names a repository (and, with a key, a
prefix in it): the source is the keys of the files kept there, sorted. Each step of
``transformation`` is an ``expression`` in Argo's expression language with the list as
``data`` (``filter(data, {# endsWith ".pdf"})``, ``map(data, {# + ".ready"})``), applied in
order. The node's ``outputs.result`` is the final value as JSON, as Argo's data template gives
it, for ``withParam`` to loop over. The listing is the engine's: no pod, no image.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from argosy.plugin import (
    ArgoModel,
    ArgosyError,
    ExpressionError,
    Fault,
    NodeContext,
    NodeError,
    Outcome,
    TemplateType,
    evaluate_expr,
    hookimpl,
)


class Data(ArgoModel):
    source: dict[str, Any]
    transformation: list[dict[str, Any]] = []


def validate(body: Data, path: str) -> list[Fault]:
    """What the schema leaves optional and a data template needs (unknown fields are the
    schema's faults)."""
    faults = []
    if not isinstance(body.source.get("artifactPaths"), dict):
        faults.append(Fault(f"{path}.source.artifactPaths", "artifactPaths (an artifact "
                            "naming a repository) is required: it is the one source Argo has"))
    for index, step in enumerate(body.transformation):
        if not isinstance(step.get("expression"), str):
            faults.append(Fault(f"{path}.transformation[{index}].expression", "expression is "
                                "required: it is the one transformation Argo has"))
    return faults


async def run(ctx: NodeContext) -> Outcome:
    body: Data = ctx.body
    try:
        data: Any = await asyncio.to_thread(ctx.artifact_keys, body.source["artifactPaths"])
    except (ArgosyError, FileNotFoundError) as exc:
        raise NodeError(f"data source artifactPaths: {exc}") from None
    for index, step in enumerate(body.transformation):
        try:
            data = evaluate_expr(step["expression"], {"data": data})
        except ExpressionError as exc:
            raise NodeError(f"transformation[{index}]: {exc}") from None
    return Outcome(result=json.dumps(data, separators=(",", ":")))


@hookimpl
def argosy_template_types() -> list[TemplateType]:
    return [TemplateType("data", "Pod", run, Data, validate)]
