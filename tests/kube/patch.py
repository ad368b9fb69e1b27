"""The three PATCH flavours the API server accepts: JSON patch, JSON merge patch, strategic merge.

Strategic merge knows the merge keys of the built-in types that clients rely on (containers and
their env/ports/volumeMounts merged by name, conditions by type, ...) and the ``$patch``,
``$setElementOrder``, ``$retainKeys`` and ``$deleteFromPrimitiveList`` directives kubectl sends.
"""

from __future__ import annotations

import copy
from typing import Any

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# Lists of objects merged by a key field (Kubernetes' patchMergeKey), by field name.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "conditions": "type", "containerStatuses": "name",
    "initContainerStatuses": "name", "ownerReferences": "uid", "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey", "resourceClaims": "name",
}
# Lists of scalars whose patch strategy is merge (a set union).
MERGED_SCALARS = {"finalizers"}


class PatchError(ValueError):
    """A patch that cannot apply; the server answers 422 (or 400 for a malformed one)."""


# ---- RFC 6902 JSON patch -----------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}: must start with /")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    for part in parts[:-1]:
        try:
            doc = doc[int(part)] if isinstance(doc, list) else doc[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise PatchError(f"doc is missing path: {path!r}") from None
    return doc


def _index(container: list[Any], token: str, path: str, adding: bool) -> int:
    if adding and token == "-":
        return len(container)
    try:
        index = int(token)
    except ValueError:
        raise PatchError(f"invalid array index {token!r} in {path!r}") from None
    if not 0 <= index <= len(container) - (0 if adding else 1):
        raise PatchError(f"array index out of bounds in {path!r}")
    return index


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent = _parent(doc, parts, path)
    try:
        if isinstance(parent, list):
            return parent[_index(parent, parts[-1], path, False)]
        return parent[parts[-1]]
    except (KeyError, TypeError):
        raise PatchError(f"doc is missing key: {path!r}") from None


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    parent = _parent(doc, parts, path)
    if isinstance(parent, list):
        return parent.pop(_index(parent, parts[-1], path, False))
    if not isinstance(parent, dict) or parts[-1] not in parent:
        raise PatchError(f"unable to remove nonexistent key: {path!r}")
    return parent.pop(parts[-1])


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _parent(doc, parts, path)
    if isinstance(parent, list):
        parent.insert(_index(parent, parts[-1], path, True), value)
    elif isinstance(parent, dict):
        parent[parts[-1]] = value
    else:
        raise PatchError(f"doc is missing path: {path!r}")
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "path" not in op:
            raise PatchError(f"invalid JSON patch operation {op!r}: needs op and path")
        kind, path = op.get("op"), op["path"]
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            if _pointer(path):
                _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind in ("move", "copy"):
            value = _get(doc, op.get("from", ""))
            if kind == "move":
                _remove(doc, op["from"])
            doc = _add(doc, path, copy.deepcopy(value))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise PatchError(f"testing value {path} failed")
        else:
            raise PatchError(f"unexpected kind of JSON patch operation {kind!r}")
    return doc


# ---- RFC 7386 JSON merge patch -----------------------------------------------------------------


def merge_patch(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ---- strategic merge patch ---------------------------------------------------------------------


def strategic_merge(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict) or not isinstance(doc, dict):
        return _strip(copy.deepcopy(patch))
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip({k: v for k, v in patch.items() if k != "$patch"})
    if directive == "delete":
        return None
    result = copy.deepcopy(doc)
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [v for v in result.get(name) or [] if v not in value]
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(key, result[key], value)
        else:
            result[key] = strategic_merge(result.get(key), value)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(field: str, current: list[Any], patch: list[Any]) -> list[Any]:
    if field in MERGED_SCALARS:
        return current + [v for v in patch if v not in current]
    key = MERGE_KEYS.get(field)
    if field == "ports":
        key = "containerPort" if any("containerPort" in p for p in patch + current) else "port"
    if key is None or not all(isinstance(p, dict) for p in patch):
        return _strip(copy.deepcopy(patch))
    if any(p.get("$patch") == "replace" for p in patch):
        return [_strip(p) for p in patch if p.get("$patch") != "replace"]
    merged = copy.deepcopy(current)
    for item in patch:
        at = next((i for i, c in enumerate(merged) if c.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if at is not None:
                merged.pop(at)
        elif at is None:
            merged.append(_strip(copy.deepcopy(item)))
        else:
            merged[at] = strategic_merge(merged[at], item)
    return merged


def _strip(value: Any) -> Any:
    """Drop directives from a value that is taken whole."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items()
                if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value
