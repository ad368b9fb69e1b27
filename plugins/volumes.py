"""A container's ``volumeMounts`` as host directories the local executor binds into its view.

Volumes as Kubernetes means them, on one host:

* ``emptyDir``: a directory of the node's own (in its runtime directory), gone with the node.
* ``hostPath``: the host's path itself, ``type`` checked (or made) as the kubelet does.
* ``volumeClaimTemplates``: one directory per workflow and claim
  (``$ARGOSY_HOME/claims/<workflow uid>/<name>``), shared by every step that mounts it, removed
  as ``volumeClaimGC`` says (Argo's default OnWorkflowSuccess: kept after a failure until the
  workflow is deleted) and with the workflow.
* ``persistentVolumeClaim``: ``$ARGOSY_HOME/volumes/<namespace>/<claimName>``, lasting until
  you remove it, as a claim outlives the workflows that use it.
* ``configMap`` and ``secret``: a ConfigMap's or Secret's keys from the local objects store
  (``argosy apply -f``), read when the step starts, each a file (or the ``items`` asked for,
  at their ``path``) with its ``mode`` or the ``defaultMode`` (0644), in a directory of the
  node's own, mounted read-only as the kubelet mounts them.

``subPath`` mounts a path inside the volume (made if missing, as the kubelet does) and
``readOnly`` makes the mount read-only. Other volume sources are refused by name.
"""

from __future__ import annotations

import base64
import os
import posixpath
import shutil
import stat
from pathlib import Path
from typing import Any

from argosy.plugin import NodeContext, NodeError

Mount = tuple[str, str, bool]  # host path, mount path, read-only

# hostPath types: what the path must be (a stat test), or None for "made if missing".
_HOST_PATH_TYPES = {
    "": None, "DirectoryOrCreate": None, "FileOrCreate": None,
    "Directory": stat.S_ISDIR, "File": stat.S_ISREG, "Socket": stat.S_ISSOCK,
    "CharDevice": stat.S_ISCHR, "BlockDevice": stat.S_ISBLK,
}


def declared_volumes(ctx: NodeContext) -> dict[str, dict[str, Any]]:
    """The volumes a template may mount: the workflow's, its claims', the template's own."""
    spec = ctx.workflow["spec"]
    volumes: dict[str, dict[str, Any]] = {}
    for v in ctx.substitute(spec.get("volumes") or [], ctx.scope):  # workflow.parameters…
        volumes[v["name"]] = v
    for claim in spec.get("volumeClaimTemplates") or []:
        name = claim.get("metadata", {}).get("name")
        if name:
            volumes[name] = {"name": name, "_claimTemplate": True}
    for v in ctx.raw.get("volumes") or []:
        volumes[v["name"]] = v
    return volumes


def volume_mounts(ctx: NodeContext, mounts: list[dict[str, Any]] | None) -> tuple[Mount, ...]:
    """Each of ``mounts`` as (host path, mount path, read-only); NodeError names a bad one."""
    if not mounts:
        return ()
    volumes = declared_volumes(ctx)
    resolved = []
    for i, mount in enumerate(mounts):
        where = f"volumeMounts[{i}]"
        name, path = mount.get("name"), mount.get("mountPath")
        if not isinstance(path, str) or not path.startswith("/"):
            raise NodeError(f"{where}.mountPath: {path!r} is not an absolute path")
        if name not in volumes:
            raise NodeError(f"{where}.name: no volume named {name!r} in spec.volumes, "
                            "spec.volumeClaimTemplates or the template's volumes")
        source = _source(ctx, volumes[name], where)
        sub = mount.get("subPath")
        if sub:
            if sub.startswith("/") or ".." in sub.split("/"):
                raise NodeError(f"{where}.subPath: {sub!r} must be a relative path inside the "
                                "volume")
            source = os.path.join(source, sub)
            if not os.path.exists(source):
                os.makedirs(source, exist_ok=True)
        read_only = bool(mount.get("readOnly")) or _OBJECT_SOURCES.keys() & volumes[name].keys()
        resolved.append((source, posixpath.normpath(path), bool(read_only)))
    return tuple(resolved)


def _source(ctx: NodeContext, volume: dict[str, Any], where: str) -> str:
    name = volume["name"]
    if volume.get("_claimTemplate"):
        path = ctx.claim_dir(name)
    elif "emptyDir" in volume:
        path = ctx.node_dir / "volumes" / name
    elif "persistentVolumeClaim" in volume:
        claim = (volume["persistentVolumeClaim"] or {}).get("claimName")
        if not claim or "/" in claim or claim in (".", ".."):
            raise NodeError(f"volume {name!r}: persistentVolumeClaim.claimName {claim!r} is "
                            "not a claim name")
        path = ctx.volume_dir(claim)
    elif "hostPath" in volume:
        return _host_path(name, volume["hostPath"] or {})
    elif _OBJECT_SOURCES.keys() & volume.keys():
        return _object_files(ctx, volume)
    else:
        kinds = sorted(k for k in volume if k != "name") or ["(no source)"]
        raise NodeError(f"volume {name!r}: {kinds[0]} volumes are not supported by the local "
                        "executor (emptyDir, hostPath, persistentVolumeClaim, "
                        "volumeClaimTemplates, configMap and secret are)")
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


# A volume source of objects: its kind and the field naming the object.
_OBJECT_SOURCES = {"configMap": ("ConfigMap", "name"), "secret": ("Secret", "secretName")}


def _object_files(ctx: NodeContext, volume: dict[str, Any]) -> str:
    """A ConfigMap's or Secret's keys as files in a directory of the node's own."""
    name = volume["name"]
    field = next(k for k in _OBJECT_SOURCES if k in volume)
    kind, name_field = _OBJECT_SOURCES[field]
    source = volume[field] or {}
    where = f"volume {name!r}: {field}"
    data = _object_data(ctx, kind, str(source.get(name_field) or ""), source, where)
    default = _mode(source.get("defaultMode"), f"{where}.defaultMode", 0o644)
    items = source.get("items")
    files = [(k, k, default) for k in sorted(data)] if items is None else [
        (str(item.get("key") or ""), item.get("path"),
         _mode(item.get("mode"), f"{where}.items[{i}].mode", default))
        for i, item in enumerate(items)]
    root = Path(ctx.node_dir, "volumes", name)
    shutil.rmtree(root, ignore_errors=True)  # a retry reads the object anew
    root.mkdir(parents=True)
    for i, (key, path, mode) in enumerate(files):
        if key not in data:
            if source.get("optional"):
                continue
            raise NodeError(f'{where}.items[{i}].key: key "{key}" not found in {kind} '
                            f'"{source.get(name_field)}"')
        if not isinstance(path, str) or not path or path.startswith("/") \
                or ".." in path.split("/"):
            raise NodeError(f"{where}.items[{i}].path: {path!r} must be a relative path "
                            "inside the volume")
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data[key])
        target.chmod(mode)
    return str(root)


def _object_data(ctx: NodeContext, kind: str, object_name: str, source: dict[str, Any],
                 where: str) -> dict[str, bytes]:
    """The object's keys and values (decoded), {} when it is missing and ``optional``."""
    found = ctx.get_object(kind, object_name)
    if found is None:
        if source.get("optional"):
            return {}
        raise NodeError(f'{where}: {kind} "{object_name}" not found in namespace '
                        f'"{ctx.namespace}"')
    if kind == "Secret":
        return {k: base64.b64decode(v) for k, v in (found.get("data") or {}).items()}
    data = {k: str(v).encode() for k, v in (found.get("data") or {}).items()}
    data |= {k: base64.b64decode(v) for k, v in (found.get("binaryData") or {}).items()}
    return data


def _mode(value: Any, where: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0o777:
        raise NodeError(f"{where}: {value!r} is not a file mode from 0 to 0777 (511)")
    return value


def _host_path(name: str, source: dict[str, Any]) -> str:
    path, kind = source.get("path"), source.get("type") or ""
    if not isinstance(path, str) or not path.startswith("/"):
        raise NodeError(f"volume {name!r}: hostPath.path {path!r} is not an absolute path")
    if kind not in _HOST_PATH_TYPES:
        raise NodeError(f"volume {name!r}: hostPath.type {kind!r} is not one of "
                        + ", ".join(k for k in _HOST_PATH_TYPES if k))
    if kind == "DirectoryOrCreate":
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif kind == "FileOrCreate" and not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "a").close()
    test = _HOST_PATH_TYPES[kind]
    if not os.path.exists(path):
        raise NodeError(f"volume {name!r}: hostPath.path {path!r} does not exist")
    if test is not None and not test(os.stat(path).st_mode):
        raise NodeError(f"volume {name!r}: hostPath.path {path!r} is not a {kind}")
    return path
