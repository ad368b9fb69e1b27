"""The ``argosy`` command: Argo's verbs against the local store."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import importlib
import io
import json
import os
import posixpath
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

from argosy import __version__
from argosy.cli import started
from argosy.errors import ArgosyError, Fault, InvalidWorkflow, NotFound, Unreachable
from argosy.spec.durations import parse_duration, parse_time, seconds_since
from argosy.store import StoreError, now_rfc3339

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
OUTPUTS = click.Choice(["json", "yaml", "wide", "name"])
DRAW_INTERVAL = 0.125


def parse_pairs(pairs: tuple[str, ...], flag: str) -> dict[str, str]:
    from argosy.api.service import name_values

    try:
        return name_values(pairs)
    except ValueError as exc:
        raise click.BadParameter(f"expected NAME=VALUE, got {exc.args[0]!r}",
                                 param_hint=flag) from None


def fail_invalid(exc: InvalidWorkflow | ArgosyError) -> None:
    click.echo(str(exc), err=True)
    sys.exit(EXIT_INVALID)


def dump(obj: Any, output: str) -> str:
    if output == "json":
        return json.dumps(obj, indent=2)
    return yaml.safe_dump(obj, sort_keys=False)


#: Verbs defined in modules of their own, which only these verbs (and help) import: the
#: CronWorkflow schedules' time zones, the object kinds and the cluster controller.
LAZY_VERBS = {"apply": "argosy.cli.templates", "template": "argosy.cli.templates",
              "cluster-template": "argosy.cli.templates", "cron": "argosy.cli.cron",
              "controller": "argosy.cli.cluster"}


class ArgosyGroup(click.Group):
    """Errors of the store (a damaged file, a full disk) are a message, not a traceback."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_VERBS:
            importlib.import_module(LAZY_VERBS[cmd_name])  # its verbs join main
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in sorted(set(LAZY_VERBS.values())):
            importlib.import_module(module)
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        import sqlite3

        from argosy.store import StoreError, argosy_home, store_error

        try:
            return super().invoke(ctx)
        except sqlite3.Error as exc:
            click.echo(str(store_error(exc, argosy_home() / "argosy.db")), err=True)
        except StoreError as exc:
            click.echo(str(exc), err=True)
        sys.exit(EXIT_FAILED)


def _set_env(name: str) -> Callable[[click.Context, click.Parameter, str | None], None]:
    def callback(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value:
            os.environ[name] = value
    return callback


def executor_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--executor`` and ``--kubeconfig``: where this process runs the steps it executes."""
    fn = click.option("--kubeconfig", metavar="FILE", expose_value=False,
                      callback=_set_env("KUBECONFIG"),
                      help="The cluster of the kubernetes executor and resource templates "
                           "(default: $KUBECONFIG, ~/.kube/config, the Pod's own).")(fn)
    return click.option("--executor", metavar="NAME", expose_value=False,
                        callback=_set_env("ARGOSY_EXECUTOR"),
                        help="Run steps with this executor: local, kubernetes, podman, docker or "
                             "container (default: "
                             "executor: in $ARGOSY_HOME/config.yaml, else local).")(fn)


#: Verbs that use no plugin but the store's (argosy's own store opens without loading any): they
#: load none (nor the engine and models that plugins import), which keeps them fast to start;
#: plugins' problems are reported by the verbs that use plugins.
NO_PLUGINS = frozenset({"version", "list", "get"})


def default_registry() -> Any:
    from argosy.registry import default_registry

    return default_registry()


@click.group(cls=ArgosyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="argosy")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Argo Workflows, in Python: run Argo manifests on this machine."""
    if ctx.invoked_subcommand not in NO_PLUGINS:
        registry = default_registry()
        for problem in registry.problems:
            click.echo(f"warning: {problem}", err=True)
    started()


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-p", "--parameter", "parameters", multiple=True, metavar="NAME=VALUE",
              help="Input parameter, overriding spec.arguments (repeatable).")
@click.option("--entrypoint", help="Template to start from, overriding spec.entrypoint.")
@click.option("--name", help="Workflow name, overriding metadata.name/generateName.")
@click.option("-n", "--namespace", default=None, help="Namespace (default: 'default').")
@click.option("-o", "--output", type=OUTPUTS, help="Print only the final Workflow.")
@click.option("--log", "show_log", is_flag=True, help="Print each step's log as it finishes.")
@executor_options
def run(file: str, parameters: tuple[str, ...], entrypoint: str | None, name: str | None,
        namespace: str | None, output: str | None, show_log: bool) -> None:
    """Run a workflow here, showing its progress; exit 0 Succeeded, 1 Failed/Error, 2 invalid."""
    import asyncio

    from argosy.engine.selection import configured_executor

    try:  # the executor's start (the local one's fork server) overlaps the rest of ours
        prepare = getattr(default_registry().executors.get(configured_executor()), "prepare",
                          None)
    except ArgosyError:
        prepare = None  # Engine says what is wrong with the setting
    if prepare is not None:
        prepare()

    from argosy.api.service import submit
    from argosy.engine.run import Engine, Listener
    from argosy.registry import open_store

    source = sys.stdin.read() if file == "-" else file
    store = open_store()
    try:
        engine = Engine(store)  # a faulty setting stops it before anything is submitted
        record = submit(store, source, parameters=parse_pairs(parameters, "-p"),
                        entrypoint=entrypoint, name=name, namespace=namespace)
    except (InvalidWorkflow, ArgosyError) as exc:
        fail_invalid(exc)
        return
    view = _progress_view(output)
    listener = Listener(on_node=_node_callback(store, view, show_log,
                                               log_to_stderr=output in ("json", "yaml", "name")))
    final = asyncio.run(_run_interruptibly(engine, record, listener))
    wf = store.workflow(final)
    view.close(wf)
    if output in ("json", "yaml"):
        click.echo(dump(wf, output))
    elif output == "name":
        click.echo(final.name)
    sys.exit(EXIT_OK if final.phase == "Succeeded" else EXIT_FAILED)


async def _run_interruptibly(engine: Any, record: Any, listener: Any) -> Any:
    """Run the workflow; the first Ctrl-C stops it as ``argosy stop`` does (running steps are
    killed, exit handlers run), the second terminates it (exit handlers are killed too)."""
    import asyncio
    import signal

    task = asyncio.ensure_future(engine.run(record.uid, listener))
    interrupts = 0

    def interrupted() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            engine.store.add_action(record.uid, "stop", {"message": "Stopped: interrupted"})
            click.echo(f"Stopping {record.name}: exit handlers run (Ctrl-C again to terminate)",
                       err=True)
        elif interrupts == 2:
            click.echo(f"Terminating {record.name}", err=True)
            task.cancel()

    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, interrupted)
    try:
        return await task
    except asyncio.CancelledError:
        return engine.store.get(record.uid)


class _Quiet:
    def update(self, wf: dict[str, Any], changed: Any = None) -> None:
        pass

    def close(self, final: dict[str, Any] | None = None) -> None:
        pass


def _progress_view(output: str | None) -> Any:
    from argosy.cli.render import LiveView, PlainProgress

    if output in ("json", "yaml", "name"):
        return _Quiet()
    if _may_be_terminal():
        from rich.console import Console

        console = Console(stderr=False)
        if console.is_terminal:
            view = LiveView(console, wide=output == "wide")
            view.start()
            return view
    return PlainProgress(sys.stderr)


def _may_be_terminal() -> bool:
    """Whether rich could take stdout for a terminal (a tty, or the variables that say so):
    else it is not loaded to decide."""
    try:
        tty = sys.stdout.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty or any(name in os.environ for name in ("TTY_COMPATIBLE", "FORCE_COLOR"))


def _node_callback(store: Any, view: Any, show_log: bool,
                   log_to_stderr: bool) -> Callable[[Any, Any], None]:
    """Feed the view. The whole status is built only when a live view is due to redraw, so
    watching costs nothing per node that grows with the workflow."""
    from argosy.cli.render import PlainProgress

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
        if show_log and node.fulfilled and node.type != "Container" and node.id not in printed:
            printed.add(node.id)
            for line in store.log_lines(run.uid, node.id) or ():
                click.echo(f"{node.display_name}: {line}", err=log_to_stderr)

    return on_node


class _GoBoolFlags(click.Command):
    """Takes Go's ``--flag=false`` form of boolean flags, as ``argo`` does (``--no-flag`` too)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, [_go_bool_flag(arg) for arg in args])


def _go_bool_flag(arg: str) -> str:
    name, sep, value = arg.partition("=")
    if not sep or not name.startswith("--"):
        return arg
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return f"--no-{name[2:]}"
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return name
    return arg


MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def manifest_files(path: str) -> list[str]:
    """``path``, or the manifests (*.yaml, *.yml, *.json) under it in walk order, as argo lint
    reads a directory; a directory with none is a fault."""
    if not Path(path).is_dir():
        return [path]
    found: list[str] = []
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        found += [os.path.join(folder, f) for f in sorted(files) if f.endswith(MANIFEST_SUFFIXES)]
    if not found:
        raise InvalidWorkflow([Fault("", "no manifests (*.yaml, *.yml, *.json) in this "
                                         "directory", path)])
    return found


def lint_file(file: str, strict: bool = True, pool: list[Any] | None = None) -> list[Fault]:
    """Faults of every document in the file: Workflows, and the objects ``argosy apply``
    takes; references resolve against ``pool`` (the documents of every file linted, as
    ``argo lint --offline`` does), the file's own and the local store's."""
    from argosy.objects import KINDS, lookup_in, object_faults
    from argosy.spec.lint import lint_documents
    from argosy.spec.loader import load_file
    from argosy.spec.refs import resolve_config_maps, resolve_references
    from argosy.store import Store, argosy_home

    try:
        registry = default_registry()
        docs = load_file(file)
        # The store's templates too, if there is a store: lint alone does not make one.
        store = Store() if (argosy_home() / "argosy.db").exists() else None
        lookup = lookup_in([*(pool or []), *(d.data for d in docs)], store)
        faults = []
        for doc in docs:
            data = doc.data if isinstance(doc.data, dict) else {}
            if data.get("kind") in KINDS:
                found = object_faults(data, lookup)
            else:
                meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
                namespace = meta.get("namespace") or "default"
                found = resolve_references(data, namespace, lookup)
                found += resolve_config_maps(data, namespace, lookup)
                found += lint_documents([doc], template_types=registry.validators(),
                                        strict=strict, functions=registry.expression_functions)
            faults += doc.place(found)
        return faults
    except InvalidWorkflow as exc:
        return exc.faults
    except (OSError, ArgosyError) as exc:
        return [Fault("", str(exc), file)]


def _pretty_fault(fault: Fault) -> str:
    """A fault under its file's heading: the line and column, not the file again."""
    at = f"{fault.line}:{fault.column or 1}: " if fault.line is not None else ""
    return at + str(dataclasses.replace(fault, file=None, line=None, column=None))


@main.command(cls=_GoBoolFlags)
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", type=click.Choice(["pretty", "simple"]), default="pretty",
              show_default=True, help="Format of the faults, as argo lint's.")
@click.option("--strict/--no-strict", default=True, show_default=True,
              help="Fields Argo's schema does not know are faults (--strict=false allows them).")
def lint(files: tuple[str, ...], output: str, strict: bool) -> None:
    """Check workflow files and directories of them (*.yaml, *.yml, *.json, recursively);
    print every fault with its file, line and path. Exit 2 if any."""
    count = 0
    listed: list[str] = []
    for path in files:
        try:
            listed += manifest_files(path)
        except InvalidWorkflow as exc:
            count += _print_faults(path, exc.faults, output)
    pool = [doc.data for file in listed for doc in _documents_or_none(file)]
    for file in listed:
        count += _print_faults(file, lint_file(file, strict, pool), output)
    if output == "simple":
        if not count:
            click.echo("no linting errors found!")
    elif count:
        click.echo(click.style(f"✖ {count} linting errors found!", fg="red"))
    else:
        click.echo(f"{click.style('✔', fg='green')} no linting errors found!")
    sys.exit(EXIT_INVALID if count else EXIT_OK)


def _documents_or_none(file: str) -> list[Any]:
    """The file's documents, or none if it cannot be read (lint_file says why)."""
    from argosy.spec.loader import load_file

    try:
        return load_file(file)
    except (InvalidWorkflow, OSError):
        return []


def _print_faults(file: str, faults: list[Fault], output: str) -> int:
    if output == "simple":
        for fault in faults:
            click.echo(str(fault) if fault.file == file else f"{file}: {fault}")
    elif faults:
        click.echo(f"{click.style(file, underline=True)}:")
        for fault in faults:
            click.echo(f"   {click.style('✖', fg='red')} {_pretty_fault(fault)}")
        click.echo()
    return len(faults)


@main.command("version")
@click.option("--short", is_flag=True, help="Print just the version number.")
def version_cmd(short: bool) -> None:
    """Print version information (argo version)."""
    import platform

    click.echo(f"argosy: v{__version__}")
    if not short:
        click.echo(f"  PythonVersion: {platform.python_version()}\n"
                   f"  Implementation: {platform.python_implementation()}\n"
                   f"  Platform: {sys.platform}/{platform.machine()}")


@main.command()
@click.option("--exit-when-idle", type=float, default=None, metavar="SECONDS",
              help="Exit after this long with nothing to execute.")
@click.option("--parallelism", type=int, default=None,
              help="Most workflows executed at once.")
@click.option("--namespace-parallelism", type=int, default=None,
              help="Most workflows of one namespace executed at once.")
@click.option("--lock-fd", type=int, default=None, hidden=True,
              help="The background engine's lock, inherited from the verb that started it.")
@executor_options
def engine(exit_when_idle: float | None, parallelism: int | None,
           namespace_parallelism: int | None, lock_fd: int | None) -> None:
    """Execute submitted workflows from the local store (started on demand by submit)."""
    import asyncio
    import os

    from argosy.engine.run import Engine
    from argosy.registry import open_store
    from argosy.store import EngineLock

    store = open_store()
    lock = None
    if lock_fd is not None:
        os.set_inheritable(lock_fd, False)  # the engine's, not its steps'
        lock = EngineLock(store.home, lock_fd)
    eng = Engine(store, serving=True)
    click.echo(f"{now_rfc3339()} argosy engine {os.getpid()} serving {eng.store.home}", err=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(eng.serve(exit_when_idle=exit_when_idle, parallelism=parallelism,
                              namespace_parallelism=namespace_parallelism, lock=lock))


@main.command()
def plugins() -> None:
    """List plugins, what they add and the hooks they implement; exit 1 if one is broken."""
    from argosy.cli.render import Column, FitTable

    registry = default_registry()
    broken = registry.broken
    # An elided module name loses the part that tells it apart: a narrow terminal drops it.
    whole = max((len(info.module) for info in registry.plugins.values()), default=0)
    table = FitTable([Column("PLUGIN"), Column("MODULE", drop=1, minimum=whole),
                      Column("DISTRIBUTION", drop=2), Column("PROVIDES", wrap=True),
                      Column("HOOKS", wrap=True, drop=3), Column("STATUS", wrap=True)])
    for info in registry.plugins.values():
        provides = [f"{noun} {key}" for kind, noun in PROVIDED.items()
                    for key in getattr(info, kind)]
        table.add_row(info.name, info.module,
                      f"{info.distribution or '-'} {info.version or ''}".strip(),
                      "\n".join(provides) or "-",
                      "\n".join(h.removeprefix("argosy_") for h in info.hooks) or "-",
                      f"error: {info.error}" if info.error else "ok")
    print_rich(table)
    if broken:
        sys.exit(EXIT_FAILED)


PROVIDED = {"template_types": "type", "executors": "executor", "stores": "store",
            "functions": "function"}


# ==== Argo's verbs: against the local store, or a server with --server ========================

FINISHED = ("Succeeded", "Failed", "Error")
POLL_SECONDS = 0.5


class EngineLost(ArgosyError):
    """No engine is executing a workflow that a verb follows, and none could be kept."""


@dataclass
class Target:
    """Where a verb acts: a namespace and a service (local store or remote server)."""

    namespace: str
    server: str | None
    token: str | None
    all_namespaces: bool = False
    store: str = "local"
    _service: Any = None
    _restarted: bool = False

    @property
    def remote(self) -> bool:
        return bool(self.server) or self.store == "kubernetes"

    @property
    def service(self) -> Any:
        if self._service is None:
            if self.store == "kubernetes":
                from argosy.api.cluster import ClusterService

                self._service = ClusterService()
            elif self.server:
                from argosy.api.remote import RemoteService

                self._service = RemoteService(self.server, self.token)
            else:
                from argosy.api.service import WorkflowService

                self._service = WorkflowService()
        return self._service

    def resolve(self, name: str) -> str:
        """``@latest`` is the newest workflow of the namespace, as in argo."""
        if name != "@latest":
            return name
        found = self.service.list(self.namespace)
        if not found:
            raise NotFound(f"no workflows found in namespace {self.namespace!r}")
        return str(found[0]["metadata"]["name"])

    def engine_for(self, wf: dict[str, Any]) -> None:
        """A local workflow still to run needs an engine: start one if none serves the store."""
        if not self.remote and (wf.get("status") or {}).get("phase", "Pending") not in FINISHED:
            from argosy.api.service import ensure_engine

            ensure_engine(self.service.store)

    def keep_engine(self, name: str, phase: str) -> None:
        """Following a local workflow: a background engine that died under it (a damaged
        store, a crash) is started again once; if none executes it after that, say so."""
        from argosy.api.service import ensure_engine
        from argosy.engine.run import LEASE_SECONDS
        from argosy.store import EngineLock

        if self.remote or phase in FINISHED:
            return
        store = self.service.store
        uid = store.find(self.namespace, name).uid
        if (uid not in store.claimable() or store.serving_engines(within=LEASE_SECONDS)
                or EngineLock(store.home).holder()):
            return
        if not self._restarted:
            self._restarted = ensure_engine(store)
            return
        log = store.home / "engine.log"
        lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
        raise EngineLost(f"workflow {name} is {phase}, but the engine executing it stopped"
                         f"{': ' + lines[-1] if lines else ''}\n(see {log})")


def verb(func: Callable[..., int | None]) -> Callable[..., None]:
    """Add ``-n``, ``--server`` and ``--token``; turn errors into a message and an exit code:
    1 for a workflow that does not exist (as Argo's CLI), 2 for other user errors."""

    @click.option("-n", "--namespace", default=None, metavar="NAMESPACE",
                  help="Namespace of the workflows (default: 'default').")
    @click.option("--server", envvar="ARGOSY_SERVER", default=None, metavar="URL",
                  help="Go through this argosy/argo server's REST API [env ARGOSY_SERVER].")
    @click.option("--token", envvar="ARGOSY_TOKEN", default=None,
                  help="Bearer token for --server [env ARGOSY_TOKEN].")
    @click.option("--store", envvar="ARGOSY_STORE", default="local", show_default=True,
                  type=click.Choice(["local", "kubernetes"]),
                  help="kubernetes: the Workflow objects of $KUBECONFIG's cluster, which "
                       "argosy controller runs [env ARGOSY_STORE].")
    @functools.wraps(func)
    def wrapper(namespace: str | None, server: str | None, token: str | None, store: str,
                **kwargs: Any) -> None:
        if server and store == "kubernetes":
            raise click.UsageError("--server and --store kubernetes exclude each other")
        target = Target(namespace or "default", server or None, token or None, store=store)
        try:
            code = func(target, **kwargs)
        except (Unreachable, NotFound, StoreError, EngineLost) as exc:
            click.echo(str(exc), err=True)
            sys.exit(EXIT_FAILED)
        except ArgosyError as exc:
            click.echo(str(exc), err=True)
            sys.exit(EXIT_INVALID)
        except KeyboardInterrupt:
            sys.exit(130)
        sys.exit(code or EXIT_OK)

    return wrapper


def _each(names: tuple[str, ...] | list[str], act: Callable[[str], None]) -> int:
    """Apply ``act`` to every name; report each fault and carry on (exit 2 if any, else 1 if a
    workflow was not found)."""
    code = EXIT_OK
    for name in names:
        try:
            act(name)
        except (Unreachable, StoreError, EngineLost):
            raise
        except ArgosyError as exc:
            click.echo(str(exc), err=True)
            code = max(code, EXIT_FAILED if isinstance(exc, NotFound) else EXIT_INVALID)
    return code


def _finished(wf: dict[str, Any]) -> bool:
    return (wf.get("status") or {}).get("phase") in FINISHED


def print_rich(renderable: Any) -> None:
    from rich.console import Console

    console = Console()
    if console.is_terminal:
        console.print(renderable)
        return
    # Piped output has no width to fit: one unwrapped row per node, no trailing padding. What
    # rich lays out is within the width: not cropping it again saves measuring every line.
    console = Console(width=250, file=io.StringIO())
    console.print(renderable, crop=False)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    click.echo("\n".join(line.rstrip() for line in text.splitlines()))


def print_workflow(wf: dict[str, Any], output: str | None, expand: bool = False) -> None:
    """``argo get``'s output formats for one workflow; big groups collapsed unless ``expand``."""
    from argosy.cli.render import render_workflow

    if output == "name":
        click.echo(wf["metadata"]["name"])
    elif output in ("json", "yaml"):
        click.echo(dump(wf, output))
    else:
        print_rich(render_workflow(wf, wide=output == "wide",
                                   **({"collapse": None} if expand else {})))


def _by_selector(target: Target, selector: str | None) -> list[str]:
    if not selector:
        return []
    return [wf["metadata"]["name"]
            for wf in target.service.list(target.namespace, label_selector=selector)]


def _names(target: Target, names: tuple[str, ...], selector: str | None = None) -> list[str]:
    """Workflow names from arguments and a label selector, each once, in order."""
    out = [target.resolve(n) for n in names] + _by_selector(target, selector)
    return list(dict.fromkeys(out))


# ---- following a workflow: wait, watch, logs ---------------------------------------------------

def _go_time(stamp: str | None) -> str:
    """A timestamp as Go prints a metav1.Time with %v (what ``argo wait`` shows)."""
    if not stamp:
        return "0001-01-01 00:00:00 +0000 UTC"
    return parse_time(stamp).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def wait_for(target: Target, name: str, *, quiet: bool = False,
             ignore_not_found: bool = False) -> bool:
    """Block until the workflow finishes; True if it Succeeded."""
    try:
        wf = target.service.get(target.namespace, name, nodes=False)
    except NotFound:
        if ignore_not_found:
            return True
        raise
    target.engine_for(wf)
    while not _finished(wf):
        time.sleep(POLL_SECONDS)
        wf = target.service.get(target.namespace, name, nodes=False)
        target.keep_engine(name, wf["status"]["phase"])
    status = wf["status"]
    if not quiet:
        click.echo(f"{name} {status['phase']} at {_go_time(status.get('finishedAt'))}")
    return bool(status["phase"] == "Succeeded")


def watch_workflow(target: Target, name: str, *, wide: bool = False) -> dict[str, Any]:
    """Show the workflow until it finishes: live on a terminal, a line per change otherwise."""
    from rich.console import Console

    from argosy.cli.render import LiveView, PlainProgress

    console = Console()
    view: Any = (LiveView(console, wide=wide).start() if console.is_terminal
                 else PlainProgress(sys.stdout))
    wf = target.service.get(target.namespace, name)
    target.engine_for(wf)
    try:
        while True:
            view.update(wf)
            if _finished(wf):
                break
            time.sleep(POLL_SECONDS)
            wf = target.service.get(target.namespace, name)
            target.keep_engine(name, wf["status"]["phase"])
    finally:
        view.close(wf)
    return wf


def _node_matches(wf_name: str, node: dict[str, Any], wanted: str | None) -> bool:
    from argosy.cli.render import pod_name

    return wanted is None or wanted in (node["id"], node.get("name"), node.get("displayName"),
                                        pod_name(wf_name, node))


def _fresh(node: dict[str, Any], since: float | None) -> bool:
    """Whether a pod logged within ``since`` seconds (per node: lines carry no time)."""
    if since is None or not node.get("finishedAt"):
        return True
    return seconds_since(node["finishedAt"]) <= since


def _stdout_of(node_dir: Path) -> str:
    try:
        return (node_dir / "stdout").read_text(errors="replace")
    except FileNotFoundError:
        return ""


def local_log_entries(target: Target, name: str, *, pod: str | None = None,
                      grep: str | None = None, tail: int | None = None,
                      since: float | None = None, timestamps: bool = False,
                      follow: bool = False, container: str = "main"
                      ) -> Iterator[tuple[str, str]]:
    """``(pod name, line)`` of the workflow's pods from the local store, in start order.

    A finished pod's log is in the store (stdout then stderr). With ``follow``, a running pod's
    complete stdout lines are read from its file as they come; the store's copy supplies the
    rest once the pod finishes, so every line is printed once and in the stored order.
    """
    from argosy.api.service import _running_log, container_nodes, log_nodes, pod_container_log
    from argosy.cli.render import pod_name
    from argosy.spec.models import fulfilled

    store = target.service.store
    rec = target.service.record(target.namespace, name)
    if follow:
        target.engine_for({"status": {"phase": rec.phase}})
    printed: dict[str, int] = {}
    whole: set[str] = set()  # nodes whose stored log was printed: not read again
    nodes = container_nodes(store, rec.uid, container)
    while True:
        done = store.get(rec.uid).phase in FINISHED
        pods = [n for n in log_nodes(store, rec.uid)
                if _node_matches(rec.name, n, pod) and _fresh(n, since)]
        for node in pods:
            nid, over = node["id"], fulfilled(node.get("phase", ""))
            if nid in whole:
                continue
            key, folder = pod_container_log(store, node, container, nodes)
            text = store.log(rec.uid, key)
            live = text is None
            if live:
                node_dir = store.run_dir(rec.uid) / folder
                text = _stdout_of(node_dir) if follow else _running_log(node_dir)
            first = nid not in printed
            start = printed.get(nid, 0)
            start = 0 if len(text) < start else start  # a retry began the log again
            end = text.rfind("\n") + 1 if follow and live and not over else len(text)
            if end <= start and not first:
                continue
            printed[nid] = max(start, end)
            if not live:
                whole.add(nid)
            lines = text[start:end].splitlines()
            if first and tail is not None and tail >= 0:
                lines = lines[-tail:] if tail else []
            stamp = now_rfc3339() if live else (node.get("finishedAt") or now_rfc3339())
            podname = pod_name(rec.name, node)
            for line in lines:
                if grep is None or grep in line:
                    yield podname, f"{stamp} {line}" if timestamps else line
        if not follow or done:
            return
        time.sleep(POLL_SECONDS)
        target.keep_engine(rec.name, store.get(rec.uid).phase)


def print_logs(target: Target, name: str, **options: Any) -> None:
    if target.remote:
        entries = target.service.log_entries(target.namespace, name, **options)
    else:
        entries = local_log_entries(target, name, **options)
    for podname, line in entries:
        click.echo(f"{podname}: {line}")


def wait_watch_or_log(target: Target, names: list[str], *, output: str | None, wait: bool,
                      watch: bool, log: bool) -> int:
    """What ``--wait``, ``--watch`` and ``--log`` do after submit, retry or resubmit."""
    code = EXIT_OK
    if log:
        for name in names:
            print_logs(target, name, follow=True)
    if wait:
        quiet = output not in (None, "wide")
        for name in names:
            if not wait_for(target, name, quiet=quiet):
                code = EXIT_FAILED
    elif watch:
        for name in names:
            watch_workflow(target, name, wide=output == "wide")
    return code


def _check_follow_flags(names: list[str] | tuple[str, ...], wait: bool, watch: bool) -> None:
    if wait and watch:
        raise ArgosyError("--wait cannot be combined with --watch")
    if watch and len(names) > 1:
        raise ArgosyError("cannot watch more than one workflow")


def follow_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed((
            click.option("-o", "--output", type=OUTPUTS, help="Output format."),
            click.option("-w", "--wait", is_flag=True, help="Wait for the workflow to complete."),
            click.option("--watch", is_flag=True, help="Watch the workflow until it completes."),
            click.option("--log", is_flag=True, help="Log the workflow until it completes."))):
        func = option(func)
    return func


# ---- submit -------------------------------------------------------------------------------------

def _parameter_file(path: str | None) -> dict[str, str]:
    if not path:
        return {}
    try:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ArgosyError(f"cannot read parameter file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ArgosyError(f"parameter file {path} must map names to values")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


def _labels(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    return parse_pairs(tuple(t.strip() for t in text.split(",") if t.strip()), "-l")


@main.command("submit")
@click.argument("files", nargs=-1)
@click.option("--from", "from_", metavar="KIND/NAME",
              help="Submit from a workflowtemplate/NAME, clusterworkflowtemplate/NAME or "
              "cronwf/NAME.")
@click.option("-p", "--parameter", "parameters", multiple=True, metavar="NAME=VALUE",
              help="Pass an input parameter (repeatable).")
@click.option("-f", "--parameter-file", help="A YAML or JSON file of all input parameters.")
@click.option("--entrypoint", help="Override spec.entrypoint.")
@click.option("--name", help="Override metadata.name.")
@click.option("--generate-name", help="Override metadata.generateName.")
@click.option("-l", "--labels", help="Comma separated labels to apply to the workflow.")
@click.option("--dry-run", is_flag=True, help="Print the workflow without creating it.")
@follow_options
@verb
def submit_cmd(target: Target, files: tuple[str, ...], from_: str | None,
               parameters: tuple[str, ...], parameter_file: str | None,
               entrypoint: str | None, name: str | None,
               generate_name: str | None, labels: str | None, dry_run: bool,
               output: str | None, wait: bool, watch: bool, log: bool) -> int:
    """Submit workflows; an engine runs them in the background (argo submit)."""
    from argosy.api.service import load_workflow

    _check_follow_flags(files, wait, watch)
    if dry_run and (wait or watch):
        raise ArgosyError("--wait and --watch cannot be combined with --dry-run")
    overrides: dict[str, Any] = {
        "parameters": _parameter_file(parameter_file) | parse_pairs(parameters, "-p"),
        "entrypoint": entrypoint, "name": name, "generate_name": generate_name,
        "labels": _labels(labels),
        "namespace": target.namespace if target.namespace != "default" else None}
    if bool(files) == bool(from_):
        raise ArgosyError("give workflow files or --from KIND/NAME (one of them)")
    created = []
    for file in [_submit_from(from_, target)] if from_ else files:
        source = sys.stdin.read() if file == "-" else file
        if isinstance(file, str) and file != "-" and not Path(file).is_file():
            raise ArgosyError(f"{file}: no such file")
        if dry_run:
            store = (target.service.objects if target.store == "kubernetes" else
                     None if target.remote else target.service.store)
            print_workflow(load_workflow(source, store=store, **overrides), output)
            continue
        wf = target.service.submit(source, **overrides)
        print_workflow(wf, output)
        created.append(wf["metadata"]["name"])
    return wait_watch_or_log(target, created, output=output, wait=wait, watch=watch, log=log)


def _submit_from(ref: str, target: Target) -> dict[str, Any]:
    """``--from``'s Workflow: a CronWorkflow's (its run, unscheduled), else a template's."""
    from argosy.api.service import from_template
    from argosy.objects import kind_of

    kind_name, _, name = ref.partition("/")
    found = kind_of(kind_name) if name else None
    if found is not None and found.name == "CronWorkflow":
        from argosy.cron import workflow_from

        return workflow_from(target.service.template(found.name, target.namespace, name))
    return from_template(ref)


# ---- list and get -------------------------------------------------------------------------------

def _short_age(seconds: float) -> str:
    """argo's RelativeDurationShort: one unit, 0s … 59s, 1m … 59m, 1h … 23h, 1d …"""
    s = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def _between(start: str | None, end: str | None) -> float:
    if not start:
        return 0.0
    return (parse_time(end) - parse_time(start)).total_seconds() if end else seconds_since(start)


def _parameters(wf: dict[str, Any]) -> str:
    def short(value: str) -> str:
        return value if len(value) <= 50 else f"{value[:32]}...{value[-15:]}"

    params = ((wf.get("spec") or {}).get("arguments") or {}).get("parameters") or []
    return ",".join(f"{p['name']}={short(str(p['value']))}" for p in params if "value" in p)


def _node_counts(wf: dict[str, Any]) -> str:
    from argosy.spec.models import fulfilled

    pending = running = done = 0
    for node in ((wf.get("status") or {}).get("nodes") or {}).values():
        if node.get("type") != "Pod":
            continue
        phase = node.get("phase", "")
        if fulfilled(phase):
            done += 1
        elif phase == "Running":
            running += 1
        else:
            pending += 1
    return f"{pending}/{running}/{done}"


def _tabulate(rows: list[list[str]]) -> str:
    """Go's tabwriter as argo uses it: columns padded by 3, the last cell left as is."""
    widths = [max(len(r[i]) for r in rows) + 3 for i in range(len(rows[0]) - 1)]
    return "\n".join(("".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + r[-1])
                     .rstrip() for r in rows)


def workflow_table(workflows: list[dict[str, Any]], *, wide: bool = False,
                   namespaces: bool = False, headers: bool = True) -> str:
    from argosy.cli.render import _workflow_status  # argo's STATUS words, shared with `get`

    head = ["NAME", "STATUS", "AGE", "DURATION", "PRIORITY", "MESSAGE"]
    if wide:
        head += ["P/R/C", "PARAMETERS"]
    if namespaces:
        head.insert(0, "NAMESPACE")
    rows = [head] if headers else []
    for wf in workflows:
        meta, status = wf["metadata"], wf.get("status") or {}
        row = [meta["name"], _workflow_status(wf),
               _short_age(seconds_since(meta.get("creationTimestamp"))),
               _short_age(_between(status.get("startedAt"), status.get("finishedAt"))),
               str((wf.get("spec") or {}).get("priority") or 0), status.get("message") or ""]
        if wide:
            row += [_node_counts(wf), _parameters(wf)]
        if namespaces:
            row.insert(0, meta.get("namespace", ""))
        rows.append(row)
    return _tabulate(rows) if rows else ""


def _statuses(values: tuple[str, ...]) -> list[str]:
    return [s.strip() for v in values for s in v.split(",") if s.strip()]


def list_workflows(target: Target, *, completed: bool = False, running: bool = False,
                   status: tuple[str, ...] = (), since: str | None = None,
                   older: str | None = None, prefix: str | None = None,
                   selector: str | None = None, resubmitted: bool = False,
                   chunk_size: int = 0, nodes: bool = False) -> list[dict[str, Any]]:
    """argo's list filters, shared by ``list`` and ``delete``."""
    if completed and running:
        raise ArgosyError("--completed and --running cannot be used together")
    phases = _statuses(status) or None
    if completed:
        phases = [p for p in (phases or FINISHED) if p in FINISHED]
    if running:
        phases = [p for p in (phases or ("Pending", "Running")) if p not in FINISHED]
    if resubmitted:
        resub = "workflows.argoproj.io/resubmitted-from-workflow"
        selector = f"{selector},{resub}" if selector else resub
    extra = {"chunk_size": chunk_size} if target.remote else {}
    found = target.service.list(
        None if target.all_namespaces else target.namespace, label_selector=selector,
        phases=phases, prefix=prefix, since=parse_duration(since) if since else None,
        nodes=nodes, **extra)
    if older:
        limit = parse_duration(older)
        found = [wf for wf in found if (wf.get("status") or {}).get("finishedAt")
                 and seconds_since(wf["status"]["finishedAt"]) > limit]
    return found


def filter_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed((
            click.option("-A", "--all-namespaces", is_flag=True, help="All namespaces."),
            click.option("--completed", is_flag=True, help="Completed workflows only."),
            click.option("--status", multiple=True, help="By phase (comma separated)."),
            click.option("--older", metavar="DURATION",
                         help="Completed workflows finished before this long ago (10m, 3h, 1d)."),
            click.option("--prefix", help="Workflows whose name starts so."),
            click.option("-l", "--selector", help="Label selector (a=b,c!=d)."),
            click.option("--resubmitted", is_flag=True, help="Resubmitted workflows only."))):
        func = option(func)
    return func


@main.command("list")
@filter_options
@click.option("--running", is_flag=True, help="Running workflows only.")
@click.option("--since", metavar="DURATION", help="Created within this long (10m, 1h).")
@click.option("--chunk-size", type=int, default=0, help="Page size of the listing (0: all).")
@click.option("--no-headers", is_flag=True, help="Don't print headers.")
@click.option("-o", "--output", type=OUTPUTS, help="Output format.")
@verb
def list_cmd(target: Target, all_namespaces: bool, output: str | None, no_headers: bool,
             **filters: Any) -> None:
    """List workflows, newest first (argo list)."""
    target.all_namespaces = all_namespaces
    # The table reads nodes only for P/R/C (wide) and a running workflow's "(Suspended)".
    found = list_workflows(target, nodes=output in ("json", "yaml", "wide"), **filters)
    if not found:
        click.echo("[]" if output in ("json", "yaml") else "No workflows found")
    elif output == "name":
        for wf in found:
            click.echo(wf["metadata"]["name"])
    elif output in ("json", "yaml"):
        click.echo(dump(found, output))
    else:
        if output != "wide":
            found = [target.service.get(wf["metadata"]["namespace"], wf["metadata"]["name"])
                     if (wf.get("status") or {}).get("phase") == "Running" else wf
                     for wf in found]
        click.echo(workflow_table(found, wide=output == "wide", namespaces=all_namespaces,
                                  headers=not no_headers))


@main.command("get")
@click.argument("names", nargs=-1, required=True)
@click.option("-o", "--output", type=OUTPUTS, help="Output format.")
@click.option("--expand", is_flag=True,
              help="Draw every node: a group of more than 20 is otherwise collapsed to the "
                   "children that did not succeed and a row counting the others.")
@verb
def get_cmd(target: Target, names: tuple[str, ...], output: str | None, expand: bool) -> int:
    """Show workflows: header and node tree, or the object (argo get)."""
    def show(name: str) -> None:
        print_workflow(target.service.get(target.namespace, target.resolve(name)), output,
                       expand)

    with gc_paused():
        return _each(names, show)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cycle collector runs every few hundred allocations and, every so often,
    through every object alive: reading and drawing a workflow of 100,000 nodes (millions of
    objects, none in a cycle) spent most of its time there, more with each node. Reference
    counting frees all of them; a verb's process is short-lived."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@main.command("watch")
@click.argument("name")
@click.option("-o", "--output", type=click.Choice(["wide"]), help="Wide node columns.")
@verb
def watch_cmd(target: Target, name: str, output: str | None) -> None:
    """Watch a workflow until it completes (argo watch)."""
    watch_workflow(target, target.resolve(name), wide=output == "wide")


@main.command("wait")
@click.argument("names", nargs=-1, required=True)
@click.option("--ignore-not-found", is_flag=True, help="Ignore workflows that do not exist.")
@verb
def wait_cmd(target: Target, names: tuple[str, ...], ignore_not_found: bool) -> int:
    """Wait for workflows to complete; exit 1 unless all Succeeded (argo wait)."""
    ok = [wait_for(target, target.resolve(n), ignore_not_found=ignore_not_found) for n in names]
    return EXIT_OK if all(ok) else EXIT_FAILED


@main.command("logs")
@click.argument("name")
@click.argument("pod", required=False)
@click.option("--node", help="Only this node (pod name, node id, name or display name).")
@click.option("-c", "--container", default="main",
              help="Container: main, or a sidecar's or init container's name.")
@click.option("-f", "--follow", is_flag=True, help="Stream the logs until the workflow ends.")
@click.option("--grep", help="Only lines containing this text.")
@click.option("--since", metavar="DURATION", help="Only pods that logged within (5s, 2m, 3h).")
@click.option("--tail", type=int, default=None, help="Last lines of each pod.")
@click.option("--timestamps", is_flag=True, help="Prefix each line with a timestamp.")
@verb
def logs_cmd(target: Target, name: str, pod: str | None, node: str | None, container: str,
             follow: bool, grep: str | None, since: str | None, tail: int | None,
             timestamps: bool) -> int:
    """Print the logs of a workflow's pods as "<pod>: <line>" (argo logs)."""
    if pod and node and pod != node:
        raise ArgosyError("give the pod either as an argument or with --node, not both")
    name, pod = target.resolve(name), pod or node
    if pod:
        wf = target.service.get(target.namespace, name)
        nodes = (wf.get("status") or {}).get("nodes") or {}
        # A running workflow followed may yet start the node.
        if not any(_node_matches(name, n, pod) for n in nodes.values()) and not (
                follow and not _finished(wf)):
            return _missing(f'workflow {name} has no node or pod "{pod}"')
    print_logs(target, name, pod=pod, grep=grep, tail=tail,
               since=parse_duration(since) if since else None, timestamps=timestamps,
               follow=follow, container=container)
    return EXIT_OK


def _missing(message: str) -> int:
    """A filter that matched nothing: say what is missing and exit 1, as argo does."""
    click.echo(message, err=True)
    return EXIT_FAILED


@main.command("cp")
@click.argument("name")
@click.argument("output_dir", type=click.Path(file_okay=False))
@click.option("--node-id", help="Only the artifacts of this node.")
@click.option("--template-name", help="Only the artifacts of nodes of this template.")
@click.option("--artifact-name", help="Only the output artifacts of this name.")
@click.option("--path", "layout", default="{namespace}/{workflowName}/{nodeId}/outputs/"
              "{artifactName}", show_default=True,
              help="Folder of each artifact under OUTPUT_DIR; {workflowName}, {nodeId}, "
                   "{templateName}, {artifactName} and {namespace} are replaced.")
@verb
def cp_cmd(target: Target, name: str, output_dir: str, node_id: str | None,
           template_name: str | None, artifact_name: str | None, layout: str) -> int:
    """Copy a workflow's output artifacts (an executed notebook) to a folder (argo cp)."""
    save = target.service.save_artifact  # a store that keeps no artifacts refuses here
    name = target.resolve(name)
    wf = target.service.get(target.namespace, name)
    nodes = [n for n in ((wf.get("status") or {}).get("nodes") or {}).values()
             if (not node_id or n["id"] == node_id)
             and (not template_name or n.get("templateName") == template_name)]
    if (node_id or template_name) and not nodes:
        return _missing(f"workflow {name} has no node" + (f' with id "{node_id}"' if node_id
                                                           else "")
                        + (f' of template "{template_name}"' if template_name else ""))
    found = [(n, a) for n in nodes for a in (n.get("outputs") or {}).get("artifacts") or []
             if not artifact_name or a["name"] == artifact_name]
    if artifact_name and not found:
        return _missing(f'workflow {name} has no output artifact "{artifact_name}"'
                        + (" in the nodes selected" if node_id or template_name else ""))
    for node, artifact in found:
        where = layout
        for key, value in {"namespace": target.namespace, "workflowName": name,
                           "nodeId": node["id"], "templateName": node.get("templateName", ""),
                           "artifactName": artifact["name"]}.items():
            where = where.replace("{" + key + "}", value)
        folder = Path(output_dir, where)
        folder.mkdir(parents=True, exist_ok=True)
        file = folder / posixpath.basename(artifact.get("path") or artifact["name"])
        save(target.namespace, name, node["id"], artifact["name"], file)
        click.echo(f'Created "{file.name}"', err=True)
    return EXIT_OK


# ---- steer running workflows -------------------------------------------------------------------

@main.command("suspend")
@click.argument("names", nargs=-1, required=True)
@verb
def suspend_cmd(target: Target, names: tuple[str, ...]) -> int:
    """Suspend workflows: no new node starts until resume (argo suspend)."""
    def act(name: str) -> None:
        name = target.resolve(name)
        target.service.suspend(target.namespace, name)
        click.echo(f"workflow {name} suspended")

    return _each(names, act)


@main.command("resume")
@click.argument("names", nargs=-1, required=True)
@click.option("--node-field-selector", help="Resume only these suspend nodes (displayName=x).")
@verb
def resume_cmd(target: Target, names: tuple[str, ...], node_field_selector: str | None) -> int:
    """Resume workflows and release their suspend nodes (argo resume)."""
    def act(name: str) -> None:
        name = target.resolve(name)
        target.service.resume(target.namespace, name, node_field_selector)
        click.echo(f"workflow {name} resumed")

    return _each(names, act)


@main.command("stop")
@click.argument("names", nargs=-1)
@click.option("--message", help="Message for the nodes that were running.")
@click.option("-l", "--selector", help="Label selector of workflows to stop.")
@verb
def stop_cmd(target: Target, names: tuple[str, ...], message: str | None,
             selector: str | None) -> int:
    """Stop workflows; exit handlers still run (argo stop)."""
    def act(name: str) -> None:
        target.service.stop(target.namespace, name, message)
        click.echo(f"workflow {name} stopped")

    return _each(_required(target, names, selector), act)


@main.command("terminate")
@click.argument("names", nargs=-1)
@click.option("-l", "--selector", help="Label selector of workflows to terminate.")
@verb
def terminate_cmd(target: Target, names: tuple[str, ...], selector: str | None) -> int:
    """Terminate workflows at once; exit handlers do not run (argo terminate)."""
    def act(name: str) -> None:
        target.service.terminate(target.namespace, name)
        click.echo(f"workflow {name} terminated")

    return _each(_required(target, names, selector), act)


def _required(target: Target, names: tuple[str, ...], selector: str | None) -> list[str]:
    if not names and not selector:
        raise ArgosyError("requires either a workflow name or a label selector (-l)")
    return _names(target, names, selector)


def _unquote(value: str) -> str:
    # argo strconv.Unquote's each value: --output-parameter x="a b" gives a b.
    if len(value) >= 2 and value[0] == value[-1] == '"':
        with contextlib.suppress(ValueError):
            return str(json.loads(value))
    return value


@main.group("node")
def node_group() -> None:
    """Act on a node of a workflow (argo node)."""


@node_group.command("set")
@click.argument("name")
@click.option("--node-field-selector", required=True,
              help="Nodes to set, e.g. displayName=approve.")
@click.option("--phase", type=click.Choice(["Succeeded", "Failed", "Error"]),
              help="Phase to set the node to.")
@click.option("-m", "--message", help="Message of the node.")
@click.option("-p", "--output-parameter", "output_parameters", multiple=True,
              metavar="NAME=VALUE", help="A 'supplied' output parameter (repeatable).")
@verb
def node_set_cmd(target: Target, name: str, node_field_selector: str, phase: str | None,
                 message: str | None, output_parameters: tuple[str, ...]) -> None:
    """Set a node's outputs, message or phase (a phase also releases a suspend node)."""
    params = {k: _unquote(v) for k, v in parse_pairs(output_parameters, "-p").items()}
    target.service.set_node(target.namespace, target.resolve(name), node_field_selector,
                            phase=phase, message=message, output_parameters=params)
    click.echo("workflow values set")


# ---- run again ---------------------------------------------------------------------------------

@main.command("retry")
@click.argument("names", nargs=-1)
@click.option("--restart-successful", is_flag=True,
              help="Also restart succeeded nodes matching --node-field-selector.")
@click.option("--node-field-selector", help="Nodes to reset, e.g. displayName=step.")
@click.option("-p", "--parameter", "parameters", multiple=True, metavar="NAME=VALUE",
              help="Input parameter to override (repeatable).")
@click.option("-l", "--selector", help="Label selector of workflows to retry.")
@follow_options
@verb
def retry_cmd(target: Target, names: tuple[str, ...], restart_successful: bool,
              node_field_selector: str | None, parameters: tuple[str, ...],
              selector: str | None, output: str | None, wait: bool, watch: bool,
              log: bool) -> int:
    """Run the failed nodes of failed workflows again, in the same workflow (argo retry)."""
    params = parse_pairs(parameters, "-p")
    return _run_again(
        target, _required(target, names, selector),
        lambda name: target.service.retry(target.namespace, name,
                                          restart_successful=restart_successful,
                                          node_field_selector=node_field_selector,
                                          parameters=params),
        output=output, wait=wait, watch=watch, log=log)


def _run_again(target: Target, names: list[str], launch: Callable[[str], dict[str, Any]], *,
               output: str | None, wait: bool, watch: bool, log: bool) -> int:
    """``launch`` each workflow (retry, resubmit), print what it gives, and follow the result
    when there is exactly one."""
    launched: list[str] = []

    def act(name: str) -> None:
        wf = launch(name)
        print_workflow(wf, output)
        launched.append(wf["metadata"]["name"])

    code = _each(names, act)
    if len(launched) == 1:
        code = max(code, wait_watch_or_log(target, launched, output=output, wait=wait,
                                           watch=watch, log=log))
    return code


@main.command("resubmit")
@click.argument("names", nargs=-1)
@click.option("--memoized", is_flag=True, help="Re-use successful steps and outputs.")
@click.option("-p", "--parameter", "parameters", multiple=True, metavar="NAME=VALUE",
              help="Input parameter to override (repeatable).")
@click.option("-l", "--selector", help="Label selector of workflows to resubmit.")
@follow_options
@verb
def resubmit_cmd(target: Target, names: tuple[str, ...], memoized: bool,
                 parameters: tuple[str, ...], selector: str | None, output: str | None,
                 wait: bool, watch: bool, log: bool) -> int:
    """Submit a new workflow from each one's manifest (argo resubmit)."""
    params = parse_pairs(parameters, "-p")
    return _run_again(
        target, _required(target, names, selector),
        lambda name: target.service.resubmit(target.namespace, name, parameters=params,
                                             memoized=memoized),
        output=output, wait=wait, watch=watch, log=log)


# ---- delete ------------------------------------------------------------------------------------

@main.command("delete")
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Delete all workflows.")
@filter_options
@click.option("--dry-run", is_flag=True, help="Only print what would be deleted.")
@verb
def delete_cmd(target: Target, names: tuple[str, ...], all_: bool, all_namespaces: bool,
               dry_run: bool, **filters: Any) -> int:
    """Delete workflows by name or by filter (argo delete)."""
    filtering = all_ or any(filters.values())
    if not names and not filtering:
        raise ArgosyError("requires either a workflow or other argument")
    target.all_namespaces = all_namespaces
    doomed = [(target.namespace, target.resolve(n)) for n in names]
    if filtering:
        doomed += [(wf["metadata"]["namespace"], wf["metadata"]["name"])
                   for wf in list_workflows(target, **filters)]
    if not doomed:
        click.echo("No resources found")
        return EXIT_OK
    code = EXIT_OK
    for namespace, name in dict.fromkeys(doomed):
        if dry_run:
            click.echo(f"Workflow '{name}' deleted (dry-run)")
            continue
        try:
            target.service.delete(namespace, name)
        except NotFound:
            click.echo(f"Workflow '{name}' not found", err=True)
            code = EXIT_FAILED
            continue
        click.echo(f"Workflow '{name}' deleted")
    return code


# ---- server and tokens -------------------------------------------------------------------------

@main.command("server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("-p", "--port", type=int, default=2746, show_default=True, help="Port.")
@click.option("--auth-mode", type=click.Choice(["client", "server", "none"]), default="client",
              show_default=True,
              help="client/server: bearer tokens required; none: loopback only.")
@click.option("--no-engine", is_flag=True,
              help="Only serve the API; background engines execute the workflows.")
@click.option("--parallelism", type=int, default=None, help="Most workflows run at once.")
@click.option("--namespace-parallelism", type=int, default=None,
              help="Most workflows of one namespace run at once.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True)
@click.option("--allowed-hosts", default="", metavar="NAMES",
              help="Comma-separated Host names to answer besides loopback ones and --host "
                   "('*': any). Without tokens only those are answered (DNS rebinding).")
@click.option("--store", envvar="ARGOSY_STORE", default="local", show_default=True,
              type=click.Choice(["local", "kubernetes"]),
              help="kubernetes: serve the Workflow objects (and templates, CronWorkflows) of "
                   "$KUBECONFIG's cluster, which argosy controller runs [env ARGOSY_STORE].")
@executor_options
def server_cmd(host: str, port: int, auth_mode: str, no_engine: bool, parallelism: int | None,
               namespace_parallelism: int | None, log_level: str, allowed_hosts: str,
               store: str) -> None:
    """Serve argo-server's REST API over the local store or a cluster (argo server)."""
    if store == "kubernetes":  # the controller runs the workflows, with its own limits
        from click.core import ParameterSource

        executor = click.get_current_context().get_parameter_source("executor")
        for flag, value in (("--parallelism", parallelism),
                            ("--namespace-parallelism", namespace_parallelism),
                            ("--executor", executor == ParameterSource.COMMANDLINE or None)):
            if value is not None:
                raise click.UsageError(f"{flag} does not apply with --store kubernetes: argosy "
                                       "controller runs the workflows, this server runs none")
    from argosy.api.server import main as serve

    try:
        serve(host, port, auth_mode=auth_mode, run_engine=not no_engine,
              parallelism=parallelism, namespace_parallelism=namespace_parallelism,
              log_level=log_level, allowed_hosts=allowed_hosts.split(","),
              announce=lambda text: click.echo(text, err=True), store=store)
    except StoreError:
        raise
    except ArgosyError as exc:
        fail_invalid(exc)
    except KeyboardInterrupt:
        pass


@main.group("auth")
def auth_group() -> None:
    """Manage authentication (argo auth)."""


@auth_group.command("token")
@click.option("--namespace", "namespaces", multiple=True, metavar="NAMESPACE",
              help="Namespace the token may use (repeatable; default: all).")
@click.option("--read-only", is_flag=True, help="A token that may only read.")
def auth_token_cmd(namespaces: tuple[str, ...], read_only: bool) -> None:
    """Print a new bearer token that `argosy server` on this ARGOSY_HOME accepts."""
    from argosy.api.auth import Auth

    try:
        click.echo(Auth().create_token(namespaces or ("*",), read_only=read_only))
    except ArgosyError as exc:
        fail_invalid(exc)

