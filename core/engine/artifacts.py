"""Input and output artifacts of a node, through the workflow's artifact repository.

Inputs are resolved when the node is created (its status ``inputs.artifacts`` records where
each comes from), fetched into the node's directory just before its process starts and
mounted at their paths, as Argo mounts them from its ``input-artifacts`` volume. Outputs are
read from the node's view once its process has ended, archived, and saved under Argo's default
key ``{{workflow.name}}/{{pod.name}}/FILE``; a composite template's outputs (``from``,
``fromExpression``) point at what its children saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
from pathlib import Path
from typing import Any

from argosy.artifact_repositories import Repositories
from argosy.artifact_sources import UPLOADED, save_http
from argosy.artifacts import (
    DEFAULT_KEY_FORMAT,
    ArtifactError,
    collect_garbage,
    file_name,
    key_only,
    load_artifact,
    location_of,
    mentions_gc,
    pack,
    private_dir,
    set_mode,
)
from argosy.engine.context import NodeError
from argosy.errors import ArgosyError, ExpressionError
from argosy.expr.substitute import Leaf, Scope, evaluate, substitute
from argosy.plugin import ArtifactRepository, Outcome
from argosy.spec.models import Arguments, NodeStatus, Template

#: The output artifact Argo archives a pod's log as.
LOG_ARTIFACT = "main-logs"
#: What a resolved input artifact keeps beside its location.
_KEPT = ("path", "mode", "subPath", "archive", "optional")
_STAGED = "artifacts"


def artifact_leaf(record: dict[str, Any]) -> Leaf:
    """An artifact as ``{{…artifacts.NAME}}`` shows it: its JSON, with ``.path`` and the rest
    reachable (``from`` parses the JSON back)."""
    return Leaf(json.dumps(record, separators=(",", ":")), record)


class ArtifactIO:
    """The artifact side of a :class:`~argosy.engine.workflow.WorkflowRun`."""

    @functools.cached_property
    def repositories(self) -> Repositories:
        return Repositories(self.engine.registry, self.store, self.namespace,
                            self.manifest["spec"])

    # ---- inputs -------------------------------------------------------------------------

    def resolve_input_artifacts(self, tmpl: Template, arguments: Arguments,
                                params: dict[str, Any]) -> list[dict[str, Any]]:
        """Each input artifact with the location it comes from: the argument of its name
        (``from``, ``fromExpression`` already substituted by the caller, or a location), else
        the template's own location; an optional one without either is left out."""
        if not tmpl.inputs.artifacts:
            return []
        given = {a.get("name"): a for a in arguments.artifacts}
        scope = self.globals.child({"inputs": {"parameters": params}})
        resolved = []
        for art in tmpl.inputs.artifacts:
            art = substitute(art, scope, functions=self.functions)
            name = art.get("name")
            arg = given.get(name)
            source = self._argument_source(name, arg) if arg is not None else None
            if source is None:
                source = location_of(art)
            if not source:
                if art.get("optional"):
                    continue
                raise NodeError(f"inputs.artifacts.{name} was not supplied")
            if arg is not None and arg.get("subPath"):
                source["subPath"] = arg["subPath"]
            kept = {k: art[k] for k in _KEPT if art.get(k) is not None}
            resolved.append({"name": name, **kept, **source})
        return resolved

    def _argument_source(self, name: str, arg: dict[str, Any],
                         where: str = "inputs") -> dict[str, Any] | None:
        ref = arg.get("from")
        if ref is None and arg.get("fromExpression") is not None:
            ref = arg["fromExpression"]
        if ref is None:
            return location_of(arg) or None
        text = str(ref)
        record = None
        if "{{" not in text:
            try:
                record = json.loads(text)
            except ValueError:
                record = None
        if not isinstance(record, dict) or not location_of(record):
            if arg.get("optional"):
                return None
            raise NodeError(f'{where}.artifacts.{name}: Unable to resolve: "{text}"')
        return location_of(record) | (
            {"subPath": record["subPath"]} if record.get("subPath") else {})

    async def stage_input_artifacts(self, node: NodeStatus) -> tuple[tuple[str, str, bool], ...]:
        """Fetch the node's input artifacts into its directory (once: a restarted engine finds
        them there) and return them as mounts (host path, path, read-only)."""
        arts = [a for a in (node.inputs or {}).get("artifacts") or [] if a.get("path")]
        if not arts:
            return ()
        root = self.node_dir(node.id) / _STAGED
        return tuple(await asyncio.gather(*(
            asyncio.to_thread(self._stage, root, index, art) for index, art in enumerate(arts))))

    def _stage(self, root: Path, index: int, art: dict[str, Any]) -> tuple[str, str, bool]:
        target = root / str(index)
        if not target.exists() and not target.is_symlink():
            with private_dir(root, f".{index}-") as tmp:
                content = tmp / "content"
                load_artifact(self.repositories, art, content, tmp)
                if art.get("mode") is not None:
                    set_mode(content, int(art["mode"]))
                os.replace(content, target)
        return (str(target), _through_links(str(art["path"])), False)

    # ---- outputs ------------------------------------------------------------------------

    async def save_output_artifacts(self, node: NodeStatus, tmpl: Template, outcome: Outcome,
                                    scope: Scope) -> list[dict[str, Any]]:
        """Save the node's output artifacts; its status records the returned list. A missing
        non-optional one of a node that succeeded ends it in Error, as in Argo."""
        records = []
        for art in tmpl.outputs.artifacts:
            art = substitute(art, scope, functions=self.functions)
            if art.get("from") is not None or art.get("fromExpression") is not None:
                if outcome.phase != "Succeeded":
                    continue  # as a failed template's output parameters, not evaluated
                record = self._output_reference(art, outcome)
            elif art.get("path") and (outcome.locate is not None or outcome.uploaded is not None):
                record = await asyncio.to_thread(self._save, art, outcome, scope)
            else:
                continue
            if record is None:
                continue
            records.append(record)
            if art.get("globalName"):
                self.export_global_artifact(str(art["globalName"]), record)
        return records

    def _output_reference(self, art: dict[str, Any], outcome: Outcome) -> dict[str, Any] | None:
        local = outcome.scope if outcome.scope is not None else self.globals
        try:
            if art.get("fromExpression") is not None:
                value = evaluate(str(art["fromExpression"]), local, self.functions)
                text = str(value) if value is not None else ""
            else:
                text = substitute(str(art["from"]), local, functions=self.functions)
        except ExpressionError as exc:
            if art.get("optional"):
                return None
            raise NodeError(f'outputs.artifacts.{art.get("name")}: {exc}') from None
        source = self._argument_source(str(art.get("name")), {
            "from": text, "optional": art.get("optional")}, "outputs")
        if source is None:
            return None
        return {"name": art["name"], **{k: art[k] for k in ("path", "globalName")
                                        if art.get(k)}, **source}

    def _save(self, art: dict[str, Any], outcome: Outcome,
              scope: Scope) -> dict[str, Any] | None:
        name, path = str(art["name"]), str(art["path"])
        if outcome.uploaded is not None:  # saved by the executor where the plan said
            where = outcome.uploaded.get(path)
            source = None
        else:
            assert outcome.locate is not None
            source = outcome.locate(path)
            where = None
        if where is None and (source is None or not (source.exists() or source.is_symlink())):
            if art.get("optional") or outcome.phase != "Succeeded":
                return None
            raise NodeError(f"failed to save outputs: open {path}: no such file or directory")
        if source is not None:
            own = location_of(art)
            with private_dir(self.store.home / "artifacts-work", f"{name}-") as work:
                try:
                    if own.keys() & UPLOADED:  # a URL of its own, not a repository's key
                        save_http(own, pack(source, art, work), self.repositories.secret, work)
                        key = None
                    else:
                        repository, key = self.repositories.resolve(art)
                        key = key or self._default_key(art, repository, scope)
                        repository.save(pack(source, art, work), key)
                except (OSError, ArgosyError) as exc:
                    raise NodeError(f'failed to save outputs: artifact "{name}": {exc}') from None
            where = own if key is None else self._location(art, repository, key)
        record = {"name": name, "path": path, **where}
        for k in ("archive", "globalName", "artifactGC"):
            if art.get(k):
                record[k] = art[k]
        return record

    @staticmethod
    def _location(art: dict[str, Any], repository: ArtifactRepository,
                  key: str) -> dict[str, Any]:
        """Where an output artifact saved at ``key`` is, as its record gives it."""
        own = location_of(art)
        if own and key_only(own) is None:  # explicit: recorded as given, credentials too
            [(kind, body)] = own.items()
            return {kind: {**body, "key": key}}
        return repository.location(key)

    def artifact_plan(self, node: NodeStatus, tmpl: Template,
                      scope: Scope) -> dict[str, Any] | None:
        """ProcessRequest.artifact_plan for an executor that moves artifacts itself: None
        unless every repository involved can be reached from its pods."""
        reachable = {name for name, factory in self.engine.registry.artifact_repositories.items()
                     if getattr(factory, "reachable", False)}
        inputs = []
        for art in [a for a in (node.inputs or {}).get("artifacts") or [] if a.get("path")]:
            if not any(art.get(k) is not None for k in ("raw", "http", "git", "artifactory")):
                kind, settings, key = self.repositories.where(art)
                if kind not in reachable or key is None:
                    return None
                art = {**art, "repository": {kind: {**settings, "key": key}}}
            inputs.append(art)
        outputs = []
        for art in tmpl.outputs.artifacts:
            art = substitute(art, scope, functions=self.functions)
            if not art.get("path") or art.get("from") is not None or \
                    art.get("fromExpression") is not None:
                continue
            if location_of(art).keys() & UPLOADED:
                return None  # a URL of its own: the engine uploads it
            kind, settings, key = self.repositories.where(art)
            if kind not in reachable:
                return None
            repository = self.repositories.open(kind, settings)
            key = key or self._default_key(art, repository, scope)
            outputs.append({**{k: art[k] for k in ("name", "path", "archive") if art.get(k)},
                            "repository": {kind: {**settings, "key": key}},
                            "location": self._location(art, repository, key)})
        return {"inputs": inputs, "outputs": outputs} if inputs or outputs else None

    def _default_key(self, art: dict[str, Any], repository: ArtifactRepository,
                     scope: Scope) -> str:
        """Argo's key of an output artifact whose location gives none: the repository's key
        folder, then its file name (an unarchived one's is its path's base name, whatever the
        executor named its copy)."""
        name = file_name(art, Path(str(art["path"]).rstrip("/") or "/"))
        return f"{self._key_folder(repository, scope)}/{name}"

    def _key_folder(self, repository: ArtifactRepository, scope: Scope) -> str:
        """Where a node's artifacts go in ``repository``: its ``keyFormat``, substituted."""
        folder = getattr(repository, "key_format", None) or DEFAULT_KEY_FORMAT
        return str(substitute(folder, scope, functions=self.functions)).strip("/")

    def archives_logs(self, template: dict[str, Any]) -> bool:
        """Whether a pod's log is archived, in Argo's order: the repository's ``archiveLogs``
        when true, else the template's ``archiveLocation.archiveLogs`` when set, else the
        workflow's ``spec.archiveLogs``. (A repository that cannot be resolved archives
        nothing here: the nodes that save artifacts to it say why.)"""
        with contextlib.suppress(ArtifactError):
            if self.repositories.archive_logs:
                return True
        own = (template.get("archiveLocation") or {}).get("archiveLogs")
        if own is not None:
            return own is True
        return self.manifest["spec"].get("archiveLogs") is True

    async def archive_log(self, outcome: Outcome, scope: Scope) -> dict[str, Any]:
        """The node's log saved as Argo's output artifact ``main-logs`` (``main.log`` beside
        its other artifacts, not archived), streamed from its parts."""
        try:
            return await asyncio.to_thread(self._archive_log, outcome, scope)
        except (OSError, ArgosyError) as exc:
            raise NodeError(f'failed to save outputs: artifact "{LOG_ARTIFACT}": {exc}') from None

    def _archive_log(self, outcome: Outcome, scope: Scope) -> dict[str, Any]:
        repository = self.repositories.default
        key = f"{self._key_folder(repository, scope)}/main.log"
        with private_dir(self.store.home / "artifacts-work", "log-") as work:
            log = work / "main.log"
            with open(log, "wb") as out:
                if outcome.log is not None:
                    out.write(outcome.log.encode())
                for part in outcome.log_files:
                    with contextlib.suppress(FileNotFoundError), open(part, "rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
            repository.save(log, key)
        return {"name": LOG_ARTIFACT, **repository.location(key)}

    def _collect_artifacts(self) -> None:
        """``artifactGC: OnWorkflowCompletion``: the workflow's output artifacts go now."""
        spec = self.manifest["spec"]
        if not mentions_gc(spec):
            return
        for node in self.nodes.values():
            if collect_garbage(self.repositories, [node.outputs], spec,
                               "OnWorkflowCompletion"):
                self.persist(node)

    def export_global_artifact(self, name: str, record: dict[str, Any]) -> None:
        outputs = self.globals.data["workflow"]["outputs"]
        outputs.setdefault("artifacts", {})[name] = artifact_leaf(record)
        self.globals.data.setdefault("_artifacts", {})[name] = {**record, "name": name}


def _through_links(path: str) -> str:
    """``path`` with its directories' symbolic links followed, as the node's view has them
    (it shows the host's files): a mount point made at ``/bin/x`` where ``/bin`` links to
    ``usr/bin`` must not become a directory ``/bin`` hiding the link."""
    parent, name = os.path.split(path.rstrip("/") or "/")
    if parent.startswith("/tmp") or not name:
        return path  # the node's private /tmp is its own
    return os.path.join(os.path.realpath(parent), name)


def _call_expressions(obj: Any) -> Any:
    """A step's or task's argument artifacts with ``fromExpression`` as an expression tag in
    ``from``, so that it is evaluated in the caller's scope like ``from`` (the engine reads the
    artifact back from either)."""
    if not isinstance(obj, dict):
        return obj
    arts = (obj.get("arguments") or {}).get("artifacts") if isinstance(
        obj.get("arguments"), dict) else None
    if not isinstance(arts, list) or not any(
            isinstance(a, dict) and a.get("fromExpression") for a in arts):
        return obj
    arts = [{**{k: v for k, v in a.items() if k != "fromExpression"},
             "from": "{{=" + str(a["fromExpression"]) + "}}"}
            if isinstance(a, dict) and a.get("fromExpression") else a for a in arts]
    return {**obj, "arguments": {**obj["arguments"], "artifacts": arts}}


def with_from_tags(template: dict[str, Any]) -> dict[str, Any]:
    """``template`` with each step's and task's ``fromExpression`` argument as a ``from`` tag
    (a copy only when it has one)."""
    steps, dag = template.get("steps"), template.get("dag")
    if isinstance(steps, list):
        new = [[_call_expressions(s) for s in group] if isinstance(group, list) else group
               for group in steps]
        return {**template, "steps": new} if new != steps else template
    if isinstance(dag, dict) and isinstance(dag.get("tasks"), list):
        tasks = [_call_expressions(t) for t in dag["tasks"]]
        return {**template, "dag": {**dag, "tasks": tasks}} if tasks != dag["tasks"] else template
    return template


def artifacts_view(records: list[dict[str, Any]]) -> dict[str, Leaf]:
    return {r["name"]: artifact_leaf(r) for r in records}
