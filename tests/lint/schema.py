"""Argo's Workflow JSON schema, read by the strict-lint and honest-specs tests.

``field_table`` derives the compact table argosy ships (``core/spec/argo_fields.json``): for each
definition reachable from Workflow, its field names and, for fields holding objects, the
definition of those objects ("X", "[X]" for a list, "{X}" for a map).
``ARGOSY_UPDATE_FIELDS=1 pytest tests/lint/test_strict.py`` rewrites the shipped table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO.parent / "shared" / "reference" / "argo" / "workflow-schema.json"
TABLE = REPO / "core" / "spec" / "argo_fields.json"
ARGO = "io.argoproj.workflow.v1alpha1."
ROOT = ARGO + "Workflow"


def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text())["definitions"]


def shape(defs: dict[str, Any], schema: dict[str, Any]) -> tuple[str, str | None]:
    """How a property holds objects: ("X", definition), "[X]" a list, "{X}" a map; or no object.

    The pattern's X stands for the definition; array definitions (ParallelSteps is a list of
    WorkflowStep) are followed, so steps are "[[X]]".
    """
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        if "properties" in target:
            return "X", schema["$ref"].rsplit("/", 1)[-1]
        if isinstance(target.get("items"), dict):
            pattern, name = shape(defs, target["items"])
            return f"[{pattern}]", name
        return "", None  # free-form: Quantity, IntOrString, Item, Plugin...
    if isinstance(schema.get("items"), dict):
        pattern, name = shape(defs, schema["items"])
        return (f"[{pattern}]", name) if name else ("", None)
    if isinstance(schema.get("additionalProperties"), dict):
        pattern, name = shape(defs, schema["additionalProperties"])
        return (f"{{{pattern}}}", name) if name else ("", None)
    return "", None


def properties(defs: dict[str, Any], name: str) -> Iterator[tuple[str, str, str | None]]:
    """Each field of a definition: (field, pattern, definition it holds or None)."""
    for field, schema in defs[name].get("properties", {}).items():
        if name == ROOT and field == "status":
            yield field, "", None  # written by the engine, never checked
            continue
        yield field, *shape(defs, schema)


def reachable(defs: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    stack = [ROOT]
    while stack:
        name = stack.pop(0)
        if name in seen:
            continue
        seen.append(name)
        stack += [t for _, _, t in properties(defs, name) if t is not None]
    return seen


def short_names(names: list[str]) -> dict[str, str]:
    """Argo's definitions by their last name; a Kubernetes one that clashes keeps its group."""
    last = [n.rsplit(".", 1)[-1] for n in names]
    return {n: (s if n.startswith(ARGO) or last.count(s) == 1 else ".".join(n.split(".")[-2:]))
            for n, s in zip(names, last, strict=True)}


def field_table(defs: dict[str, Any]) -> dict[str, dict[str, str | None]]:
    names = reachable(defs)
    short = short_names(names)
    table: dict[str, dict[str, str | None]] = {}
    for name in names:
        fields: dict[str, str | None] = {}
        for field, pattern, target in properties(defs, name):
            fields[field] = pattern.replace("X", short[target]) if target is not None else None
        table[short[name]] = fields
    return table


def table_text(table: dict[str, dict[str, str | None]]) -> str:
    """The shipped form: one definition a line, so a schema update diffs by definition."""
    lines = [f"{json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(table.items())]
    return "{\n" + ",\n".join(lines) + "\n}\n"
