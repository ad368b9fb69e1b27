"""The public plugin API: everything a plugin may import from argosy is exported here.

A leaf template type (container, script, suspend, http…) returns an :class:`Outcome`; a
composite type (steps, dag) runs children with ``await ctx.run_child(...)`` and returns the
outcome it derived from them. The engine does everything common to all types: inputs, retries,
deadlines, outputs, persistence, events. ``run(ctx)`` gets a :class:`NodeContext`, the node API.

The names in ``__all__`` are the stable API (``docs/plugins/api.md``): they keep their meaning
across minor versions. argosy's own plugins (``argosy.plugins``) import nothing else from argosy,
so anything they do, a third-party plugin can do. Argo's semantics that composite types share
(loops, ``when``, ``depends``, durations) are exported as helpers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pluggy
from pydantic import BaseModel

from argosy.errors import ArgosyError, ExpressionError, Fault
from argosy.expr.depends import Depends, TaskState, parse_depends
from argosy.expr.functions import parse_go_duration
from argosy.expr.substitute import Scope
from argosy.kube import WORKFLOW_LABEL, KubernetesUnavailable, api_client
from argosy.spec.durations import DurationError, parse_duration, seconds_since
from argosy.spec.models import ArgoModel, DAGTask, NodeStatus, Step, failed_or_error
from argosy.spec.selectors import Requirement, SelectorError, parse_requirements
from argosy.store import argosy_home as home
from argosy.store import remove_tree, runtime_root

if TYPE_CHECKING:
    from argosy.engine.context import NodeContext, NodeError
    from argosy.engine.daemons import POD_IP
    from argosy.engine.loops import LoopError, expand

#: The stable API, each name with what it is for (listed in ``docs/plugins/hooks.md``).
STABLE = {
    "hookimpl": "marks a plugin's hook functions (`@hookimpl def argosy_template_types(): …`)",
    "TemplateType": "a template type: YAML key, Argo node type, body model, `validate`, "
                    "`run(ctx)`, `leaf`",
    "NodeContext": "the node API a type's `run(ctx)` gets (node, template, body, children, "
                   "logs, config)",
    "Outcome": "how a node ended: phase, message, result, outputs, log, artifacts",
    "NodeError": "raise it in `run` to end the node Error with its message",
    "POD_IP": "the address of a local node's pod (every local node shares the host's network)",
    "Executor": "protocol of execution backends (`argosy_executors`)",
    "ProcessRequest": "a process for the selected executor to run",
    "Store": "protocol of stores (`argosy_stores`); the SQLite store is the first",
    "ArtifactRepository": "protocol of artifact repositories (`argosy_artifact_repositories`)",
    "ArtifactRepositoryFactory": "opens an `ArtifactRepository` by name with its settings",
    "StoreFactory": "opens a `Store` by name (`argosy_stores`)",
    "Fault": "a lint fault at a document path, what `validate` returns",
    "ArgoModel": "base of body models: Argo's camelCase aliases, unknown fields kept",
    "NodeStatus": "a node's status in Argo's shape (`ctx.node`, children)",
    "Step": "a step of a `steps` template",
    "DAGTask": "a task of a `dag` template",
    "Scope": "the variables `{{…}}` and expressions see",
    "ArgosyError": "base of argosy's errors (a message for users)",
    "ExpressionError": "an expression could not be parsed or evaluated",
    "evaluate_expr": "evaluate an expr-language expression (`{{= … }}`)",
    "evaluate_when": "decide a `when:` condition as Argo does (govaluate)",
    "Depends": "a parsed `depends` expression",
    "parse_depends": "parse a `depends` expression",
    "TaskState": "what `depends` sees of a finished task",
    "expand": "expand a looping step or task (`withItems`, `withParam`, `withSequence`)",
    "LoopError": "a loop that cannot be expanded",
    "failed_or_error": "whether a phase is Failed or Error",
    "parse_duration": "seconds in an Argo duration (`90`, `1h2m`, `2d`)",
    "parse_go_duration": "seconds in a Go duration (`1h30m`, `-2.5s`)",
    "DurationError": "a duration that cannot be parsed",
    "seconds_since": "seconds since an RFC 3339 timestamp (`ctx.node.started_at`)",
    "home": "argosy's home directory, `$ARGOSY_HOME` (default `~/.argosy`)",
    "runtime_root": "where node directories live when not under the home",
    "remove_tree": "remove a directory tree a node made, overlayfs's mode-0 work dirs included",
    "api_client": "a Kubernetes API client for the configured cluster (kubeconfig or in-cluster)",
    "KubernetesUnavailable": "no cluster can be reached, or the client is not installed",
    "WORKFLOW_LABEL": "the label Argo puts on what a workflow creates",
    "parse_requirements": "parse a Kubernetes label selector into requirements",
    "Requirement": "one requirement of a label selector",
    "SelectorError": "a label selector that cannot be parsed",
}
__all__ = [  # the names of STABLE
    "POD_IP",
    "WORKFLOW_LABEL",
    "ArgoModel",
    "ArgosyError",
    "ArtifactRepository",
    "ArtifactRepositoryFactory",
    "DAGTask",
    "Depends",
    "DurationError",
    "Executor",
    "ExpressionError",
    "Fault",
    "KubernetesUnavailable",
    "LoopError",
    "NodeContext",
    "NodeError",
    "NodeStatus",
    "Outcome",
    "ProcessRequest",
    "Requirement",
    "Scope",
    "SelectorError",
    "Step",
    "Store",
    "StoreFactory",
    "TaskState",
    "TemplateType",
    "api_client",
    "evaluate_expr",
    "evaluate_when",
    "expand",
    "failed_or_error",
    "home",
    "hookimpl",
    "parse_depends",
    "parse_duration",
    "parse_go_duration",
    "parse_requirements",
    "remove_tree",
    "runtime_root",
    "seconds_since",
]


# The engine imports this module: what it defines is looked up when a plugin asks for it.
_FROM_ENGINE = {"NodeContext": "context", "NodeError": "context", "LoopError": "loops",
                "expand": "loops", "POD_IP": "daemons"}


def __getattr__(name: str) -> Any:
    module = _FROM_ENGINE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"argosy.engine.{module}"), name)


hookimpl = pluggy.HookimplMarker("argosy")


# The expression languages load on a plugin's first call: a workflow without expressions
# never needs them.
def evaluate_expr(source: str, env: Mapping[str, Any],
                  functions: Mapping[str, Callable[..., Any]] | None = None) -> Any:
    """Evaluate an expr-language expression against ``env`` (see
    :func:`argosy.expr.exprlang.evaluate_expr`)."""
    from argosy.expr.exprlang import evaluate_expr

    return evaluate_expr(source, env, functions)


def evaluate_when(text: str) -> bool:
    """Decide a ``when:`` condition as Argo does (see
    :func:`argosy.expr.govaluate.evaluate_when`)."""
    from argosy.expr.govaluate import evaluate_when

    return evaluate_when(text)


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
    ``locate`` maps a path as the node saw it to the file or directory on this host, where the
    engine reads the template's ``outputs.artifacts`` from after the node ended. ``uploaded``
    is for an executor that saved them itself (``ProcessRequest.artifact_plan``): the location
    of each output artifact it saved, by path; a path missing from it was not there.
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
    locate: Callable[[str], Path | None] | None = None
    uploaded: dict[str, dict[str, Any]] | None = None

    @property
    def log_parts(self) -> list[str | Path]:
        """The node's log as parts, for ``NodeContext.keep_log``: ``log``, then ``log_files``."""
        return [*([self.log] if self.log is not None else []), *self.log_files]


RunFn = Callable[["NodeContext"], Awaitable[Outcome]]
ValidateFn = Callable[[Any, str], list[Fault]]


@dataclass(frozen=True)
class TemplateType:
    """A template type: the YAML key of its body and how to run a node of it.

    ``leaf`` types produce a result themselves and count toward ``spec.parallelism``;
    composite types orchestrate children. ``validate(body, path)`` adds type-specific lint
    faults beyond what ``body`` (a pydantic model) already checks. ``artifacts``: see below.
    """

    key: str
    node_type: str
    run: RunFn
    body: type[BaseModel] | None = None
    validate: ValidateFn | None = None
    leaf: bool = True
    #: Whether ``run`` mounts ``ctx.artifact_mounts`` (the input artifacts, fetched) and returns
    #: ``Outcome.locate``: only then may a template of this type have artifacts at a ``path``.
    artifacts: bool = False


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
    # Called once the process runs (or, after an engine restart, is found running): a daemon
    # node is daemoned then. An executor that cannot tell calls it as it starts the process;
    # one that makes pods calls it once the pod is ready, with ``pod_ip=`` its address.
    started: Callable[..., None] | None = None
    # The container's volumeMounts, resolved: (host path, mount path, read-only).
    volumes: tuple[tuple[str, str, bool], ...] = ()
    # The pod's container this process is when it is not the template's main one (an init
    # container, a sidecar), as written with its ``name``; None for the main container.
    container: dict[str, Any] | None = None
    # The node's input artifacts, fetched: (host path, path, read-only), for an executor with
    # ``places_artifacts`` (one that binds host volumes gets them in ``volumes`` as well).
    input_artifacts: tuple[tuple[str, str, bool], ...] = ()
    # For an executor with ``moves_artifacts`` when the workflow's artifact repository is
    # reachable from where the process runs: the node's artifacts for it to move there itself
    # instead of through ``input_artifacts`` and ``Outcome.locate``. ``inputs``: each input
    # artifact at a path, as the node's status records it, with ``repository`` ({KIND:
    # {settings, key}}, Secrets as SecretKeySelectors) when a repository holds it; the Nth
    # is expected at ``node_dir/artifacts/N`` as when fetched. ``outputs``: each output artifact
    # at a path with its ``archive``, ``repository`` (as above, the key to save at) and
    # ``location``, what ``Outcome.uploaded`` gives back once saved.
    artifact_plan: dict[str, Any] | None = None


class Executor(Protocol):
    """An execution backend for process-running template types."""

    name: str
    # Optional: ``pulls_images = True`` when the executor runs images itself (pods), so a
    # container's command and args reach it as written, without argosy's image mapping;
    # ``wants_env = True`` with it when the executor wants ``ProcessRequest.env`` resolved
    # (ConfigMaps and Secrets read) rather than the template's env as written;
    # ``binds_host_volumes = True`` when it wants ``ProcessRequest.volumes`` as host paths;
    # ``runs_pod_containers = True`` with ``pulls_images`` when it runs one container per
    # request, so argosy.plugins.pod drives a pod's init containers, sidecars and daemon
    # through it (an executor without it makes whole pods); ``exec_process(request, argv)
    # -> exit code`` when it can run an exec probe in the container ``request`` made;
    # ``pod_ended(request)`` to release what the pod's containers shared, once all ended;
    # ``places_artifacts = True`` when it places ``ProcessRequest.input_artifacts`` itself;
    # ``moves_artifacts = True`` when it can move ``ProcessRequest.artifact_plan``'s artifacts;
    # ``honours``, the "Definition.field" names of argosy.spec.lint.UNSUPPORTED it can honour;
    # ``rejects``, more "Definition.field" names it cannot, each with why (lint says so);
    # ``async wait_for_room()``, returning once few enough nodes wait for it to start their
    # processes: the launchers of wide fan-outs await it between batches;
    # ``prepare()`` to start ahead what its first process needs (``argosy run`` calls it as
    # soon as it knows the executor, so that starts while the rest of argosy loads).

    async def run_process(self, request: ProcessRequest) -> Outcome:
        """Run (or re-attach to) the node's process and return how it ended.

        Must be idempotent per ``request.node_dir``: after an engine restart it is called again
        for a node that was running, and must re-adopt or report instead of starting twice.
        """
        ...

    # Optional: ``async run_container_set(request) -> dict[str, Outcome]``, for an executor that
    # runs a ``containerSet`` as one pod (``request.template`` holds it): how each container
    # ended, by name (``exit_code`` None: its command never ran, as a failed dependency's).
    # Optional: ``log_files(node_dir) -> list[Path]``, the files holding what the node's
    # process printed so far. The engine keeps them as the log of a node that ended without
    # an outcome (stopped, terminated, past its deadline).


class Store(Protocol):
    """Where workflows, their nodes, logs and artifacts are kept; the SQLite store
    (``argosy.store.Store``) is the first implementation.

    The engine, the service layer (CLI, server, Jupyter) and every engine sharing one store work
    through these members; a store for another backend (a Kubernetes cluster's custom resources)
    implements them with the same meaning. ``uid`` is a workflow's, ``node_id`` Argo's node id.
    """

    home: Path
    #: The exception the store raises when it fails (damaged, full, unreachable).
    failure: type[BaseException]

    # Workflows: records with Argo's manifest and the top-level status fields.
    def create_workflow(self, manifest: dict[str, Any], *,
                        keep_identity: bool = False) -> Any: ...
    def get(self, uid: str) -> Any: ...
    def find(self, namespace: str, name: str) -> Any: ...
    def active(self) -> list[Any]: ...
    def update_status(self, uid: str, **fields: Any) -> None: ...
    def delete(self, uid: str) -> None: ...
    # Engines: a workflow is executed by the engine holding its lease.
    def claim(self, uid: str, engine: str, lease_seconds: float) -> bool: ...
    def release(self, uid: str, engine: str) -> None: ...
    def heartbeat(self, engine: str, lease_seconds: float, *, serving: bool = False) -> None: ...
    def claimable(self) -> list[str]: ...
    # Actions (suspend, resume, stop…) reach the executing engine as rows.
    def add_action(self, uid: str, kind: str, payload: dict[str, Any] | None = None) -> int: ...
    def actions_after(self, uid: str, after: int) -> list[tuple[int, str, dict[str, Any]]]: ...
    # Nodes: one record per node, children as append-only edges.
    def put_node(self, uid: str, node_id: str, body: str,
                 edges: list[tuple[str, int, str]] | None = None) -> None: ...
    def nodes(self, uid: str) -> dict[str, dict[str, Any]]: ...
    # Logs and artifacts of a node.
    def keep_log(self, uid: str, node_id: str, parts: Any) -> None: ...
    def log(self, uid: str, node_id: str) -> str | None: ...
    def put_artifact(self, uid: str, node_id: str, name: str, path: str,
                     content: bytes) -> None: ...
    def artifact(self, uid: str, node_id: str, name: str) -> tuple[str, bytes] | None: ...
    # Where the nodes of a workflow keep their files while they run.
    def run_dir(self, uid: str) -> Path: ...
    # Memoization caches (``memoize``): get, put, entries, caches, delete by namespace and name.
    def memo_cache(self) -> Any: ...


class StoreFactory(Protocol):
    """Opens a :class:`Store` by name: what ``argosy_stores`` returns."""

    name: str

    def open(self, where: Path) -> Store:
        """The store for argosy's home directory ``where`` (``$ARGOSY_HOME``)."""
        ...


class ArtifactRepository(Protocol):
    """Where output artifacts are kept, each under a key (Argo's default key format is
    ``{{workflow.name}}/{{pod.name}}`` and the artifact's file name, ``NAME.tgz`` when archived).

    The engine hands it files and directories the node left, already archived as the template
    asks, and asks for them back to place input artifacts; it runs these calls in a thread, so
    they may block. A key is a relative ``/``-separated path without ``..``. A repository may
    have a ``key_format`` attribute, the folder of an output's key with Argo's variables
    (default ``{{workflow.name}}/{{pod.name}}``), as an S3 repository's ``keyFormat``. It may
    have ``list(prefix)``, the keys of the files it holds under ``prefix`` (a ``data``
    template's ``artifactPaths`` needs it).
    """

    def location(self, key: str) -> dict[str, Any]:
        """Argo's ArtifactLocation of the artifact at ``key``, as the node's status records it
        beside ``name`` and ``path`` (an S3 repository: ``{"s3": {"bucket": …, "key": key}}``)."""
        ...

    def key_of(self, location: dict[str, Any]) -> str | None:
        """The key of ``location`` (an artifact's fields) when this repository holds it, else
        None. Key-only locations (``s3: {key: k}``) are resolved by the engine, not here."""
        ...

    def save(self, source: Path, key: str) -> None:
        """Store the file or directory ``source`` at ``key``, atomically: a reader (or a crash)
        never sees it half-written; an artifact already at ``key`` is replaced."""
        ...

    def load(self, key: str, dest: Path) -> None:
        """Write the artifact at ``key`` to ``dest`` (a file, or a directory for a directory
        artifact); ``FileNotFoundError`` when there is none."""
        ...

    def delete(self, key: str) -> None:
        """Remove the artifact at ``key``; nothing when there is none."""
        ...


class ArtifactRepositoryFactory(Protocol):
    """Opens an :class:`ArtifactRepository` by name: what ``argosy_artifact_repositories``
    returns. Optional: ``reachable = True`` when its repositories can be reached from a pod
    as well as from the engine (a network store), so an executor with ``moves_artifacts`` may
    move the artifacts there itself (see ``ProcessRequest.artifact_plan``)."""

    name: str

    def open(self, home: Path, settings: dict[str, Any]) -> ArtifactRepository:
        """The repository for argosy's home directory ``home`` with ``settings`` (the mapping
        under its name in ``config.yaml``'s ``artifactRepository``, ``{}`` when not set)."""
        ...
