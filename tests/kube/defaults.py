"""Server-side defaulting and validation of the built-in kinds, where clients rely on them."""

from __future__ import annotations

import base64
import re
from typing import Any

from .kinds import Kind

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")

Cause = dict[str, str]


def required(field: str) -> Cause:
    return {"reason": "FieldValueRequired", "message": "Required value", "field": field}


def invalid(field: str, value: Any, why: str) -> Cause:
    return {"reason": "FieldValueInvalid", "message": f"Invalid value: {value!r}: {why}",
            "field": field}


# ---- validation --------------------------------------------------------------------------------


def validate(kind: Kind, obj: dict[str, Any]) -> list[Cause]:
    """The causes of a 422 Invalid answer, empty when the object is acceptable."""
    meta = obj.get("metadata") or {}
    causes = _validate_name(meta.get("name"))
    spec = obj.get("spec") or {}
    check = _CHECKS.get(kind.kind)
    if check is not None and (kind.group in ("", "batch", "apps", "apiextensions.k8s.io")):
        causes += check(spec)
    return causes


def _validate_name(name: Any) -> list[Cause]:
    if not name:
        return [{"reason": "FieldValueRequired",
                 "message": "Required value: name or generateName is required",
                 "field": "metadata.name"}]
    if not isinstance(name, str) or len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        return [invalid("metadata.name", name, SUBDOMAIN_MESSAGE)]
    return []


def _containers(spec: dict[str, Any], prefix: str) -> list[Cause]:
    containers = spec.get("containers")
    if not containers:
        return [required(f"{prefix}containers")]
    causes = []
    for field in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(field) or []):
            where = f"{prefix}{field}[{i}]"
            if not isinstance(c, dict):
                causes.append(invalid(where, c, "must be an object"))
                continue
            if not c.get("name"):
                causes.append(required(f"{where}.name"))
            elif not DNS_LABEL.match(str(c["name"])):
                causes.append(invalid(f"{where}.name", c["name"], "a lowercase RFC 1123 label"))
            if not c.get("image"):
                causes.append(required(f"{where}.image"))
    return causes


def _pod(spec: dict[str, Any]) -> list[Cause]:
    return _containers(spec, "spec.")


def _template(spec: dict[str, Any]) -> list[Cause]:
    template = spec.get("template")
    if not template:
        return [required("spec.template")]
    return _containers(template.get("spec") or {}, "spec.template.spec.")


def _job(spec: dict[str, Any]) -> list[Cause]:
    causes = _template(spec)
    policy = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
    if policy not in ("Never", "OnFailure"):
        causes.append({"reason": "FieldValueNotSupported", "field":
                       "spec.template.spec.restartPolicy", "message":
                       f'Unsupported value: "{policy or "Always"}": supported values: '
                       '"OnFailure", "Never"'})
    return causes


def _deployment(spec: dict[str, Any]) -> list[Cause]:
    causes = _template(spec)
    if not spec.get("selector"):
        causes.append(required("spec.selector"))
    return causes


def _crd(spec: dict[str, Any]) -> list[Cause]:
    causes = [required(f"spec.{f}") for f in ("group", "versions") if not spec.get(f)]
    names = spec.get("names") or {}
    causes += [required(f"spec.names.{f}") for f in ("plural", "kind") if not names.get(f)]
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(required("spec.scope"))
    return causes


_CHECKS = {"Pod": _pod, "Job": _job, "Deployment": _deployment,
           "CustomResourceDefinition": _crd}


def validate_crd_name(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") or {}
    expected = f"{(spec.get('names') or {}).get('plural')}.{spec.get('group')}"
    name = (obj.get("metadata") or {}).get("name")
    if name != expected:
        return [invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group')]
    return []


# ---- defaulting --------------------------------------------------------------------------------


def default(kind: Kind, obj: dict[str, Any], cluster_ip: str) -> None:
    """Fill in what the real server defaults, in place."""
    fill = _DEFAULTS.get(kind.kind) if kind.group in ("", "batch", "apps",
                                                       "apiextensions.k8s.io") else None
    if fill is not None:
        fill(obj, cluster_ip)


def _setdefaults(target: dict[str, Any], **values: Any) -> None:
    for key, value in values.items():
        target.setdefault(key, value)


def _image_pull_policy(image: str) -> str:
    tag = image.rsplit("/", 1)[-1]
    return "Always" if ":" not in tag or tag.endswith(":latest") else "IfNotPresent"


def pod_spec_defaults(spec: dict[str, Any]) -> None:
    _setdefaults(spec, restartPolicy="Always", dnsPolicy="ClusterFirst",
                 schedulerName="default-scheduler", terminationGracePeriodSeconds=30,
                 securityContext={}, enableServiceLinks=True, priority=0,
                 preemptionPolicy="PreemptLowerPriority",
                 serviceAccountName=spec.get("serviceAccount", "default"))
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    for field in ("initContainers", "containers"):
        for c in spec.get(field) or []:
            _setdefaults(c, terminationMessagePath="/dev/termination-log",
                         terminationMessagePolicy="File", resources={},
                         imagePullPolicy=_image_pull_policy(str(c.get("image", ""))))
            for port in c.get("ports") or []:
                port.setdefault("protocol", "TCP")


def _fill_pod(obj: dict[str, Any], _: str) -> None:
    pod_spec_defaults(obj.setdefault("spec", {}))
    status = obj.setdefault("status", {})
    _setdefaults(status, phase="Pending", qosClass="BestEffort")


def _fill_service(obj: dict[str, Any], cluster_ip: str) -> None:
    spec = obj.setdefault("spec", {})
    _setdefaults(spec, type="ClusterIP", sessionAffinity="None", clusterIP=cluster_ip,
                 ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack",
                 internalTrafficPolicy="Cluster")
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    for port in spec.get("ports") or []:
        _setdefaults(port, protocol="TCP", targetPort=port.get("port"))
    obj.setdefault("status", {"loadBalancer": {}})


def _fill_secret(obj: dict[str, Any], _: str) -> None:
    obj.setdefault("type", "Opaque")
    strings = obj.pop("stringData", None) or {}
    data = obj.setdefault("data", {}) if strings else obj.get("data")
    for key, value in strings.items():
        data[key] = base64.b64encode(str(value).encode()).decode()


def _fill_pvc(obj: dict[str, Any], _: str) -> None:
    spec = obj.setdefault("spec", {})
    _setdefaults(spec, volumeMode="Filesystem", storageClassName="standard")
    # No provisioner runs here: a claim binds at once, to as much as it requests.
    requested = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    obj["status"] = {"phase": "Bound", "accessModes": spec.get("accessModes") or [],
                     "capacity": {"storage": requested}}


def _fill_namespace(obj: dict[str, Any], _: str) -> None:
    name = obj["metadata"]["name"]
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    obj.setdefault("spec", {"finalizers": ["kubernetes"]})
    obj["status"] = {"phase": "Active"}


def _fill_job(obj: dict[str, Any], _: str) -> None:
    spec = obj.setdefault("spec", {})
    _setdefaults(spec, parallelism=1, completions=1, backoffLimit=6, completionMode="NonIndexed",
                 suspend=False, manualSelector=False, podReplacementPolicy="TerminatedOrFailed")
    uid, name = obj["metadata"]["uid"], obj["metadata"]["name"]
    labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
              "controller-uid": uid, "job-name": name}
    spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {}).setdefault("labels", {}).update(labels)
    obj["metadata"].setdefault("labels", {}).update(
        {k: v for k, v in labels.items() if "job-name" in k or "controller-uid" in k})
    pod_spec_defaults(template.setdefault("spec", {}))
    obj.setdefault("status", {})


def _fill_deployment(obj: dict[str, Any], _: str) -> None:
    spec = obj.setdefault("spec", {})
    _setdefaults(spec, replicas=1, revisionHistoryLimit=10, progressDeadlineSeconds=600,
                 strategy={"type": "RollingUpdate",
                           "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    pod_spec_defaults(spec.setdefault("template", {}).setdefault("spec", {}))
    obj.setdefault("status", {})


def _fill_crd(obj: dict[str, Any], _: str) -> None:
    spec = obj["spec"]
    names = spec["names"]
    _setdefaults(names, singular=names["kind"].lower(), listKind=f"{names['kind']}List")
    conditions = [{"type": t, "status": "True", "reason": r, "message": m,
                   "lastTransitionTime": obj["metadata"]["creationTimestamp"]}
                  for t, r, m in (("NamesAccepted", "NoConflicts", "no conflicts found"),
                                  ("Established", "InitialNamesAccepted",
                                   "the initial names have been accepted"))]
    obj["status"] = {"acceptedNames": dict(names), "conditions": conditions,
                     "storedVersions": [v["name"] for v in spec["versions"] if v.get("storage")]}


_DEFAULTS = {"Pod": _fill_pod, "Service": _fill_service, "Secret": _fill_secret,
             "PersistentVolumeClaim": _fill_pvc, "Namespace": _fill_namespace, "Job": _fill_job,
             "Deployment": _fill_deployment, "CustomResourceDefinition": _fill_crd}
