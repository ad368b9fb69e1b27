"""Loads plugins from the ``argosy`` entry-point group and indexes what they provide.

A plugin that fails to import, declares a hook wrongly, or whose hook raises or returns something
that is not what the hook promises, is reported by name (``problems``, printed as warnings when
the CLI starts; the ``STATUS`` column of ``argosy plugins``) and left out; it never takes the
other plugins down. Observers (``argosy_workflow_event``, ``argosy_node_event``) that raise are
logged and skipped, so a faulty observer never fails a workflow.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import logging
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pluggy

from argosy import hookspecs
from argosy.plugin import Executor, Outcome, TemplateType

GROUP = "argosy"
OBSERVERS = ("argosy_workflow_event", "argosy_node_event")
#: This distribution's own plugins load first, so a third-party type cannot shadow Argo's.
_OWN_DIST = "argosy"

log = logging.getLogger(__name__)


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
            # Call the providing hooks now, so that every problem is known (and reported) at start.
            self._index()

    # ---- loading --------------------------------------------------------------------------

    def _load_entry_points(self) -> None:
        for ep in sorted(importlib.metadata.entry_points(group=GROUP), key=_load_order):
            dist = ep.dist
            known = self.plugins.get(ep.name)
            if known is not None:
                # The same distribution found twice on sys.path is harmless; two claiming a name
                # is not.
                if known.module != ep.value:
                    self._problem(f"plugin {ep.name!r} ({ep.value}) is ignored: the name is "
                                  f"taken by {known.module}")
                continue
            info = PluginInfo(ep.name, ep.value, dist.name if dist else None,
                              dist.version if dist else None)
            self.plugins[ep.name] = info
            try:
                self._register(ep.load(), ep.name)
            except Exception as exc:  # a broken plugin must not stop the others
                self._fail(ep.name, f"failed to load: {_describe(exc)}", f" ({ep.value})")

    def register(self, plugin: object, name: str) -> None:
        """Register an in-process plugin (tests, notebooks)."""
        self.plugins[name] = PluginInfo(name, getattr(plugin, "__name__", repr(plugin)), None, None)
        self._register(plugin, name)
        for attr in ("template_types", "executors", "expression_functions"):
            self.__dict__.pop(attr, None)

    def _register(self, plugin: object, name: str) -> None:
        self.pm.register(_guard_observers(plugin, name), name=name)
        unknown = self._unknown_hooks(name)
        if unknown:
            self._fail(name, f"implements unknown hook(s) {', '.join(unknown)} "
                       f"(known: {', '.join(_hook_names())})")
        elif not self.pm.get_hookcallers(self.pm.get_plugin(name)):
            self._fail(name, "implements no argosy hook (is the entry point's module right?)")

    def _unknown_hooks(self, name: str) -> list[str]:
        """Hooks the plugin marked with ``@hookimpl`` that no spec declares (a typo, usually)."""
        plugin = self.pm.get_plugin(name)
        return sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or []
                      if not caller.has_spec())

    # ---- problems -------------------------------------------------------------------------

    def _problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def _fail(self, name: str, what: str, where: str = "") -> None:
        """Mark plugin ``name`` as broken (first fault wins in its STATUS) and report it."""
        info = self.plugins.get(name)
        if info is not None and info.error is None:
            info.error = what
        self._problem(f"plugin {name!r}{where}: {what}")

    # ---- what plugins provide -------------------------------------------------------------

    def _index(self) -> None:
        self.template_types  # noqa: B018
        self.executors  # noqa: B018
        self.expression_functions  # noqa: B018

    def _collect(self, hook_name: str, expected: type) -> list[tuple[str, Any]]:
        """Call a hook on each plugin separately so one failing plugin is isolated."""
        results = []
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            name = impl.plugin_name
            try:
                value = impl.function()
            except Exception as exc:
                self._fail(name, f"hook {hook_name} raised {_describe(exc)}")
                continue
            if value is None:
                continue
            if not isinstance(value, expected):
                self._fail(name, f"hook {hook_name} returned {_short(value)}, "
                           f"not a {expected.__name__}")
                continue
            results.append((name, value))
        return results

    @cached_property
    def template_types(self) -> dict[str, TemplateType]:
        found: dict[str, TemplateType] = {}
        for name, provided in self._collect("argosy_template_types", list):
            for tt in provided:
                if not isinstance(tt, TemplateType):
                    self._fail(name, f"hook argosy_template_types returned {_short(tt)}, "
                               "not a TemplateType")
                elif tt.key in found:
                    self._problem(f"plugin {name!r}: template type {tt.key!r} is already "
                                  "provided; ignored")
                else:
                    found[tt.key] = _guard_run(tt, name)
                    self._attribute(name, "template_types", tt.key)
        return found

    @cached_property
    def executors(self) -> dict[str, Executor]:
        found: dict[str, Executor] = {}
        for name, provided in self._collect("argosy_executors", list):
            for ex in provided:
                ex_name = getattr(ex, "name", None)
                if not isinstance(ex_name, str) or not callable(getattr(ex, "run_process", None)):
                    self._fail(name, f"hook argosy_executors returned {_short(ex)}, not an "
                               "executor (a str name and a run_process coroutine)")
                elif ex_name in found:
                    self._problem(f"plugin {name!r}: executor {ex_name!r} is already provided; "
                                  "ignored")
                else:
                    found[ex_name] = ex
                    self._attribute(name, "executors", ex_name)
        return found

    @cached_property
    def expression_functions(self) -> dict[str, Callable[..., Any]]:
        funcs: dict[str, Callable[..., Any]] = {}
        for name, provided in self._collect("argosy_expression_functions", dict):
            bad = sorted(str(k) for k, f in provided.items() if not callable(f))
            if bad:
                self._fail(name, f"hook argosy_expression_functions: {', '.join(bad)} "
                           "not callable")
            funcs.update({k: f for k, f in provided.items() if callable(f)})
        return funcs

    def _attribute(self, plugin: str, kind: str, key: str) -> None:
        info = self.plugins.get(plugin)
        if info is not None and key not in getattr(info, kind):
            getattr(info, kind).append(key)

    def validators(self) -> dict[str, Callable[[Any, str], list]]:
        """Template-type key -> body validator, for lint."""
        return {key: _body_validator(tt) for key, tt in self.template_types.items()}


def _load_order(ep: importlib.metadata.EntryPoint) -> tuple[bool, str]:
    dist = ep.dist.name if ep.dist else ""
    return (dist != _OWN_DIST, ep.name)


def _hook_names() -> list[str]:
    return sorted(n for n in dir(hookspecs) if n.startswith("argosy_"))


def _describe(exc: BaseException) -> str:
    """One line: pluggy's validation errors span several."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _guard_observers(plugin: object, name: str) -> object:
    """The plugin, or a stand-in whose observer hooks log and swallow their exceptions.

    Observers run inside the engine's event loop on every transition; one raising must not
    fail the workflow or silence the observers after it.
    """
    marked = {attr: getattr(plugin, attr) for attr in dir(plugin)
              if attr in OBSERVERS and hasattr(getattr(plugin, attr), f"{GROUP}_impl")}
    if not marked:
        return plugin
    proxy = types.SimpleNamespace(__name__=getattr(plugin, "__name__", name))
    for attr in dir(plugin):
        if attr.startswith(f"{GROUP}_") and attr not in marked:
            setattr(proxy, attr, getattr(plugin, attr))
    for attr, fn in marked.items():
        setattr(proxy, attr, _guarded(fn, name, attr))
    return proxy


def _guarded(fn: Callable[..., Any], plugin: str, hook: str) -> Callable[..., Any]:
    reported = False

    @functools.wraps(fn)  # keeps the hookimpl marker and the signature pluggy reads
    def call(*args: Any, **kwargs: Any) -> Any:
        nonlocal reported
        try:
            return fn(*args, **kwargs)
        except Exception:
            if not reported:
                reported = True
                log.exception("plugin %r: observer %s raised (reported once)", plugin, hook)
            return None

    return call


def _guard_run(tt: TemplateType, plugin: str) -> TemplateType:
    """``tt`` whose ``run`` turns an unexpected exception into an Error node with the plugin's
    name, instead of failing the whole workflow (argosy's own errors pass through as before)."""
    from pydantic import ValidationError

    from argosy.errors import ArgosyError

    run = tt.run

    @functools.wraps(run)
    async def guarded(ctx: Any) -> Outcome:
        try:
            return await run(ctx)
        except (ArgosyError, ValidationError):
            raise
        except Exception as exc:
            log.exception("plugin %r: template type %r raised", plugin, tt.key)
            return Outcome("Error", f"template type {tt.key!r} (plugin {plugin!r}) failed: "
                           f"{_describe(exc)}")

    return dataclasses.replace(tt, run=guarded)


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
            try:
                faults.extend(tt.validate(body, path))
            except Exception as exc:  # a plugin's bug is its fault, not the manifest's
                faults.append(Fault(path, f"the {tt.key!r} template type's validation failed: "
                                    f"{_describe(exc)}"))
        return faults

    return validate


_default: Registry | None = None


def default_registry() -> Registry:
    global _default
    if _default is None:
        _default = Registry()
    return _default
