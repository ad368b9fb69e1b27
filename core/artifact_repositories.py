"""Which artifact repository holds a workflow's artifacts, and which one an explicit location
names, as Argo chooses them.

A workflow's repository is, in Argo's order: the one ``spec.artifactRepositoryRef`` names (a key
of a ConfigMap, ``artifact-repositories`` by default, whose value is an ArtifactRepository such
as ``s3: {bucket: b, ...}``; without a key, the one the ConfigMap's annotation
``workflows.argoproj.io/default-artifact-repository`` names); else the default of the
namespace's ``artifact-repositories`` ConfigMap, when it has that annotation; else
``artifactRepository`` in ``$ARGOSY_HOME/config.yaml``. ConfigMaps are those of the objects
store. An artifact with a full location of its own (``s3: {bucket, key, ...}``) is kept in the
repository plugin of that name, opened with those fields over the workflow's repository's own
settings when it is of the same kind. SecretKeySelectors in settings (``accessKeySecret:
{name, key}``) reach the plugin as the Secret's value.
"""

from __future__ import annotations

import base64
import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from argosy.artifacts import ArtifactError, key_only, location_of

if TYPE_CHECKING:
    from argosy.plugin import ArtifactRepository
    from argosy.registry import Registry
    from argosy.store import Store

CONFIGMAP = "artifact-repositories"
DEFAULT_ANNOTATION = "workflows.argoproj.io/default-artifact-repository"


class Repositories:
    """The artifact repositories one workflow reaches."""

    def __init__(self, registry: Registry, store: Store, namespace: str,
                 spec: dict[str, Any]) -> None:
        self.registry, self.store, self.namespace, self.spec = registry, store, namespace, spec
        self._opened: dict[str, ArtifactRepository] = {}
        self._archive_logs = False

    @functools.cached_property
    def chosen(self) -> tuple[str, dict[str, Any]]:
        """The workflow's repository: its plugin name and settings."""
        ref = self.spec.get("artifactRepositoryRef")
        if ref:
            if not isinstance(ref, dict):
                raise ArtifactError("spec.artifactRepositoryRef must be a mapping "
                                    "{configMap, key}")
            found = self._from_config_map(str(ref.get("configMap") or CONFIGMAP),
                                          ref.get("key"), "spec.artifactRepositoryRef")
            if found is None:
                raise ArtifactError(f'spec.artifactRepositoryRef: ConfigMap '
                                    f'"{ref.get("configMap") or CONFIGMAP}" not found in '
                                    f'namespace "{self.namespace}"')
            return found
        found = self._from_config_map(CONFIGMAP, None, None)
        if found is not None:
            return found
        configured = self.registry.settings(self.store.home).get("artifactRepository")
        self._archive_logs = isinstance(configured, dict) and configured.get(
            "archiveLogs") is True
        return self.registry.configured_artifact_repository(self.store.home)

    @property
    def archive_logs(self) -> bool:
        """The repository's own ``archiveLogs`` (Argo's controller-wide setting): when true,
        every pod's log is archived whatever the workflow or template says."""
        _ = self.chosen
        return self._archive_logs

    def _from_config_map(self, name: str, key: Any,
                         where: str | None) -> tuple[str, dict[str, Any]] | None:
        body = self.store.get_object("ConfigMap", self.namespace, name)
        if body is None:
            return None
        key = key or ((body.get("metadata") or {}).get("annotations") or {}).get(
            DEFAULT_ANNOTATION)
        if not key:
            if where is None:
                return None  # a namespace's ConfigMap without a default is not chosen
            raise ArtifactError(f'{where}: ConfigMap "{name}" has no annotation '
                                f"{DEFAULT_ANNOTATION} and the ref gives no key")
        text = (body.get("data") or {}).get(key)
        label = f'ConfigMap "{name}" key "{key}"'
        if text is None:
            raise ArtifactError(f"{where or 'artifact repository'}: {label} not found")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ArtifactError(f"{label}: not YAML: {exc}") from None
        if not isinstance(value, dict):
            raise ArtifactError(f"{label}: an ArtifactRepository mapping was expected")
        self._archive_logs = value.pop("archiveLogs", None) is True
        if len(value) != 1 or not isinstance(next(iter(value.values())), dict):
            raise ArtifactError(f"{label}: one repository kind (s3: {{...}}) was expected, "
                                f"not {', '.join(value) or 'none'}")
        [(kind, settings)] = value.items()
        return str(kind), settings

    @property
    def default(self) -> ArtifactRepository:
        return self.open(*self.chosen)

    def open(self, kind: str, settings: dict[str, Any]) -> ArtifactRepository:
        cache = json.dumps([kind, settings], sort_keys=True, default=str)
        if cache not in self._opened:
            factory = self.registry.artifact_repositories.get(kind)
            if factory is None:
                loaded = ", ".join(sorted(self.registry.artifact_repositories)) or "none"
                raise ArtifactError(f"artifact repository {kind!r} is not provided by any "
                                    f"plugin (loaded: {loaded})")
            resolved = {k: self._secret(kind, k, v) for k, v in settings.items()}
            self._opened[cache] = factory.open(Path(self.store.home), resolved)
        return self._opened[cache]

    def _secret(self, kind: str, field: str, value: Any) -> Any:
        if not (field.endswith("Secret") and isinstance(value, dict)):
            return value
        return self.secret(value, f"{kind}.{field}")

    def secret(self, selector: Any, where: str) -> str | None:
        """The value of a SecretKeySelector ``{name, key, optional}`` of the workflow's
        namespace; None when none is given, or it is optional and absent. A missing Secret or
        key is an error naming ``where``, the Secret and the key, in Argo's words."""
        if not selector:
            return None
        if not isinstance(selector, dict):
            raise ArtifactError(f"{where}: a SecretKeySelector {{name, key}} was expected")
        name, key = str(selector.get("name") or ""), str(selector.get("key") or "")
        body = self.store.get_object("Secret", self.namespace, name) if name else None
        data = (body or {}).get("data") or {}
        if key in data:
            return base64.b64decode(data[key]).decode()
        if selector.get("optional") is True:
            return None
        if body is None:
            raise ArtifactError(f'{where}: secrets "{name}" not found in namespace '
                                f'"{self.namespace}"')
        raise ArtifactError(f"{where}: secret '{name}' does not have the key '{key}'")

    def resolve(self, art: dict[str, Any]) -> tuple[ArtifactRepository, str | None]:
        """The repository that holds ``art`` and its key there (None: an output artifact whose
        location gives no key, which gets the default key)."""
        kind, settings, key = self.where(art)
        return self.open(kind, settings), key

    def where(self, art: dict[str, Any]) -> tuple[str, dict[str, Any], str | None]:
        """What :meth:`resolve` opens, as written: the repository's kind, its settings (Secrets
        still as SecretKeySelectors) and the key (None as there)."""
        location = location_of(art)
        key = key_only(location)
        if key is not None or not location:
            return (*self.chosen, key)
        key = self.default.key_of(location)
        if key is not None:
            return (*self.chosen, key)
        kind, chosen = self.chosen
        [(name, body)] = list(location.items())[:1]
        if len(location) != 1 or not isinstance(body, dict) or (
                name not in self.registry.artifact_repositories):
            raise ArtifactError(f"{', '.join(location)} is not in this workflow's artifact "
                                "repository")
        base = dict(chosen) if name == kind else {}
        settings = {**base, **{k: v for k, v in body.items() if k != "key"}}
        return name, settings, (str(body["key"]) if body.get("key") else None)
