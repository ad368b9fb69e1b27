"""The hooks a plugin implements. Each docstring is the plugin author's documentation.

A plugin is a module or object with functions decorated by :data:`argosy.hookimpl`, registered
through the ``argosy`` entry-point group::

    [project.entry-points.argosy]
    http = "argosy_http"

The built-in template types and executors are registered exactly this way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from argosy.plugin import Executor, TemplateType

hookspec = pluggy.HookspecMarker("argosy")


@hookspec
def argosy_template_types() -> list[TemplateType]:
    """Return the template types this plugin adds.

    A :class:`argosy.plugin.TemplateType` names the YAML key of its body (``container``,
    ``dag``, ``http``…), the Argo node type its nodes get, a pydantic model of the body, and the
    coroutine ``run(node)`` that executes one node of that type. Two plugins may not claim the
    same key: the second is reported at start-up and ignored.
    """


@hookspec
def argosy_executors() -> list[Executor]:
    """Return execution backends (``local``, ``podman``, ``kubernetes``…) by their ``name``.

    Leaf template types that run processes (container, script) ask the engine's selected
    executor to run them, so a new backend serves every such type at once.
    """


@hookspec
def argosy_expression_functions() -> dict[str, Callable[..., Any]]:
    """Return extra functions for ``{{= … }}`` expressions, by the name expressions call them."""


@hookspec
def argosy_workflow_event(event: str, workflow: dict[str, Any]) -> None:
    """Observe a workflow event: ``submitted``, ``started``, ``phase`` or ``finished``.

    ``workflow`` holds ``metadata`` and the top-level ``status`` fields (without nodes). Called
    in the engine's event loop: return quickly and never raise.
    """


@hookspec
def argosy_node_event(workflow_name: str, namespace: str, node: dict[str, Any]) -> None:
    """Observe a node transition (created, phase changed, finished), in Argo's node shape.

    Called in the engine's event loop for every transition of every node: return quickly.
    """
