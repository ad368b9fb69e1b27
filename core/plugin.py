"""What a plugin author builds on: template types, executors, and the node API.

A leaf template type (container, script, suspend, http…) returns an :class:`Outcome`; a
composite type (steps, dag) runs children with ``await node.run_child(...)`` and returns the
outcome it derived from them. The engine does everything common to all types: inputs, retries,
deadlines, outputs, persistence, events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pluggy
from pydantic import BaseModel

from argosy.errors import Fault

if TYPE_CHECKING:
    from argosy.engine.run import NodeContext

hookimpl = pluggy.HookimplMarker("argosy")


@dataclass
class Outcome:
    """How a node ended.

    ``read_file`` lets the engine read ``outputs.parameters[].valueFrom.path`` files as the node
    saw them; ``scope`` carries a composite template's child references (``steps.x.…``) for its
    ``valueFrom.parameter`` and ``expression`` outputs. ``artifacts`` are output artifacts the
    node leaves, by name: the path it wrote each to, and the content, which the store keeps.
    The node's log is ``log`` followed by the content of ``log_files`` (a process's stdout and
    stderr files, which the engine reads piece by piece, so a huge log costs it no memory);
    the store keeps a bounded copy, and the whole log while the workflow exists.
    """

    phase: str = "Succeeded"
    message: str = ""
    result: str | None = None
    exit_code: int | None = None
    read_file: Callable[[str], str | None] | None = None
    scope: Any = None
    outputs: dict[str, str] = field(default_factory=dict)
    log: str | None = None
    log_files: list[Path] = field(default_factory=list)
    artifacts: dict[str, tuple[str, bytes]] = field(default_factory=dict)


RunFn = Callable[["NodeContext"], Awaitable[Outcome]]
ValidateFn = Callable[[Any, str], list[Fault]]


@dataclass(frozen=True)
class TemplateType:
    """A template type: the YAML key of its body and how to run a node of it.

    ``leaf`` types produce a result themselves and count toward ``spec.parallelism``;
    composite types orchestrate children. ``validate(body, path)`` adds type-specific lint
    faults beyond what ``body`` (a pydantic model) already checks.
    """

    key: str
    node_type: str
    run: RunFn
    body: type[BaseModel] | None = None
    validate: ValidateFn | None = None
    leaf: bool = True


@dataclass(frozen=True)
class ProcessRequest:
    """A process to run for a node, independent of where it runs."""

    argv: list[str]
    env: dict[str, str]
    working_dir: str | None
    node_dir: Path
    # A script template's source: the executor saves it where the process can read it and
    # appends that path to argv, as Argo does.
    script: str | None = None
    image: str | None = None
    template: dict[str, Any] = field(default_factory=dict)
    # For executors that make pods: the Workflow (``metadata`` with name, namespace and uid,
    # and ``spec``) and the node in Argo's shape (``id``, ``name``, ``templateName``).
    workflow: dict[str, Any] = field(default_factory=dict)
    node: dict[str, Any] = field(default_factory=dict)


class Executor(Protocol):
    """An execution backend for process-running template types."""

    name: str
    # Optional: ``pulls_images = True`` when the executor runs images itself (pods), so a
    # container's command and args reach it as written, without argosy's image mapping;
    # ``honours``, the "Definition.field" names of argosy.spec.lint.UNSUPPORTED it can honour;
    # ``rejects``, more "Definition.field" names it cannot, each with why (lint says so).

    async def run_process(self, request: ProcessRequest) -> Outcome:
        """Run (or re-attach to) the node's process and return how it ended.

        Must be idempotent per ``request.node_dir``: after an engine restart it is called again
        for a node that was running, and must re-adopt or report instead of starting twice.
        """
        ...

    # Optional: ``log_files(node_dir) -> list[Path]``, the files holding what the node's
    # process printed so far. The engine keeps them as the log of a node that ended without
    # an outcome (stopped, terminated, past its deadline).
