"""Loads plugins from the ``argosy`` entry-point group and indexes what they provide.

A plugin that fails to import or whose hook raises is reported by name and left out; it never
takes the other plugins down.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pluggy

from argosy import hookspecs
from argosy.plugin import Executor, TemplateType

GROUP = "argosy"


@dataclass
class PluginInfo:
    name: str
    module: str
    distribution: str | None
    version: str | None
    template_types: list[str] = field(default_factory=list)
    executors: list[str] = field(default_factory=list)
    error: str | None = None


class Registry:
    def __init__(self, *, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.problems: list[str] = []
        if load_entry_points:
            self._load_entry_points()

    def _load_entry_points(self) -> None:
        for ep in importlib.metadata.entry_points(group=GROUP):
            if ep.name in self.plugins:
                continue
            dist = ep.dist
            info = PluginInfo(ep.name, ep.value, dist.name if dist else None,
                              dist.version if dist else None)
            self.plugins[ep.name] = info
            try:
                self.pm.register(ep.load(), name=ep.name)
            except Exception as exc:  # a broken plugin must not stop the others
                info.error = f"{type(exc).__name__}: {exc}"
                self.problems.append(
                    f"plugin {ep.name!r} ({ep.value}) failed to load: {info.error}")

    def register(self, plugin: object, name: str) -> None:
        """Register an in-process plugin (tests, notebooks)."""
        self.plugins[name] = PluginInfo(name, getattr(plugin, "__name__", repr(plugin)), None, None)
        self.pm.register(plugin, name=name)
        self.__dict__.pop("template_types", None)
        self.__dict__.pop("executors", None)
        self.__dict__.pop("expression_functions", None)

    def _collect(self, hook_name: str) -> list[tuple[str, Any]]:
        """Call a hook on each plugin separately so one failing plugin is isolated."""
        results = []
        for plugin in self.pm.get_plugins():
            name = self.pm.get_name(plugin) or repr(plugin)
            impl = getattr(plugin, hook_name, None)
            if impl is None:
                continue
            try:
                value = impl()
            except Exception as exc:
                self.problems.append(f"plugin {name!r}: hook {hook_name} raised {exc!r}")
                if name in self.plugins:
                    self.plugins[name].error = f"{hook_name}: {exc!r}"
                continue
            if value is not None:
                results.append((name, value))
        return results

    @cached_property
    def template_types(self) -> dict[str, TemplateType]:
        types: dict[str, TemplateType] = {}
        for name, provided in self._collect("argosy_template_types"):
            for tt in provided:
                if not isinstance(tt, TemplateType):
                    self.problems.append(f"plugin {name!r}: {tt!r} is not a TemplateType")
                elif tt.key in types:
                    self.problems.append(
                        f"plugin {name!r}: template type {tt.key!r} is already provided; ignored")
                else:
                    types[tt.key] = tt
                    if name in self.plugins:
                        self.plugins[name].template_types.append(tt.key)
        return types

    @cached_property
    def executors(self) -> dict[str, Executor]:
        found: dict[str, Executor] = {}
        for name, provided in self._collect("argosy_executors"):
            for ex in provided:
                found.setdefault(ex.name, ex)
                if name in self.plugins:
                    self.plugins[name].executors.append(ex.name)
        return found

    @cached_property
    def expression_functions(self) -> dict[str, Callable[..., Any]]:
        funcs: dict[str, Callable[..., Any]] = {}
        for _name, provided in self._collect("argosy_expression_functions"):
            funcs.update(provided)
        return funcs

    def validators(self) -> dict[str, Callable[[Any, str], list]]:
        """Template-type key -> body validator, for lint."""
        return {key: _body_validator(tt) for key, tt in self.template_types.items()}


def _body_validator(tt: TemplateType) -> Callable[[Any, str], list]:
    from pydantic import ValidationError

    from argosy.errors import Fault

    def validate(body: Any, path: str) -> list[Fault]:
        faults: list[Fault] = []
        if tt.body is not None:
            try:
                body = tt.body.model_validate(body)
            except ValidationError as exc:
                for err in exc.errors():
                    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
                    faults.append(Fault(path + loc, err["msg"].lower()))
                return faults
        if tt.validate is not None:
            faults.extend(tt.validate(body, path))
        return faults

    return validate


_default: Registry | None = None


def default_registry() -> Registry:
    global _default
    if _default is None:
        _default = Registry()
    return _default
