"""Lint: one template: its type and body, leaf-only fields, inputs, outputs and arguments."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from argosy.spec.lint_fields import (
    _ARGO_TYPES,
    _ARTIFACT,
    _IO,
    _NON_LEAF,
    _PARAM,
    _POD_TYPES,
    _RETRY,
    _TEMPLATE,
    _describe,
    _go_string,
    _is_set,
    _known_fields,
    _list,
    _unknown_field,
)
from argosy.spec.lint_scopes import _Scope

_ARTIFACT_LOCATIONS = (
    "s3", "git", "http", "artifactory", "hdfs", "raw", "oss", "gcs", "azure", "plugin",
)  # fmt: skip
_PARAM_NAME = re.compile(r"^[-a-zA-Z0-9_]+$")


class TemplateChecks:
    """A template, its inputs and outputs, and the arguments of a call."""

    def check_template(self, template: Any, path: str, inline: bool = False) -> None:
        if not isinstance(template, dict):
            return  # reported while indexing
        self.check_fields(template, path, _TEMPLATE)
        name = template.get("name")
        label = "inline template" if inline or not isinstance(name, str) else f'"{name}"'
        kind = self.check_template_type(template, path, label)
        self.check_template_body(template, path, kind)
        self.check_io(template, path, kind)
        self.check_leaf_fields(template, path, kind)
        scope = self.template_scope(template, label, kind)
        if kind == "steps":
            if isinstance(template["steps"], list):  # otherwise a type fault already
                self.check_steps(template["steps"], f"{path}.steps", scope)
        elif kind == "dag":
            self.check_dag(template["dag"], f"{path}.dag", scope)
        else:
            self.check_variables(template, path, scope)
            return
        outputs = template.get("outputs")
        if outputs is not None:
            self.check_variables(outputs, f"{path}.outputs", scope)

    def check_template_type(self, template: dict, path: str, label: str) -> str | None:
        known = [k for k in template if template[k] is not None
                 and (k in self.types or k in _ARGO_TYPES)]  # fmt: skip
        for key in known:
            if key not in self.types:
                self.add(f"{path}.{key}", self.not_provided(key))
        if not known:
            # A body under a key no plugin provides: name the missing type, not a lack of one.
            missing = [k for k in template if self.missing_type(template, k)]
            for key in missing:
                self.add(f"{path}.{key}", self.not_provided(key))
            if not missing:
                choices = ", ".join(self.types)
                self.add(path, f"template {label} has no type: give one of {choices}")
            return None
        if len(known) == 2:
            self.add(path, f'template {label} has both "{known[0]}" and "{known[1]}"')
        elif len(known) > 2:
            names = ", ".join(f'"{k}"' for k in known)
            self.add(path, f"template {label} has several types: {names}")
        return known[0]

    def missing_type(self, template: dict, key: str) -> bool:
        """Whether ``key`` of a template that has no type of an installed plugin looks like
        the type it meant: a mapping under a key that is no other template field."""
        return key not in _known_fields()["Template"] and isinstance(template.get(key), dict) \
            and not any(k in self.types and v is not None for k, v in template.items())

    def not_provided(self, key: str) -> str:
        return (f'template type "{key}" is not supported here: no installed plugin provides it '
                f"(installed: {', '.join(sorted(self.types))})")

    def is_leaf(self, kind: str) -> bool:
        """Whether templates of type ``kind`` run no children: the plugin says (``leaf``)."""
        leaf = getattr(self.types.get(kind), "leaf", None)
        return kind not in _NON_LEAF if leaf is None else bool(leaf)

    def runs_pod(self, kind: str | None) -> bool:
        """Whether its nodes are pods (``node_type`` "Pod"), which have a ``pod.name``."""
        node_type = getattr(self.types.get(kind or ""), "node_type", None)
        return kind in _POD_TYPES if node_type is None else node_type == "Pod"

    def composites(self) -> str:
        """The types that run children, for messages: "steps and dag" with the built-ins."""
        names = sorted((k for k in self.types if not self.is_leaf(k)),
                       key=lambda k: (k not in ("steps", "dag"), k != "steps", k))
        return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)

    def check_template_body(self, template: dict, path: str, kind: str | None) -> None:
        defaults = self.spec.get("templateDefaults")
        defaults = defaults if isinstance(defaults, dict) else {}
        for key in template:
            validator = self.types.get(key) if template[key] is not None else None
            if validator is not None:
                body, default = template[key], defaults.get(key)
                if isinstance(body, dict) and isinstance(default, dict):
                    body = {**default, **body}  # templateDefaults lie under the body, as in Argo
                for fault in validator(body, f"{path}.{key}"):
                    self.adopt(fault)
        if isinstance(template.get("retryStrategy"), dict):
            self.check_fields(template["retryStrategy"], f"{path}.retryStrategy", _RETRY)

    def check_leaf_fields(self, template: dict, path: str, kind: str | None) -> None:
        if kind is None:
            return
        for key in ("daemon", "sidecars", "initContainers"):
            if _is_set(template.get(key)) and kind not in ("container", "script"):
                self.add(f"{path}.{key}", f"{key} is supported on container and script "
                         f"templates, not {kind}")
        for key in ("sidecars", "initContainers"):
            self.check_pod_containers(template.get(key), f"{path}.{key}", key)
        if not self.is_leaf(kind):
            for key in ("timeout", "activeDeadlineSeconds", "pendingTimeout"):
                if template.get(key) is not None:
                    self.add(f"{path}.{key}", f"{key} is only valid for leaf templates, "
                             f"not {kind}")
        else:
            for key in ("parallelism", "failFast"):
                if template.get(key) is not None:
                    self.add(f"{path}.{key}", f"{key} is only valid for {self.composites()} "
                             "templates")
        timeout = template.get("timeout")
        if isinstance(timeout, int | str) and str(timeout).strip().isdigit():
            self.add(f"{path}.timeout", f'timeout "{timeout}" needs a unit, e.g. "{timeout}s"')

    def check_pod_containers(self, containers: Any, path: str, key: str) -> None:
        """Argo's rules for sidecars and init containers: each named, names unique and not
        those of Argo's own containers."""
        seen: set[str] = {"main"}
        for index, container in enumerate(_list(containers)):
            if not isinstance(container, dict):
                continue
            name = container.get("name")
            where = f"{path}[{index}].name"
            if not name:
                self.add(where, f"{key} must all have container name")
            elif str(name) in seen:
                self.add(where, f"container name {name!r} is used twice in this pod")
            elif str(name) in ("wait", "init", "supervisor") or str(name).startswith(
                    "artifact-plugin-"):
                self.add(where, f"{name!r} is a reserved Argo container name")
            seen.add(str(name))

    def template_scope(self, template: dict, label: str, kind: str | None) -> _Scope:
        scope = _Scope(label)
        leaf = kind is None or self.is_leaf(kind)
        inputs = template.get("inputs") if isinstance(template.get("inputs"), dict) else {}
        params = [p for p in _list(inputs.get("parameters")) if isinstance(p, dict)]
        scope.keys |= {f"inputs.parameters.{p.get('name')}" for p in params}
        scope.keys.add("inputs.parameters")  # Argo substitutes `null` when there are none
        for art in _list(inputs.get("artifacts")):
            if isinstance(art, dict):
                scope.keys.add(f"inputs.artifacts.{art.get('name')}")
                if leaf:
                    scope.keys.add(f"inputs.artifacts.{art.get('name')}.path")
        if self.runs_pod(kind):
            scope.keys.add("pod.name")
        return scope

    # inputs, outputs, arguments

    def check_io(self, template: dict, path: str, kind: str | None) -> None:
        inputs = self.mapping(template.get("inputs"), f"{path}.inputs", "inputs")
        if inputs is not None:
            self.check_fields(inputs, f"{path}.inputs", _IO)
            for index, param in self.named_items(inputs, f"{path}.inputs", "parameters"):
                self.check_enum(param, f"{path}.inputs.parameters[{index}]", ("value", "default"))
            for index, art in self.named_items(inputs, f"{path}.inputs", "artifacts"):
                art_path = f"{path}.inputs.artifacts[{index}]"
                if art.get("from"):
                    self.add(f"{art_path}.from", "from is not valid in inputs")
                if art.get("path") and kind is not None and not self.is_leaf(kind):
                    self.add(f"{art_path}.path", f"path is only valid in leaf templates, "
                             f"not {kind}")
        outputs = self.mapping(template.get("outputs"), f"{path}.outputs", "outputs")
        if outputs is not None:
            self.check_fields(outputs, f"{path}.outputs", _IO)
            for index, param in self.named_items(outputs, f"{path}.outputs", "parameters"):
                self.check_output_parameter(param, f"{path}.outputs.parameters[{index}]", kind)
            for index, art in self.named_items(outputs, f"{path}.outputs", "artifacts"):
                self.check_gc_strategy(art.get("artifactGC"),
                                       f"{path}.outputs.artifacts[{index}].artifactGC")

    def named_items(self, holder: dict, path: str, key: str) -> Iterator[tuple[int, dict]]:
        """Parameters or artifacts that are mappings with a usable, unique name."""
        items = holder.get(key)
        if not isinstance(items, list):
            return
        what = "parameter" if key == "parameters" else "artifact"
        seen: set[str] = set()
        for index, item in enumerate(items):
            item_path = f"{path}.{key}[{index}]"
            if not isinstance(item, dict):
                self.add(item_path, f"a {what} must be a mapping, not {_describe(item)}")
                continue
            self.check_fields(item, item_path, _PARAM if what == "parameter" else _ARTIFACT)
            name = item.get("name")
            if name is None or name == "":
                self.add(f"{item_path}.name", f"{what} name is required")
                continue
            name = _go_string(name)
            if not _PARAM_NAME.match(name):
                self.add(f"{item_path}.name", f'invalid {what} name "{name}": use letters, '
                         "digits, '_' and '-'")
            if name in seen:
                self.add(f"{item_path}.name", f'duplicate {what} name "{name}"')
            seen.add(name)
            yield index, item

    def check_enum(self, param: dict, path: str, value_keys: Iterable[str]) -> None:
        enum = param.get("enum")
        if not isinstance(enum, list):
            return
        if not enum:
            self.add(f"{path}.enum", "enum needs at least one value")
            return
        allowed = {_go_string(v) for v in enum}
        for key in value_keys:
            value = param.get(key)
            if value is not None and _go_string(value) not in allowed:
                choices = ", ".join(f'"{_go_string(v)}"' for v in enum)
                self.add(f"{path}.{key}", f'{key} "{_go_string(value)}" of parameter '
                         f'"{param.get("name")}" is not in its enum ({choices})')

    def check_output_parameter(self, param: dict, path: str, kind: str | None) -> None:
        name = param.get("name")
        value_from = param.get("valueFrom")
        if value_from is not None and param.get("value") is not None:
            self.add(path, f'output parameter "{name}" has both value and valueFrom')
            return
        if param.get("value") is not None:
            return
        if not isinstance(value_from, dict):
            if value_from is None:
                self.add(path, f'output parameter "{name}" needs value or valueFrom')
            return
        kinds = ("path", "jqFilter", "jsonPath", "parameter", "expression", "supplied")
        sources = [k for k in kinds if value_from.get(k) or (k == "supplied" and k in value_from)]
        known = _known_fields()["ValueFrom"]
        unknown = [k for k in value_from if k not in known]
        if not sources and unknown:
            # A misspelt source (`Parameter`): the unknown field is the fault, not a missing one.
            if not self.strict:  # strict linting reports unknown fields everywhere already
                for key in unknown:
                    self.add(f"{path}.valueFrom.{key}", _unknown_field(key, known, ""))
        elif not sources:
            self.add(f"{path}.valueFrom", f'valueFrom of output parameter "{name}" needs one of '
                     "path, jqFilter, jsonPath, parameter, expression or supplied")
        elif len(sources) > 1:
            self.add(f"{path}.valueFrom", f'valueFrom of output parameter "{name}" has several '
                     f"sources: {', '.join(sources)}")
        elif kind == "resource" and sources[0] not in ("jsonPath", "jqFilter"):
            self.add(f"{path}.valueFrom", "resource templates take output parameters from a "
                     "jsonPath or a jqFilter")
        elif kind != "resource" and sources[0] in ("jsonPath", "jqFilter"):
            self.add(f"{path}.valueFrom", f"{sources[0]} reads the object of a resource "
                     "template; this is not one")
        elif kind in ("container", "script", "containerSet") and sources != ["path"]:
            self.add(f"{path}.valueFrom", f"{kind} templates take output parameters from a path")
        elif kind is not None and not self.is_leaf(kind) and sources[0] not in (
                "parameter", "expression"):
            self.add(f"{path}.valueFrom", f"{kind} templates take output parameters from a "
                     "parameter or an expression")

    def check_arguments(self, arguments: dict | None, path: str, allow_empty: bool) -> None:
        if arguments is None:
            return
        self.check_fields(arguments, path, _IO)
        for index, param in self.named_items(arguments, path, "parameters"):
            self.check_argument_parameter(param, f"{path}.parameters[{index}]", allow_empty)
        for index, art in self.named_items(arguments, path, "artifacts"):
            has_source = art.get("from") or art.get("fromExpression") or any(
                art.get(k) is not None for k in _ARTIFACT_LOCATIONS)
            if not has_source:
                self.add(f"{path}.artifacts[{index}]", f'argument artifact "{art["name"]}" needs '
                         "from, fromExpression or a location (s3, http, git, raw, ...)")
            if art.get("from") and art.get("fromExpression"):
                self.add(f"{path}.artifacts[{index}]", f'argument artifact "{art["name"]}" has '
                         "both from and fromExpression")

    def check_argument_parameter(self, param: dict, path: str, allow_empty: bool) -> None:
        name = param.get("name")
        value_from = param.get("valueFrom")
        if value_from is None and param.get("value") is None and not allow_empty:
            self.add(path, f'argument parameter "{name}" needs value or valueFrom')
        if isinstance(value_from, dict):
            allowed = ("configMapKeyRef", "event", "supplied")
            bad = [k for k in ("path", "jsonPath", "parameter", "expression", "jqFilter")
                   if value_from.get(k)]  # fmt: skip
            if bad or not any(value_from.get(k) is not None for k in allowed):
                self.add(f"{path}.valueFrom", f'valueFrom of argument parameter "{name}" only '
                         "allows default, configMapKeyRef, event and supplied")
        self.check_enum(param, path, ("value",))

    def check_inputs_supplied(
        self, template: dict, name: str, args: Any, path: str, args_label: str
    ) -> None:
        """A call must pass every input the template cannot fill in itself."""
        inputs = template.get("inputs")
        if not isinstance(inputs, dict):
            return
        args = args if isinstance(args, dict) else {}
        for key, what in (("parameters", "parameter"), ("artifacts", "artifact")):
            given = {_go_string(a.get("name")) for a in _list(args.get(key)) if isinstance(a, dict)}
            for item in _list(inputs.get(key)):
                if not isinstance(item, dict) or not item.get("name"):
                    continue
                if _go_string(item["name"]) in given or self.self_supplied(item, key):
                    continue
                self.add(path, f'template "{name}" needs input {what} "{item["name"]}", which '
                         f"is not given in {args_label}")

    @staticmethod
    def self_supplied(item: dict, key: str) -> bool:
        if key == "parameters":
            return any(item.get(k) is not None for k in ("value", "default", "valueFrom"))
        located = any(item.get(k) is not None for k in _ARTIFACT_LOCATIONS)
        return bool(item.get("optional")) or located
