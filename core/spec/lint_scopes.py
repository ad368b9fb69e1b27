"""Lint: variable scopes, what each ``{{…}}`` may refer to where it appears."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from argosy.spec.lint_fields import _ARGO_TYPES, _OUTPUT_TYPES, _go_string, _list

# Only tags under these roots are checked; anything else ({{retries}}, {{status}}, Go-template
# text in scripts, ...) is left alone, as Argo does. Bare {{item}} is checked too (Argo skips it).
_CHECKED_ROOTS = ("item.", "steps.", "inputs.", "outputs.", "pod.", "workflow.", "tasks.")
# Resolved at run time only, so any reference under these is accepted (validate.go does the same).
_RUNTIME_PREFIXES = (
    "outputs.", "workflow.creationTimestamp", "workflow.scheduledTime", "workflow.duration",
    "tasks.name", "steps.name", "node.name",
)  # fmt: skip


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


class VariableChecks:
    """``{{…}}`` references checked against their scope."""

    def check_functions(self, tag: str, path: str) -> None:
        """Each function an expression tag calls must exist (``self.functions``: the plugins'
        names; None when unknown, then nothing is checked)."""
        if self.functions is None:
            return
        from argosy.expr.exprlang import called_functions, is_function  # only for `{{= …}}`

        for name in sorted(called_functions(tag[1:])):
            if not is_function(name, self.functions):
                self.add(path, f'unknown function "{name}" in {{{{{tag.strip()} }}}}')

    def check_variables(
        self, value: Any, path: str, scope: _Scope, skip: frozenset[str] = frozenset()
    ) -> None:
        for text_path, text in _strings(value, path, skip):
            reported: set[str] = set()
            for raw in _template_tags(text):
                if raw.startswith("="):
                    # Argo does not check expression tags; a function no one provides cannot work.
                    self.check_functions(raw, text_path)
                    continue
                tag = raw.strip()
                if not (tag == "item" or tag.startswith(_CHECKED_ROOTS)) or tag in reported:
                    continue
                if not _resolves(tag, scope, self.globals):
                    reported.add(tag)
                    self.add(text_path, f"cannot resolve {{{{{tag}}}}}: "
                             f"{_why_unresolved(tag, scope)}")
