"""The notebook API: ``argosy.Client`` submits, reads and steers workflows from Python.

``Client()`` works on the local store (``$ARGOSY_HOME``, the one the CLI uses) or, given
``url=`` (or ``$ARGOSY_SERVER``), through an ``argosy server``; both go through the service
layer's methods (:class:`~argosy.api.service.WorkflowService` /
:class:`~argosy.api.remote.RemoteService`).
Calls return :class:`Workflow` objects, thin wrappers of Argo's Workflow dict that display as a
graph of their nodes in a notebook.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from argosy.errors import ArgosyError, InvalidWorkflow, NotFound
from argosy.spec.names import check_namespace

FINISHED = ("Succeeded", "Failed", "Error")
WRAPPERS = ("StepGroup", "TaskGroup")


class Node:
    """One entry of ``status.nodes``, with its outputs made easy to read."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    id = property(lambda self: self.raw.get("id", ""))
    name = property(lambda self: self.raw.get("name", ""))
    display_name = property(lambda self: self.raw.get("displayName") or self.name)
    type = property(lambda self: self.raw.get("type", ""))
    phase = property(lambda self: self.raw.get("phase", "Pending"))
    message = property(lambda self: self.raw.get("message"))

    @property
    def outputs(self) -> dict[str, Any]:
        return dict(self.raw.get("outputs") or {})

    @property
    def result(self) -> str | None:
        return self.outputs.get("result")

    @property
    def exit_code(self) -> int | None:
        code = self.outputs.get("exitCode")
        return None if code is None else int(code)

    @property
    def parameters(self) -> dict[str, Any]:
        """Output parameters by name."""
        return {p["name"]: p.get("value") for p in self.outputs.get("parameters") or []}

    def __repr__(self) -> str:
        return f"<Node {self.name} {self.type} {self.phase}>"


class Workflow:
    """A workflow as the service returned it (Argo's shape, in ``.raw``)."""

    def __init__(self, raw: dict[str, Any], client: Client | None = None) -> None:
        self.raw = raw
        self.client = client

    @property
    def metadata(self) -> dict[str, Any]:
        return self.raw.get("metadata") or {}

    @property
    def status(self) -> dict[str, Any]:
        return self.raw.get("status") or {}

    name = property(lambda self: self.metadata.get("name", ""))
    namespace = property(lambda self: self.metadata.get("namespace") or "default")
    phase = property(lambda self: self.status.get("phase") or "Pending")
    message = property(lambda self: self.status.get("message"))
    progress = property(lambda self: self.status.get("progress"))

    @property
    def finished(self) -> bool:
        return self.phase in FINISHED

    @property
    def nodes(self) -> dict[str, Node]:
        """Every node by id, as in ``status.nodes``."""
        return {nid: Node(body) for nid, body in (self.status.get("nodes") or {}).items()}

    def node(self, name: str) -> Node:
        """A node by id, full name (``wf[0].step``) or display name."""
        nodes = self.nodes
        if name in nodes:
            return nodes[name]
        for key in ("name", "display_name"):
            found = [n for n in nodes.values() if getattr(n, key) == name]
            if len(found) == 1:
                return found[0]
            if found:
                raise KeyError(f"{len(found)} nodes are named {name!r}; use a full node name: "
                               + ", ".join(sorted(n.name for n in found)))
        raise KeyError(f"workflow {self.name} has no node {name!r}")

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        """Outputs (``result``, ``parameters`` by name, ``exitCode``) of every node that has
        some, keyed by display name, or by full node name where display names repeat."""
        having = [n for n in self.nodes.values() if n.outputs and n.type not in WRAPPERS]
        seen: dict[str, int] = {}
        for n in having:
            seen[n.display_name] = seen.get(n.display_name, 0) + 1
        out = {}
        for n in sorted(having, key=lambda n: (n.raw.get("startedAt") or "", n.name)):
            entry: dict[str, Any] = {"parameters": n.parameters}
            if "result" in n.outputs:
                entry["result"] = n.result
            if n.exit_code is not None:
                entry["exitCode"] = n.exit_code
            out[n.display_name if seen[n.display_name] == 1 else n.name] = entry
        return out

    @property
    def parameters(self) -> dict[str, Any]:
        """The workflow's own output parameters (``globalName`` exports)."""
        params = (self.status.get("outputs") or {}).get("parameters") or []
        return {p["name"]: p.get("value") for p in params}

    def refresh(self) -> Workflow:
        """Fetch the current state from the client this workflow came from."""
        self.raw = self._client().get(self.name, namespace=self.namespace).raw
        return self

    def wait(self, timeout: float | None = None, *, display: bool = True) -> Workflow:
        return self._client().wait(self, timeout=timeout, display=display)

    def logs(self, node: str | None = None, **kwargs: Any) -> str:
        return self._client().logs(self.name, node=node, namespace=self.namespace, **kwargs)

    def artifact(self, node: str, artifact: str) -> bytes:
        """An output artifact of one of its nodes (see :meth:`Client.artifact`)."""
        return self._client().artifact(self, node, artifact, namespace=self.namespace)

    def _client(self) -> Client:
        if self.client is None:
            raise ArgosyError("this Workflow has no client: create it through argosy.Client")
        return self.client

    # ---- display -------------------------------------------------------------------------------

    @property
    def graph(self) -> Any:
        """The node graph alone, as an SVG image (``display(wf.graph)``)."""
        from argosy.jupyter_ext.display import Graph

        return Graph(self.raw)

    def _repr_html_(self) -> str:
        from argosy.jupyter_ext.display import workflow_html

        return workflow_html(self.raw)

    def __repr__(self) -> str:
        return f"<Workflow {self.namespace}/{self.name} {self.phase}>"


Source = str | Path | Mapping[str, Any] | Any


def _one_document(source: Source, what: str) -> dict[str, Any]:
    """The one document of a dict, YAML text or a path."""
    from argosy.spec.loader import load_documents, load_file

    given = _manifest(source)
    if isinstance(given, dict):
        return given
    docs = load_file(given) if isinstance(given, Path) else load_documents(given)
    if len(docs) != 1:
        raise ArgosyError(f"expected one {what}, found {len(docs)} documents")
    return docs[0].data


def _manifest(workflow: Source) -> str | Path | dict[str, Any]:
    """A dict, YAML/JSON text, a path, or a pydantic model, as the service layer takes it."""
    if isinstance(workflow, Workflow):
        return dict(workflow.raw)
    if isinstance(workflow, Mapping):
        return dict(workflow)
    if isinstance(workflow, Path):
        if not workflow.exists():
            raise ArgosyError(f"no such file: {workflow}")
        return workflow
    if isinstance(workflow, str):
        if "\n" not in workflow and workflow.strip().endswith((".yaml", ".yml", ".json")):
            path = Path(workflow.strip())
            if not path.exists():
                raise ArgosyError(f"no such file: {path}")
            return path
        return workflow
    dump = getattr(workflow, "model_dump", None)
    if callable(dump):
        return dump(by_alias=True, exclude_none=True, mode="json")
    raise TypeError(f"cannot submit a {type(workflow).__name__}: pass a dict, YAML text, "
                    "a path or a pydantic model")


class Client:
    """Workflows on the local store (default) or through an ``argosy server`` (``url``).

    ``Client()`` uses ``$ARGOSY_SERVER`` / ``$ARGOSY_TOKEN`` when set, as the CLI does, and
    otherwise the store in ``home`` (default ``$ARGOSY_HOME``, else ``~/.argosy``). On the local
    store a background engine starts on submit unless one is serving it already.
    """

    def __init__(self, home: str | Path | None = None, *, url: str | None = None,
                 token: str | None = None, namespace: str = "default",
                 poll: float = 0.5) -> None:
        if home is not None and url is not None:
            raise ValueError("give home (local store) or url (server), not both")
        url = url if url is not None or home is not None else os.environ.get("ARGOSY_SERVER")
        self.namespace = check_namespace(namespace)
        self.poll = poll
        if url:
            from argosy.api.remote import RemoteService

            self.service: Any = RemoteService(url, token or os.environ.get("ARGOSY_TOKEN"))
            self.url: str | None = self.service.url
        else:
            from argosy.api.service import WorkflowService
            from argosy.registry import open_store

            self.service = WorkflowService(open_store(home))
            self.url = None

    def __repr__(self) -> str:
        where = self.url or f"local store {self.service.store.home}"
        return f"<argosy.Client {where}>"

    def _wrap(self, raw: dict[str, Any]) -> Workflow:
        return Workflow(raw, self)

    def _ns(self, namespace: str | None) -> str:
        return namespace or self.namespace

    @staticmethod
    def _name(workflow: str | Workflow) -> str:
        return workflow.name if isinstance(workflow, Workflow) else workflow

    # ---- create and read ----------------------------------------------------------------------

    def submit(self, workflow: Source, *, parameters: Mapping[str, Any] | None = None,
               name: str | None = None, generate_name: str | None = None,
               entrypoint: str | None = None, labels: Mapping[str, str] | None = None,
               namespace: str | None = None) -> Workflow:
        """Validate and submit; raises :class:`~argosy.errors.InvalidWorkflow` listing every
        fault. ``parameters`` override ``spec.arguments.parameters`` (``-p``)."""
        params = {k: _text(v) for k, v in (parameters or {}).items()}
        if namespace is None and self.namespace != "default":
            namespace = self.namespace
        source = _manifest(workflow)
        try:
            raw = self.service.submit(source, parameters=params or None, name=name,
                                      generate_name=generate_name, entrypoint=entrypoint,
                                      labels=dict(labels) if labels else None,
                                      namespace=namespace)
        except InvalidWorkflow as exc:
            # The faults are the message; the service's stack below this call is noise.
            raise InvalidWorkflow(exc.faults) from None
        return self._wrap(raw)

    def lint(self, workflow: Source) -> dict[str, Any]:
        """The manifest as it would run; raises InvalidWorkflow listing every fault."""
        from argosy.api.service import load_workflow

        try:
            return load_workflow(_manifest(workflow), self.service.registry,
                                 getattr(self.service, "store", None))
        except InvalidWorkflow as exc:
            raise InvalidWorkflow(exc.faults) from None

    # ---- WorkflowTemplates and ClusterWorkflowTemplates ---------------------------------------

    @staticmethod
    def _kind(cluster: bool) -> str:
        return "ClusterWorkflowTemplate" if cluster else "WorkflowTemplate"

    def create_template(self, template: Source, namespace: str | None = None) -> dict[str, Any]:
        """Create a WorkflowTemplate or ClusterWorkflowTemplate (a dict, YAML text or a path
        holding one); raises InvalidWorkflow listing every fault."""
        try:
            return self.service.create_template(_one_document(template, "template"),
                                                self._ns(namespace))
        except InvalidWorkflow as exc:
            raise InvalidWorkflow(exc.faults) from None

    def list_templates(self, namespace: str | None = None, *,
                       cluster: bool = False) -> list[dict[str, Any]]:
        """WorkflowTemplates of a namespace (``"*"``: all), or the ClusterWorkflowTemplates."""
        ns = None if namespace == "*" else self._ns(namespace)
        return self.service.templates(self._kind(cluster), ns)

    def get_template(self, name: str, namespace: str | None = None, *,
                     cluster: bool = False) -> dict[str, Any]:
        return self.service.template(self._kind(cluster), self._ns(namespace), name)

    def delete_template(self, name: str, namespace: str | None = None, *,
                        cluster: bool = False) -> None:
        self.service.delete_template(self._kind(cluster), self._ns(namespace), name)

    def submit_from(self, template: str, *, cluster: bool = False,
                    parameters: Mapping[str, Any] | None = None, **options: Any) -> Workflow:
        """Submit a workflow from a stored template (``argo submit --from``); ``options`` as
        :meth:`submit`'s."""
        from argosy.api.service import from_template

        kind = "clusterworkflowtemplate" if cluster else "workflowtemplate"
        return self.submit(from_template(f"{kind}/{template}"), parameters=parameters, **options)

    # ---- CronWorkflows ------------------------------------------------------------------------

    def create_cron(self, cron: Source, namespace: str | None = None) -> dict[str, Any]:
        """Create a CronWorkflow (a dict, YAML text or a path holding one); the engine's
        scheduler runs it. Raises InvalidWorkflow listing every fault."""
        try:
            return self.service.create_cron(_one_document(cron, "CronWorkflow"),
                                            self._ns(namespace))
        except InvalidWorkflow as exc:
            raise InvalidWorkflow(exc.faults) from None

    def list_crons(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """CronWorkflows of a namespace (``"*"``: all)."""
        return self.service.templates("CronWorkflow",
                                      None if namespace == "*" else self._ns(namespace))

    def get_cron(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        return self.service.template("CronWorkflow", self._ns(namespace), name)

    def delete_cron(self, name: str, namespace: str | None = None) -> None:
        self.service.delete_template("CronWorkflow", self._ns(namespace), name)

    def suspend_cron(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        return self.service.suspend_cron(self._ns(namespace), name, True)

    def resume_cron(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        return self.service.suspend_cron(self._ns(namespace), name, False)

    def get(self, name: str | Workflow, namespace: str | None = None) -> Workflow:
        return self._wrap(self.service.get(self._ns(namespace), self._name(name)))

    def list(self, namespace: str | None = None, *, phases: list[str] | None = None,
             label_selector: str | None = None, prefix: str | None = None) -> list[Workflow]:
        """Workflows newest first (all namespaces when ``namespace`` is ``"*"``)."""
        ns = None if namespace == "*" else self._ns(namespace)
        return [self._wrap(wf) for wf in self.service.list(
            ns, phases=phases, label_selector=label_selector, prefix=prefix)]

    def delete(self, name: str | Workflow, namespace: str | None = None) -> None:
        self.service.delete(self._ns(namespace), self._name(name))

    # ---- wait and logs ------------------------------------------------------------------------

    def watch(self, name: str | Workflow, namespace: str | None = None,
              timeout: float | None = None) -> Iterator[Workflow]:
        """The workflow each time it changes, until it finishes (or ``timeout`` seconds)."""
        ns = namespace or (name.namespace if isinstance(name, Workflow) else self.namespace)
        deadline = None if timeout is None else time.monotonic() + timeout
        last = None
        while True:
            wf = self.get(name, ns)
            key = (wf.phase, wf.progress, len(wf.nodes),
                   tuple(n.phase for n in wf.nodes.values()))
            if key != last:
                last = key
                yield wf
            if wf.finished:
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"workflow {wf.name} is still {wf.phase} after {timeout}s")
            time.sleep(self.poll)

    def wait(self, name: str | Workflow, namespace: str | None = None, *,
             timeout: float | None = None, display: bool = True,
             transient: bool = False) -> Workflow:
        """Block until the workflow finishes; in a notebook its display updates live
        (``transient``: and is cleared at the end, for a caller that displays the result)."""
        handle = _LiveDisplay() if display else None
        wf = None
        try:
            for wf in self.watch(name, namespace, timeout):
                if handle is not None:
                    handle.update(wf)
        finally:
            if handle is not None and transient:
                handle.clear()
        assert wf is not None
        if isinstance(name, Workflow):
            name.raw = wf.raw
        return wf

    def logs(self, name: str | Workflow, node: str | None = None, *,
             namespace: str | None = None, grep: str | None = None,
             tail: int | None = None, container: str = "main") -> str:
        """The pods' logs; each line prefixed with its node's display name unless ``node``
        picks one node (by id, full name or display name). ``container``: a sidecar's or init
        container's name, for its log instead of the main container's."""
        ns, wf_name = self._ns(namespace), self._name(name)
        pairs = self.service.logs(ns, wf_name, node=node, grep=grep, tail=tail,
                                  container=container)
        if node:
            return "".join(f"{line}\n" for _, line in pairs)
        # A server names pods as argo-server does; show the node's display name either way.
        shown = self._display_names(ns, wf_name) if self.url else {}
        lines = [f"{shown.get(pod, pod)}: {line}" for pod, line in pairs]
        return "".join(f"{line}\n" for line in lines)

    def artifact(self, name: str | Workflow, node: str, artifact: str, *,
                 namespace: str | None = None) -> bytes:
        """An output artifact of a node (by id, full name or display name), e.g. the executed
        notebook a ``notebook`` step leaves: ``client.artifact(wf, "train", "notebook")``."""
        wf = name if isinstance(name, Workflow) else self.get(name, namespace)
        return self.service.artifact(self._ns(namespace or wf.namespace), wf.name,
                                     wf.node(node).id, artifact)

    def _display_names(self, namespace: str, name: str) -> dict[str, str]:
        from argosy.api.server import pod_name

        wf = self.get(name, namespace)
        return {pod_name(wf.name, n.raw): n.display_name for n in wf.nodes.values()}

    # ---- lifecycle ----------------------------------------------------------------------------

    def suspend(self, name: str | Workflow, namespace: str | None = None) -> Workflow:
        return self._wrap(self.service.suspend(self._ns(namespace), self._name(name)))

    def resume(self, name: str | Workflow, namespace: str | None = None, *,
               node_field_selector: str | None = None) -> Workflow:
        return self._wrap(self.service.resume(self._ns(namespace), self._name(name),
                                              node_field_selector))

    def stop(self, name: str | Workflow, namespace: str | None = None, *,
             message: str | None = None) -> Workflow:
        return self._wrap(self.service.stop(self._ns(namespace), self._name(name), message))

    def terminate(self, name: str | Workflow, namespace: str | None = None) -> Workflow:
        return self._wrap(self.service.terminate(self._ns(namespace), self._name(name)))

    def retry(self, name: str | Workflow, namespace: str | None = None, *,
              restart_successful: bool = False, node_field_selector: str | None = None,
              parameters: Mapping[str, Any] | None = None) -> Workflow:
        return self._wrap(self.service.retry(
            self._ns(namespace), self._name(name), restart_successful=restart_successful,
            node_field_selector=node_field_selector,
            parameters={k: _text(v) for k, v in (parameters or {}).items()} or None))

    def resubmit(self, name: str | Workflow, namespace: str | None = None, *,
                 parameters: Mapping[str, Any] | None = None,
                 memoized: bool = False) -> Workflow:
        return self._wrap(self.service.resubmit(
            self._ns(namespace), self._name(name), memoized=memoized,
            parameters={k: _text(v) for k, v in (parameters or {}).items()} or None))


def _text(value: Any) -> str:
    """A parameter value as Argo passes it: strings as they are, the rest as JSON."""
    import json

    return value if isinstance(value, str) else json.dumps(value)


class _LiveDisplay:
    """A notebook display that is replaced in place; nothing outside an IPython kernel."""

    def __init__(self) -> None:
        self.handle: Any = None
        self.active = _in_kernel()

    def update(self, wf: Workflow) -> None:
        if not self.active:
            return
        from IPython.display import display

        if self.handle is None:
            self.handle = display(wf, display_id=True)
        else:
            self.handle.update(wf)

    def clear(self) -> None:
        if self.handle is not None:
            self.handle.update({"text/plain": ""}, raw=True)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


__all__ = ["Client", "Node", "NotFound", "Workflow"]
