"""The plugin manager factory: built-ins, entry-point plugins and in-process plugins.

Nothing here runs at import time; every call of :func:`create_registry` builds a fresh,
independent plugin manager and registry (tests rely on that: no global state).
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
from .registry import PluginInfo, Registry

ENTRY_POINT_GROUP = "vadkit"
DISABLE_AUTOLOAD_ENV = "VADKIT_DISABLE_PLUGIN_AUTOLOAD"
BUILTIN_NAME = "vadkit.builtin"


def make_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def _autoload_enabled(autoload: bool | None) -> bool:
    if autoload is not None:
        return autoload
    return os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip().lower() in ("", "0", "false", "no")


def _load_entry_points(pm: pluggy.PluginManager, registry: Registry) -> dict[str, tuple[str, str | None]]:
    """Load every ``vadkit`` entry point; a broken one is recorded, the rest still load."""
    origins: dict[str, tuple[str, str | None]] = {}
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "unknown"
        version = ep.dist.version if ep.dist is not None else None
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # a third-party plugin must never take vadkit down
            registry.plugins[ep.name] = PluginInfo(ep.name, dist, version, error=f"{type(exc).__name__}: {exc}")
            continue
        origins[ep.name] = (dist, version)
    return origins


def create_registry(
    plugins: Iterable[Any] = (),
    *,
    autoload: bool | None = None,
    builtins: bool = True,
) -> Registry:
    """Build a registry from the built-ins, entry-point plugins and ``plugins`` (in-process).

    ``autoload=None`` loads the ``vadkit`` entry-point group unless the environment variable
    ``VADKIT_DISABLE_PLUGIN_AUTOLOAD`` is set. Plugins that fail to import or to register are
    kept in ``registry.plugins`` with their error; everything else keeps working.
    """
    registry = Registry()
    pm = make_plugin_manager()
    origins: dict[str, tuple[str, str | None]] = {}
    if builtins:
        pm.register(builtin, name=BUILTIN_NAME)
        origins[BUILTIN_NAME] = ("vadkit", _version("vadkit"))
    if _autoload_enabled(autoload):
        origins.update(_load_entry_points(pm, registry))
    for plugin in plugins:
        name = pm.register(plugin)
        if name is not None:
            origins[name] = ("(in-process)", None)
    pm.check_pending()

    for plugin in pm.get_plugins():
        name = pm.get_name(plugin) or repr(plugin)
        dist, version = origins.get(name, ("(in-process)", None))
        info = registry.plugins.setdefault(name, PluginInfo(name, dist, version))
        info.version = version
        others = [p for p in pm.get_plugins() if p is not plugin]
        caller = pm.subset_hook_caller("register_components", remove_plugins=others)
        try:
            caller(register=registry.registrar(name, dist))
        except RegistryError:
            raise  # duplicates and unknown kinds are errors, never silently dropped
        except Exception as exc:
            if name == BUILTIN_NAME:
                raise
            info.error = f"{type(exc).__name__}: {exc}"
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
