"""Load Argo manifests from YAML/JSON text into plain dicts, remembering where each value sits.

Argo decodes manifests with sigs.k8s.io/yaml, which reads YAML with a YAML 1.1 style parser
(go-yaml v2) and then converts to JSON. PyYAML's safe loader is close to that; the resolver
below removes the differences that matter for real manifests:

* ``y/Y/n/N`` are booleans too (as are ``yes/no/on/off/true/false`` in all their cases);
* timestamps stay strings (go-yaml v2 keeps them as strings when decoding into ``any``);
* no base-60 numbers (``1:30`` stays the string ``"1:30"``), and ``1e3`` is a float;
* a lone ``=`` is a plain string, not PyYAML's special "value" tag;
* mapping keys become strings, as JSON requires (``true`` -> ``"true"``, ``1`` -> ``"1"``).

Hostile text is refused before anything walks it: a document whose aliases would expand past
``MAX_ALIAS_VALUES`` values (a 550-byte "billion laughs" expands to 10^9), that refers to itself,
that nests deeper than ``MAX_DEPTH``, or that holds a lone UTF-16 surrogate (which no UTF-8
writer can store or send back).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from argosy.errors import Fault, InvalidWorkflow

__all__ = ["Document", "check_value", "load_documents", "load_file", "load_workflow"]

# Real manifests nest a dozen levels; this leaves room and keeps every recursive walk safe.
MAX_DEPTH = 100
# Values that aliases may add to a document beyond those written out (go-yaml bounds them too).
MAX_ALIAS_VALUES = 100_000
_SURROGATE = re.compile("[\ud800-\udfff]")

EMPTY = "no manifest in it: the file is empty or holds only comments"

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _ArgoLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loader whose scalar resolution follows go-yaml v2 (see module docstring)."""

    yaml_implicit_resolvers: dict = {}


def _add_resolver(tag: str, pattern: str, first: str) -> None:
    _ArgoLoader.add_implicit_resolver(tag, re.compile(pattern, re.X), list(first))


_add_resolver(
    "tag:yaml.org,2002:bool",
    r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE"
    r"|on|On|ON|off|Off|OFF)$",
    "yYnNtTfFoO",
)
_add_resolver(
    "tag:yaml.org,2002:int",
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""",
    "-+0123456789",
)
_add_resolver(
    "tag:yaml.org,2002:float",
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    "-+0123456789.",
)
_add_resolver("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN")
_ArgoLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^$"), [""])
_add_resolver("tag:yaml.org,2002:merge", r"^(?:<<)$", "<")


def _json_key(key: Any) -> Any:
    """Mapping keys as Go's YAML-to-JSON conversion spells them."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int | float):
        return str(key)
    return key


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> dict:
    loader.flatten_mapping(node)
    data: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        data[_json_key(key)] = loader.construct_object(value_node, deep=True)
    return data


def _construct_bool(loader: Any, node: yaml.ScalarNode) -> bool:
    return loader.construct_scalar(node).lower() in ("y", "yes", "true", "on")


_ArgoLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_ArgoLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


@dataclass
class Document:
    """One YAML document: its plain data and a map from document paths to source positions."""

    data: Any
    file: str | None = None
    positions: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)

    def locate(self, path: str) -> tuple[int, int] | None:
        """1-based (line, column) of ``path``, or of its nearest ancestor present in the source
        (a missing field points at the mapping that should hold it); None when unknown."""
        while True:
            if path in self.positions:
                return self.positions[path]
            if not path:
                return None
            path = _parent_path(path)


    def place(self, faults: list[Fault]) -> list[Fault]:
        """Faults found in this document's data, with its file and the line of each path (a
        path outside the document, such as a referenced template's, gets no line)."""
        placed = []
        for fault in faults:
            if fault.file is not None:
                placed.append(fault)
                continue
            first = re.split(r"[.\[]", fault.path, maxsplit=1)[0]
            where = self.locate(fault.path) if isinstance(self.data, dict) and first in \
                self.data else None
            placed.append(Fault(fault.path, fault.message, self.file, *(where or (None, None))))
        return placed


def _parent_path(path: str) -> str:
    if path.endswith("]"):
        return path[: path.rindex("[")]
    return path.rpartition(".")[0]


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _record_positions(
    loader: Any, node: yaml.Node, path: str, out: dict[str, tuple[int, int]], seen: set[int]
) -> None:
    """Walk the composed node tree, noting where each mapping key and list item starts."""
    if id(node) in seen:  # an alias back into an enclosing node: stop rather than loop
        return
    seen = seen | {id(node)}
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = _json_key(loader.construct_object(key_node, deep=True))
            child = _join(path, key)
            mark = key_node.start_mark
            out.setdefault(child, (mark.line + 1, mark.column + 1))
            _record_positions(loader, value_node, child, out, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = _join(path, index)
            mark = item.start_mark
            out.setdefault(child, (mark.line + 1, mark.column + 1))
            _record_positions(loader, item, child, out, seen)


def _refusal(message: str, file: str | None, path: str = "",
             mark: yaml.Mark | None = None) -> InvalidWorkflow:
    if mark is None:
        return InvalidWorkflow([Fault(path, message, file)])
    return InvalidWorkflow([Fault(path, message, file, mark.line + 1, mark.column + 1)])


TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"


def check_value(value: Any, file: str | None = None, path: str = "") -> None:
    """Raise InvalidWorkflow if ``value`` (plain data) nests deeper than MAX_DEPTH or holds
    what JSON cannot carry (a string with a lone UTF-16 surrogate, NaN or an infinity); the
    fault names the path."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise _refusal("text is not valid Unicode: it holds a lone UTF-16 surrogate",
                               file, where)
            continue
        if isinstance(item, dict):
            children = list(item.items())
            stack.extend((key, where, depth) for key in item if isinstance(key, str))
        elif isinstance(item, list):
            children = list(enumerate(item))
        else:
            if isinstance(item, float) and not math.isfinite(item):
                raise _refusal(f"{item} is not a JSON number", file, where)
            continue
        if depth >= MAX_DEPTH:
            raise _refusal(TOO_DEEP, file, where if len(where) < 100 else f"{where[:100]}…")
        stack.extend((child, _join(where, key), depth + 1) for key, child in children)


def _node_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_graph(root: yaml.Node, file: str | None) -> None:
    """Refuse a composed document that aliases would blow up, before anything expands it:
    count the values of the expanded tree and its depth over the node graph, each node once."""
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    open_nodes: set[int] = set()  # the current node's ancestors
    distinct = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key, children = id(node), _node_children(node)
        if done:
            open_nodes.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            height[key] = (1 + max((height[id(c)] for c in children), default=0)
                           if isinstance(node, yaml.CollectionNode) else 0)
            if height[key] > MAX_DEPTH:
                raise _refusal(TOO_DEEP, file, mark=node.start_mark)
            continue
        if key in size:
            continue
        if key in open_nodes:
            raise _refusal("an alias refers to a node that contains it", file,
                           mark=node.start_mark)
        open_nodes.add(key)
        distinct += 1
        stack.append((node, True))
        stack.extend((child, False) for child in children)
    if size[id(root)] - distinct > MAX_ALIAS_VALUES:
        raise _refusal(f"YAML aliases expand to {size[id(root)]} values: more than "
                       f"{MAX_ALIAS_VALUES} beyond those written out", file)


def _syntax_fault(err: yaml.YAMLError, file: str | None) -> Fault:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    context = getattr(err, "context", None)
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    if mark is None:
        return Fault("", message, file)
    return Fault("", message, file, mark.line + 1, mark.column + 1)


def load_documents(text: str, file: str | None = None) -> list[Document]:
    """Parse every YAML (or JSON) document in ``text``; empty documents are skipped.

    Raises InvalidWorkflow with one fault carrying line and column on a syntax error.
    """
    loader = _ArgoLoader(text)
    documents: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            _check_graph(node, file)
            positions: dict[str, tuple[int, int]] = {
                "": (node.start_mark.line + 1, node.start_mark.column + 1)
            }
            _record_positions(loader, node, "", positions, set())
            data = loader.construct_document(node)
            check_value(data, file)
            if data is not None:
                documents.append(Document(data, file, positions))
    except yaml.YAMLError as err:
        raise InvalidWorkflow([_syntax_fault(err, file)]) from None
    except RecursionError:  # the pure-Python parser, where libyaml's depth limit is missing
        raise _refusal(TOO_DEEP, file) from None
    finally:
        loader.dispose()
    return documents


def load_file(path: str | Path) -> list[Document]:
    """Read and parse a manifest file; a missing, unreadable or empty file (no document, only
    comments or ``---``) is an InvalidWorkflow naming the file."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidWorkflow([Fault("", "no such file", name)]) from None
    except IsADirectoryError:
        raise InvalidWorkflow([Fault("", "is a directory, not a manifest file", name)]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidWorkflow([Fault("", f"cannot read file: {err}", name)]) from None
    docs = load_documents(text, name)
    if not docs:
        raise InvalidWorkflow([Fault("", EMPTY, name)])
    return docs


def _looks_like_path(source: str) -> bool:
    return "\n" not in source and not source.lstrip().startswith(("{", "[")) and (
        source.endswith((".yaml", ".yml", ".json")) or Path(source).is_file()
    )


def load_workflow(source: str | Path | Mapping[str, Any]) -> dict:
    """Return the one Workflow in ``source``: a path, YAML/JSON text, or an already-parsed dict.

    Several documents are fine (e.g. a ConfigMap beside the Workflow) as long as exactly one of
    them is a Workflow.
    """
    if isinstance(source, Mapping):
        docs = [Document(dict(source))]
        name = None
    elif isinstance(source, Path) or _looks_like_path(source):
        docs = load_file(source)
        name = str(source)
    else:
        docs = load_documents(source)
        name = None
    workflows = [d for d in docs if isinstance(d.data, dict) and d.data.get("kind") == "Workflow"]
    if len(workflows) == 1:
        return workflows[0].data
    if not workflows:
        kinds = [d.data.get("kind") for d in docs if isinstance(d.data, dict)]
        found = ", ".join(str(k) for k in kinds) if kinds else "no documents"
        message = f"no Workflow found (found: {found})"
    else:
        message = f"expected one Workflow, found {len(workflows)}"
    raise InvalidWorkflow([Fault("", message, name)])
