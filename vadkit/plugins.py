"""The plugin manager factory: built-ins, entry-point plugins and in-process plugins.

Nothing here runs at import time; every call of :func:`create_registry` builds a fresh,
independent plugin manager and registry (tests rely on that: no global state).

Plugins load in a fixed order, so listings and messages are the same from run to run: the
built-in plugin, then entry points sorted by (name, distribution), then in-process plugins in
the order given. ``VADKIT_BLOCK_PLUGINS`` (comma-separated plugin names) blocks plugins before
any entry point is imported, which is the way out of a name registered by two plugins.
"""

from __future__ import annotations

import functools
import importlib.metadata as md
import os
from collections.abc import Iterable
from typing import Any

import pluggy

from . import builtin, hookspecs
from .errors import RegistryError
from .registry import BLOCK_ENV, BUILTIN_NAME, IN_PROCESS, PluginInfo, Registry

ENTRY_POINT_GROUP = "vadkit"
DISABLE_AUTOLOAD_ENV = "VADKIT_DISABLE_PLUGIN_AUTOLOAD"
BLOCK_PLUGINS_ENV = BLOCK_ENV

Loaded = list[tuple[Any, PluginInfo]]  # (plugin object or None when not loaded, its info), in load order


def make_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def _autoload_enabled(autoload: bool | None) -> bool:
    if autoload is not None:
        return autoload
    return os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip().lower() in ("", "0", "false", "no")


def blocked_names(block: Iterable[str] = ()) -> list[str]:
    """Plugin names from ``VADKIT_BLOCK_PLUGINS`` plus ``block``, in order, without repeats."""
    names = [n.strip() for n in os.environ.get(BLOCK_ENV, "").split(",")] + [str(n).strip() for n in block]
    names = list(dict.fromkeys(n for n in names if n))
    if BUILTIN_NAME in names:
        raise RegistryError(
            f"the built-in plugin '{BUILTIN_NAME}' cannot be blocked; remove it from {BLOCK_ENV} "
            "(or from create_registry(block=...)) and block the other plugin of a conflict instead"
        )
    return names


def _dist_of(ep: md.EntryPoint) -> tuple[str, str | None]:
    dist = getattr(ep, "dist", None)
    return (dist.name, dist.version) if dist is not None else ("unknown", None)


def _entry_points() -> list[md.EntryPoint]:
    """The ``vadkit`` entry points, sorted by (name, distribution, target): a fixed load order."""
    return sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.name, _dist_of(ep)[0], ep.value))


def _load_entry_points(pm: pluggy.PluginManager) -> Loaded:
    """Load every ``vadkit`` entry point; a broken one is recorded, the rest still load."""
    loaded: Loaded = []
    for ep in _entry_points():
        dist, version = _dist_of(ep)
        info = PluginInfo(ep.name, dist, version)
        taken = next((i for _, i in loaded if i.name == ep.name), None)
        if taken is not None:  # two distributions use one entry-point name: keep the first
            info.name = f"{ep.name} [{dist}]"
            info.error = (
                f"not loaded: entry-point name '{ep.name}' is already used by {taken.origin()}; "
                f"pip uninstall one of {taken.distribution}, {dist}"
            )
            loaded.append((None, info))
            continue
        if pm.is_blocked(ep.name):
            info.blocked = True
            loaded.append((None, info))
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # a third-party plugin must never take vadkit down
            info.error = f"{type(exc).__name__}: {exc}"
            plugin = None
        loaded.append((plugin, info))
    return loaded


def _register_in_process(pm: pluggy.PluginManager, plugins: Iterable[Any]) -> Loaded:
    loaded: Loaded = []
    for plugin in plugins:
        name = pm.get_canonical_name(plugin)
        info = PluginInfo(name, IN_PROCESS)
        if pm.is_blocked(name):
            info.blocked = True
            loaded.append((None, info))
            continue
        pm.register(plugin, name=name)
        loaded.append((plugin, info))
    return loaded


def _call_hook(pm: pluggy.PluginManager, registry: Registry, plugin: Any, info: PluginInfo) -> None:
    """Run one plugin's ``register_components``. Errors of entry-point plugins are recorded;
    those of the built-in and of in-process plugins (the caller's own code) are raised."""
    others = [p for p in pm.get_plugins() if p is not plugin]
    caller = pm.subset_hook_caller("register_components", remove_plugins=others)
    try:
        caller(register=registry.registrar(info.name, info.distribution))
    except Exception as exc:
        strict = info.name == BUILTIN_NAME or info.distribution == IN_PROCESS
        if strict and (isinstance(exc, RegistryError) or info.name == BUILTIN_NAME):
            raise  # unknown kinds, missing methods, a name twice: errors naming the plugin
        info.error = f"{type(exc).__name__}: {exc}"


def _unknown_hooks(pm: pluggy.PluginManager, loaded: Loaded) -> None:
    """pluggy's ``check_pending``, per plugin: an entry-point plugin implementing a hook vadkit
    does not define (a typo, or a hook of a newer vadkit) is recorded and unregistered, and the
    others keep working; the caller's own in-process plugins still raise."""
    infos = {id(plugin): info for plugin, info in loaded if plugin is not None}
    for name in list(pm.hook.__dict__):
        caller = getattr(pm.hook, name)
        if name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            info = infos.get(id(impl.plugin))
            if impl.optionalhook or info is None or info.error is not None:
                continue
            if info.name == BUILTIN_NAME or info.distribution == IN_PROCESS:
                raise pluggy.PluginValidationError(impl.plugin, f"unknown hook {name!r} in plugin {info.name!r}")
            known = ", ".join(n for n in pm.hook.__dict__ if not n.startswith("_") and getattr(pm.hook, n).has_spec())
            info.error = f"implements unknown hook '{name}' (vadkit defines: {known}); not loaded"
            pm.unregister(impl.plugin)


def create_registry(
    plugins: Iterable[Any] = (),
    *,
    autoload: bool | None = None,
    builtins: bool = True,
    block: Iterable[str] = (),
) -> Registry:
    """Build a registry from the built-ins, entry-point plugins and ``plugins`` (in-process).

    ``autoload=None`` loads the ``vadkit`` entry-point group unless the environment variable
    ``VADKIT_DISABLE_PLUGIN_AUTOLOAD`` is set. Plugins named in ``block`` or in
    ``VADKIT_BLOCK_PLUGINS`` are not loaded (the built-in plugin cannot be blocked). Plugins
    that fail to import or to register are kept in ``registry.plugins`` with their error, and
    a name two plugins register is kept as a conflict; everything else keeps working.
    """
    registry = Registry()
    pm = make_plugin_manager()
    blocked = blocked_names(block)
    for name in blocked:
        pm.set_blocked(name)
    loaded: Loaded = []
    if builtins:
        pm.register(builtin, name=BUILTIN_NAME)
        loaded.append((builtin, PluginInfo(BUILTIN_NAME, "vadkit", _version("vadkit"))))
    if _autoload_enabled(autoload):
        loaded += _load_entry_points(pm)
    loaded += _register_in_process(pm, plugins)
    _unknown_hooks(pm, loaded)
    seen = {info.name for _, info in loaded}
    loaded += [(None, PluginInfo(n, "(no plugin of this name)", blocked=True)) for n in blocked if n not in seen]

    for _, info in loaded:
        registry.plugins[info.name] = info
    for plugin, info in loaded:
        if plugin is not None and info.error is None:
            _call_hook(pm, registry, plugin, info)
    return registry


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


@functools.cache
def default_registry() -> Registry:
    """The registry the CLI uses, built on first use (never at import time)."""
    return create_registry()
