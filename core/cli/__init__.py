"""The ``argosy`` command line: Argo's verbs, and how their results are rendered."""

from argosy.cli.commands import main

__all__ = ["main"]
