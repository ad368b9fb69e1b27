"""The hooks a plugin implements. Each docstring is the plugin author's documentation.

A plugin is a module or object with functions decorated by :data:`argosy.plugin.hookimpl`,
registered through the ``argosy`` entry-point group::

    [project.entry-points.argosy]
    http = "argosy_http"

The built-in template types, executors and store are registered exactly this way. Every process
that loads argosy (each ``argosy`` command, the server, the engine, the Jupyter extension) calls
the providing hooks once, when it starts; a plugin whose providing hook raises or returns
something else than promised is left out entirely. ``docs/plugins/hooks.md`` is generated from
this module (``python -m argosy.hookspecs``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from argosy.plugin import ArtifactRepositoryFactory, Executor, StoreFactory, TemplateType

hookspec = pluggy.HookspecMarker("argosy")


@hookspec
def argosy_template_types() -> list[TemplateType]:
    """Return the template types this plugin adds.

    Called once per process at start-up. A :class:`argosy.plugin.TemplateType` names the YAML
    key of its body (``container``, ``dag``, ``http``…), the Argo node type its nodes get, a
    pydantic model of the body, a ``validate(body, path)`` run by lint, and the coroutine
    ``run(ctx)`` that executes one node of that type in the engine's event loop (``ctx`` is an
    :class:`argosy.plugin.NodeContext`). Two plugins may not claim the same key: both are left
    out, and argosy's own keys (``container``, ``steps``…) cannot be taken.
    """


@hookspec
def argosy_executors() -> list[Executor]:
    """Return execution backends (``local``, ``kubernetes``…), each an
    :class:`argosy.plugin.Executor` known by its ``name``.

    Called once per process at start-up. Leaf template types that run processes (container,
    script, notebook) ask the engine's selected executor (``ctx.executor``) to run them, so a new
    backend serves every such type at once. ``run_process`` is awaited in the engine's event
    loop. Two plugins may not claim the same name. An executor may have a ``prepare()``
    method: ``argosy run`` calls it as soon as it knows the executor, before it loads the
    engine, to start what the first process needs ahead (the ``local`` executor starts its
    fork server there).
    """


@hookspec
def argosy_stores() -> list[StoreFactory]:
    """Return stores that keep workflows, nodes, logs and artifacts, each an
    :class:`argosy.plugin.StoreFactory` known by its ``name``.

    Called once per process at start-up. The ``store`` setting of ``$ARGOSY_HOME/config.yaml``
    chooses one by name (default ``sqlite``, argosy's own); every process opens it with
    ``factory.open(home)``, which returns an :class:`argosy.plugin.Store`.
    """


@hookspec
def argosy_artifact_repositories() -> list[ArtifactRepositoryFactory]:
    """Return artifact repositories, each an :class:`argosy.plugin.ArtifactRepositoryFactory`
    known by its ``name``: where output artifacts are kept and key-only artifacts are found.

    Called once per process at start-up. ``artifactRepository`` in ``$ARGOSY_HOME/config.yaml``
    chooses one as Argo's ``artifact-repositories`` ConfigMap does, by a mapping of one key, the
    repository's name, to its settings (``artifactRepository: {s3: {bucket: b, …}}``); the
    default is argosy's own ``local``, a directory under ``$ARGOSY_HOME``; a workflow's
    ``spec.artifactRepositoryRef`` (or its namespace's ``artifact-repositories`` ConfigMap)
    chooses another as in Argo, and an artifact's own location of the repository's name
    (``s3: {bucket, key, …}``) opens one with those fields. Every process opens it with
    ``factory.open(home, settings)``, which returns an :class:`argosy.plugin.ArtifactRepository`;
    a SecretKeySelector in settings (``accessKeySecret: {name, key}``) arrives as the Secret's
    value. Two plugins may not claim the same name.
    """


@hookspec
def argosy_expression_functions() -> dict[str, Callable[..., Any]]:
    """Return extra functions for ``{{= … }}`` expressions, by the name expressions call them.

    Called once per process at start-up; the functions are called synchronously wherever an
    expression is evaluated (the engine's event loop, lint), with the expression's values
    (str, int, float, bool, list, dict, None). A function that raises fails the node whose
    expression called it, with a message naming the function. Argo's functions (``asInt``,
    ``sprig``, ``filter``…) cannot be overridden, and two plugins may not claim one name.
    """


@hookspec
def argosy_workflow_event(event: str, workflow: dict[str, Any]) -> None:
    """Observe a workflow event: ``started`` (an engine begins or adopts it) or ``finished``.

    ``workflow`` holds ``metadata`` and the top-level ``status`` fields (without nodes). Called
    in the process that runs the engine, in its event loop: return quickly. An exception is
    logged once and ignored.
    """


@hookspec
def argosy_node_event(workflow_name: str, namespace: str, node: dict[str, Any]) -> None:
    """Observe a node transition (created, phase changed, finished), in Argo's node shape.

    ``node`` has the keys of Argo's ``NodeStatus`` that are set: ``id``, ``name``,
    ``displayName``, ``type``, ``templateName``, ``phase``, ``boundaryID``, ``startedAt`` and,
    as they become known, ``finishedAt``, ``message``, ``inputs``, ``outputs``, ``progress``
    (``children`` is left out). Called in the engine's event loop for every transition of every
    node: return quickly. An exception is logged once and ignored.
    """


def reference() -> str:
    """``docs/plugins/hooks.md``: every hook with its signature and contract, then the stable
    API of :mod:`argosy.plugin`, each from its docstring (``tests/plugins`` checks it is
    current)."""
    import inspect

    from argosy import plugin

    out = ["# Plugin hooks and the stable API", "",
           "Generated from `argosy/hookspecs.py` and `argosy/plugin.py` by "
           "`python -m argosy.hookspecs > docs/plugins/hooks.md`; do not edit by hand.", "",
           _markdown(__doc__), "", "## Hooks", ""]
    for name in sorted(n for n in globals() if n.startswith("argosy_")):
        fn = globals()[name]
        signature = str(inspect.signature(fn)).replace("'", "")
        out += [f"### `{name}{signature}`", "", _markdown(fn.__doc__), ""]
    out += _node_api()
    out += ["## Stable API: `argosy.plugin`", "",
            "A plugin imports from argosy only these names; they keep their meaning across "
            "minor versions.", "", "| name | what it is |", "|---|---|"]
    out += [f"| `{name}` | {what} |" for name, what in plugin.STABLE.items()]
    return "\n".join(out) + "\n"


def _node_api() -> list[str]:
    """The members of ``NodeContext`` a plugin uses (``run``, the engine's, is not one)."""
    import dataclasses
    import inspect

    from argosy.plugin import NodeContext

    out = ["## The node API: `NodeContext`", "", _markdown(NodeContext.__doc__), "",
           "Fields: " + ", ".join(f"`ctx.{f.name}`" for f in dataclasses.fields(NodeContext)
                                  if f.name != "run") + ".", ""]
    for name, member in sorted(vars(NodeContext).items()):
        if name.startswith("_") or not (isinstance(member, property) or callable(member)):
            continue
        fn = member.fget if isinstance(member, property) else member
        title = f"ctx.{name}" if isinstance(member, property) else \
            f"ctx.{name}{inspect.signature(fn)}".replace("(self, ", "(").replace("'", "")
        out += [f"### `{title}`", "", _markdown(fn.__doc__) or "(undocumented)", ""]
    return out


def _markdown(doc: str | None) -> str:
    """A docstring's reST roles and literals as Markdown."""
    import inspect
    import re

    text = re.sub(r":(?:class|data|func|meth|attr):`~?([^`]+)`", r"`\1`",
                  inspect.cleandoc(doc or ""))
    return text.replace("``", "`").replace("::\n", ":\n")


if __name__ == "__main__":
    print(reference(), end="")
