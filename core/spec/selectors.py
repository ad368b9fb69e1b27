"""Kubernetes-style label selectors and Argo's node field selectors."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from argosy.errors import ArgosyError


class SelectorError(ArgosyError):
    pass


_SET = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ = re.compile(r"^\s*([\w./-]+)\s*(==|=|!=)\s*([\w./:-]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([\w./-]+)\s*$")


def _split(selector: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def _term(term: str) -> Callable[[Mapping[str, str]], bool]:
    if m := _SET.match(term):
        key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if m := _EQ.match(term):
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _EXISTS.match(term):
        neg, key = m.groups()
        return (lambda labels: key not in labels) if neg else (lambda labels: key in labels)
    raise SelectorError(f"invalid selector term {term.strip()!r}")


def label_matcher(selector: str | None) -> Callable[[Mapping[str, str]], bool]:
    """A predicate over labels for ``a=b,c!=d,e in (f,g),!h``."""
    if not selector or not selector.strip():
        return lambda labels: True
    terms = [_term(t) for t in _split(selector)]
    return lambda labels: all(t(labels) for t in terms)


# Argo's node field selector keys, mapped to the node's JSON fields.
NODE_FIELDS = {"displayName": "displayName", "name": "name", "id": "id", "phase": "phase",
               "templateName": "templateName", "type": "type", "boundaryID": "boundaryID",
               "inputs.parameters": "inputs.parameters"}


def node_matcher(selector: str | None) -> Callable[[dict[str, Any]], bool]:
    """A predicate over Argo node dicts for ``displayName=approve,phase!=Succeeded``."""
    match = label_matcher(selector)
    return lambda node: match({k: str(node.get(k, "")) for k in NODE_FIELDS if k in node})
