"""Argo's expression languages: govaluate ``when:`` conditions, the expr language of ``{{= … }}``
tags and ``expression`` fields, and DAG ``depends`` logic."""

from argosy.expr.depends import Depends, TaskState, dependencies_to_depends, parse_depends
from argosy.expr.exprlang import evaluate_expr
from argosy.expr.functions import BUILTIN_FUNCTIONS
from argosy.expr.govaluate import evaluate_when

__all__ = [
    "BUILTIN_FUNCTIONS",
    "Depends",
    "TaskState",
    "dependencies_to_depends",
    "evaluate_expr",
    "evaluate_when",
    "parse_depends",
]
