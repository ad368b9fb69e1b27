"""Argo's expression languages: govaluate ``when:`` conditions, the expr language of ``{{= … }}``
tags and ``expression`` fields, and DAG ``depends`` logic.

Each language is loaded when first used (``from argosy.expr import evaluate_when`` loads it):
``{{…}}`` substitution (:mod:`argosy.expr.substitute`) needs neither.
"""

import importlib
from typing import Any

_WHERE = {"Depends": "depends", "TaskState": "depends", "dependencies_to_depends": "depends",
          "parse_depends": "depends", "evaluate_expr": "exprlang",
          "BUILTIN_FUNCTIONS": "functions", "evaluate_when": "govaluate"}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
