"""Pydantic models of Argo's Workflow, with Argo's field names.

Unknown fields are kept (``extra="allow"``): pod-shaping fields such as ``nodeSelector`` or
``podSpecPatch`` travel with the template to executors that understand them, and a template's
type body (``container``, ``dag``, ``http``…) is looked up by key through the plugin registry
rather than being fixed here, so third-party template types need no change to these models.
"""

from __future__ import annotations

import struct
import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

API_VERSION = "argoproj.io/v1alpha1"


class ArgoModel(BaseModel):
    # Each model's validator is built on its first use, not at import: a run builds the few
    # it validates with (a Workflow's holds its nested models' schemas), not all ~30 of the
    # spec's and the plugins' bodies.
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _scalars_into_strings(cls, data: Any) -> Any:
        """Numbers and booleans given for string fields become text, as Argo's YAML decoding
        (sigs.k8s.io/yaml) does for string-typed targets only: ``args: [exit, 1]``."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name, alias, whole in _text_fields(cls):
            key = alias if alias in data else name
            if key not in data:
                continue
            value = data[key]
            if whole:
                data[key] = go_yaml_text(value)
            elif isinstance(value, list):
                data[key] = [go_yaml_text(v) for v in value]
        return data

    def dump(self) -> dict[str, Any]:
        """The Argo JSON form: camelCase, no unset fields."""
        return self.model_dump(by_alias=True, exclude_none=True)


class ValueFrom(ArgoModel):
    path: str | None = None
    default: str | None = None
    expression: str | None = None
    parameter: str | None = None
    supplied: dict[str, Any] | None = None
    json_path: str | None = Field(None, alias="jsonPath")


class Parameter(ArgoModel):
    name: str
    value: Any = None
    default: Any = None
    enum: list[Any] | None = None
    description: str | None = None
    value_from: ValueFrom | None = Field(None, alias="valueFrom")
    global_name: str | None = Field(None, alias="globalName")


class Inputs(ArgoModel):
    parameters: list[Parameter] = []
    artifacts: list[dict[str, Any]] = []


class Outputs(ArgoModel):
    parameters: list[Parameter] = []
    artifacts: list[dict[str, Any]] = []
    result: str | None = None
    exit_code: str | None = Field(None, alias="exitCode")


class Arguments(ArgoModel):
    parameters: list[Parameter] = []
    artifacts: list[dict[str, Any]] = []


class Sequence(ArgoModel):
    count: int | str | None = None
    start: int | str | None = None
    end: int | str | None = None
    format: str | None = None


class ContinueOn(ArgoModel):
    error: bool = False
    failed: bool = False


class LifecycleHook(ArgoModel):
    template: str | None = None
    arguments: Arguments = Field(default_factory=Arguments)
    expression: str | None = None


class RetryStrategy(ArgoModel):
    limit: int | str | None = None
    retry_policy: str | None = Field(None, alias="retryPolicy")
    backoff: dict[str, Any] | None = None
    expression: str | None = None


class Step(ArgoModel):
    """A step of a ``steps`` template, and (through :class:`DAGTask`) a DAG task."""

    name: str
    template: str | None = None
    inline: Template | None = None
    arguments: Arguments = Field(default_factory=Arguments)
    when: str | None = None
    with_items: list[Any] | None = Field(None, alias="withItems")
    with_param: str | None = Field(None, alias="withParam")
    with_sequence: Sequence | None = Field(None, alias="withSequence")
    continue_on: ContinueOn | None = Field(None, alias="continueOn")
    on_exit: str | None = Field(None, alias="onExit")
    hooks: dict[str, LifecycleHook] | None = None

    def continues_on(self, phase: str) -> bool:
        c = self.continue_on
        return c is not None and (
            (phase == "Failed" and c.failed) or (phase == "Error" and c.error)
        )

    @property
    def loops(self) -> bool:
        return (
            self.with_items is not None
            or self.with_param is not None
            or self.with_sequence is not None
        )


class DAGTask(Step):
    dependencies: list[str] | None = None
    depends: str | None = None


class Template(ArgoModel):
    name: str | None = None
    inputs: Inputs = Field(default_factory=Inputs)
    outputs: Outputs = Field(default_factory=Outputs)
    parallelism: int | str | None = None
    fail_fast: bool | None = Field(None, alias="failFast")
    active_deadline_seconds: int | str | None = Field(None, alias="activeDeadlineSeconds")
    timeout: str | None = None
    retry_strategy: RetryStrategy | None = Field(None, alias="retryStrategy")
    metadata: dict[str, Any] | None = None
    daemon: bool | None = None


class WorkflowSpec(ArgoModel):
    entrypoint: str | None = None
    templates: list[Template] = []
    arguments: Arguments = Field(default_factory=Arguments)
    parallelism: int | None = None
    on_exit: str | None = Field(None, alias="onExit")
    active_deadline_seconds: int | None = Field(None, alias="activeDeadlineSeconds")
    service_account_name: str | None = Field(None, alias="serviceAccountName")
    retry_strategy: RetryStrategy | None = Field(None, alias="retryStrategy")


class ObjectMeta(ArgoModel):
    name: str | None = None
    generate_name: str | None = Field(None, alias="generateName")
    namespace: str | None = None
    uid: str | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    creation_timestamp: str | None = Field(None, alias="creationTimestamp")


class Workflow(ArgoModel):
    api_version: str = Field(API_VERSION, alias="apiVersion")
    kind: str = "Workflow"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: WorkflowSpec
    status: dict[str, Any] | None = None


# ---- status, in Argo's shape -------------------------------------------------------------------

NodePhases = ("Pending", "Running", "Succeeded", "Failed", "Error", "Skipped", "Omitted")


def fulfilled(phase: str) -> bool:
    """Argo's NodePhase.Fulfilled: finished, including skipped and omitted."""
    return phase in ("Succeeded", "Failed", "Error", "Skipped", "Omitted")


def failed_or_error(phase: str) -> bool:
    return phase in ("Failed", "Error")


class NodeStatus(ArgoModel):
    id: str
    name: str
    display_name: str = Field(alias="displayName")
    type: str
    template_name: str | None = Field(None, alias="templateName")
    phase: str = "Pending"
    boundary_id: str | None = Field(None, alias="boundaryID")
    children: list[str] | None = None
    outbound_nodes: list[str] | None = Field(None, alias="outboundNodes")
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    started_at: str | None = Field(None, alias="startedAt")
    finished_at: str | None = Field(None, alias="finishedAt")
    message: str | None = None
    progress: str | None = None
    host_node_name: str | None = Field(None, alias="hostNodeName")
    node_flag: dict[str, bool] | None = Field(None, alias="nodeFlag")
    synchronization_status: dict[str, Any] | None = Field(None, alias="synchronizationStatus")
    memoization_status: dict[str, Any] | None = Field(None, alias="memoizationStatus")
    # A daemon's node while its process serves: Running, and fulfilled for its scope (Argo's
    # NodeStatus.Daemoned); cleared when the daemon ends.
    daemoned: bool | None = None
    pod_ip: str | None = Field(None, alias="podIP")

    @property
    def fulfilled(self) -> bool:
        return fulfilled(self.phase)


# Per model class: its fields that take text, read once (every node and task is validated).
_TEXT_FIELDS: dict[type, list[tuple[str, str | None, bool]]] = {}


def _text_fields(cls: type[BaseModel]) -> list[tuple[str, str | None, bool]]:
    """``(name, alias, whole)`` of each field wanting a str (``whole``) or a list of str."""
    found = _TEXT_FIELDS.get(cls)
    if found is None:
        found = []
        for name, field in cls.model_fields.items():
            kind = _text_kind(field.annotation)
            if kind is not None:
                found.append((name, field.alias, kind))
        _TEXT_FIELDS[cls] = found
    return found


def _text_kind(annotation: Any) -> bool | None:
    """True for a str field, False for a list-of-str one, None for any other."""
    options = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    options = tuple(o for o in options if o is not type(None))
    if options == (str,):  # not IntOrString-like unions, which Go decodes as they are
        return True
    if any(typing.get_origin(o) is list and typing.get_args(o) == (str,) for o in options):
        return False
    # Maps of strings (labels, annotations) are left alone: the Kubernetes API refuses numbers
    # there, and so does submit.
    return None


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def go_yaml_text(value: Any) -> Any:
    """A YAML scalar as Go's YAML decoding writes it into a string (floats in 32-bit shortest
    form); anything else unchanged."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        from argosy.expr.functions import go_float  # imported late: argosy.expr imports specs

        single = struct.unpack("f", struct.pack("f", value))[0] if abs(value) < 3.4e38 else value
        text = next((t for t in (f"{value:.{p}g}" for p in range(1, 10))
                     if struct.unpack("f", struct.pack("f", float(t)))[0] == single), repr(value))
        return go_float(float(text))
    return value

