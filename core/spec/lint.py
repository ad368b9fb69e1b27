"""``argosy lint``: find every fault in a Workflow manifest, given as plain dicts.

The checks follow Argo's ``workflow/validate/validate.go`` (what ``argo lint`` does), but collect
every fault instead of stopping at the first, and name each by its document path
(``spec.templates[2].dag.tasks[1].depends``) so it can be pointed at in the source file.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from argosy.errors import ExpressionError, Fault
from argosy.spec.names import namespace_fault

__all__ = ["BUILTIN_TEMPLATE_TYPES", "UNSUPPORTED", "TemplateValidator", "lint", "lint_documents"]

TemplateValidator = Callable[[Any, str], list[Fault]]
Locator = Callable[[str], "tuple[int, int] | None"]

API_VERSION = "argoproj.io/v1alpha1"
#: Template-type keys understood when no plugin registry is given (bodies are not validated).
BUILTIN_TEMPLATE_TYPES: tuple[str, ...] = (
    "container", "script", "resource", "suspend", "steps", "dag",
    "containerSet", "http", "plugin", "data",
)  # fmt: skip
_ARGO_TYPES = frozenset(BUILTIN_TEMPLATE_TYPES)
_POD_TYPES = frozenset({"container", "containerSet", "script", "resource", "data"})
_NON_LEAF = frozenset({"steps", "dag"})
_OUTPUT_TYPES = frozenset({"container", "script", "data", "http", "plugin"})
_ARTIFACT_LOCATIONS = (
    "s3", "git", "http", "artifactory", "hdfs", "raw", "oss", "gcs", "azure", "plugin",
)  # fmt: skip
_TASK_RESULTS = (
    "Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed",
)  # fmt: skip
_LOOPS = ("withItems", "withParam", "withSequence")

_FIELD_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
_FIELD_NAME_MAX = 128
_PARAM_NAME = re.compile(r"^[-a-zA-Z0-9_]+$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_GENERATE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*)?$")
_OBJECT_NAME_MAX = 63
_IS_PARAMETER = re.compile(r"{{[-a-zA-Z0-9]+(\.[-a-zA-Z0-9_]+)*}}")
# Argo's task-name regex for depends: ``name.Result`` or a bare ``name``.
_DEPENDS_TOKEN = re.compile(
    r"([a-zA-Z0-9][-a-zA-Z0-9]*?)\.([A-Z][a-zA-Z]+)|([a-zA-Z0-9][-a-zA-Z0-9]*)"
)

# Only tags under these roots are checked; anything else ({{retries}}, {{status}}, Go-template
# text in scripts, ...) is left alone, as Argo does. Bare {{item}} is checked too (Argo skips it).
_CHECKED_ROOTS = ("item.", "steps.", "inputs.", "outputs.", "pod.", "workflow.", "tasks.")
# Resolved at run time only, so any reference under these is accepted (validate.go does the same).
_RUNTIME_PREFIXES = (
    "outputs.", "workflow.creationTimestamp", "workflow.scheduledTime", "workflow.duration",
    "tasks.name", "steps.name", "node.name",
)  # fmt: skip


# --- field types -------------------------------------------------------------------------------
# Go decodes into typed structs, so a wrong JSON type is a fault. Strings accept any scalar
# (sigs.k8s.io/yaml turns numbers and booleans into strings for string fields).

_KINDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "str": ("a string", lambda v: isinstance(v, str | int | float) and not isinstance(v, bool)),
    "int": ("an integer", lambda v: _is_int(v)),
    "intstr": ("an integer or string", lambda v: _is_int(v) or isinstance(v, str)),
    "bool": ("a boolean", lambda v: isinstance(v, bool)),
    "map": ("a mapping", lambda v: isinstance(v, dict)),
    "list": ("a list", lambda v: isinstance(v, list)),
    "scalar": ("a string, number or boolean", lambda v: isinstance(v, str | int | float)),
}


def _is_int(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())


_METADATA = {"name": "str", "generateName": "str", "namespace": "str", "labels": "map",
             "annotations": "map"}  # fmt: skip
_SPEC = {
    "entrypoint": "str", "onExit": "str", "parallelism": "int", "activeDeadlineSeconds": "int",
    "priority": "int", "serviceAccountName": "str", "templates": "list", "arguments": "map",
    "podGC": "map", "ttlStrategy": "map", "templateDefaults": "map", "hooks": "map",
    "volumes": "list", "volumeClaimTemplates": "list", "nodeSelector": "map",
    "tolerations": "list", "imagePullSecrets": "list", "hostNetwork": "bool", "shutdown": "str",
    "suspend": "bool", "synchronization": "map", "metrics": "map", "workflowMetadata": "map",
    "archiveLogs": "bool", "podPriorityClassName": "str", "securityContext": "map",
    "affinity": "map", "dnsPolicy": "str", "retryStrategy": "map", "workflowTemplateRef": "map",
    "podDisruptionBudget": "map", "automountServiceAccountToken": "bool", "podSpecPatch": "str",
    "artifactRepositoryRef": "map", "artifactGC": "map", "podMetadata": "map",
    "schedulerName": "str", "hostAliases": "list", "dnsConfig": "map", "volumeClaimGC": "map",
}  # fmt: skip
_TEMPLATE = {
    "name": "str", "inputs": "map", "outputs": "map", "steps": "list", "dag": "map",
    "container": "map", "script": "map", "suspend": "map", "resource": "map",
    "containerSet": "map", "http": "map", "plugin": "map", "data": "map", "parallelism": "int",
    "activeDeadlineSeconds": "intstr", "timeout": "str", "retryStrategy": "map", "daemon": "bool",
    "failFast": "bool", "nodeSelector": "map", "metadata": "map", "memoize": "map",
    "synchronization": "map", "sidecars": "list", "initContainers": "list", "volumes": "list",
    "archiveLocation": "map", "priority": "int", "serviceAccountName": "str",
    "podSpecPatch": "str", "metrics": "map", "tolerations": "list", "affinity": "map",
    "securityContext": "map", "hostAliases": "list", "automountServiceAccountToken": "bool",
    "schedulerName": "str", "priorityClassName": "str",
}  # fmt: skip
_STEP = {
    "name": "str", "template": "str", "templateRef": "map", "inline": "map", "arguments": "map",
    "when": "str", "withItems": "list", "withParam": "str", "withSequence": "map",
    "continueOn": "map", "onExit": "str", "hooks": "map",
}  # fmt: skip
_TASK = {**_STEP, "dependencies": "list", "depends": "str"}
_DAG = {"tasks": "list", "target": "str", "failFast": "bool"}
_IO = {"parameters": "list", "artifacts": "list"}
_PARAM = {"name": "str", "value": "scalar", "default": "scalar", "enum": "list",
          "valueFrom": "map", "description": "str", "globalName": "str"}  # fmt: skip
_ARTIFACT = {"name": "str", "path": "str", "from": "str", "optional": "bool", "globalName": "str",
             "mode": "int", "fromExpression": "str", "subPath": "str"}  # fmt: skip
_SEQUENCE = {"count": "intstr", "start": "intstr", "end": "intstr", "format": "str"}
_RETRY = {"limit": "intstr", "retryPolicy": "str", "backoff": "map", "expression": "str"}
_CONTAINER = {"image": "str", "command": "list", "args": "list", "env": "list",
              "workingDir": "str", "source": "str", "volumeMounts": "list", "resources": "map",
              "imagePullPolicy": "str"}  # fmt: skip
_SUSPEND = {"duration": "str"}
_CONTINUE_ON = {"error": "bool", "failed": "bool"}


# --- known and supported fields ----------------------------------------------------------------
# argo_fields.json is derived from Argo's Workflow JSON schema (tests/lint/schema.py rebuilds it):
# for each definition, its fields and the definition each object-valued field holds ("[X]" is a
# list of X, "{X}" a map of X). Field names are case-sensitive, as Go's strict decoding is.
_ROOT = "Workflow"
# Deprecated fields Argo still decodes though its schema no longer lists them; honoured here.
_LEGACY_FIELDS = {"Synchronization": {"semaphore": "SemaphoreRef", "mutex": "Mutex"}}

_NOT_YET = "by the local executor yet"
_NO_REPOSITORY = ("here: there is no artifact repository; the store keeps only the output "
                  "artifacts of plugins (e.g. executed notebooks) yet")
_NO_K8S_OBJECTS = "here: there are no Kubernetes objects (ConfigMaps, Secrets) to read yet"
#: Fields Argo knows that argosy cannot honour, by "Definition.field": the message goes on from
#: "FIELD is not supported ". A manifest that sets one is rejected rather than run without it
#: (false, empty and null values are accepted).
UNSUPPORTED: dict[str, str] = {
    "WorkflowSpec.volumes": _NOT_YET,
    "WorkflowSpec.volumeClaimTemplates": _NOT_YET,
    "WorkflowSpec.artifactRepositoryRef": _NO_REPOSITORY,
    "WorkflowSpec.artifactGC": _NO_REPOSITORY,
    "WorkflowSpec.executorPlugins": "here: executor plugins run as sidecars of an agent pod",
    "WorkflowSpec.hostAliases": "here: steps resolve names through the host's /etc/hosts",
    "Template.daemon": _NOT_YET,
    "Template.sidecars": _NOT_YET,
    "Template.initContainers": _NOT_YET,
    "Template.volumes": _NOT_YET,
    "Template.hostAliases": "here: steps resolve names through the host's /etc/hosts",
    **{f"ArtifactLocation.{key}": _NO_REPOSITORY for key in (
        "artifactory", "azure", "gcs", "git", "hdfs", "http", "oss", "plugin", "raw", "s3")},
    "Inputs.artifacts": _NO_REPOSITORY,
    "Outputs.artifacts": _NO_REPOSITORY,
    "Arguments.artifacts": _NO_REPOSITORY,
    "ValueFrom.configMapKeyRef": _NO_K8S_OBJECTS,
    "ValueFrom.event": "here: there are no workflow event bindings",
    "ValueFrom.jqFilter": "here: it reads resource templates, which are not supported",
    "ValueFrom.jsonPath": "here: it reads resource templates, which are not supported",
    "EnvVar.valueFrom": _NO_K8S_OBJECTS,
    "Mutex.database": "here: locks are kept by the engine, not in a database",
    "SemaphoreRef.database": "here: locks are kept by the engine, not in a database",
    "Gauge.operation": "here yet: a gauge is set to its value",
    # Mounts under a containerSet's shared /tmp (the only volumeMounts honoured) are plain.
    **{f"VolumeMount.{key}": _NOT_YET for key in (
        "mountPropagation", "readOnly", "recursiveReadOnly", "subPath", "subPathExpr")},
    **{f"{kind}.{key}": reason for kind in ("Container", "ScriptTemplate", "ContainerNode")
       for key, reason in {
           "envFrom": _NO_K8S_OBJECTS,
           "lifecycle": "by the local executor: it runs no postStart or preStop handlers",
           "livenessProbe": "by the local executor: it does not probe or restart processes",
           "restartPolicy": "by the local executor: it does not restart processes",
           "restartPolicyRules": "by the local executor: it does not restart processes",
           "volumeDevices": "by the local executor: it attaches no block devices",
           "volumeMounts": _NOT_YET,
       }.items()
       # A containerSet's containers share the node's /tmp: mounts under it work (the plugin
       # refuses others when it runs the node).
       if (kind, key) != ("ContainerNode", "volumeMounts")},
}


@functools.cache
def _known_fields() -> dict[str, dict[str, str | None]]:
    table = json.loads(Path(__file__).with_name("argo_fields.json").read_text())
    for kind, extra in _LEGACY_FIELDS.items():
        table[kind] = {**table[kind], **extra}
    return table


def _is_set(value: Any) -> bool:
    return not (value is None or value is False or value in ("", [], {}))


def _unknown_field(key: str, known: Iterable[str], where: str) -> str:
    names = [k for k in known if isinstance(k, str)]
    same_case = [k for k in names if k.lower() == str(key).lower()]
    close = same_case or difflib.get_close_matches(str(key), names, n=1, cutoff=0.7)
    hint = f'; did you mean "{close[0]}"?' if close else where
    return f"unknown field{hint}"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        # YAML 1.1, which Argo's parser follows, reads y/n/yes/no/on/off unquoted as booleans.
        return (f"boolean {str(value).lower()} (unquoted y, n, yes, no, on and off are "
                "booleans in YAML: quote the text)")
    if isinstance(value, str):
        return f'string "{value}"'
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _go_string(value: Any) -> str:
    """A scalar as Argo's AnyString holds it (booleans lower-case, 1.0 as "1")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _template_tags(text: str) -> Iterator[str]:
    """The contents of each ``{{…}}``, matched as fasttemplate does (first ``}}`` closes)."""
    pos = 0
    while (start := text.find("{{", pos)) >= 0:
        end = text.find("}}", start + 2)
        if end < 0:
            return
        yield text[start + 2 : end]
        pos = end + 2


def _strings(
    value: Any, path: str, skip: frozenset[str] = frozenset()
) -> Iterator[tuple[str, str]]:
    """Every string in ``value`` with its path; top-level keys in ``skip`` are left out."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in skip:
                yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def _parent(path: str) -> str:
    if path.endswith("]"):
        return path[: path.rindex("[")]
    return path.rpartition(".")[0]


def _document_order(value: Any, path: str = "", out: dict[str, int] | None = None) -> dict:
    out = {} if out is None else out
    out[path] = len(out)
    if isinstance(value, dict):
        for key, item in value.items():
            _document_order(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _document_order(item, f"{path}[{index}]", out)
    return out


# --- variable scopes ---------------------------------------------------------------------------


@dataclass
class _Scope:
    """What ``{{…}}`` may refer to at one point of one template."""

    template: str  # how messages name the template, e.g. '"main"' or 'inline template'
    keys: set[str] = field(default_factory=set)
    open_prefixes: set[str] = field(default_factory=set)  # e.g. a call we could not resolve
    any_item: bool = False
    siblings: frozenset[str] = frozenset()  # every step/task name of this template
    parent: _Scope | None = None
    # Lazily known extra keys (a task's ancestors' .status): checked only when referenced.
    extra: Callable[[str], bool] | None = None

    def copy(self) -> _Scope:
        """A child scope: additions stay in it, lookups fall through (no copying)."""
        return _Scope(self.template, set(), set(), self.any_item, self.siblings, self)

    def has(self, key: str) -> bool:
        scope: _Scope | None = self
        while scope is not None:
            if key in scope.keys or (scope.extra is not None and scope.extra(key)):
                return True
            scope = scope.parent
        return False

    def prefixes(self) -> tuple[str, ...]:
        found: list[str] = []
        scope: _Scope | None = self
        while scope is not None:
            found.extend(scope.open_prefixes)
            scope = scope.parent
        return tuple(found)


@dataclass
class _Globals:
    keys: set[str]
    any_output_parameter: bool = False
    any_output_artifact: bool = False


def _resolves(tag: str, scope: _Scope, glob: _Globals) -> bool:
    if tag in glob.keys or scope.has(tag):
        return True
    if tag.startswith(_RUNTIME_PREFIXES) or tag.startswith(scope.prefixes()):
        return True
    if (tag == "item" or tag.startswith("item.")) and scope.any_item:
        return True
    if tag.startswith("workflow.outputs.parameters.") and glob.any_output_parameter:
        return True
    return tag.startswith("workflow.outputs.artifacts.") and glob.any_output_artifact


def _why_unresolved(tag: str, scope: _Scope) -> str:
    parts = tag.split(".")
    root, name = parts[0], parts[2] if len(parts) > 2 else ""
    if tag.startswith(("inputs.parameters.", "inputs.artifacts.")):
        what = "parameter" if parts[1] == "parameters" else "artifact"
        return f'template {scope.template} has no input {what} "{name}"'
    if tag.startswith("workflow.parameters."):
        return f'no workflow parameter "{name}" in spec.arguments.parameters'
    if tag.startswith("workflow.outputs."):
        return f'no template output has globalName "{".".join(parts[3:])}"'
    if root in ("steps", "tasks") and len(parts) > 1:
        return _why_node_unresolved(root, parts[1], ".".join(parts[2:]), scope)
    if root == "item":
        if scope.has("item"):
            return f'the loop items have no key "{".".join(parts[1:])}"'
        return "not inside a loop (withItems, withParam or withSequence)"
    if tag == "pod.name":
        return "only templates that run a pod have a pod name"
    return "unknown variable"


def _why_node_unresolved(root: str, node: str, rest: str, scope: _Scope) -> str:
    kind = "step" if root == "steps" else "task"
    if node not in scope.siblings:
        return f'no {kind} "{node}" in template {scope.template}'
    if kind == "step" and not scope.has(f"steps.{node}.id"):
        return f'step "{node}" does not run before this step'
    if rest == "status":
        return f'task "{node}" is not a dependency of this task'
    return f'{kind} "{node}" has no "{rest}"'


# --- the linter --------------------------------------------------------------------------------


class _Linter:
    def __init__(
        self,
        file: str | None,
        locate: Locator | None,
        types: Mapping[str, TemplateValidator | None],
        strict: bool = True,
    ):
        self.file = file
        self.locate = locate
        self.types = types
        self.strict = strict
        self.faults: list[Fault] = []
        self.templates: dict[str, dict] = {}
        self.spec: dict = {}
        self.globals = _Globals(set())

    # faults

    def add(self, path: str, message: str) -> None:
        where = self.locate(path) if self.locate else None
        line, column = where if where else (None, None)
        self.faults.append(Fault(path, message, self.file, line, column))

    def adopt(self, fault: Fault) -> None:
        """Take a fault from a template-type validator, filling in where it is."""
        if fault.file is None and self.file is not None:
            fault = replace(fault, file=self.file)
        if fault.line is None and self.locate:
            where = self.locate(fault.path)
            if where:
                fault = replace(fault, line=where[0], column=where[1])
        self.faults.append(fault)

    def check_fields(self, obj: dict, path: str, table: Mapping[str, str]) -> None:
        for key, kind in table.items():
            value = obj.get(key)
            if value is None:
                continue
            expected, ok = _KINDS[kind]
            if not ok(value):
                self.add(f"{path}.{key}", f"{key} must be {expected}, not {_describe(value)}")

    def mapping(self, value: Any, path: str, what: str) -> dict | None:
        """``value`` if it is a mapping; otherwise a fault (absent values are just None)."""
        if value is None or isinstance(value, dict):
            return value
        self.add(path, f"{what} must be a mapping, not {_describe(value)}")
        return None

    def check_known_fields(self, value: Any, kind: str | None, path: str) -> None:
        """Unknown fields (when strict) and fields argosy cannot honour, everywhere in ``value``.

        ``kind`` is the schema definition ``value`` should be, "[X]" a list of X, "{X}" a map of
        X, None free-form. Wrong types are left to the checks that know what a value should be.
        """
        if kind is None:
            return
        if kind.startswith("["):
            for index, item in enumerate(value if isinstance(value, list) else []):
                self.check_known_fields(item, kind[1:-1], f"{path}[{index}]")
            return
        if not isinstance(value, dict):
            return
        if kind.startswith("{"):
            for key, item in value.items():
                self.check_known_fields(item, kind[1:-1], f"{path}.{key}")
            return
        fields = _known_fields()[kind]
        for key, item in value.items():
            item_path = f"{path}.{key}" if path else str(key)
            if key not in fields:
                if kind == "Template" and key in self.types:
                    continue  # a plugin's template type: its validator checks the body
                if self.strict:
                    where = (" (nor a template type of an installed plugin)"
                             if kind == "Template" else "")
                    self.add(item_path, _unknown_field(key, fields, where))
                continue
            reason = UNSUPPORTED.get(f"{kind}.{key}")
            if reason is not None and _is_set(item):
                self.add(item_path, f"{key} is not supported {reason}")
                continue
            self.check_known_fields(item, fields[key], item_path)

    # document level

    def check_document(self, doc: Any) -> None:
        if not isinstance(doc, dict):
            self.add("", f"a manifest must be a mapping, not {_describe(doc)}")
            return
        if not self.check_kind(doc):
            return
        self.check_known_fields(doc, _ROOT, "")
        self.check_metadata(doc.get("metadata"))
        if "spec" not in doc or doc["spec"] is None:
            self.add("spec", "spec is required")
            return
        spec = self.mapping(doc["spec"], "spec", "spec")
        if spec is not None:
            self.check_spec(spec, doc)

    def check_kind(self, doc: dict) -> bool:
        api = doc.get("apiVersion")
        if api is None:
            self.add("apiVersion", f'apiVersion is required ("{API_VERSION}")')
        elif api != API_VERSION:
            self.add("apiVersion", f'unknown apiVersion "{api}" (expected "{API_VERSION}")')
        kind = doc.get("kind")
        if kind is None:
            self.add("kind", "kind is required (Workflow)")
            return False
        if kind != "Workflow":
            self.add("kind", f'not a Workflow: kind is "{kind}"')
            return False
        return True

    def check_metadata(self, metadata: Any) -> None:
        meta = self.mapping(metadata, "metadata", "metadata") or {}
        self.check_fields(meta, "metadata", _METADATA)
        name, generate = meta.get("name"), meta.get("generateName")
        if not name and not generate:
            self.add("metadata", "metadata.name or metadata.generateName is required")
        if isinstance(name, str) and name:
            if len(name) > _OBJECT_NAME_MAX:
                self.add("metadata.name", f'workflow name "{name}" is longer than 63 characters')
            elif not _DNS_SUBDOMAIN.match(name):
                self.add("metadata.name", f'invalid workflow name "{name}": use lower-case '
                         "letters, digits, '-' and '.', starting and ending alphanumeric")
        if isinstance(generate, str) and generate and not _GENERATE_NAME.match(generate):
            self.add("metadata.generateName", f'invalid generateName "{generate}": use '
                     "lower-case letters, digits, '-' and '.', starting alphanumeric")
        namespace = meta.get("namespace")
        if isinstance(namespace, str) and namespace_fault(namespace):
            self.add("metadata.namespace", str(namespace_fault(namespace)))
        for key in ("labels", "annotations"):
            self.check_string_map(meta.get(key), f"metadata.{key}")
        # Names are strings to the engine and the store: 123 would be stored, then never run.
        self.check_string_map({key: value for key in ("name", "generateName", "namespace")
                               if isinstance(value := meta.get(key), int | float)}, "metadata")

    def check_string_map(self, value: Any, path: str) -> None:
        """Kubernetes' map[string]string: a number or a mapping as a value is a fault."""
        for key, item in (value or {}).items() if isinstance(value, dict) else ():
            if not isinstance(item, str):
                self.add(f"{path}.{key}", f"{key} must be a string, not {_describe(item)} "
                         '(quote it: "…")')

    def check_spec(self, spec: dict, doc: dict) -> None:
        self.spec = spec
        self.check_fields(spec, "spec", _SPEC)
        templates = spec.get("templates")
        templates = templates if isinstance(templates, list) else []
        self.index_templates(templates)
        self.globals = self.build_globals(doc, spec)
        self.check_entrypoint(spec)
        arguments = self.mapping(spec.get("arguments"), "spec.arguments", "arguments")
        self.check_arguments(arguments, "spec.arguments", allow_empty=True)
        self.check_hooks(spec.get("hooks"), "spec.hooks")
        if isinstance(spec.get("retryStrategy"), dict):
            self.check_fields(spec["retryStrategy"], "spec.retryStrategy", _RETRY)
        for index, template in enumerate(templates):
            self.check_template(template, f"spec.templates[{index}]")

    def index_templates(self, templates: list) -> None:
        for index, template in enumerate(templates):
            path = f"spec.templates[{index}]"
            if not isinstance(template, dict):
                self.add(path, f"a template must be a mapping, not {_describe(template)}")
                continue
            name = template.get("name")
            if not self.check_name(name, f"{path}.name", "template"):
                continue
            if name in self.templates:
                self.add(f"{path}.name", f'duplicate template name "{name}"')
            else:
                self.templates[name] = template

    def check_name(self, name: Any, path: str, what: str) -> bool:
        """Argo's rule for template, step and task names; True when the name is usable."""
        if name is None or name == "":
            self.add(path, f"{what} name is required")
            return False
        if not isinstance(name, str):
            return False  # already a type fault
        if len(name) > _FIELD_NAME_MAX:
            self.add(path, f'{what} name "{name}" is longer than {_FIELD_NAME_MAX} characters')
        elif not _FIELD_NAME.match(name):
            self.add(path, f'invalid {what} name "{name}": use letters, digits and \'-\', '
                     "starting with a letter or digit")
        return True

    def check_entrypoint(self, spec: dict) -> None:
        if spec.get("workflowTemplateRef") is not None:
            self.add("spec.workflowTemplateRef", "workflowTemplateRef is not supported: the "
                     "local engine has no WorkflowTemplates to refer to")
            return
        entrypoint = spec.get("entrypoint")
        args = spec.get("arguments") if isinstance(spec.get("arguments"), dict) else {}
        if not entrypoint:
            self.add("spec.entrypoint", "spec.entrypoint is required")
        elif isinstance(entrypoint, str):
            self.check_template_name(entrypoint, "spec.entrypoint", args, "spec.arguments")
        on_exit = spec.get("onExit")
        if on_exit and isinstance(on_exit, str):
            self.check_template_name(on_exit, "spec.onExit", args, "spec.arguments")

    def check_template_name(self, name: str, path: str, args: Any, args_label: str) -> None:
        if name not in self.templates:
            self.add(path, f'unknown template "{name}"')
        else:
            self.check_inputs_supplied(self.templates[name], name, args, path, args_label)

    def build_globals(self, doc: dict, spec: dict) -> _Globals:
        keys = {f"workflow.{k}" for k in (
            "name", "namespace", "mainEntrypoint", "serviceAccountName", "uid", "status",
            "annotations", "annotations.json", "labels", "labels.json")}  # fmt: skip
        args = spec.get("arguments")
        params = args.get("parameters") if isinstance(args, dict) else None
        if isinstance(params, list) and params:
            keys |= {"workflow.parameters", "workflow.parameters.json"}
            keys |= {f"workflow.parameters.{p['name']}" for p in params
                     if isinstance(p, dict) and isinstance(p.get("name"), str)}  # fmt: skip
        metas = [doc.get("metadata"), spec.get("workflowMetadata")]
        for meta in (m for m in metas if isinstance(m, dict)):
            for key, prefix in (("annotations", "annotations"), ("labels", "labels"),
                                ("labelsFrom", "labels")):  # fmt: skip
                if isinstance(meta.get(key), dict):
                    keys |= {f"workflow.{prefix}.{k}" for k in meta[key]}
        if spec.get("priority") is not None:
            keys.add("workflow.priority")
        if spec.get("onExit") or spec.get("hooks"):
            keys.add("workflow.failures")
        glob = _Globals(keys)
        self.collect_global_outputs(spec, glob)
        return glob

    def collect_global_outputs(self, value: Any, glob: _Globals) -> None:
        """Outputs lifted with ``globalName`` anywhere in the spec become workflow.outputs.*."""
        if isinstance(value, list):
            for item in value:
                self.collect_global_outputs(item, glob)
            return
        if not isinstance(value, dict):
            return
        outputs = value.get("outputs")
        if isinstance(outputs, dict):
            for kind in ("parameters", "artifacts"):
                for item in outputs.get(kind) or []:
                    name = item.get("globalName") if isinstance(item, dict) else None
                    if not isinstance(name, str) or not name:
                        continue
                    if _IS_PARAMETER.search(name):
                        if kind == "parameters":
                            glob.any_output_parameter = True
                        else:
                            glob.any_output_artifact = True
                    else:
                        glob.keys.add(f"workflow.outputs.{kind}.{name}")
        for item in value.values():
            self.collect_global_outputs(item, glob)

    def check_hooks(self, hooks: Any, path: str) -> None:
        if not isinstance(hooks, dict):
            return
        for name, hook in hooks.items():
            hook_path = f"{path}.{name}"
            if not isinstance(hook, dict):
                self.add(hook_path, f"a hook must be a mapping, not {_describe(hook)}")
                continue
            if name != "exit" and not hook.get("expression"):
                self.add(hook_path, f'hook "{name}" needs an expression (only "exit" may omit it)')
            template = hook.get("template")
            if isinstance(template, str) and template and template not in self.templates:
                self.add(f"{hook_path}.template", f'unknown template "{template}"')
            if hook.get("templateRef") is not None:
                self.add(f"{hook_path}.templateRef", "templateRef is not supported: the local "
                         "engine has no WorkflowTemplates to refer to")

    # templates

    def check_template(self, template: Any, path: str, inline: bool = False) -> None:
        if not isinstance(template, dict):
            return  # reported while indexing
        self.check_fields(template, path, _TEMPLATE)
        name = template.get("name")
        label = "inline template" if inline or not isinstance(name, str) else f'"{name}"'
        kind = self.check_template_type(template, path, label)
        self.check_template_body(template, path, kind)
        self.check_io(template, path, kind)
        self.check_leaf_fields(template, path, kind)
        scope = self.template_scope(template, label, kind)
        if kind == "steps":
            if isinstance(template["steps"], list):  # otherwise a type fault already
                self.check_steps(template["steps"], f"{path}.steps", scope)
        elif kind == "dag":
            self.check_dag(template["dag"], f"{path}.dag", scope)
        else:
            self.check_variables(template, path, scope)
            return
        outputs = template.get("outputs")
        if outputs is not None:
            self.check_variables(outputs, f"{path}.outputs", scope)

    def check_template_type(self, template: dict, path: str, label: str) -> str | None:
        known = [k for k in template if template[k] is not None
                 and (k in self.types or k in _ARGO_TYPES)]  # fmt: skip
        for key in known:
            if key == "resource":
                self.add(f"{path}.resource", "resource templates (Kubernetes resources) are "
                         "not supported by the local engine yet")
            elif key not in self.types:
                self.add(f"{path}.{key}", f'template type "{key}" is not supported here '
                         "(no installed plugin provides it)")
        if not known:
            choices = ", ".join(self.types)
            self.add(path, f"template {label} has no type: give one of {choices}")
            return None
        if len(known) == 2:
            self.add(path, f'template {label} has both "{known[0]}" and "{known[1]}"')
        elif len(known) > 2:
            names = ", ".join(f'"{k}"' for k in known)
            self.add(path, f"template {label} has several types: {names}")
        return known[0]

    def check_template_body(self, template: dict, path: str, kind: str | None) -> None:
        defaults = self.spec.get("templateDefaults")
        defaults = defaults if isinstance(defaults, dict) else {}
        for key in template:
            validator = self.types.get(key) if template[key] is not None else None
            if validator is not None:
                body, default = template[key], defaults.get(key)
                if isinstance(body, dict) and isinstance(default, dict):
                    body = {**default, **body}  # templateDefaults lie under the body, as in Argo
                for fault in validator(body, f"{path}.{key}"):
                    self.adopt(fault)
        for key in ("container", "script"):
            body = template.get(key)
            if not isinstance(body, dict):
                continue
            self.check_fields(body, f"{path}.{key}", _CONTAINER)
            default = defaults.get(key)
            if not body.get("image") and not (isinstance(default, dict) and default.get("image")):
                self.add(f"{path}.{key}.image", f"{key}.image is required")
            if key == "script" and body.get("source") in (None, ""):
                self.add(f"{path}.script.source", "script.source is required")
        if isinstance(template.get("suspend"), dict):
            self.check_fields(template["suspend"], f"{path}.suspend", _SUSPEND)
        if isinstance(template.get("retryStrategy"), dict):
            self.check_fields(template["retryStrategy"], f"{path}.retryStrategy", _RETRY)

    def check_leaf_fields(self, template: dict, path: str, kind: str | None) -> None:
        if kind is None:
            return
        if kind in _NON_LEAF:
            for key in ("timeout", "activeDeadlineSeconds", "pendingTimeout"):
                if template.get(key) is not None:
                    self.add(f"{path}.{key}", f"{key} is only valid for leaf templates, "
                             f"not {kind}")
        elif template.get("parallelism") is not None:
            self.add(f"{path}.parallelism", "parallelism is only valid for steps and dag "
                     "templates")
        timeout = template.get("timeout")
        if isinstance(timeout, int | str) and str(timeout).strip().isdigit():
            self.add(f"{path}.timeout", f'timeout "{timeout}" needs a unit, e.g. "{timeout}s"')

    def template_scope(self, template: dict, label: str, kind: str | None) -> _Scope:
        scope = _Scope(label)
        leaf = kind not in _NON_LEAF
        inputs = template.get("inputs") if isinstance(template.get("inputs"), dict) else {}
        params = [p for p in _list(inputs.get("parameters")) if isinstance(p, dict)]
        scope.keys |= {f"inputs.parameters.{p.get('name')}" for p in params}
        if params:
            scope.keys.add("inputs.parameters")
        for art in _list(inputs.get("artifacts")):
            if isinstance(art, dict):
                scope.keys.add(f"inputs.artifacts.{art.get('name')}")
                if leaf:
                    scope.keys.add(f"inputs.artifacts.{art.get('name')}.path")
        if kind in _POD_TYPES:
            scope.keys.add("pod.name")
        return scope

    # inputs, outputs, arguments

    def check_io(self, template: dict, path: str, kind: str | None) -> None:
        inputs = self.mapping(template.get("inputs"), f"{path}.inputs", "inputs")
        if inputs is not None:
            self.check_fields(inputs, f"{path}.inputs", _IO)
            for index, param in self.named_items(inputs, f"{path}.inputs", "parameters"):
                self.check_enum(param, f"{path}.inputs.parameters[{index}]", ("value", "default"))
            for index, art in self.named_items(inputs, f"{path}.inputs", "artifacts"):
                art_path = f"{path}.inputs.artifacts[{index}]"
                if art.get("from"):
                    self.add(f"{art_path}.from", "from is not valid in inputs")
                if art.get("path") and kind in _NON_LEAF:
                    self.add(f"{art_path}.path", f"path is only valid in leaf templates, "
                             f"not {kind}")
        outputs = self.mapping(template.get("outputs"), f"{path}.outputs", "outputs")
        if outputs is not None:
            self.check_fields(outputs, f"{path}.outputs", _IO)
            for index, param in self.named_items(outputs, f"{path}.outputs", "parameters"):
                self.check_output_parameter(param, f"{path}.outputs.parameters[{index}]", kind)
            list(self.named_items(outputs, f"{path}.outputs", "artifacts"))

    def named_items(self, holder: dict, path: str, key: str) -> Iterator[tuple[int, dict]]:
        """Parameters or artifacts that are mappings with a usable, unique name."""
        items = holder.get(key)
        if not isinstance(items, list):
            return
        what = "parameter" if key == "parameters" else "artifact"
        seen: set[str] = set()
        for index, item in enumerate(items):
            item_path = f"{path}.{key}[{index}]"
            if not isinstance(item, dict):
                self.add(item_path, f"a {what} must be a mapping, not {_describe(item)}")
                continue
            self.check_fields(item, item_path, _PARAM if what == "parameter" else _ARTIFACT)
            name = item.get("name")
            if name is None or name == "":
                self.add(f"{item_path}.name", f"{what} name is required")
                continue
            name = _go_string(name)
            if not _PARAM_NAME.match(name):
                self.add(f"{item_path}.name", f'invalid {what} name "{name}": use letters, '
                         "digits, '_' and '-'")
            if name in seen:
                self.add(f"{item_path}.name", f'duplicate {what} name "{name}"')
            seen.add(name)
            yield index, item

    def check_enum(self, param: dict, path: str, value_keys: Iterable[str]) -> None:
        enum = param.get("enum")
        if not isinstance(enum, list):
            return
        if not enum:
            self.add(f"{path}.enum", "enum needs at least one value")
            return
        allowed = {_go_string(v) for v in enum}
        for key in value_keys:
            value = param.get(key)
            if value is not None and _go_string(value) not in allowed:
                choices = ", ".join(f'"{_go_string(v)}"' for v in enum)
                self.add(f"{path}.{key}", f'{key} "{_go_string(value)}" of parameter '
                         f'"{param.get("name")}" is not in its enum ({choices})')

    def check_output_parameter(self, param: dict, path: str, kind: str | None) -> None:
        name = param.get("name")
        value_from = param.get("valueFrom")
        if value_from is not None and param.get("value") is not None:
            self.add(path, f'output parameter "{name}" has both value and valueFrom')
            return
        if param.get("value") is not None:
            return
        if not isinstance(value_from, dict):
            if value_from is None:
                self.add(path, f'output parameter "{name}" needs value or valueFrom')
            return
        kinds = ("path", "jqFilter", "jsonPath", "parameter", "expression", "supplied")
        sources = [k for k in kinds if value_from.get(k) or (k == "supplied" and k in value_from)]
        if not sources:
            self.add(f"{path}.valueFrom", f'valueFrom of output parameter "{name}" needs one of '
                     "path, jqFilter, jsonPath, parameter, expression or supplied")
        elif len(sources) > 1:
            self.add(f"{path}.valueFrom", f'valueFrom of output parameter "{name}" has several '
                     f"sources: {', '.join(sources)}")
        elif kind in ("container", "script", "containerSet") and sources != ["path"]:
            self.add(f"{path}.valueFrom", f"{kind} templates take output parameters from a path")
        elif kind in _NON_LEAF and sources[0] not in ("parameter", "expression"):
            self.add(f"{path}.valueFrom", f"{kind} templates take output parameters from a "
                     "parameter or an expression")

    def check_arguments(self, arguments: dict | None, path: str, allow_empty: bool) -> None:
        if arguments is None:
            return
        self.check_fields(arguments, path, _IO)
        for index, param in self.named_items(arguments, path, "parameters"):
            self.check_argument_parameter(param, f"{path}.parameters[{index}]", allow_empty)
        for index, art in self.named_items(arguments, path, "artifacts"):
            has_source = art.get("from") or art.get("fromExpression") or any(
                art.get(k) is not None for k in _ARTIFACT_LOCATIONS)
            if not has_source:
                self.add(f"{path}.artifacts[{index}]", f'argument artifact "{art["name"]}" needs '
                         "from, fromExpression or a location (s3, http, git, raw, ...)")
            if art.get("from") and art.get("fromExpression"):
                self.add(f"{path}.artifacts[{index}]", f'argument artifact "{art["name"]}" has '
                         "both from and fromExpression")

    def check_argument_parameter(self, param: dict, path: str, allow_empty: bool) -> None:
        name = param.get("name")
        value_from = param.get("valueFrom")
        if value_from is None and param.get("value") is None and not allow_empty:
            self.add(path, f'argument parameter "{name}" needs value or valueFrom')
        if isinstance(value_from, dict):
            allowed = ("configMapKeyRef", "event", "supplied")
            bad = [k for k in ("path", "jsonPath", "parameter", "expression", "jqFilter")
                   if value_from.get(k)]  # fmt: skip
            if bad or not any(value_from.get(k) is not None for k in allowed):
                self.add(f"{path}.valueFrom", f'valueFrom of argument parameter "{name}" only '
                         "allows default, configMapKeyRef, event and supplied")
        self.check_enum(param, path, ("value",))

    def check_inputs_supplied(
        self, template: dict, name: str, args: Any, path: str, args_label: str
    ) -> None:
        """A call must pass every input the template cannot fill in itself."""
        inputs = template.get("inputs")
        if not isinstance(inputs, dict):
            return
        args = args if isinstance(args, dict) else {}
        for key, what in (("parameters", "parameter"), ("artifacts", "artifact")):
            given = {_go_string(a.get("name")) for a in _list(args.get(key)) if isinstance(a, dict)}
            for item in _list(inputs.get(key)):
                if not isinstance(item, dict) or not item.get("name"):
                    continue
                if _go_string(item["name"]) in given or self.self_supplied(item, key):
                    continue
                self.add(path, f'template "{name}" needs input {what} "{item["name"]}", which '
                         f"is not given in {args_label}")

    @staticmethod
    def self_supplied(item: dict, key: str) -> bool:
        if key == "parameters":
            return any(item.get(k) is not None for k in ("value", "default", "valueFrom"))
        located = any(item.get(k) is not None for k in _ARTIFACT_LOCATIONS)
        return bool(item.get("optional")) or located

    # steps

    def check_steps(self, steps: list, path: str, scope: _Scope) -> None:
        groups = [g for g in steps if isinstance(g, list)]
        names = [s.get("name") for g in groups for s in g if isinstance(s, dict)]
        scope.siblings = frozenset(n for n in names if isinstance(n, str))
        seen: set[str] = set()
        for group_index, group in enumerate(steps):
            group_path = f"{path}[{group_index}]"
            if not isinstance(group, list):
                self.add(group_path, "steps must be a list of lists: each entry is a group of "
                         f"steps run in parallel, not {_describe(group)}")
                continue
            for step_index, step in enumerate(group):
                self.check_step(step, f"{group_path}[{step_index}]", scope, seen)

    def check_step(self, step: Any, path: str, scope: _Scope, seen: set[str]) -> None:
        if not isinstance(step, dict):
            self.add(path, f"a step must be a mapping, not {_describe(step)}")
            return
        self.check_fields(step, path, _STEP)
        name = step.get("name")
        if self.check_name(name, f"{path}.name", "step") and isinstance(name, str):
            if name in seen:
                self.add(f"{path}.name", f'duplicate step name "{name}"')
            seen.add(name)
            scope.keys.add(f"steps.{name}.status")
        label = f'step "{name}"'
        step_scope = scope.copy()
        self.check_loop(step, path, label, step_scope)
        arguments = self.mapping(step.get("arguments"), f"{path}.arguments", "arguments")
        self.check_arguments(arguments, f"{path}.arguments", allow_empty=False)
        target = self.check_call(step, path, label)
        if isinstance(name, str) and name and _has_exit_hook(step):
            _add_outputs(step_scope, "steps", name, target, aggregate=False,
                         plugin_types=frozenset(self.types))  # exit hooks see them
        self.add_inline_inputs(step, step_scope)
        self.check_variables(step, path, step_scope, skip=frozenset({"inline"}))
        self.check_step_extras(step, path)
        if isinstance(name, str) and name:
            aggregate = bool(step.get("withItems")) or bool(step.get("withParam"))
            _add_outputs(scope, "steps", name, target, aggregate, frozenset(self.types))

    def check_step_extras(self, step: dict, path: str) -> None:
        self.check_hooks(step.get("hooks"), f"{path}.hooks")
        on_exit = step.get("onExit")
        if isinstance(on_exit, str) and on_exit and on_exit not in self.templates:
            self.add(f"{path}.onExit", f'unknown template "{on_exit}"')
        if isinstance(step.get("continueOn"), dict):
            self.check_fields(step["continueOn"], f"{path}.continueOn", _CONTINUE_ON)

    def check_call(self, step: dict, path: str, label: str) -> dict | None:
        """Check what a step or task runs; return that template, or None when unknown."""
        given = [k for k in ("template", "inline", "templateRef") if step.get(k) is not None]
        if not given:
            self.add(path, f"{label} needs one of template, inline or templateRef")
            return None
        if len(given) > 1:
            self.add(path, f'{label} has both "{given[0]}" and "{given[1]}"')
        if "templateRef" in given:
            self.add(f"{path}.templateRef", "templateRef is not supported: the local engine "
                     "has no WorkflowTemplates to refer to")
        args = step.get("arguments")
        if given[0] == "template" and isinstance(step["template"], str):
            name = step["template"]
            if name not in self.templates:
                self.add(f"{path}.template", f'unknown template "{name}"')
                return None
            self.check_inputs_supplied(self.templates[name], name, args, path, "its arguments")
            return self.templates[name]
        if given[0] == "inline" and isinstance(step["inline"], dict):
            self.check_template(step["inline"], f"{path}.inline", inline=True)
            return step["inline"]
        return None

    @staticmethod
    def add_inline_inputs(step: dict, scope: _Scope) -> None:
        inline = step.get("inline")
        inputs = inline.get("inputs") if isinstance(inline, dict) else None
        if isinstance(inputs, dict):
            for param in _list(inputs.get("parameters")):
                if isinstance(param, dict):
                    scope.keys.add(f"inputs.parameters.{param.get('name')}")

    def check_loop(self, step: dict, path: str, label: str, scope: _Scope) -> None:
        """Loop fields of a step or task; puts ``item`` (and its keys) into ``scope``."""
        loops = [k for k in _LOOPS if step.get(k) not in (None, "", [])]
        if len(loops) > 1:
            self.add(path, f"{label} may have only one of withItems, withParam and "
                     f"withSequence, not {' and '.join(loops)}")
        if not loops:
            return
        scope.keys.add("item")
        items = step.get("withItems")
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    scope.keys |= {f"item.{key}" for key in item}
                elif isinstance(item, list):
                    scope.keys |= {f"item.[{i}]" for i in range(len(item))}
        if step.get("withParam"):
            scope.any_item = True
        sequence = step.get("withSequence")
        if isinstance(sequence, dict):
            self.check_fields(sequence, f"{path}.withSequence", _SEQUENCE)
            has_count, has_end = sequence.get("count") is not None, sequence.get("end") is not None
            if has_count and has_end:
                self.add(f"{path}.withSequence", "withSequence takes count or end, not both")
            elif not has_count and not has_end:
                self.add(f"{path}.withSequence", "withSequence needs count or end")

    # dag

    def check_dag(self, dag: Any, path: str, scope: _Scope) -> None:
        if not isinstance(dag, dict):
            return  # a type fault already
        self.check_fields(dag, path, _DAG)
        tasks = dag.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            if tasks is None or tasks == []:
                self.add(f"{path}.tasks", "a dag needs at least one task")
            return
        by_name = self.index_tasks(tasks, f"{path}.tasks")
        scope.siblings = frozenset(by_name)
        using_depends = any(isinstance(t, dict) and t.get("depends") for t in tasks)
        graph: dict[str, list[str]] = {}
        targets: dict[str, dict | None] = {}
        for name, (index, task) in by_name.items():
            task_path = f"{path}.tasks[{index}]"
            graph[name] = self.check_task_dependencies(task, task_path, by_name, using_depends)
            targets[name] = self.check_call(task, task_path, f'task "{name}"')
            arguments = self.mapping(task.get("arguments"), f"{task_path}.arguments", "arguments")
            self.check_arguments(arguments, f"{task_path}.arguments", allow_empty=False)
            self.check_step_extras(task, task_path)
        self.check_cycles(graph, by_name, path)
        self.check_targets(dag.get("target"), f"{path}.target", by_name, scope)
        for name, (_, task) in by_name.items():
            aggregate = bool(task.get("withItems")) or bool(task.get("withParam"))
            _add_outputs(scope, "tasks", name, targets[name], aggregate, frozenset(self.types))
            if task.get("hooks"):
                scope.keys.add(f"tasks.{name}.status")
        for index, task in by_name.values():
            self.check_task_variables(task, f"{path}.tasks[{index}]", scope, graph, targets)

    def index_tasks(self, tasks: list, path: str) -> dict[str, tuple[int, dict]]:
        by_name: dict[str, tuple[int, dict]] = {}
        for index, task in enumerate(tasks):
            task_path = f"{path}[{index}]"
            if not isinstance(task, dict):
                self.add(task_path, f"a task must be a mapping, not {_describe(task)}")
                continue
            self.check_fields(task, task_path, _TASK)
            name = task.get("name")
            if not self.check_name(name, f"{task_path}.name", "task") or not isinstance(name, str):
                continue
            if name in by_name:
                self.add(f"{task_path}.name", f'duplicate task name "{name}"')
                continue
            by_name[name] = (index, task)
        return by_name

    def check_task_dependencies(
        self, task: dict, path: str, by_name: Mapping[str, tuple[int, dict]], using_depends: bool
    ) -> list[str]:
        """Faults in depends/dependencies; returns the names of known tasks depended on."""
        name = task["name"]
        depends, dependencies = task.get("depends"), task.get("dependencies")
        if (using_depends or dependencies) and name[:1].isdigit():
            self.add(f"{path}.name", f'task name "{name}" cannot begin with a digit when '
                     "depends or dependencies are used")
        if depends and dependencies:
            self.add(path, f'task "{name}" has both depends and dependencies')
        elif using_depends and dependencies:
            self.add(f"{path}.dependencies", f'task "{name}" uses dependencies while other tasks '
                     "of this dag use depends: use one or the other")
        if using_depends and task.get("continueOn") is not None:
            self.add(f"{path}.continueOn", "continueOn cannot be used with depends: use "
                     '"task.Failed" or "task.Errored" in depends instead')
        names: list[str] = []
        if isinstance(depends, str) and depends:
            names += self.check_depends(depends, f"{path}.depends", by_name)
        if isinstance(dependencies, list):
            for index, dep in enumerate(dependencies):
                dep_path = f"{path}.dependencies[{index}]"
                if not isinstance(dep, str):
                    self.add(dep_path, f"a dependency must be a task name, not {_describe(dep)}")
                elif dep not in by_name:
                    self.add(dep_path, f'unknown task "{dep}"')
                else:
                    names.append(dep)
        return list(dict.fromkeys(names))

    def check_depends(
        self, depends: str, path: str, by_name: Mapping[str, tuple[int, dict]]
    ) -> list[str]:
        _check_depends_syntax(depends, path, self)
        names: list[str] = []
        for match in _DEPENDS_TOKEN.finditer(depends):
            task, result = match.group(1) or match.group(3), match.group(2)
            if task not in by_name:
                self.add(path, f'unknown task "{task}"')
                continue
            names.append(task)
            if result is not None and result not in _TASK_RESULTS:
                self.add(path, f'unknown task result "{result}" for task "{task}" (expected one '
                         f"of {', '.join(_TASK_RESULTS)})")
            elif result in ("AnySucceeded", "AllFailed"):
                dep = by_name[task][1]
                if not any(dep.get(k) not in (None, "", []) for k in _LOOPS):
                    self.add(path, f'task "{task}" has no items, so "{task}.{result}" never '
                             "applies")
        return names

    def check_cycles(
        self, graph: Mapping[str, list[str]], by_name: Mapping[str, tuple[int, dict]], path: str
    ) -> None:
        reported: set[frozenset[str]] = set()
        for cycle in _find_cycles(graph):
            members = frozenset(cycle)
            if members in reported:
                continue
            reported.add(members)
            self.add(f"{path}.tasks[{by_name[cycle[0]][0]}]",
                     f"dependency cycle: {' -> '.join(cycle)}")  # fmt: skip

    def check_targets(
        self, target: Any, path: str, by_name: Mapping[str, Any], scope: _Scope
    ) -> None:
        if not isinstance(target, str) or not target:
            return
        self.check_variables(target, path, scope)
        for name in target.split():
            if not _IS_PARAMETER.search(name) and name not in by_name:
                self.add(path, f'unknown target task "{name}"')

    def check_task_variables(
        self, task: dict, path: str, scope: _Scope, graph: Mapping[str, list[str]],
        targets: Mapping[str, dict | None],
    ) -> None:  # fmt: skip
        task_scope = scope.copy()
        known: dict[str, set[str]] = {}

        def ancestors() -> set[str]:
            # Walked only when a task refers to another task, so a DAG of independent tasks
            # costs nothing here however many tasks it has.
            if "set" not in known:
                known["set"] = _ancestors(task["name"], graph)
            return known["set"]

        task_scope.extra = lambda key: (key.startswith("tasks.") and key.endswith(".status")
                                        and key[6:-7] in ancestors())
        self.add_inline_inputs(task, task_scope)
        self.check_loop(task, path, f'task "{task["name"]}"', task_scope)
        self.check_variables(task, path, task_scope, skip=frozenset({"inline"}))
        arguments = task.get("arguments") if isinstance(task.get("arguments"), dict) else {}
        for key, source in (("parameters", "value"), ("artifacts", "from")):
            for index, item in enumerate(_list(arguments.get(key))):
                text = item.get(source) if isinstance(item, dict) else None
                if isinstance(text, str) and text.startswith("{{tasks."):
                    dep = text.split(".")[1]
                    if dep in scope.siblings and dep not in ancestors():
                        self.add(f"{path}.arguments.{key}[{index}].{source}",
                                 f'task "{dep}" is used here but is not a dependency of task '
                                 f'"{task["name"]}"')  # fmt: skip

    # variables

    def check_variables(
        self, value: Any, path: str, scope: _Scope, skip: frozenset[str] = frozenset()
    ) -> None:
        for text_path, text in _strings(value, path, skip):
            reported: set[str] = set()
            for raw in _template_tags(text):
                if raw.startswith("="):
                    continue  # expression tags are not checked, as in Argo
                tag = raw.strip()
                if not (tag == "item" or tag.startswith(_CHECKED_ROOTS)) or tag in reported:
                    continue
                if not _resolves(tag, scope, self.globals):
                    reported.add(tag)
                    self.add(text_path, f"cannot resolve {{{{{tag}}}}}: "
                             f"{_why_unresolved(tag, scope)}")

    # result

    def finish(self, doc: Any) -> list[Fault]:
        order = _document_order(doc)

        def position(fault: Fault) -> int:
            path = fault.path
            while path not in order and path:
                path = _parent(path)
            return order.get(path, 0)

        unique = list(dict.fromkeys(self.faults))
        return sorted(unique, key=position)


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _has_exit_hook(step: dict) -> bool:
    hooks = step.get("hooks")
    return bool(step.get("onExit")) or (isinstance(hooks, dict) and "exit" in hooks)


def _has_output(template: dict, plugin_types: frozenset[str] = frozenset()) -> bool:
    """Whether a template produces outputs.result / exitCode (Argo's Template.HasOutput).

    A third-party template type (``notebook``…) is a leaf that produces a result too.
    """
    kinds = {k for k, v in template.items() if v is not None}
    if kinds & (_OUTPUT_TYPES | (plugin_types - _ARGO_TYPES)):
        return True
    container_set = template.get("containerSet")
    if isinstance(container_set, dict):
        containers = _list(container_set.get("containers"))
        return any(isinstance(c, dict) and c.get("name") == "main" for c in containers)
    return False


def _add_outputs(
    scope: _Scope, root: str, name: str, template: dict | None, aggregate: bool,
    plugin_types: frozenset[str] = frozenset(),
) -> None:
    """What ``{{steps.NAME.…}}`` / ``{{tasks.NAME.…}}`` may refer to once NAME has run."""
    node = f"{root}.{name}"
    scope.keys |= {f"{node}.{k}" for k in ("id", "startedAt", "finishedAt", "hostNodeName")}
    if template is None:  # unknown or external: its outputs cannot be known, so allow them all
        scope.open_prefixes.add(f"{node}.")
        return
    if template.get("daemon") is True:
        scope.keys.add(f"{node}.ip")
    if _has_output(template, plugin_types):
        scope.keys |= {f"{node}.outputs.result", f"{node}.exitCode"}
    outputs = template.get("outputs") if isinstance(template.get("outputs"), dict) else {}
    for kind in ("parameters", "artifacts"):
        for item in _list(outputs.get(kind)):
            if isinstance(item, dict) and item.get("name") is not None:
                scope.keys.add(f"{node}.outputs.{kind}.{_go_string(item['name'])}")
    if aggregate:
        scope.keys.add(f"{node}.outputs.parameters")
        if template.get("script") is not None or template.get("containerSet") is not None:
            scope.keys |= {f"{node}.outputs.result", f"{node}.exitCode"}


def _ancestors(name: str, graph: Mapping[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(graph.get(name, []))
    while stack:
        dep = stack.pop()
        if dep not in seen:
            seen.add(dep)
            stack.extend(graph.get(dep, []))
    return seen


def _find_cycles(graph: Mapping[str, list[str]]) -> Iterator[list[str]]:
    """Each dependency cycle once it is first met, as ``[a, b, a]`` (a depends on b ...)."""
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> Iterator[list[str]]:
        for dep in graph.get(node, []):
            if dep in trail:
                yield [*trail[trail.index(dep) :], dep]
            elif dep not in done:
                yield from visit(dep, [*trail, dep])
        done.add(node)

    for start in graph:
        if start not in done:
            yield from visit(start, [start])


def _check_depends_syntax(depends: str, path: str, linter: _Linter) -> None:
    """Parse ``depends`` with the expression engine, when it is installed."""
    try:
        from argosy.expr import parse_depends  # lazy: the expression module may be absent
    except ImportError:
        return
    try:
        parse_depends(depends)
    except ExpressionError as err:
        linter.add(path, f"invalid depends expression: {err}")


# --- public API --------------------------------------------------------------------------------


def lint(
    doc: Any,
    *,
    file: str | None = None,
    locate: Locator | None = None,
    template_types: Mapping[str, TemplateValidator] | None = None,
    strict: bool = True,
) -> list[Fault]:
    """Every fault in one Workflow document, in document order.

    ``locate`` maps a document path to (line, column); ``template_types`` maps each template-type
    key (``container``, ``dag``, ``http``, ...) to a validator of that key's body. Without it, the
    built-in Argo types are known and their bodies are not validated. ``strict`` (Argo's
    ``lint --strict``, its default) makes a field Argo's schema does not know a fault.
    """
    types: Mapping[str, TemplateValidator | None] = (
        dict.fromkeys(BUILTIN_TEMPLATE_TYPES) if template_types is None else template_types
    )
    linter = _Linter(file, locate, types, strict)
    linter.check_document(doc)
    return linter.finish(doc)


def lint_documents(
    docs: Iterable[Any],
    template_types: Mapping[str, TemplateValidator] | None = None,
    strict: bool = True,
) -> list[Fault]:
    """Lint loaded documents (``argosy.spec.loader.Document``), e.g. for ``argosy lint FILE...``."""
    faults: list[Fault] = []
    for doc in docs:
        faults += lint(doc.data, file=doc.file, locate=doc.locate, template_types=template_types,
                       strict=strict)
    return faults
