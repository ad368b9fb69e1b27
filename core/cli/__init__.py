"""The ``argosy`` command line: Argo's verbs, and how their results are rendered."""

from argosy.cli import templates  # noqa: F401  (its verbs join main)
from argosy.cli.commands import main

__all__ = ["main"]
