"""Argo's enhanced ``depends`` logic for DAG tasks (docs: enhanced-depends-logic.md).

``A && (B.Failed || !C.Succeeded)``: a bare task name means the task went well enough to
continue, ``(A.Succeeded || A.Skipped || A.Daemoned)``, widened by the task's ``continueOn``
(``A.Failed`` / ``A.Errored``) as Argo's expandDependency does; ``NAME.Result`` tests one outcome.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from argosy.errors import ExpressionError

__all__ = ["Depends", "TaskState", "dependencies_to_depends", "parse_depends"]

RESULTS = frozenset(
    {
        "Succeeded",
        "Failed",
        "Errored",
        "Skipped",
        "Omitted",
        "Daemoned",
        "AnySucceeded",
        "AllFailed",
    }
)


@dataclass(frozen=True)
class TaskState:
    """What ``depends`` can see of a finished dependency.

    ``phase`` is the task node's phase (Succeeded, Failed, Error, Skipped, Omitted…);
    ``children`` the phases of its iterations when it is a ``withItems``/``withParam`` group;
    ``continued`` says the dependency's ``continueOn`` covers its phase (``failed: true`` and it
    Failed, ``error: true`` and it Errored), which Argo adds to what a bare task name accepts.
    """

    phase: str
    children: tuple[str, ...] = ()
    daemoned: bool = False
    continued: bool = False

    def result(self, name: str) -> bool:
        """The truth of ``TASK.<name>`` for this task."""
        if name == "Succeeded":
            return self.phase == "Succeeded"
        if name == "Failed":
            return self.phase == "Failed"
        if name == "Errored":
            return self.phase == "Error"
        if name == "Skipped":
            return self.phase == "Skipped"
        if name == "Omitted":
            return self.phase == "Omitted"
        if name == "Daemoned":
            return self.daemoned and self.phase != "Pending"
        if name == "AnySucceeded":
            return "Succeeded" in self.children
        if name == "AllFailed":
            return bool(self.children) and all(p == "Failed" for p in self.children)
        raise ValueError(f"unknown task result {name!r}")

    def proceeds(self) -> bool:
        """The truth of a bare task name."""
        return (
            self.result("Succeeded")
            or self.result("Skipped")
            or self.result("Daemoned")
            or (self.continued and self.phase in ("Failed", "Error"))
        )


StateOf = Callable[[str], TaskState]

# A node is ("task", name, result | None) | ("not", node) | ("and"|"or", left, right) | ("true",)
_Node = tuple[object, ...]


@dataclass(frozen=True)
class Depends:
    """A parsed ``depends`` expression."""

    text: str
    tasks: frozenset[str]
    _tree: _Node = field(repr=False, compare=False)

    def evaluate(self, state: StateOf) -> bool:
        """Whether the task should run, given the state of each referenced (finished) task.
        Raises ExpressionError for an unknown task result such as ``A.Sucess``."""
        return _evaluate(self._tree, state)

    def __str__(self) -> str:
        return self.text


def _evaluate(node: _Node, state: StateOf) -> bool:
    kind = node[0]
    if kind == "task":
        name, result = str(node[1]), node[2]
        if result is not None and result not in RESULTS:
            # Argo rejects this when validating the workflow (ValidateTaskResults), not when
            # parsing, so the linter reports it; evaluation cannot proceed either.
            raise ExpressionError(f"task result '{result}' for task '{name}' is invalid")
        task = state(name)
        return task.proceeds() if result is None else task.result(str(result))
    if kind == "not":
        return not _evaluate(node[1], state)  # type: ignore[arg-type]
    if kind == "and":
        return _evaluate(node[1], state) and _evaluate(node[2], state)  # type: ignore[arg-type]
    if kind == "or":
        return _evaluate(node[1], state) or _evaluate(node[2], state)  # type: ignore[arg-type]
    return True


_TOKEN_RE = re.compile(
    r"\s*(?:(?P<op>&&|\|\||!|\(|\))|(?P<ref>[A-Za-z0-9_][-A-Za-z0-9_]*(?:\.[A-Za-z]\w*)?)|(?P<bad>\S))"
)


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        for m in _TOKEN_RE.finditer(text):
            kind = m.lastgroup or "bad"
            self.tokens.append((kind, m.group(kind), m.start(kind)))
        self.i = 0
        self.tasks: set[str] = set()

    def error(self, reason: str) -> ExpressionError:
        return ExpressionError(f"invalid depends '{self.text}': {reason}")

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] == value:
            self.i += 1
            return True
        return False

    def parse(self) -> _Node:
        if not self.tokens:
            return ("true",)
        node = self.disjunction()
        tok = self.peek()
        if tok is not None:
            raise self.error(f"unexpected '{tok[1]}' at column {tok[2] + 1}")
        return node

    def disjunction(self) -> _Node:
        node = self.conjunction()
        while self.take("||"):
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> _Node:
        node = self.negation()
        while self.take("&&"):
            node = ("and", node, self.negation())
        return node

    def negation(self) -> _Node:
        if self.take("!"):
            return ("not", self.negation())
        return self.atom()

    def atom(self) -> _Node:
        tok = self.peek()
        if tok is None:
            raise self.error("unexpected end of expression")
        if self.take("("):
            node = self.disjunction()
            if not self.take(")"):
                raise self.error("missing ')'")
            return node
        if tok[0] != "ref":
            raise self.error(f"unexpected '{tok[1]}' at column {tok[2] + 1}")
        self.i += 1
        name, _, result = tok[1].partition(".")
        self.tasks.add(name)
        return ("task", name, result or None)


def parse_depends(text: str) -> Depends:
    """Parse a ``depends`` expression; raises ExpressionError on a syntax error. An unknown task
    result (``A.Sucess``) parses, as in Argo where validation rejects it, and fails evaluation.
    An empty expression depends on nothing and is always satisfied."""
    parser = _Parser(text)
    tree = parser.parse()
    return Depends(text=text, tasks=frozenset(parser.tasks), _tree=tree)


def dependencies_to_depends(names: list[str]) -> str:
    """The ``depends`` equivalent of the older ``dependencies: [A, B]`` list: all of them."""
    return " && ".join(names)
