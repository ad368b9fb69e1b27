"""Lint: steps and dag templates: groups, tasks, calls, loops, dependencies, cycles."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from argosy.errors import ExpressionError
from argosy.spec.lint_fields import _CONTINUE_ON, _DAG, _SEQUENCE, _STEP, _TASK, _describe, _list
from argosy.spec.lint_scopes import _add_outputs, _Scope
from argosy.spec.lint_workflow import _IS_PARAMETER

if TYPE_CHECKING:
    from argosy.spec.lint import _Linter

_TASK_RESULTS = (
    "Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed",
)  # fmt: skip
_LOOPS = ("withItems", "withParam", "withSequence")
# Argo's task-name regex for depends: ``name.Result`` or a bare ``name``.
_DEPENDS_TOKEN = re.compile(
    r"([a-zA-Z0-9][-a-zA-Z0-9]*?)\.([A-Z][a-zA-Z]+)|([a-zA-Z0-9][-a-zA-Z0-9]*)"
)


class StepsDagChecks:
    """The structure of steps and dag templates."""

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


def _has_exit_hook(step: dict) -> bool:
    hooks = step.get("hooks")
    return bool(step.get("onExit")) or (isinstance(hooks, dict) and "exit" in hooks)


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
