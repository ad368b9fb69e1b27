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


# ---- Kubernetes' label selector grammar, exactly (Argo's resource success/failure conditions) --

_SPECIAL = "=!(),<>"
_TOKENS = {"=": "=", "==": "==", "!=": "!=", ">": ">", "<": "<", "!": "!", "(": "(", ")": ")",
           ",": ","}
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_INT64 = re.compile(r"^[+-]?[0-9]+$")


class Requirement:
    """One requirement of a label selector: ``key``, ``!key``, ``key op value``,
    ``key in (a,b)``; ``matches`` takes ``lookup(key) -> (value, exists)``."""

    def __init__(self, key: str, op: str, values: list[str]) -> None:
        self.key, self.op, self.values = key, op, values

    def __str__(self) -> str:  # as Kubernetes prints it (Argo puts it in its messages)
        if self.op in ("exists", "!"):
            return ("!" if self.op == "!" else "") + self.key
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op} ({','.join(sorted(self.values))})"
        return f"{self.key}{self.op}{self.values[0]}"

    def matches(self, lookup: Callable[[str], tuple[str, bool]]) -> bool:
        value, exists = lookup(self.key)
        if self.op in ("=", "==", "in"):
            return exists and value in self.values
        if self.op in ("!=", "notin"):
            return not exists or value not in self.values
        if self.op == "exists":
            return exists
        if self.op == "!":
            return not exists
        if not exists or not _INT64.match(value):  # > and <: both sides integers
            return False
        have, want = int(value), int(self.values[0])
        return have > want if self.op == ">" else have < want


def _lex(text: str) -> list[tuple[str, str]]:
    """(kind, literal) tokens: kind is the operator itself, "id", "in", "notin" or "end"."""
    tokens, i = [], 0
    while True:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i == len(text):
            return [*tokens, ("end", "")]
        if text[i] in _SPECIAL:
            j = i
            while j < len(text) and text[j] in _SPECIAL and text[i:j + 1] in _TOKENS:
                j += 1
            if j == i:
                raise SelectorError(f"unexpected {text[i]!r}")
            tokens.append((text[i:j], text[i:j]))
        else:
            j = i
            while j < len(text) and text[j] not in _SPECIAL and text[j] not in " \t\r\n":
                j += 1
            word = text[i:j]
            tokens.append((word if word in ("in", "notin") else "id", word))
        i = j


def _check_key(key: str) -> None:
    prefix, _, name = key.rpartition("/")
    if "/" in prefix:
        raise SelectorError(f"key {key!r}: a qualified name has at most one /")
    if "/" in key and (not prefix or len(prefix) > 253 or not _SUBDOMAIN.match(prefix)):
        raise SelectorError(f"key {key!r}: the prefix must be a DNS subdomain")
    if not name or len(name) > 63 or not _NAME.match(name):
        raise SelectorError(f"key {key!r}: at most 63 characters, alphanumeric, '-', '_' or "
                            "'.', starting and ending with an alphanumeric character")


def _check_value(key: str, value: str) -> None:
    if len(value) > 63 or not _VALUE.match(value):
        raise SelectorError(f"value {value!r} of {key}: at most 63 characters, alphanumeric, "
                            "'-', '_' or '.', starting and ending with an alphanumeric character")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens, self.pos = _lex(text), 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos]

    def take(self, values: bool = True) -> tuple[str, str]:
        kind, literal = self.tokens[self.pos]
        self.pos += 1
        # Where a value is expected, the words in and notin are plain values.
        return ("id" if values and kind in ("in", "notin") else kind), literal

    def parse(self) -> list[Requirement]:
        found: list[Requirement] = []
        while True:
            kind, literal = self.peek()
            if kind == "end":
                return found
            if kind not in ("id", "in", "notin", "!"):
                raise SelectorError(f"found {literal!r}, expected: !, identifier, or end")
            found.append(self.requirement())
            kind, literal = self.take()
            if kind == "end":
                return found
            if kind != ",":
                raise SelectorError(f"found {literal!r}, expected: ',' or end")
            if self.peek()[0] not in ("id", "in", "notin", "!"):
                raise SelectorError(f"found {self.peek()[1]!r}, expected: identifier after ','")

    def requirement(self) -> Requirement:
        kind, key = self.take()
        negated = kind == "!"
        if negated:
            kind, key = self.take()
        if kind != "id":
            raise SelectorError(f"found {key!r}, expected: identifier")
        _check_key(key)
        if self.peek()[0] in ("end", ","):
            return Requirement(key, "!" if negated else "exists", [])
        if negated:
            raise SelectorError(f"found {self.peek()[1]!r}, expected: ',' or end after !{key}")
        op, literal = self.take(values=False)
        if op in ("in", "notin"):
            values = self.value_set()
        elif op in ("=", "==", "!=", ">", "<"):
            values = self.exact_value()
        else:
            raise SelectorError(f"found {literal!r}, expected: in, notin, =, ==, !=, >, <")
        if op in (">", "<") and not _INT64.match(values[0]):
            raise SelectorError(f"{key}{op}{values[0]}: the value of > and < must be an integer")
        for value in values:
            _check_value(key, value)
        return Requirement(key, op, values)

    def exact_value(self) -> list[str]:
        if self.peek()[0] in ("end", ","):
            return [""]
        kind, literal = self.take()
        if kind != "id":
            raise SelectorError(f"found {literal!r}, expected: identifier")
        return [literal]

    def value_set(self) -> list[str]:
        kind, literal = self.take()
        if kind != "(":
            raise SelectorError(f"found {literal!r}, expected: '('")
        values: set[str] = set()
        previous = "("
        while True:
            kind, literal = self.take()
            if kind == "id" and previous in ("(", ","):
                values.add(literal)
            elif kind in (",", ")") and previous in ("(", ","):
                values.add("")  # "(,", ",,", ",)" and "()" hold the empty value
            elif kind not in (",", ")"):
                raise SelectorError(f"found {literal!r}, expected: ',', ')' or identifier")
            if kind == ")":
                return sorted(values)
            previous = kind


def parse_requirements(selector: str) -> list[Requirement]:
    """Kubernetes' ``labels.Parse``: comma-separated requirements, all of which must hold."""
    return sorted(_Parser(selector).parse(), key=lambda r: r.key)
