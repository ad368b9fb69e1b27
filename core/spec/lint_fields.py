"""Lint: field types and the fields Argo's schema knows (strict) or argosy cannot honour."""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

#: Template-type keys understood when no plugin registry is given (bodies are not validated).
BUILTIN_TEMPLATE_TYPES: tuple[str, ...] = (
    "container", "script", "resource", "suspend", "steps", "dag",
    "containerSet", "http", "plugin", "data",
)  # fmt: skip
_ARGO_TYPES = frozenset(BUILTIN_TEMPLATE_TYPES)
_POD_TYPES = frozenset({"container", "containerSet", "script", "resource", "data"})
_NON_LEAF = frozenset({"steps", "dag"})
_OUTPUT_TYPES = frozenset({"container", "script", "data", "http", "plugin"})


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
_CONTINUE_ON = {"error": "bool", "failed": "bool"}


# argo_fields.json is derived from Argo's Workflow JSON schema (tests/lint/schema.py rebuilds it):
# for each definition, its fields and the definition each object-valued field holds ("[X]" is a
# list of X, "{X}" a map of X). Field names are case-sensitive, as Go's strict decoding is.
_ROOT = "Workflow"
# Deprecated fields Argo still decodes though its schema no longer lists them; honoured here.
_LEGACY_FIELDS = {"Synchronization": {"semaphore": "SemaphoreRef", "mutex": "Mutex"}}


_NOT_YET = "by the local executor yet"
_NO_DRIVER = ("here yet: argosy reads raw, http, artifactory, git and s3 artifacts and keeps "
              "the others in its artifact repository")
_NO_S3 = ("here: give the role and addressing through the environment's "
          "AWS configuration (useSDKCreds)")
_NOT_YET_ARTIFACTS = "by argosy's artifacts yet"
#: Fields Argo knows that argosy cannot honour, by "Definition.field": the message goes on from
#: "FIELD is not supported ". A manifest that sets one is rejected rather than run without it
#: (false, empty and null values are accepted).
UNSUPPORTED: dict[str, str] = {
    "WorkflowSpec.executorPlugins": "here: executor plugins run as sidecars of an agent pod",
    "WorkflowSpec.hostAliases": "here: steps resolve names through the host's /etc/hosts",
    "Probe.grpc": _NOT_YET,
    "Template.hostAliases": "here: steps resolve names through the host's /etc/hosts",
    **{f"ArtifactLocation.{key}": "here: a template's archive location is the artifact "
       "repository set in $ARGOSY_HOME/config.yaml" for key in (
        "artifactory", "azure", "gcs", "git", "hdfs", "http", "oss", "plugin", "raw", "s3")},
    **{f"Artifact.{key}": _NO_DRIVER for key in (
        "azure", "gcs", "hdfs", "oss", "plugin")},
    "Artifact.recurseMode": _NOT_YET_ARTIFACTS,
    **{f"ArtifactPaths.{key}": "here: a data template lists the keys an artifact repository "
       "holds, which s3 names (key-only: a prefix in the workflow's repository)" for key in (
        "archive", "archiveLogs", "artifactGC", "artifactory", "azure", "deleted", "from",
        "fromExpression", "gcs", "git", "globalName", "hdfs", "http", "mode", "optional", "oss",
        "path", "plugin", "raw", "recurseMode", "subPath")},
    "Artifact.archiveLogs": "here: the store keeps every node's log, not the repository",
    **{f"S3Artifact.{key}": _NO_S3 for key in (
        "addressingStyle", "encryptionOptions", "roleARN")},
    "CreateS3BucketOptions.objectLocking": "here: a bucket argosy creates has no object lock",
    "ValueFrom.event": "here: there are no workflow event bindings",
    "ResourceTemplate.manifestFrom": _NOT_YET_ARTIFACTS,
    "EnvVarSource.fieldRef": "here: a process has no pod whose fields it could read",
    "EnvVarSource.resourceFieldRef": "here: a process has no container resources to read",
    "EnvVarSource.fileKeyRef": "here: there are no volumes to read keys from yet",
    "Mutex.database": "here: locks are kept by the engine, not in a database",
    "SemaphoreRef.database": "here: locks are kept by the engine, not in a database",
    "Gauge.operation": "here yet: a gauge is set to its value",
    **{f"VolumeMount.{key}": _NOT_YET for key in (
        "mountPropagation", "recursiveReadOnly", "subPathExpr")},
    # The local executor makes emptyDir, hostPath, persistentVolumeClaim, configMap and secret
    # volumes of directories (plugins/volumes.py); the other sources are the cluster's.
    **{f"Volume.{key}": "by the local executor: it mounts emptyDir, hostPath, "
       "persistentVolumeClaim, volumeClaimTemplates, configMap and secret volumes only"
       for key in (
        "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi",
        "downwardAPI", "ephemeral", "fc", "flexVolume", "flocker", "gcePersistentDisk",
        "gitRepo", "glusterfs", "image", "iscsi", "nfs", "photonPersistentDisk",
        "portworxVolume", "projected", "quobyte", "rbd", "scaleIO", "storageos",
        "vsphereVolume")},
    "EmptyDirVolumeSource.medium": "by the local executor: an emptyDir is a directory of the "
    "node's runtime directory (on a RAM-backed file system when there is one)",
    "EmptyDirVolumeSource.sizeLimit": "by the local executor: it does not bound a volume's size",
    "PersistentVolumeClaimVolumeSource.readOnly": "here: use the mount's readOnly",
    **{f"{kind}.{key}": reason for kind in ("Container", "ScriptTemplate", "ContainerNode",
                                          "UserContainer")
       for key, reason in {
           "lifecycle": "by the local executor: it runs no postStart or preStop handlers",
           "livenessProbe": "by the local executor: it does not probe or restart processes",
           "restartPolicy": "by the local executor: it does not restart processes",
           "restartPolicyRules": "by the local executor: it does not restart processes",
           "volumeDevices": "by the local executor: it attaches no block devices",
       }.items()},
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


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


class FieldChecks:
    """Field types, and fields unknown to Argo or not honoured here."""

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
                if kind == "Template" and (key in self.types or self.missing_type(value, key)):
                    continue  # a plugin's template type (or a missing one, named as such)
                if self.strict:
                    where = (" (nor a template type of an installed plugin)"
                             if kind == "Template" else "")
                    self.add(item_path, _unknown_field(key, fields, where))
                continue
            reason = self.unsupported.get(f"{kind}.{key}")
            if reason is not None and _is_set(item) and f"{kind}.{key}" not in self.honoured:
                self.add(item_path, f"{key} is not supported {reason}")
                continue
            self.check_known_fields(item, fields[key], item_path)
