"""The resource kinds the API server double serves, and the discovery documents describing them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Kind:
    """One REST resource: where it lives, what it is called, which subresources it has."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    columns: tuple[dict[str, Any], ...] = ()  # a CRD's additionalPrinterColumns
    categories: tuple[str, ...] = ()
    singular: str = field(default="")
    verbs: tuple[str, ...] = ALL_VERBS

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        return self.group, self.plural

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def returns_deleted(self) -> bool:
        """Whether a delete answers with the object (as these kinds' storage does) rather
        than a Status."""
        return self.group not in BUILTIN_GROUPS or (self.group, self.plural) in {
            ("", "pods"), ("", "services"), ("", "persistentvolumeclaims"), ("", "namespaces"),
            ("", "serviceaccounts"), ("apiextensions.k8s.io", "customresourcedefinitions")}

    def qualified(self) -> str:
        """``pods`` or ``jobs.batch``, as the server names a resource in its messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


BUILTIN: list[Kind] = [
    Kind("", "v1", "pods", "Pod", short_names=("po",), categories=("all",),
         subresources=frozenset({"status", "log"})),
    Kind("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    Kind("", "v1", "secrets", "Secret"),
    Kind("", "v1", "services", "Service", short_names=("svc",), categories=("all",),
         subresources=frozenset({"status"})),
    Kind("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short_names=("pvc",),
         subresources=frozenset({"status"})),
    Kind("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",),
         subresources=frozenset({"status"})),
    Kind("", "v1", "events", "Event", short_names=("ev",)),
    Kind("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",)),
    Kind("apps", "v1", "deployments", "Deployment", short_names=("deploy",),
         categories=("all",), subresources=frozenset({"status"})),
    Kind("batch", "v1", "jobs", "Job", categories=("all",), subresources=frozenset({"status"})),
    Kind("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
         namespaced=False, short_names=("crd", "crds"), subresources=frozenset({"status"})),
    Kind("coordination.k8s.io", "v1", "leases", "Lease"),
    Kind("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    Kind("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    Kind("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    Kind("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
         namespaced=False),
]

CRD_KIND = BUILTIN[10]
BUILTIN_GROUPS = frozenset(k.group for k in BUILTIN)


def kinds_of_crd(crd: dict[str, Any]) -> list[Kind]:
    """The kinds an established CRD serves, one per served version."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    kinds = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = frozenset(k for k in (version.get("subresources") or {}) if k == "status")
        kinds.append(Kind(
            spec["group"], version["name"], names["plural"], names["kind"],
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()),
            subresources=subresources,
            columns=tuple(version.get("additionalPrinterColumns") or ()),
            categories=tuple(names.get("categories") or ()),
            singular=names.get("singular") or names["kind"].lower(),
        ))
    return kinds


# ---- discovery documents ---------------------------------------------------------------------


def _verbs(sub: str) -> list[str]:
    return ["get"] if sub == "log" else ["get", "patch", "update"]


def resource_list(group_version: str, kinds: list[Kind]) -> dict[str, Any]:
    """An APIResourceList: each resource, then its subresources as ``pods/status``."""
    resources: list[dict[str, Any]] = []
    for k in kinds:
        entry = {"name": k.plural, "singularName": k.singular_name, "namespaced": k.namespaced,
                 "kind": k.kind, "verbs": list(k.verbs)}
        if k.short_names:
            entry["shortNames"] = list(k.short_names)
        if k.categories:
            entry["categories"] = list(k.categories)
        resources.append(entry)
        for sub in sorted(k.subresources):
            resources.append({"name": f"{k.plural}/{sub}", "singularName": "",
                              "namespaced": k.namespaced, "kind": k.kind, "verbs": _verbs(sub)})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": resources}


def api_group(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": name, "versions": entries,
            "preferredVersion": entries[0]}


# Served by the HTTP layer alone: create-only, nothing stored.
ACCESS_REVIEW = Kind("authorization.k8s.io", "v1", "selfsubjectaccessreviews",
                     "SelfSubjectAccessReview", namespaced=False, verbs=("create",))


def group_list(kinds: list[Kind]) -> dict[str, Any]:
    """The APIGroupList of /apis: every named group with the versions it serves."""
    versions: dict[str, list[str]] = {}
    for k in kinds:
        if k.group and k.version not in versions.setdefault(k.group, []):
            versions[k.group].append(k.version)
    groups = [api_group(name, vs) for name, vs in versions.items()]
    for g in groups:
        del g["kind"], g["apiVersion"]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


# ---- OpenAPI v3, as far as kubectl reads it ----------------------------------------------------
# kubectl (1.27+) asks /openapi/v3 whether PATCH of a kind takes the fieldValidation parameter;
# if so it leaves validation to the server instead of downloading schemas to validate itself.
# No schemas are served: kubectl then computes apply's patches from its built-in types.


def group_version_path(kind: Kind) -> str:
    return f"apis/{kind.group}/{kind.version}" if kind.group else f"api/{kind.version}"


def openapi_v3_root(kinds: list[Kind]) -> dict[str, Any]:
    paths = sorted({group_version_path(k) for k in kinds})
    return {"paths": {p: {"serverRelativeURL": f"/openapi/v3/{p}"} for p in paths}}


def openapi_v3(path: str, kinds: list[Kind]) -> dict[str, Any] | None:
    """The OpenAPI v3 document of one group version: its object paths and their PATCH."""
    served = [k for k in kinds if group_version_path(k) == path]
    if not served:
        return None
    paths = {}
    field_validation = {"name": "fieldValidation", "in": "query", "schema": {"type": "string"},
                        "description": "Ignore, Warn or Strict"}
    for k in served:
        where = "/namespaces/{namespace}" if k.namespaced else ""
        gvk = {"group": k.group, "version": k.version, "kind": k.kind}
        paths[f"/{path}{where}/{k.plural}/{{name}}"] = {"patch": {
            "operationId": f"patch{k.kind}", "x-kubernetes-group-version-kind": gvk,
            "x-kubernetes-action": "patch", "parameters": [field_validation],
            "responses": {"200": {"description": "OK"}}}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths}
