"""Loop expansion: ``withItems``, ``withParam`` and ``withSequence``, with Argo's node naming."""

from __future__ import annotations

import re
from typing import Any

from argosy.errors import ArgosyError
from argosy.expr.substitute import Scope, absent_output, loads, substitute, to_json
from argosy.spec.models import Sequence, Step


class LoopError(ArgosyError):
    pass


def items_of(step: Step) -> list[Any]:
    """The items a loop step expands to (its ``withParam`` already substituted)."""
    if step.with_items is not None:
        return list(step.with_items)
    if step.with_param is not None:
        absent = absent_output(step.with_param)
        if absent:
            raise LoopError(absent)
        try:
            items = loads(step.with_param)
            if not isinstance(items, list):
                raise ValueError(f"json: cannot unmarshal {type(items).__name__} into a list")
        except ValueError as exc:
            raise LoopError(
                f"withParam value could not be parsed as a JSON list: "
                f"{step.with_param.strip()}: {exc}") from None
        return items
    if step.with_sequence is not None:
        return expand_sequence(step.with_sequence)
    return []


def _int(value: int | str | None, field: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise LoopError(f"withSequence.{field} is not an integer: {value!r}") from None


def expand_sequence(seq: Sequence) -> list[str]:
    count, start, end = _int(seq.count, "count"), _int(seq.start, "start"), _int(seq.end, "end")
    if count is not None and end is not None:
        raise LoopError("withSequence: only one of count or end can be defined")
    start = start or 0
    if count is not None:
        if count == 0:
            return []
        end = start + count - 1
    if end is None:
        raise LoopError("withSequence: one of count or end must be defined")
    step = 1 if end >= start else -1
    fmt = seq.format
    return [_format(fmt, i) if fmt else str(i) for i in range(start, end + step, step)]


_VERB = re.compile(r"%([-+ 0#]*)(\d*)(?:\.(\d+))?([dxXobsvf])")


def _format(fmt: str, value: int) -> str:
    """Go's fmt.Sprintf for the one integer a sequence format takes."""

    def verb(m: re.Match[str]) -> str:
        flags, width, prec, kind = m.groups()
        py = {"v": "d", "s": "d"}.get(kind, kind)
        return f"%{flags}{width}{'.' + prec if prec else ''}{py}" % value

    return _VERB.sub(verb, fmt.replace("%%", "\0")).replace("\0", "%")


def item_text(item: Any) -> str:
    """Argo's Item.String(): JSON, with a string's quotes dropped (its escapes kept)."""
    text = to_json(item)
    return text[1:-1] if isinstance(item, str) else text


def item_label(item: Any) -> str:
    """How an item appears in a loop node's name: ``step(0:label)``, without parentheses."""
    if isinstance(item, dict):
        label = ",".join(sorted(f"{k}:{item_text(v)}" for k, v in item.items()))
    elif isinstance(item, list):
        label = "[" + " ".join(item_text(v) for v in item) + "]"
    else:
        label = item_text(item)
    return label.replace("(", "").replace(")", "")


def expand(step_raw: dict[str, Any], step: Step, scope: Scope) -> list[tuple[str, dict[str, Any]]]:
    """Expand a loop step into ``(name suffix, substituted step dict)`` pairs."""
    body = {k: v for k, v in step_raw.items()
            if k not in ("withItems", "withParam", "withSequence")}
    expanded = []
    for i, item in enumerate(items_of(step)):
        item_scope = scope.child({"item": item})
        expanded.append((f"({i}:{item_label(item)})", substitute(body, item_scope)))
    return expanded
