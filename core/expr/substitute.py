"""``{{…}}`` variable substitution and ``{{= … }}`` expression tags, over lazy scopes.

A :class:`Scope` is a chain of nested mappings. Values may be resolved lazily (a step's outputs
are read from its node only when referenced), so building a step's scope never copies or walks
the whole workflow: substitution cost depends on the text substituted, not the workflow's size.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from argosy.errors import ExpressionError, FunctionError
from argosy.expr.functions import go_float
from argosy.expr.functions import to_json as go_json

TAG = re.compile(r"\{\{(=?)(.*?)\}\}", re.DOTALL)
MISSING = object()


class Lazy(Mapping[str, Any]):
    """A mapping computed on first access (e.g. a node's outputs)."""

    def __init__(self, compute: Callable[[], Mapping[str, Any]]) -> None:
        self._compute = compute
        self._value: Mapping[str, Any] | None = None

    @property
    def value(self) -> Mapping[str, Any]:
        if self._value is None:
            self._value = self._compute()
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self.value[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.value)

    def __len__(self) -> int:
        return len(self.value)


class Leaf(Mapping[str, Any]):
    """A value that is text when referenced whole and a mapping when referenced deeper.

    Argo's aggregated loop outputs: ``steps.x.outputs.parameters`` is a JSON list of maps, while
    ``steps.x.outputs.parameters.name`` is a JSON list of that parameter's values.
    """

    def __init__(self, text: str, children: Mapping[str, Any]) -> None:
        self.text = text
        self.children = children

    def __getitem__(self, key: str) -> Any:
        return self.children[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.children)

    def __len__(self) -> int:
        return len(self.children)


class Scope(Mapping[str, Any]):
    """Nested variables with a parent chain; looked up by dotted path."""

    def __init__(self, data: Mapping[str, Any] | None = None, parent: Scope | None = None) -> None:
        self.data: dict[str, Any] = dict(data or {})
        self.parent = parent

    def child(self, data: Mapping[str, Any] | None = None) -> Scope:
        return Scope(data, self)

    def __getitem__(self, key: str) -> Any:
        scope: Scope | None = self
        while scope is not None:
            if key in scope.data:
                return scope.data[key]
            scope = scope.parent
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        scope: Scope | None = self
        while scope is not None:
            for k in scope.data:
                if k not in seen:
                    seen.add(k)
                    yield k
            scope = scope.parent

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def set(self, path: str, value: Any) -> None:
        """Set a dotted path in this scope's own layer, creating nested dicts."""
        parts = path.split(".")
        node = self.data
        for p in parts[:-1]:
            existing = node.get(p)
            if not isinstance(existing, dict):
                existing = dict(existing) if isinstance(existing, Mapping) else {}
                node[p] = existing
            node = existing
        node[parts[-1]] = value

    def lookup(self, path: str) -> Any:
        """Resolve ``a.b.c``; return MISSING when absent. Dotted keys (``a.b``) also match."""
        return _walk(self, path.split("."))


def _walk(obj: Any, parts: list[str]) -> Any:
    if not parts:
        return obj
    if not isinstance(obj, Mapping):
        return MISSING
    # Longest key first, so parameter names containing dots still resolve.
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i]) if i > 1 else parts[0]
        try:
            value = obj[key]
        except (KeyError, TypeError):
            continue
        found = _walk(value, parts[i:])
        if found is not MISSING:
            return found
    return MISSING


def go_str(value: Any) -> str:
    """Render a value the way Argo puts it into text (JSON for structures, Go number format)."""
    if isinstance(value, Leaf):
        return value.text
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, JsonNumber):
        return value.text
    if isinstance(value, float):
        return go_float(value, json_style=True)
    if isinstance(value, int):
        return str(value)
    return to_json(value)


class JsonNumber(float):
    """A number parsed from JSON that keeps its text (``1.0`` stays ``1.0``, as Go's Item does)."""

    text: str

    def __new__(cls, text: str) -> JsonNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number


def loads(text: str) -> Any:
    """JSON with numbers kept as written."""
    return json.loads(text, parse_float=JsonNumber)


def to_json(value: Any) -> str:
    """Go's json.Marshal: sorted keys, Go's escapes and number format."""
    return go_json(_plain(value))


def _plain(value: Any) -> Any:
    if isinstance(value, Leaf):
        return value.text
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class Unresolved(ExpressionError):
    """A ``{{…}}`` reference that the scope cannot resolve."""


class TextWithParts(str):
    """A :class:`Leaf` inside an expression: its text, whose named parts ``.x`` also resolve."""

    children: Mapping[str, Any]

    def __new__(cls, leaf: Leaf) -> TextWithParts:
        text = super().__new__(cls, leaf.text)
        text.children = ExprEnv(leaf.children)
        return text


class ExprEnv(Mapping[str, Any]):
    """The scope as an expression environment, read lazily, key by key."""

    def __init__(self, inner: Mapping[str, Any]) -> None:
        self.inner = inner

    def __getitem__(self, key: str) -> Any:
        value = self.inner[key]
        if isinstance(value, Leaf):
            return TextWithParts(value)
        if isinstance(value, Mapping) and not isinstance(value, ExprEnv):
            return ExprEnv(value)
        return value

    def __contains__(self, key: object) -> bool:
        try:
            self.inner[key]  # type: ignore[index]
        except (KeyError, TypeError):
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.inner)

    def __len__(self) -> int:
        return len(self.inner)


def evaluate(source: str, scope: Mapping[str, Any],
             functions: Mapping[str, Any] | None = None) -> Any:
    from argosy.expr import evaluate_expr

    return evaluate_expr(source, ExprEnv(scope), functions)


def substitute_text(
    text: str,
    scope: Scope,
    *,
    strict: bool = False,
    functions: Mapping[str, Any] | None = None,
    keep: Callable[[str], bool] | None = None,
) -> str:
    """Replace every tag in ``text``.

    Unresolvable tags stay verbatim unless ``strict`` (then :class:`Unresolved`).
    ``keep(body)`` marks tags to leave alone for a later pass (``item`` before loop expansion);
    an expression tag's body is passed with its leading ``=``.
    """
    if "{{" not in text:
        return text

    def replace(m: re.Match[str]) -> str:
        is_expr, body = m.group(1), m.group(2).strip()
        if keep is not None and keep(is_expr + body):
            return m.group(0)
        if is_expr:
            try:
                value = evaluate(body, scope, functions)
            except FunctionError:
                raise  # no later pass can mend an unknown or failing function
            except ExpressionError:
                if strict:
                    raise
                return m.group(0)
            # Like Argo, a nil result counts as unresolved until the last pass.
            if value is None:
                if strict:
                    raise ExpressionError(f"failed to evaluate expression {body!r}: nil result")
                return m.group(0)
            return go_str(value)
        value = scope.lookup(body)
        if value is MISSING:
            if strict:
                raise Unresolved(f"failed to resolve {{{{{body}}}}}")
            return m.group(0)
        return go_str(value)

    return TAG.sub(replace, text)


def substitute(obj: Any, scope: Scope, **kwargs: Any) -> Any:
    """Substitute in every string of a JSON-like structure (keys stay as they are)."""
    if isinstance(obj, str):
        return substitute_text(obj, scope, **kwargs)
    if isinstance(obj, dict):
        return {k: substitute(v, scope, **kwargs) for k, v in obj.items()}
    if isinstance(obj, list):
        return [substitute(v, scope, **kwargs) for v in obj]
    return obj


_ABSENT_OUTPUT = re.compile(
    r"\{\{(?!=)(\s*(?:steps|tasks)\.[^{}]*?\.outputs\.(?:parameters\.[^{}]+|result)\s*)\}\}")


def absent_output(text: str) -> str | None:
    """Argo's message for a step's or task's output reference that substitution left in
    ``text``: its producer was skipped or omitted and declared no default."""
    absent = _ABSENT_OUTPUT.search(text)
    if absent is None:
        return None
    return (f"unable to substitute {{{{{absent.group(1)}}}}}: output is an absent optional "
            "(skipped/omitted node with no default)")


def references(text: str) -> list[str]:
    """The plain ``{{name}}`` references in ``text`` (expression tags excluded)."""
    return [m.group(2).strip() for m in TAG.finditer(text) if not m.group(1)]
