"""Loads plugins from the ``argosy`` entry-point group and indexes what they provide.

A plugin that fails to import, declares a hook wrongly, whose providing hook raises or returns
something that is not what the hook promises, or that claims what another plugin claims (a
template key, an executor or store name, an expression function name) is reported by name
(``problems``, printed when the CLI starts; the ``STATUS`` column of ``argosy plugins``) and left
out entirely: none of its hooks is called again, observers included. It never takes the other
plugins down. A claim is decided the same way whatever the plugins' order: argosy's own keep
theirs (Argo's expression functions cannot be overridden either), and two third-party plugins
claiming one name are both left out, each told the other's distribution. Observers
(``argosy_workflow_event``, ``argosy_node_event``) that raise are logged and skipped, so a faulty
observer never fails a workflow.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import logging
import sys
import threading
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from argosy import entry_points, hookspecs
from argosy.plugin import (
    ArtifactRepository,
    ArtifactRepositoryFactory,
    Executor,
    Outcome,
    Store,
    StoreFactory,
    TemplateType,
)

GROUP = "argosy"
OBSERVERS = ("argosy_workflow_event", "argosy_node_event")
#: This distribution's own plugins: their claims (container, dag…) cannot be taken.
_OWN_DIST = "argosy"
CONFIG_FILE = "config.yaml"
DEFAULT_STORE = "sqlite"
DEFAULT_REPOSITORY = "local"
DEFAULT_EXECUTOR = "local"

log = logging.getLogger(__name__)


@dataclass
class PluginInfo:
    name: str
    module: str
    distribution: str | None
    version: str | None
    template_types: list[str] = field(default_factory=list)
    executors: list[str] = field(default_factory=list)
    stores: list[str] = field(default_factory=list)
    artifact_repositories: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def origin(self) -> str:
        """Where it comes from, for messages: its distribution, else its module."""
        if self.distribution:
            return f"distribution {self.distribution} {self.version or ''}".strip()
        return f"module {self.module}"

    @property
    def own(self) -> bool:
        return self.distribution == _OWN_DIST


@dataclass
class _Provided:
    """What one plugin's providing hooks returned, by kind and then by name."""

    template_types: dict[str, TemplateType] = field(default_factory=dict)
    executors: dict[str, Executor] = field(default_factory=dict)
    stores: dict[str, StoreFactory] = field(default_factory=dict)
    artifact_repositories: dict[str, ArtifactRepositoryFactory] = field(default_factory=dict)
    functions: dict[str, Callable[..., Any]] = field(default_factory=dict)


#: The claims plugins make, with how ``argosy plugins`` and messages name each kind.
_KINDS = {"template_types": "template type", "executors": "executor", "stores": "store",
          "artifact_repositories": "artifact repository", "functions": "expression function"}


class Registry:
    def __init__(self, *, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.problems: list[str] = []
        self._provided: dict[str, _Provided] | None = None
        self._merged_cache: dict[str, Claims] = {}
        self._config: tuple[Path, float, dict[str, Any]] | None = None
        #: Plugins known by their cached claims, not imported until one of them is used.
        self._lazy: dict[str, tuple[importlib.metadata.EntryPoint, dict[str, Any]]] = {}
        self._loading = threading.RLock()  # the server looks plugins up from several threads
        if load_entry_points:
            saved = self._load_entry_points()
            # Call the providing hooks now, so that every problem is known (and reported) at start.
            self._index()
            if saved is not None and not self._lazy and not self.problems:
                saved.save(self._claims())

    # ---- loading --------------------------------------------------------------------------

    def _load_entry_points(self) -> entry_points.SavedClaims | None:
        """Load each plugin, or note it as claimed (see :class:`argosy.entry_points.SavedClaims`);
        the claims' file when it is to be written after this start."""
        from argosy.store import argosy_home

        home = argosy_home()
        found = entry_points.find(GROUP, home)
        entry_points.settle_pydantic_plugins(home)  # before the plugins build any model
        saved = entry_points.SavedClaims(GROUP, home, found)
        claims = saved.read(("hooks", *_KINDS))
        # argosy's own plugins first, so that a third party cannot take their names.
        for ep, dist, version in sorted(found, key=lambda e: (e[1] != _OWN_DIST, e[0].name)):
            known = self.plugins.get(ep.name)
            if known is not None:
                # The same distribution found twice on sys.path is harmless; two claiming a name
                # is not.
                if known.module != ep.value:
                    self._problem(f"plugin {ep.name!r} ({ep.value}) is ignored: the name is "
                                  f"taken by {known.module}")
                continue
            info = PluginInfo(ep.name, ep.value, dist, version)
            self.plugins[ep.name] = info
            claim = (claims or {}).get(ep.name)
            if claim is not None and not set(claim["hooks"]) & set(OBSERVERS):
                info.hooks = list(claim["hooks"])  # observers must hear every event: loaded
                self._lazy[ep.name] = (ep, claim)
                continue
            self._load(ep)
        return None if claims is not None else saved

    def _load(self, ep: importlib.metadata.EntryPoint) -> bool:
        """Import and register the plugin: whether it is in (not failed and left out)."""
        try:
            self._register(ep.load(), ep.name)
        except Exception as exc:  # a broken plugin must not stop the others
            self._fail(ep.name, f"failed to load: {_describe(exc)}", f" ({ep.value})")
        return self.plugins[ep.name].error is None

    def _claims(self) -> dict[str, dict[str, Any]]:
        """What each plugin claims, and the file of its module: what the next start needs to
        leave it unloaded until it is used."""
        assert self._provided is not None
        claims = {}
        for name, info in self.plugins.items():
            module = sys.modules.get(info.module.partition(":")[0])
            claims[name] = {"file": getattr(module, "__file__", None), "hooks": info.hooks,
                            **{kind: list(getattr(self._provided[name], kind))
                               for kind in _KINDS}}
        return claims

    def _realise(self, name: str) -> _Provided | None:
        """Plugin ``name`` loaded from its claim (once, whichever thread asks first): what it
        provides, or None when it now fails."""
        with self._loading:
            lazy = self._lazy.pop(name, None)
            if lazy is not None and self._load(lazy[0]):
                provided = self._provide(name)
                assert self._provided is not None
                if provided is None:
                    self._provided.pop(name, None)
                else:
                    self._provided[name] = provided
            return (self._provided or {}).get(name)

    def register(self, plugin: object, name: str) -> None:
        """Register an in-process plugin (tests, notebooks); it is indexed like any other."""
        self.plugins[name] = PluginInfo(name, getattr(plugin, "__name__", repr(plugin)), None, None)
        self._register(plugin, name)
        self._provided = None
        self._merged_cache.clear()
        self._index()

    def _register(self, plugin: object, name: str) -> None:
        self.pm.register(_guard_observers(plugin, name), name=name)
        registered = self.pm.get_plugin(name)
        callers = self.pm.get_hookcallers(registered) or []
        self.plugins[name].hooks = sorted(c.name for c in callers)
        unknown = sorted(c.name for c in callers if not c.has_spec())
        if unknown:
            # A typo, usually: the hook would never be called.
            self._fail(name, f"implements unknown hook(s) {', '.join(unknown)} "
                       f"(known: {', '.join(_hook_names())})")
        elif not callers:
            self._fail(name, "implements no argosy hook (is the entry point's module right?)")

    # ---- problems -------------------------------------------------------------------------

    def _problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def _fail(self, name: str, what: str, where: str = "") -> None:
        """Mark plugin ``name`` as broken (first fault wins in its STATUS), report it, and leave
        it out: none of its hooks runs again."""
        info = self.plugins.get(name)
        if info is not None and info.error is None:
            info.error = what
        self._problem(f"plugin {name!r}{where}: {what}")
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name)
        if self._provided is not None:
            self._provided.pop(name, None)
        self._merged_cache.clear()

    @property
    def broken(self) -> list[PluginInfo]:
        self._index()
        return [info for info in self.plugins.values() if info.error]

    # ---- what plugins provide -------------------------------------------------------------

    def _index(self) -> None:
        if self._provided is not None:
            return
        self._provided = {}
        for name in list(self.plugins):
            if name in self._lazy:
                claim = self._lazy[name][1]
                self._provided[name] = _Provided(**{kind: dict.fromkeys(claim[kind], _LAZY)
                                                    for kind in _KINDS})
                continue
            if self.pm.get_plugin(name) is None:
                continue
            provided = self._provide(name)
            if provided is not None:
                self._provided[name] = provided
        self._settle_claims()
        for name, provided in self._provided.items():
            info = self.plugins[name]
            for kind in _KINDS:
                setattr(info, kind, list(getattr(provided, kind)))

    def _provide(self, name: str) -> _Provided | None:
        """Call each providing hook of plugin ``name``; None (and the plugin left out) when one
        fails."""
        plugin = self.pm.get_plugin(name)
        provided = _Provided()
        checks: list[tuple[str, type, Callable[[Any], str | None], Callable[[Any], Any]]] = [
            ("argosy_template_types", list, _not_template_type, lambda tt: tt.key),
            ("argosy_executors", list, _not_executor, lambda ex: ex.name),
            ("argosy_stores", list, _not_store, lambda st: st.name),
            ("argosy_artifact_repositories", list, _not_repository, lambda ar: ar.name),
        ]
        for hook_name, expected, invalid, key_of in checks:
            value = self._call(name, plugin, hook_name, expected)
            if value is _FAILED:
                return None
            kind = _kind_of(hook_name)
            for item in value or []:
                fault = invalid(item)
                if fault:
                    self._fail(name, f"hook {hook_name} returned {_short(item)}, not {fault}")
                    return None
                getattr(provided, kind)[key_of(item)] = item
        functions = self._call(name, plugin, "argosy_expression_functions", dict)
        if functions is _FAILED:
            return None
        bad = sorted(str(k) for k, f in (functions or {}).items()
                     if not isinstance(k, str) or not callable(f))
        if bad:
            self._fail(name, f"hook argosy_expression_functions: {', '.join(bad)} not a "
                       "function by a str name")
            return None
        provided.functions = dict(functions or {})
        provided.template_types = {k: _guard_run(tt, name)
                                   for k, tt in provided.template_types.items()}
        return provided

    def _call(self, name: str, plugin: object, hook_name: str, expected: type) -> Any:
        impl = next((i for i in getattr(self.pm.hook, hook_name).get_hookimpls()
                     if i.plugin is plugin), None)
        if impl is None:
            return None
        try:
            value = impl.function()
        except Exception as exc:
            self._fail(name, f"hook {hook_name} raised {_describe(exc)}")
            return _FAILED
        if value is not None and not isinstance(value, expected):
            self._fail(name, f"hook {hook_name} returned {_short(value)}, "
                       f"not a {expected.__name__}")
            return _FAILED
        return value

    def _settle_claims(self) -> None:
        """Leave out every plugin claiming a name another one claims, whatever the order."""
        assert self._provided is not None
        # Argo's own names: the expression languages load only when a plugin adds functions.
        builtin_functions = _builtin_function_names() if any(
            p.functions for p in self._provided.values()) else set()
        losers: dict[str, str] = {}
        for kind, noun in _KINDS.items():
            claimants: dict[str, list[str]] = {}
            for name, provided in self._provided.items():
                for key in getattr(provided, kind):
                    claimants.setdefault(key, []).append(name)
            for key, names in claimants.items():
                if kind == "functions" and key in builtin_functions:
                    for name in names:
                        losers.setdefault(name, f"expression function {key!r} is built in "
                                          "(Argo's); a plugin cannot override it")
                    continue
                if len(names) < 2:
                    continue
                own = [n for n in names if self.plugins[n].own]
                for name in names:
                    if name in own:
                        continue
                    others = own or [n for n in names if n != name]
                    losers.setdefault(name, f"{noun} {key!r} is also claimed by " + ", ".join(
                        f"plugin {o!r} ({self.plugins[o].origin})" for o in others))
        for name, why in losers.items():
            self._fail(name, f"left out: {why}")

    def _merged(self, kind: str) -> Claims:
        self._index()
        assert self._provided is not None
        merged = self._merged_cache.get(kind)
        if merged is None:  # asked for on every node (the executor): built once
            merged = self._merged_cache[kind] = Claims(self, kind)
            for name, provided in self._provided.items():
                for key, value in getattr(provided, kind).items():
                    merged.claimed[key] = (name, value)
        return merged

    def loaded_executors(self) -> list[Executor]:
        """The executors loaded so far: those that may have something running."""
        return self.executors.loaded()

    @property
    def template_types(self) -> Claims:
        return self._merged("template_types")

    @property
    def executors(self) -> Claims:
        return self._merged("executors")

    @property
    def stores(self) -> Claims:
        return self._merged("stores")

    @property
    def artifact_repositories(self) -> Claims:
        return self._merged("artifact_repositories")

    @property
    def expression_functions(self) -> Claims:
        return self._merged("functions")

    def provider_of(self, kind: str, key: str) -> str | None:
        """The plugin that provides ``key`` of ``kind`` (``template_types``, ``executors``,
        ``stores``, ``functions``)."""
        self._index()
        assert self._provided is not None
        return next((name for name, p in self._provided.items() if key in getattr(p, kind)),
                    None)

    def validators(self) -> Mapping[str, TypeCheck]:
        """Template-type key -> what lint checks of it (its body; is it a leaf, a pod?); each
        made when first asked for, so that linting loads only the plugins a workflow uses."""
        types = self.template_types
        return _Derived(types, lambda tt: TypeCheck(_body_validator(tt), tt.leaf, tt.node_type))

    # ---- configuration --------------------------------------------------------------------

    def settings(self, home: Path | None = None) -> dict[str, Any]:
        """``$ARGOSY_HOME/config.yaml`` (``{}`` when there is none), read again when it changes;
        a malformed file is an error naming it."""
        from argosy.store import argosy_home, read_config

        path = (home or argosy_home()) / CONFIG_FILE
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return {}
        if self._config is None or self._config[:2] != (path, mtime):
            self._config = (path, mtime, read_config(path))
        return self._config[2]

    def config(self, plugin: str, home: Path | None = None) -> dict[str, Any]:
        """Plugin ``plugin``'s own section of ``config.yaml`` (``plugins: {name: {…}}``), or
        ``{}``: how a plugin reads its settings."""
        return dict(self.settings(home).get("plugins", {}).get(plugin) or {})

    def executor_name(self, home: Path | None = None) -> str:
        """The executor ``config.yaml``'s ``executor`` names (default ``local``); an error
        naming the file when no plugin provides it."""
        from argosy.errors import ArgosyError
        from argosy.store import argosy_home

        name = self.settings(home).get("executor", DEFAULT_EXECUTOR)
        if name not in self.executors:
            raise ArgosyError(f"{(home or argosy_home()) / CONFIG_FILE}: executor {name!r} is "
                              "not provided by any plugin (loaded: "
                              f"{', '.join(sorted(self.executors)) or 'none'})")
        return name

    def open_store(self, home: Path | str | None = None) -> Store:
        """The store ``config.yaml``'s ``store`` names (default ``sqlite``), opened on ``home``."""
        from argosy.errors import ArgosyError
        from argosy.store import argosy_home

        where = Path(home) if home else argosy_home()
        name = self.settings(where).get("store", DEFAULT_STORE)
        factory = self.stores.get(name)
        if factory is None:
            raise ArgosyError(f"{where / CONFIG_FILE}: store {name!r} is not provided by any "
                              f"plugin (loaded: {', '.join(sorted(self.stores)) or 'none'})")
        return factory.open(where)

    def configured_artifact_repository(self, home: Path | str | None = None
                                       ) -> tuple[str, dict[str, Any]]:
        """The repository ``config.yaml``'s ``artifactRepository`` names (``{name: settings}``,
        default ``local``): its name and settings."""
        from argosy.errors import ArgosyError
        from argosy.store import argosy_home

        where = Path(home) if home else argosy_home()
        chosen = self.settings(where).get("artifactRepository") or {DEFAULT_REPOSITORY: {}}
        if isinstance(chosen, dict):  # archiveLogs goes beside the repository, as in Argo
            chosen = {k: v for k, v in chosen.items() if k != "archiveLogs"} or {
                DEFAULT_REPOSITORY: {}}
        if not (isinstance(chosen, dict) and len(chosen) == 1):
            raise ArgosyError(f"{where / CONFIG_FILE}: artifactRepository must be a mapping of "
                              "one repository name to its settings, e.g. {local: {}}")
        [(name, settings)] = chosen.items()
        if name not in self.artifact_repositories:
            raise ArgosyError(
                f"{where / CONFIG_FILE}: artifact repository {name!r} is not provided by any "
                f"plugin (loaded: {', '.join(sorted(self.artifact_repositories)) or 'none'})")
        return str(name), dict(settings or {})

    def open_artifact_repository(self, home: Path | str | None = None) -> ArtifactRepository:
        """The repository ``config.yaml`` chooses, opened on ``home``."""
        from argosy.store import argosy_home

        where = Path(home) if home else argosy_home()
        name, settings = self.configured_artifact_repository(where)
        return self.artifact_repositories[name].open(where, settings)


_LAZY: Any = object()  # a claim's value before its plugin is loaded


class Claims(Mapping[str, Any]):
    """What the plugins provide of one kind, by name: every name known from the start, each
    plugin loaded when one of its own is first looked up (``argosy plugins`` and lint's list
    of types load nothing)."""

    def __init__(self, registry: Registry, kind: str) -> None:
        self.registry, self.kind = registry, kind
        self.claimed: dict[str, tuple[str, Any]] = {}  # name -> (plugin, value or _LAZY)

    def __getitem__(self, key: str) -> Any:
        plugin, value = self.claimed[key]
        if value is _LAZY:
            provided = self.registry._realise(plugin)
            value = getattr(provided, self.kind).get(key, _LAZY) if provided else _LAZY
            if value is _LAZY:  # it failed to load, or no longer provides it
                del self.claimed[key]
                raise KeyError(key)
            self.claimed[key] = (plugin, value)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.claimed))

    def __len__(self) -> int:
        return len(self.claimed)

    def __contains__(self, key: object) -> bool:
        return key in self.claimed

    def loaded(self) -> list[Any]:
        return [value for _, value in self.claimed.values() if value is not _LAZY]


class _Derived(Mapping[str, Any]):
    """``make(value)`` for each of ``source``'s, made on first use."""

    def __init__(self, source: Mapping[str, Any], make: Callable[[Any], Any]) -> None:
        self.source, self.make, self.made = source, make, {}

    def __getitem__(self, key: str) -> Any:
        if key not in self.made:
            self.made[key] = self.make(self.source[key])
        return self.made[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.source)

    def __len__(self) -> int:
        return len(self.source)

    def __contains__(self, key: object) -> bool:
        return key in self.source


@dataclass(frozen=True)
class TypeCheck:
    """A template type as lint sees it: a validator of its body (call it with the body and its
    document path), whether it is a leaf (else ``parallelism`` and ``failFast`` are its), and
    the Argo node type of its nodes (``Pod`` ones have a ``pod.name``)."""

    validate: Callable[[Any, str], list]
    leaf: bool
    node_type: str

    def __call__(self, body: Any, path: str) -> list:
        return self.validate(body, path)


_FAILED = object()


def _kind_of(hook_name: str) -> str:
    return hook_name.removeprefix("argosy_")


def _not_template_type(value: Any) -> str | None:
    return None if isinstance(value, TemplateType) else "a TemplateType"


def _not_executor(value: Any) -> str | None:
    if isinstance(getattr(value, "name", None), str) and callable(
            getattr(value, "run_process", None)):
        return None
    return "an executor (a str name and a run_process coroutine)"


def _not_store(value: Any) -> str | None:
    if isinstance(getattr(value, "name", None), str) and callable(getattr(value, "open", None)):
        return None
    return "a store factory (a str name and an open(home) method)"


def _not_repository(value: Any) -> str | None:
    if isinstance(getattr(value, "name", None), str) and callable(getattr(value, "open", None)):
        return None
    return "an artifact repository factory (a str name and an open(home, settings) method)"


def _builtin_function_names() -> set[str]:
    from argosy.expr import builtins as expr_builtins
    from argosy.expr.functions import BUILTIN_FUNCTIONS

    return set(BUILTIN_FUNCTIONS) | set(expr_builtins.FUNCTIONS) | set(expr_builtins.PREDICATES)


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
    """The plugin as pluggy registers it: a module's hook functions alone on a namespace (pluggy
    then inspects those, not every name the module has: a quarter of the registry's start),
    and observer hooks that log and swallow their exceptions.

    Observers run inside the engine's event loop on every transition; one raising must not
    fail the workflow or silence the observers after it.
    """
    module = isinstance(plugin, types.ModuleType)
    marked = {attr: getattr(plugin, attr) for attr in dir(plugin)
              if attr in OBSERVERS and hasattr(getattr(plugin, attr), f"{GROUP}_impl")}
    if not marked and not module:
        return plugin
    if module:
        hooks = {attr: value for attr, value in vars(plugin).items()
                 if isinstance(value, types.FunctionType | types.MethodType)
                 and hasattr(value, f"{GROUP}_impl")}
    else:
        hooks = {attr: getattr(plugin, attr) for attr in dir(plugin)
                 if attr.startswith(f"{GROUP}_")}
    proxy = _Hooks(__name__=getattr(plugin, "__name__", name))
    for attr, value in hooks.items():
        setattr(proxy, attr, _guarded(value, name, attr) if attr in marked else value)
    return proxy


class _Hooks(types.SimpleNamespace):
    """A plugin's hook functions, and its name. pluggy looks up each name ``dir`` gives, with
    ``inspect.getattr_static``: a namespace's own dunders alone cost 90% of registering."""

    def __dir__(self) -> list[str]:
        return [attr for attr in vars(self) if attr != "__name__"]


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


def open_store(home: Path | str | None = None) -> Store:
    """The configured store: what every interface opens (see :func:`argosy.store.open_store`)."""
    from argosy.store import open_store

    return open_store(home)
