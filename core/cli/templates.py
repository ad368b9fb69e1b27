"""``argosy apply``, ``argosy template …`` and ``argosy cluster-template …``, as Argo's and
kubectl's: WorkflowTemplates, ClusterWorkflowTemplates, ConfigMaps and Secrets in the store."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from argosy.cli.commands import (
    EXIT_INVALID,
    EXIT_OK,
    Target,
    _pretty_fault,
    _tabulate,
    dump,
    main,
    manifest_files,
    verb,
)
from argosy.errors import ArgosyError, Fault, InvalidWorkflow, NotFound
from argosy.objects import KINDS, TEMPLATE_KINDS, ObjectService, lookup_in, object_faults
from argosy.spec.loader import Document, load_file

GROUPS = {"WorkflowTemplate": "workflowtemplate.argoproj.io",
          "ClusterWorkflowTemplate": "clusterworkflowtemplate.argoproj.io",
          "ConfigMap": "configmap", "Secret": "secret", "Workflow": "workflow.argoproj.io",
          "CronWorkflow": "cronworkflow.argoproj.io"}


def objects(target: Target) -> ObjectService:
    """The objects of the local store, or the cluster's (``--store kubernetes``)."""
    if target.server:
        raise ArgosyError("this verb acts on the local store or a cluster only (argo-server's "
                          "API has no ConfigMaps or Secrets); argosy template create|list|get|"
                          "delete work with --server")
    if target.store == "kubernetes":
        return ObjectService(target.service.objects)
    return ObjectService(target.service.store)


def documents(files: tuple[str, ...]) -> list[Document]:
    """Every document of the files (``-``: standard input) and directories given."""
    from argosy.spec.loader import load_documents

    docs: list[Document] = []
    for path in files:
        if path == "-":
            docs += load_documents(sys.stdin.read(), "-")
            continue
        for file in manifest_files(path):
            docs += load_file(file)
    return docs


@main.command("apply")
@click.option("-f", "--filename", "files", multiple=True, required=True, metavar="FILE",
              help="A manifest file, directory or - (repeatable); every document in it.")
@verb
def apply_cmd(target: Target, files: tuple[str, ...]) -> int:
    """Create or update WorkflowTemplates, ClusterWorkflowTemplates, ConfigMaps and Secrets,
    and create Workflows (kubectl apply)."""
    docs = documents(files)
    if target.server:
        return _apply_remote(target, docs)
    store = objects(target)
    lookup = lookup_in([d.data for d in docs], store.store, target.namespace)
    faults: list[Fault] = []
    for doc in docs:  # all checked before any is stored: they may refer to each other
        kind = doc.data.get("kind") if isinstance(doc.data, dict) else None
        if kind != "Workflow":  # a Workflow is checked when submitted, after the others
            faults += doc.place(object_faults(doc.data, lookup))
    if faults:
        raise InvalidWorkflow(faults)
    for doc in docs:
        if doc.data.get("kind") != "Workflow":
            body, created = store.put(doc.data, target.namespace, check=False)
            click.echo(f"{GROUPS[body['kind']]}/{body['metadata']['name']} "
                       f"{'created' if created else 'configured'}")
    if not target.remote and any(doc.data.get("kind") == "CronWorkflow" for doc in docs):
        from argosy.api.service import ensure_engine

        ensure_engine(target.service.store)  # its scheduler
    for doc in docs:
        if doc.data.get("kind") == "Workflow":
            wf = target.service.submit(doc.data, namespace=_namespace(target))
            click.echo(f"{GROUPS['Workflow']}/{wf['metadata']['name']} created")
    return EXIT_OK


def _apply_remote(target: Target, docs: list[Document]) -> int:
    """apply through a server: templates (created or updated) and Workflows, which is what
    argo-server's API holds."""
    kinds = [doc.data.get("kind") if isinstance(doc.data, dict) else None for doc in docs]
    other = [k for k in kinds if k not in (*TEMPLATE_KINDS, "Workflow")]
    if other:
        raise ArgosyError(f"{other[0]}: argo-server's API has no such objects; apply it to the "
                          "local store, without --server")
    for doc, kind in sorted(zip(docs, kinds, strict=True), key=lambda p: p[1] == "Workflow"):
        if kind == "Workflow":
            wf = target.service.submit(doc.data, namespace=_namespace(target))
            click.echo(f"{GROUPS[kind]}/{wf['metadata']['name']} created")
            continue
        name = (doc.data.get("metadata") or {}).get("name") or ""
        try:
            target.service.template(kind, target.namespace, name)
            exists = True
        except NotFound:
            exists = False
        body = target.service.create_template(doc.data, target.namespace,
                                              mode="update" if exists else "create")
        click.echo(f"{GROUPS[kind]}/{body['metadata']['name']} "
                   f"{'configured' if exists else 'created'}")
    return EXIT_OK


def _namespace(target: Target) -> str | None:
    return target.namespace if target.namespace != "default" else None


def _age(body: dict[str, Any]) -> str:
    from argosy.cli.commands import _short_age
    from argosy.spec.durations import seconds_since

    stamp = body["metadata"].get("creationTimestamp")
    return _short_age(seconds_since(stamp)) if stamp else ""


Columns = Callable[[dict[str, Any]], dict[str, str]]


def template_group(kind: str, name: str, help_text: str, *, columns: Columns | None = None,
                   details: Columns | None = None) -> click.Group:
    """``argosy template``, ``cluster-template`` or ``cron``: the same verbs for each kind;
    ``columns`` and ``details`` add a kind's own to ``list`` and ``get``."""
    namespaced = KINDS[kind].namespaced

    @main.group(name, help=help_text)
    def group() -> None:
        pass

    @group.command("create")
    @click.argument("files", nargs=-1, required=True)
    @click.option("-o", "--output", type=click.Choice(["name", "json", "yaml"]))
    @verb
    def create(target: Target, files: tuple[str, ...], output: str | None) -> int:
        """Create templates from files (every document must be one)."""
        docs = documents(files)
        if not target.server:  # a server checks them there
            faults = _file_faults(docs, kind, objects(target), target.namespace)
            if faults:
                raise InvalidWorkflow(faults)
        create = target.service.create_template if kind in TEMPLATE_KINDS else \
            target.service.create_cron  # which starts the engine: its scheduler runs them
        for doc in docs:
            _show(create(doc.data, target.namespace, check=False), output, details)
        return EXIT_OK

    @group.command("list")
    @click.option("-o", "--output", type=click.Choice(["name", "json", "yaml", "wide"]))
    @click.option("-A", "--all-namespaces", is_flag=True, hidden=not namespaced,
                  help="All namespaces.")
    @verb
    def list_cmd(target: Target, output: str | None, all_namespaces: bool) -> int:
        """List templates."""
        found = target.service.templates(kind, None if all_namespaces else target.namespace)
        if output in ("json", "yaml"):
            click.echo(dump(found, output))
        elif output == "name":
            for body in found:
                click.echo(body["metadata"]["name"])
        else:
            wide = namespaced and all_namespaces
            more = columns or (lambda body: {})
            rows = [(["NAMESPACE"] if wide else []) + ["NAME", "AGE"]
                    + list(more(found[0]) if found else [])]
            rows += [([b["metadata"].get("namespace", "")] if wide else [])
                     + [b["metadata"]["name"], _age(b)] + list(more(b).values()) for b in found]
            click.echo(_tabulate(rows))
        return EXIT_OK

    @group.command("get")
    @click.argument("names", nargs=-1, required=True)
    @click.option("-o", "--output", type=click.Choice(["name", "json", "yaml"]))
    @verb
    def get(target: Target, names: tuple[str, ...], output: str | None) -> int:
        """Show templates."""
        for each in names:
            _show(target.service.template(kind, target.namespace, each), output, details)
        return EXIT_OK

    @group.command("delete")
    @click.argument("names", nargs=-1)
    @click.option("--all", "everything", is_flag=True, help="Delete every one.")
    @verb
    def delete(target: Target, names: tuple[str, ...], everything: bool) -> int:
        """Delete templates."""
        if everything:
            names = tuple(b["metadata"]["name"]
                          for b in target.service.templates(kind, target.namespace))
        elif not names:
            raise ArgosyError("give the names of the templates to delete, or --all")
        for each in names:
            target.service.delete_template(kind, target.namespace, each)
            click.echo(f'{kind} "{each}" deleted')
        return EXIT_OK

    @group.command("lint")
    @click.argument("files", nargs=-1, required=True)
    @click.option("-o", "--output", type=click.Choice(["pretty", "simple"]), default="pretty")
    @verb
    def lint(target: Target, files: tuple[str, ...], output: str) -> int:
        """Check template files; references resolve against the store and these files."""
        faults = _file_faults(documents(files), kind, objects(target), target.namespace)
        for fault in faults:
            click.echo(str(fault) if output == "simple" else f"{fault.file}: "
                       f"{_pretty_fault(fault)}")
        click.echo(f"{len(faults)} linting errors found!" if faults
                   else "no linting errors found!")
        return EXIT_INVALID if faults else EXIT_OK

    return group


def _file_faults(docs: list[Document], kind: str, store: ObjectService,
                 namespace: str) -> list[Fault]:
    """Every document must be a ``kind``; references resolve against the store and ``docs``."""
    lookup = lookup_in([d.data for d in docs], store.store, namespace)
    faults = []
    for doc in docs:
        found = doc.data.get("kind") if isinstance(doc.data, dict) else None
        wrong = [Fault("kind", f'expected a {kind}, not "{found}"')] if found != kind else []
        faults += doc.place(wrong or object_faults(doc.data, lookup))
    return faults


def _show(body: dict[str, Any], output: str | None, details: Columns | None = None) -> None:
    if output in ("json", "yaml"):
        click.echo(dump(body, output))
    elif output == "name":
        click.echo(body["metadata"]["name"])
    else:
        meta = body["metadata"]
        lines = [("Name:", meta["name"])]
        if meta.get("namespace"):
            lines.append(("Namespace:", meta["namespace"]))
        lines.append(("Created:", meta.get("creationTimestamp", "")))
        lines += [(f"{k}:", v) for k, v in (details(body) if details else {}).items()]
        width = max(15, *(len(k) + 2 for k, _ in lines))
        click.echo("\n".join(f"{k:<{width}}{v}" for k, v in lines))


template_group("WorkflowTemplate", "template", "WorkflowTemplates (argo template).")
template_group("ClusterWorkflowTemplate", "cluster-template",
               "ClusterWorkflowTemplates (argo cluster-template).")
