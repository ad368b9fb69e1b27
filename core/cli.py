"""The ``argosy`` command: Argo's verbs against the local store."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import click
import yaml
from rich.console import Console

from argosy import __version__
from argosy.errors import ArgosyError, InvalidWorkflow
from argosy.registry import default_registry

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
OUTPUTS = click.Choice(["json", "yaml", "wide", "name"])
DRAW_INTERVAL = 0.125


def parse_pairs(pairs: tuple[str, ...], flag: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint=flag)
        out[key] = value
    return out


def fail_invalid(exc: InvalidWorkflow | ArgosyError) -> None:
    click.echo(str(exc), err=True)
    sys.exit(EXIT_INVALID)


def dump(obj: Any, output: str) -> str:
    if output == "json":
        return json.dumps(obj, indent=2)
    return yaml.safe_dump(obj, sort_keys=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="argosy")
def main() -> None:
    """Argo Workflows, in Python: run Argo manifests on this machine."""
    registry = default_registry()
    for problem in registry.problems:
        click.echo(f"warning: {problem}", err=True)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-p", "--parameter", "parameters", multiple=True, metavar="NAME=VALUE",
              help="Input parameter, overriding spec.arguments (repeatable).")
@click.option("--entrypoint", help="Template to start from, overriding spec.entrypoint.")
@click.option("--name", help="Workflow name, overriding metadata.name/generateName.")
@click.option("-n", "--namespace", default=None, help="Namespace (default: 'default').")
@click.option("-o", "--output", type=OUTPUTS, help="Print only the final Workflow.")
@click.option("--log", "show_log", is_flag=True, help="Print each step's log as it finishes.")
def run(file: str, parameters: tuple[str, ...], entrypoint: str | None, name: str | None,
        namespace: str | None, output: str | None, show_log: bool) -> None:
    """Run a workflow here, showing its progress; exit 0 Succeeded, 1 Failed/Error, 2 invalid."""
    from argosy.engine import Engine, Listener
    from argosy.service import submit
    from argosy.store import Store

    source = sys.stdin.read() if file == "-" else file
    store = Store()
    try:
        record = submit(store, source, parameters=parse_pairs(parameters, "-p"),
                        entrypoint=entrypoint, name=name, namespace=namespace)
    except (InvalidWorkflow, ArgosyError) as exc:
        fail_invalid(exc)
        return
    view = _progress_view(output)
    engine = Engine(store)
    listener = Listener(on_node=_node_callback(store, view, show_log,
                                               log_to_stderr=output in ("json", "yaml", "name")))
    try:
        final = asyncio.run(engine.run(record.uid, listener))
    except KeyboardInterrupt:
        final = store.get(record.uid)
        click.echo(f"Workflow {final.name} stopped: interrupted", err=True)
    wf = store.workflow(final)
    view.close(wf)
    if output in ("json", "yaml"):
        click.echo(dump(wf, output))
    elif output == "name":
        click.echo(final.name)
    sys.exit(EXIT_OK if final.phase == "Succeeded" else EXIT_FAILED)


class _Quiet:
    def update(self, wf: dict[str, Any], changed: Any = None) -> None:
        pass

    def close(self, final: dict[str, Any] | None = None) -> None:
        pass


def _progress_view(output: str | None) -> Any:
    from argosy.render import LiveView, PlainProgress

    if output in ("json", "yaml", "name"):
        return _Quiet()
    console = Console(stderr=False)
    if console.is_terminal:
        view = LiveView(console, wide=output == "wide")
        view.start()
        return view
    return PlainProgress(sys.stderr)


def _node_callback(store: Any, view: Any, show_log: bool,
                   log_to_stderr: bool) -> Callable[[Any, Any], None]:
    """Feed the view. The whole status is built only when a live view is due to redraw, so
    watching costs nothing per node that grows with the workflow."""
    from argosy.render import PlainProgress

    plain = isinstance(view, PlainProgress)
    printed: set[str] = set()
    last_draw = 0.0

    def on_node(run: Any, node: Any) -> None:
        nonlocal last_draw
        if plain:
            wf = run.to_dict(nodes=False)
            wf["status"]["nodes"] = {node.id: node.model_dump(by_alias=True, exclude_none=True)}
            view.update(wf, changed=[node.id])
        elif not isinstance(view, _Quiet) and time.monotonic() - last_draw >= DRAW_INTERVAL:
            last_draw = time.monotonic()
            view.update(run.to_dict())
        if show_log and node.fulfilled and node.type == "Pod" and node.id not in printed:
            printed.add(node.id)
            for line in (store.log(run.uid, node.id) or "").splitlines():
                click.echo(f"{node.display_name}: {line}", err=log_to_stderr)

    return on_node


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def lint(files: tuple[str, ...]) -> None:
    """Check workflow files; print every fault with its path. Exit 2 if any."""
    from argosy.lint import lint_documents
    from argosy.loader import load_file

    registry = default_registry()
    count = 0
    for file in files:
        try:
            faults = lint_documents(load_file(file), template_types=registry.validators())
        except InvalidWorkflow as exc:
            faults = exc.faults
        except (OSError, ArgosyError) as exc:
            click.echo(f"{file}: {exc}", err=True)
            count += 1
            continue
        for fault in faults:
            click.echo(str(fault), err=True)
        count += len(faults)
        if not faults:
            click.echo(f"{file}: no linting errors found")
    sys.exit(EXIT_INVALID if count else EXIT_OK)


@main.command()
@click.option("--exit-when-idle", type=float, default=None, metavar="SECONDS",
              help="Exit after this long with nothing to execute.")
@click.option("--parallelism", type=int, default=None,
              help="Most workflows executed at once.")
@click.option("--namespace-parallelism", type=int, default=None,
              help="Most workflows of one namespace executed at once.")
def engine(exit_when_idle: float | None, parallelism: int | None,
           namespace_parallelism: int | None) -> None:
    """Execute submitted workflows from the local store (started on demand by submit)."""
    from argosy.engine import Engine
    from argosy.store import Store

    eng = Engine(Store(), serving=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(eng.serve(exit_when_idle=exit_when_idle, parallelism=parallelism,
                              namespace_parallelism=namespace_parallelism))


@main.command()
def plugins() -> None:
    """List loaded plugins, their versions and what they add."""
    from rich.table import Table

    registry = default_registry()
    registry.template_types  # noqa: B018 - loading attributes each type to its plugin
    registry.executors  # noqa: B018
    table = Table("PLUGIN", "MODULE", "DISTRIBUTION", "TEMPLATE TYPES", "EXECUTORS", "STATUS",
                  box=None)
    for info in registry.plugins.values():
        table.add_row(info.name, info.module,
                      f"{info.distribution or '-'} {info.version or ''}".strip(),
                      ", ".join(info.template_types) or "-", ", ".join(info.executors) or "-",
                      f"error: {info.error}" if info.error else "ok")
    Console().print(table)


if __name__ == "__main__":
    main()
