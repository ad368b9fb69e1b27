"""The service layer every interface uses (CLI, REST, Jupyter): validate, submit, read."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import posixpath
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from argosy.errors import ArgosyError, Fault, InvalidWorkflow, NotFound
from argosy.store import EngineLock, Store, WorkflowRecord, remove_tree

if TYPE_CHECKING:  # the registry imports the plugin API (pydantic): only verbs that lint need it
    from argosy.registry import Registry
    from argosy.spec.loader import Document


def lint_document(doc: Document, registry: Registry | None = None) -> list[Fault]:
    from argosy.registry import default_registry
    from argosy.spec.lint import lint

    registry = registry or default_registry()
    executor, faults = _executor_of(doc, registry)
    return faults + lint(doc.data, file=doc.file, locate=doc.locate,
                         template_types=registry.validators(),
                         honoured=frozenset(getattr(executor, "honours", ())),
                         unsupported=getattr(executor, "rejects", None),
                         functions=registry.expression_functions)


def _executor_of(doc: Document, registry: Registry) -> tuple[Any, list[Fault]]:
    """The executor that will run the workflow, or the fault of naming one not installed."""
    from argosy.engine.selection import EXECUTOR_ANNOTATION, configured_executor, executor_of

    if not isinstance(doc.data, dict):
        return None, []
    name = executor_of(doc.data, configured_executor())
    executor = registry.executors.get(name)
    if executor is None:
        path = f"metadata.annotations.{EXECUTOR_ANNOTATION}"
        where = doc.locate(path) if doc.locate else None
        return None, [Fault(path, f"no executor named {name!r}; installed: "
                                  f"{', '.join(registry.executors)}", doc.file, *(where or ()))]
    return executor, []


def load_workflow(source: str | Path | dict[str, Any], registry: Registry | None = None,
                  store: Store | None = None, **overrides: Any) -> dict[str, Any]:
    """One Workflow manifest from a path, YAML/JSON text or a dict, with ``overrides`` applied
    (see :func:`apply_overrides`), its references to WorkflowTemplates resolved against
    ``store`` (see :mod:`argosy.spec.refs`), then linted: every fault is reported at once."""
    doc = load_document(source, **overrides)
    faults = []
    if store is not None and isinstance(doc.data, dict):  # else the store that runs it does
        faults = resolve_document(doc, store)
    faults += [_blame_override(f, overrides) for f in lint_document(doc, registry)]
    if faults:
        raise InvalidWorkflow(faults)
    return doc.data


def locate_faults(doc: Document, message: str, **overrides: Any) -> InvalidWorkflow:
    """Faults another process found in ``doc`` (a server's ``path: fault`` lines), placed in
    its file as this process's lint would place them."""
    faults = []
    for line in message.splitlines():
        path, sep, text = line.partition(": ")
        if not sep or " " in path:
            faults.append(Fault("", line, doc.file))
            continue
        where = doc.locate(path) if doc.locate else None
        fault = Fault(path, text, doc.file, *(where or (None, None)))
        faults.append(_blame_override(fault, overrides))
    return InvalidWorkflow(faults)


def load_document(source: str | Path | dict[str, Any], **overrides: Any) -> Document:
    """The one Workflow document in ``source``, with ``overrides`` applied, not linted."""
    # Loaded here: the verbs that only read the store (get, list) need no YAML reading of Argo's.
    from argosy.spec.loader import Document, check_value, load_documents, load_file

    if isinstance(source, dict):
        check_value(source)  # before anything walks it: deepcopy, lint, the store's JSON
        docs = [Document(data=copy.deepcopy(source), file=None)]
    elif isinstance(source, Path) or (source and "\n" not in source and Path(source).exists()):
        docs = load_file(str(source))
    else:
        docs = load_documents(source)
        if not docs:
            raise InvalidWorkflow([Fault("", "no manifest: the text is empty or only comments")])
    workflows = [d for d in docs if isinstance(d.data, dict) and d.data.get("kind") == "Workflow"]
    if len(docs) == 1:
        workflows = docs
    if len(workflows) != 1:
        file = docs[0].file if docs else None
        raise InvalidWorkflow([Fault("", f"expected exactly one Workflow, found {len(workflows)}",
                                     file)])
    doc = workflows[0]
    if isinstance(doc.data, dict):
        apply_overrides(doc.data, **overrides)
    return doc


def resolve_document(doc: Document, store: Store) -> list[Fault]:
    """Resolve a Workflow's references in place (see :mod:`argosy.spec.refs`)."""
    from argosy.spec.refs import resolve_config_maps, resolve_references

    meta = doc.data.get("metadata") if isinstance(doc.data.get("metadata"), dict) else {}
    namespace = meta.get("namespace") if isinstance(meta.get("namespace"), str) else None
    faults = resolve_references(doc.data, namespace or "default", store.get_object)
    faults += resolve_config_maps(doc.data, namespace or "default", store.get_object)
    return doc.place(faults)


# The manifest field each submit option overrides, and the option's name on the command line.
OVERRIDE_FLAGS = {"spec.entrypoint": ("entrypoint", "--entrypoint"),
                  "metadata.name": ("name", "--name"),
                  "metadata.generateName": ("generate_name", "--generate-name")}


def _blame_override(fault: Fault, overrides: dict[str, Any]) -> Fault:
    """A fault in a field an option set names the option, not a line of the file."""
    option, flag = OVERRIDE_FLAGS.get(fault.path, (None, None))
    if option and overrides.get(option):
        return Fault(flag or "", fault.message)
    return fault


def name_values(pairs: Iterable[str]) -> dict[str, str]:
    """``NAME=VALUE`` strings (``-p``, labels) as a dict, the last of a name winning.

    Raises ValueError with the first malformed string: each caller words the fault its way.
    """
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(pair)
        out[key] = value
    return out


def apply_overrides(manifest: dict[str, Any], parameters: dict[str, str] | None = None,
                    entrypoint: str | None = None, name: str | None = None,
                    generate_name: str | None = None, labels: dict[str, str] | None = None,
                    namespace: str | None = None) -> dict[str, Any]:
    """Argo's submit options applied to a manifest: ``-p``, ``--entrypoint``, names, labels."""
    spec = manifest.setdefault("spec", {})
    if entrypoint:
        spec["entrypoint"] = entrypoint
    if parameters:
        # Argo's overrideParameters: the given ones first, as plain name/value, then the rest.
        args = spec.setdefault("arguments", {})
        rest = [p for p in args.get("parameters") or [] if p.get("name") not in parameters]
        args["parameters"] = [{"name": k, "value": v} for k, v in parameters.items()] + rest
    meta = manifest.setdefault("metadata", {})
    if name:
        meta["name"] = name
        meta.pop("generateName", None)
    elif generate_name:
        meta["generateName"] = generate_name
        meta.pop("name", None)
    if labels:
        meta.setdefault("labels", {}).update(labels)
    if namespace:
        meta["namespace"] = namespace
    return manifest


def submit(store: Store, source: str | Path | dict[str, Any], *,
           registry: Registry | None = None, **overrides: Any) -> WorkflowRecord:
    """Validate and record a workflow; an engine picks it up from the store."""
    manifest = load_workflow(source, registry, store, **overrides)
    manifest.pop("status", None)
    _choose_executor(manifest)
    return store.create_workflow(manifest)


def from_template(ref: str) -> dict[str, Any]:
    """The Workflow ``argo submit --from KIND/NAME`` makes: a workflowTemplateRef to it, named
    and labelled after it."""
    from argosy.objects import kind_of

    kind_name, _, name = ref.partition("/")
    found = kind_of(kind_name) if name else None
    kind = found.name if found else ""
    if kind not in ("WorkflowTemplate", "ClusterWorkflowTemplate"):
        raise ArgosyError(f"--from {ref}: expected workflowtemplate/NAME or "
                          "clusterworkflowtemplate/NAME")
    cluster = kind == "ClusterWorkflowTemplate"
    label = "cluster-workflow-template" if cluster else "workflow-template"
    ref_spec: dict[str, Any] = {"name": name}
    if cluster:
        ref_spec["clusterScope"] = True
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"generateName": f"{name}-",
                         "labels": {f"workflows.argoproj.io/{label}": name}},
            "spec": {"workflowTemplateRef": ref_spec}}


def _choose_executor(manifest: dict[str, Any]) -> None:
    """A workflow keeps the executor it was linted for, whichever engine later adopts it: a
    default other than ``local`` is written into its annotation."""
    from argosy.engine.selection import EXECUTOR_ANNOTATION, configured_executor

    default = configured_executor()
    meta = manifest.setdefault("metadata", {})
    if default != "local" and EXECUTOR_ANNOTATION not in (meta.get("annotations") or {}):
        meta["annotations"] = {**(meta.get("annotations") or {}), EXECUTOR_ANNOTATION: default}


def expect_kind(body: Any, kinds: tuple[str, ...]) -> None:
    """Refuse a manifest that is not one of ``kinds`` (a template verb given a Workflow)."""
    kind = body.get("kind") if isinstance(body, dict) else None
    if kind not in kinds:
        expected = " or a ".join(kinds)
        raise InvalidWorkflow([Fault("kind", f'expected a {expected}, not "{kind}"')])


ACTIVE = ("Pending", "Running")
# How long an action (suspend, stop…) waits for the engine to apply it: a few of its polls.
ACTION_WAIT_SECONDS = 2.0
FINISHED = ("Succeeded", "Failed", "Error")


class WorkflowService:
    """Argo's workflow operations over the local store; the CLI, REST and Jupyter share it.

    Operations on a running workflow are recorded as actions that the engine executing it
    applies; nothing here needs the engine to be in this process.
    """

    def __init__(self, store: Store | None = None, registry: Registry | None = None) -> None:
        from argosy.store import open_store

        self.store = store or open_store()
        self.registry = registry

    # ---- create and read ----------------------------------------------------------------------

    def submit(self, source: str | Path | dict[str, Any], *, start_engine: bool = True,
               **overrides: Any) -> dict[str, Any]:
        record = submit(self.store, source, registry=self.registry, **overrides)
        if start_engine:
            ensure_engine(self.store)
        return self.store.workflow(record)

    def record(self, namespace: str, name: str) -> WorkflowRecord:
        return self.store.find(namespace or "default", name)

    def get(self, namespace: str, name: str, *, nodes: bool = True) -> dict[str, Any]:
        return self.store.workflow(self.record(namespace, name), nodes=nodes)

    def list(self, namespace: str | None = None, *, label_selector: str | None = None,
             phases: list[str] | None = None, prefix: str | None = None,
             since: float | None = None, nodes: bool = False) -> list[dict[str, Any]]:
        """Workflows newest first; ``since`` in seconds (created within)."""
        from datetime import UTC, datetime

        from argosy.spec.selectors import label_matcher
        from argosy.store import Listed

        match = label_matcher(label_selector)
        now = datetime.now(UTC)

        def keep(row: Listed) -> bool:
            # Decided before the manifest is parsed: only listed workflows are.
            if since is not None:
                created = datetime.strptime(row.created_at, "%Y-%m-%dT%H:%M:%SZ")
                if (now - created.replace(tzinfo=UTC)).total_seconds() > since:
                    return False
            return match(row.labels)

        where = keep if label_selector or since is not None else None
        return [self.store.workflow(rec, nodes=nodes)
                for rec in self.store.list(namespace, prefix=prefix, phases=phases, where=where)]

    def delete(self, namespace: str, name: str) -> None:
        # An engine executing it notices the workflow is gone and terminates its processes.
        uid = self.record(namespace, name).uid
        from argosy.artifacts import delete_workflow_artifacts

        def repositories(namespace: str, spec: dict[str, Any]) -> Any:
            # the plugins load only for a workflow with artifactGC
            from argosy.artifact_repositories import Repositories
            from argosy.registry import default_registry

            return Repositories(default_registry(), self.store, namespace, spec)

        delete_workflow_artifacts(self.store, repositories, uid)
        self.store.delete(uid)

    # ---- WorkflowTemplates and ClusterWorkflowTemplates ---------------------------------------
    # ``kind`` is "WorkflowTemplate" or "ClusterWorkflowTemplate" (whose namespace is ignored).

    def create_template(self, body: dict[str, Any], namespace: str | None = None, *,
                        mode: str = "create", check: bool = True) -> dict[str, Any]:
        from argosy.objects import TEMPLATE_KINDS, ObjectService

        expect_kind(body, TEMPLATE_KINDS)
        return ObjectService(self.store).put(body, namespace, mode=mode, check=check)[0]

    def templates(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        from argosy.objects import ObjectService

        return ObjectService(self.store).list(kind, namespace)

    def template(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        from argosy.objects import ObjectService

        return ObjectService(self.store).get(kind, namespace, name)

    def delete_template(self, kind: str, namespace: str | None, name: str) -> None:
        from argosy.objects import ObjectService

        ObjectService(self.store).delete(kind, namespace, name)

    # ---- CronWorkflows (the engine's scheduler runs them) ---------------------------------------

    def create_cron(self, body: dict[str, Any], namespace: str | None = None, *,
                    check: bool = True, start_engine: bool = True) -> dict[str, Any]:
        from argosy.objects import ObjectService

        expect_kind(body, ("CronWorkflow",))
        stored = ObjectService(self.store).put(body, namespace, mode="create", check=check)[0]
        if start_engine:
            ensure_engine(self.store)
        return stored

    def suspend_cron(self, namespace: str | None, name: str, suspend: bool, *,
                     start_engine: bool = True) -> dict[str, Any]:
        """``argo cron suspend`` (True) or ``resume`` (False)."""
        from argosy.cron import set_suspend

        cron = set_suspend(self.store, namespace, name, suspend)
        if start_engine and not suspend:
            ensure_engine(self.store)
        return cron

    # ---- steer a running workflow -------------------------------------------------------------

    def _act(self, namespace: str, name: str, kind: str, payload: dict[str, Any] | None = None,
             *, verb: str) -> dict[str, Any]:
        rec = self.record(namespace, name)
        if rec.phase not in ACTIVE:
            raise ArgosyError(f"cannot {verb} workflow {name}: it is {rec.phase}")
        action = self.store.add_action(rec.uid, kind, payload)
        return self.store.workflow(self._applied(rec.uid, action))

    def _applied(self, uid: str, action: int, timeout: float = ACTION_WAIT_SECONDS
                 ) -> WorkflowRecord:
        """The workflow once the engine executing it has applied ``action``, as Argo answers
        an action with the workflow after it; at once when no engine holds the workflow (the
        next one applies it), or after ``timeout``."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            rec = self.store.get(uid)
            if (rec.applied_action >= action or rec.phase not in ACTIVE
                    or time.monotonic() > deadline or uid in self.store.claimable()):
                return rec
            time.sleep(0.02)

    def suspend(self, namespace: str, name: str) -> dict[str, Any]:
        return self._act(namespace, name, "suspend", verb="suspend")

    def resume(self, namespace: str, name: str,
               node_field_selector: str | None = None) -> dict[str, Any]:
        return self._act(namespace, name, "resume",
                         {"nodeFieldSelector": node_field_selector}, verb="resume")

    def stop(self, namespace: str, name: str, message: str | None = None) -> dict[str, Any]:
        return self._act(namespace, name, "stop", {"message": message}, verb="stop")

    def terminate(self, namespace: str, name: str) -> dict[str, Any]:
        return self._act(namespace, name, "terminate", verb="terminate")

    def set_node(self, namespace: str, name: str, node_field_selector: str, *,
                 phase: str | None = None, message: str | None = None,
                 output_parameters: dict[str, str] | None = None) -> dict[str, Any]:
        if phase not in (None, "Succeeded", "Failed", "Error"):
            raise ArgosyError(f"phase must be Succeeded, Failed or Error, not {phase!r}")
        return self._act(namespace, name, "set", {
            "nodeFieldSelector": node_field_selector, "phase": phase, "message": message,
            "outputParameters": output_parameters or {}}, verb="set nodes of")

    # ---- run again ----------------------------------------------------------------------------

    def retry(self, namespace: str, name: str, *, restart_successful: bool = False,
              node_field_selector: str | None = None,
              parameters: dict[str, str] | None = None,
              start_engine: bool = True) -> dict[str, Any]:
        """Argo's retry: failed nodes (and, on request, selected succeeded ones) run again in
        the same workflow; composite nodes above them return to Running."""
        from argosy.spec.selectors import node_matcher

        rec = self.record(namespace, name)
        selected = bool(restart_successful and node_field_selector)
        if rec.phase == "Succeeded" and not selected:
            raise ArgosyError("To retry a succeeded workflow, set the options restartSuccessful "
                              "and nodeFieldSelector")
        if rec.phase not in ("Failed", "Error", "Succeeded"):
            raise ArgosyError(f"Cannot retry a workflow in phase {rec.phase}")
        nodes = self.store.nodes(rec.uid)
        # As Argo, succeeded nodes restart only when both options are given.
        restart = node_matcher(node_field_selector) if selected else None
        forget, reset = _retry_plan(nodes, restart)
        self.store.delete_nodes(rec.uid, forget)
        for nid in forget:
            # The executor re-adopts whatever a node directory holds (its rc, its outputs):
            # a node run again needs an empty one.
            remove_tree(self.store.run_dir(rec.uid) / nid)
        for nid in reset:
            body = dict(nodes[nid])
            body.pop("children", None)
            for key in ("finishedAt", "message", "outputs", "outboundNodes"):
                body.pop(key, None)
            body["phase"] = "Running"
            self.store.put_node(rec.uid, nid, json.dumps(body))
        manifest = rec.manifest
        manifest["spec"].pop("shutdown", None)
        if parameters:
            apply_overrides(manifest, parameters=parameters)
        self.store.update_manifest(rec.uid, manifest)
        self.store.update_status(rec.uid, phase="Running", finished_at=None, message=None)
        if start_engine:
            ensure_engine(self.store)
        return self.store.workflow(self.store.get(rec.uid))

    def resubmit(self, namespace: str, name: str, *, parameters: dict[str, str] | None = None,
                 memoized: bool = False, start_engine: bool = True) -> dict[str, Any]:
        """A new workflow from this one's manifest.

        ``memoized``: the new workflow starts with this one's succeeded steps already done
        (their outputs and logs carried over), so only the rest runs again, as Argo's
        ``resubmit --memoized``.
        """
        rec = self.record(namespace, name)
        if memoized and rec.phase not in FINISHED:
            raise ArgosyError(f"workflow {name} must be finished to resubmit it memoized, "
                              f"it is {rec.phase}")
        manifest = copy.deepcopy(rec.manifest)
        meta = manifest.setdefault("metadata", {})
        for key in ("uid", "creationTimestamp", "resourceVersion"):
            meta.pop(key, None)
        meta.pop("name", None)
        meta["generateName"] = f"{rec.name}-"
        meta.setdefault("labels", {})["workflows.argoproj.io/resubmitted-from-workflow"] = (
            rec.name)
        manifest["spec"].pop("shutdown", None)
        manifest["spec"].pop("suspend", None)
        if not memoized:
            return self.submit(manifest, parameters=parameters, start_engine=start_engine)
        new = self.submit(manifest, parameters=parameters, start_engine=False)
        self._carry_over(rec, self.store.find(namespace or "default", new["metadata"]["name"]))
        if start_engine:
            ensure_engine(self.store)
        return self.store.workflow(self.store.find(namespace or "default",
                                                   new["metadata"]["name"]))

    def _carry_over(self, old: WorkflowRecord, new: WorkflowRecord) -> None:
        """Seed ``new`` with ``old``'s succeeded leaf nodes under their new names and ids; the
        engine's replay then takes them as done."""
        from argosy.engine.nodes import free_id

        nodes = self.store.nodes(old.uid)
        logged = self.store.logged(old.uid)

        def renamed(node_name: str) -> str:
            return new.name + node_name[len(old.name):]

        ids: dict[str, str] = {}
        held: dict[str, str] = {}  # new id -> its node's name: colliding names get free ids
        for nid, n in nodes.items():
            ids[nid] = free_id(new.name, renamed(n["name"]), held.get)
            held[ids[nid]] = renamed(n["name"])
        for nid, node in nodes.items():
            if node.get("phase") != "Succeeded" or node.get("type") not in ("Pod", "Container"):
                continue
            body = {k: v for k, v in node.items() if k != "children"}
            body.update(id=ids[nid], name=renamed(node["name"]))
            if body.get("boundaryID") in ids:
                body["boundaryID"] = ids[body["boundaryID"]]
            self.store.put_node(new.uid, ids[nid], json.dumps(body))
            if nid in logged:
                self.store.copy_log(old.uid, nid, new.uid, ids[nid])
            for artifact in (node.get("outputs") or {}).get("artifacts", []):
                found = self.store.artifact(old.uid, nid, artifact["name"])
                if found is not None:
                    self.store.put_artifact(new.uid, ids[nid], artifact["name"], *found)

    def artifact(self, namespace: str, name: str, node_id: str, artifact: str) -> bytes:
        """An output artifact's content, as argo-server's ``GetOutputArtifact`` serves it."""
        return self.artifact_file(namespace, name, node_id, artifact)[1]

    def save_artifact(self, namespace: str, name: str, node_id: str, artifact: str,
                      dest: Path) -> None:
        """Write an output artifact to the file ``dest``, streamed: never whole in memory."""
        with self.artifact_download(namespace, name, node_id, artifact) as (_file, content):
            if isinstance(content, bytes):
                dest.write_bytes(content)
            else:
                shutil.copyfile(content, dest)

    def artifact_file(self, namespace: str, name: str, node_id: str,
                      artifact: str) -> tuple[str, bytes]:
        """(its file name, as the node wrote it; its content)."""
        with self.artifact_download(namespace, name, node_id, artifact) as (file, content):
            return file, content if isinstance(content, bytes) else content.read_bytes()

    @contextlib.contextmanager
    def artifact_download(self, namespace: str, name: str, node_id: str,
                          artifact: str) -> Iterator[tuple[str, bytes | Path]]:
        """(its file name; its content, or a file holding it while in the block, so that a
        large artifact is streamed, never read whole)."""
        rec = self.record(namespace, name)
        found = self.store.artifact(rec.uid, node_id, artifact)
        if found is not None:  # a plugin's (an executed notebook), kept in the store
            yield posixpath.basename(found[0]) or artifact, found[1]
            return
        node = self.store.nodes(rec.uid).get(node_id) or {}
        record = next((a for a in (node.get("outputs") or {}).get("artifacts") or []
                       if a.get("name") == artifact), None)
        if record is None:
            raise NotFound(f'artifact "{artifact}" of node "{node_id}" of workflow '
                           f'"{namespace}/{name}" not found')
        from argosy.artifact_repositories import Repositories
        from argosy.artifacts import ArtifactError, artifact_download
        from argosy.registry import default_registry

        spec = (rec.manifest or {}).get("spec") or {}
        repositories = Repositories(default_registry(), self.store, rec.namespace, spec)
        try:
            with artifact_download(repositories, record, self.store.home / "artifacts-work") as got:
                yield got
        except ArtifactError as exc:
            raise NotFound(str(exc)) from None

    # ---- logs ---------------------------------------------------------------------------------

    def logs(self, namespace: str, name: str, *, node: str | None = None,
             grep: str | None = None, tail: int | None = None,
             container: str = "main") -> list[tuple[str, str]]:
        """``(node display name, line)`` pairs of the workflow's pod logs, in start order:
        those of ``container`` (a sidecar's or init container's name) when it is not main."""
        rec = self.record(namespace, name)
        lines: list[tuple[str, str]] = []
        nodes = container_nodes(self.store, rec.uid, container)
        for pod in log_nodes(self.store, rec.uid):
            if node and node not in (pod["id"], pod["name"], pod["displayName"]):
                continue
            key, folder = pod_container_log(self.store, pod, container, nodes)
            text = self.store.log(rec.uid, key)
            if text is None:
                text = _running_log(self.store.run_dir(rec.uid) / folder)
            for line in text.splitlines():
                if grep is None or grep in line:
                    lines.append((pod["displayName"], line))
        return lines[-tail:] if tail else lines


def log_nodes(store: Store, uid: str) -> list[dict[str, Any]]:
    """The nodes the log verbs show, in start order: every pod, running or not, and any other
    node that left a log (a plugin's ``Outcome.log``). A container set's containers are not
    shown apart: their logs are their pod's."""
    logged = store.logged(uid)
    nodes = store.nodes(uid)
    return in_start_order((n for n in nodes.values() if n.get("type") == "Pod" or (
        n["id"] in logged and n.get("type") != "Container")), nodes)


def in_start_order(some: Iterable[dict[str, Any]],
                   nodes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """``some`` of the workflow's ``nodes`` by ``startedAt``, and those that started within
    the same second (its grain, as Argo's) by their place in the tree, children in the order
    they were made: a step made after another finished is listed after it, not by name."""
    place = _tree_order(nodes)
    return sorted(some, key=lambda n: (n.get("startedAt") or "", place.get(n["id"], len(place))))


def _tree_order(nodes: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Each node's place in a depth-first walk of the tree, roots by name."""
    children = {c for n in nodes.values() for c in n.get("children") or ()}
    # The workflow's root, then the exit handler's ("NAME.onExit" sorts after "NAME").
    todo = sorted((nid for nid in nodes if nid not in children),
                  key=lambda nid: nodes[nid].get("name", ""), reverse=True)
    place: dict[str, int] = {}
    while todo:
        nid = todo.pop()
        if nid in place or nid not in nodes:
            continue
        place[nid] = len(place)
        todo.extend(reversed(nodes[nid].get("children") or ()))
    return place


def container_nodes(store: Store, uid: str, container: str) -> dict[str, str]:
    """Container sets' container nodes, name to id, for :func:`pod_container_log`: none when
    the pod's main container is asked for (the usual case, which should not read every node)."""
    if container in ("", "main"):
        return {}
    return {n["name"]: nid for nid, n in store.nodes(uid).items() if n.get("type") == "Container"}


def pod_container_log(store: Store, pod: dict[str, Any], container: str,
                      containers: dict[str, str]) -> tuple[str, str]:
    """(the store's log key, the process dir) of ``container`` of ``pod``: a container set's
    container by name is its own node (``POD.NAME``), as Argo reads it from the pod by container
    name; a sidecar's or init container's log is the pod's, beside its main container's."""
    cid = containers.get(f"{pod['name']}.{container}")
    return (cid, cid) if cid else store.container_log(pod["id"], container)


def _running_log(node_dir: Path) -> str:
    parts = []
    for stream in ("stdout", "stderr"):
        try:
            parts.append((node_dir / stream).read_text(errors="replace"))
        except FileNotFoundError:
            continue
    return "".join(parts)


def _retry_plan(nodes: dict[str, dict[str, Any]],
                restart: Any) -> tuple[list[str], list[str]]:
    """Which nodes a retry forgets (to run again) and which composite nodes it reopens."""
    composite = ("Steps", "StepGroup", "DAG", "TaskGroup", "Retry")
    forget: list[str] = []
    reset: set[str] = set()
    again: list[str] = []
    for nid, node in nodes.items():
        phase, kind = node.get("phase"), node.get("type")
        failed = phase in ("Failed", "Error", "Omitted")
        selected = restart is not None and phase == "Succeeded" and restart(node)
        exit_node = node.get("name", "").endswith(".onExit") or ".hooks." in node.get("name", "")
        if kind in composite:
            if failed or selected:
                reset.add(nid)
        elif failed or selected or exit_node:
            forget.append(nid)
        if failed or selected:
            again.append(nid)
    # Every composite above a node run again reopens too, as Argo's resetPath: in a Succeeded
    # workflow they are all Succeeded.
    parents = {child: nid for nid, node in nodes.items() for child in node.get("children") or ()}
    walked: set[str] = set()
    for nid in again:
        parent = parents.get(nid)
        while parent is not None and parent not in walked:
            walked.add(parent)
            if nodes[parent].get("type") in composite:
                reset.add(parent)
            parent = parents.get(parent)
    return forget, sorted(reset)


def ensure_engine(store: Store, *, idle_seconds: float | None = None) -> bool:
    """Start a background engine for this store unless one is serving it; True if started.

    It exits after ``idle_seconds`` with nothing to run (default: env
    ``ARGOSY_ENGINE_IDLE_SECONDS``, else 30).
    """
    import subprocess
    import sys

    from argosy.engine.run import LEASE_SECONDS

    if idle_seconds is None:
        idle_seconds = float(os.environ.get("ARGOSY_ENGINE_IDLE_SECONDS") or 30.0)

    if store.serving_engines(within=LEASE_SECONDS) > 0:
        return False
    lock = EngineLock(store.home)
    if not lock.acquire():
        return False  # a background engine is starting, or serving
    try:
        with os.fdopen(os.open(store.home / "engine.log",
                               os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "argosy.cli", "engine", "--exit-when-idle",
                 str(idle_seconds), "--lock-fd", str(lock.fd)], pass_fds=(lock.fd,),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                env=dict(os.environ, ARGOSY_HOME=str(store.home)))
        lock.name_holder(child.pid)
    finally:
        lock.release()  # the child holds it from its start
    return True
