"""Errors argosy reports to users: each names the fault and where it is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """One problem in a manifest, at a path such as ``spec.templates[2].dag.tasks[1].depends``.

    ``file`` is set when the manifest came from a file; ``line``/``column`` (1-based) when the
    loader could map the path back to the source text.
    """

    path: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file or ""
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        prefix = f"{where}: " if where else ""
        return f"{prefix}{self.path}: {self.message}" if self.path else f"{prefix}{self.message}"


class ArgosyError(Exception):
    """Base of every error argosy raises on purpose."""


class ArtifactError(ArgosyError):
    """An artifact that cannot be saved or loaded; the node's message."""


class InvalidWorkflow(ArgosyError):
    """A manifest was rejected; ``faults`` lists every fault found, not only the first."""

    def __init__(self, faults: list[Fault]):
        self.faults = faults
        super().__init__("\n".join(str(f) for f in faults))


class ExpressionError(ArgosyError):
    """An expression (``when``, ``depends``, ``{{= … }}``) could not be parsed or evaluated."""


class FunctionError(ExpressionError):
    """An expression called a function that does not exist, or a plugin's function raised.

    Unlike a reference that is not known yet, waiting cannot mend it: ``{{= … }}`` tags that
    raise this fail their node instead of staying verbatim.
    """


class NotFound(ArgosyError):
    """A workflow, node or template that was asked for does not exist."""


class Unreachable(ArgosyError):
    """A server (``--server``, a remote backend) could not be reached at all."""


class NotAvailable(ArgosyError):
    """A verb or route that this store cannot serve (with --store kubernetes: a REST 501)."""


class InvalidName(ArgosyError):
    """A namespace (or other Kubernetes name) given by a caller is not a valid name."""
