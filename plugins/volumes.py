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

``subPath`` mounts a path inside the volume (made if missing, as the kubelet does) and
``readOnly`` makes the mount read-only. Other volume sources are refused by name.
"""

from __future__ import annotations

import os
import posixpath
import stat
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
    spec = ctx.run.manifest.get("spec", {})
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
        resolved.append((source, posixpath.normpath(path), bool(mount.get("readOnly"))))
    return tuple(resolved)


def _source(ctx: NodeContext, volume: dict[str, Any], where: str) -> str:
    name = volume["name"]
    if volume.get("_claimTemplate"):
        path = ctx.run.store.claims_dir(ctx.run.uid) / name
    elif "emptyDir" in volume:
        path = ctx.node_dir / "volumes" / name
    elif "persistentVolumeClaim" in volume:
        claim = (volume["persistentVolumeClaim"] or {}).get("claimName")
        if not claim or "/" in claim or claim in (".", ".."):
            raise NodeError(f"volume {name!r}: persistentVolumeClaim.claimName {claim!r} is "
                            "not a claim name")
        path = ctx.run.store.home / "volumes" / ctx.run.namespace / claim
    elif "hostPath" in volume:
        return _host_path(name, volume["hostPath"] or {})
    else:
        kinds = sorted(k for k in volume if k != "name") or ["(no source)"]
        raise NodeError(f"volume {name!r}: {kinds[0]} volumes are not supported by the local "
                        "executor (emptyDir, hostPath, persistentVolumeClaim and "
                        "volumeClaimTemplates are)")
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


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
