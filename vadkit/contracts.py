"""Which interface each component kind implements, and the check that a component does.

The table names interfaces as lazy ``"module:Class"`` strings, so importing this module (and
the registry, which uses it) imports neither torch nor numpy. A kind whose interface module
does not exist is not checked.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
from typing import Any

from .errors import ComponentError

INTERFACES: dict[str, str] = {
    "encoder": "vadkit.interfaces:Encoder",
    "attention": "vadkit.interfaces:Attention",
    "fusion": "vadkit.interfaces:Fusion",
    "memory": "vadkit.interfaces:Memory",
    "decoder": "vadkit.interfaces:Decoder",
    "scorer": "vadkit.scoring:Scorer",
    "dataset": "vadkit.data.interfaces:DatasetLayout",
    "flow": "vadkit.data.interfaces:FlowEstimator",
    "sink": "vadkit.sinks:Sink",
}


def interface_for(kind: str) -> type | None:
    """The interface class of ``kind``; None when the kind has none (yet)."""
    target = INTERFACES.get(kind)
    if target is None:
        return None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only the interface module itself (or a parent package) being absent means "no
        # interface yet"; a missing dependency inside it is a real error.
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            return None
        raise
    found = getattr(module, attr, None)
    return found if inspect.isclass(found) else None


def _lookup(cls: type, name: str) -> Any:
    """``name`` as defined along ``cls.__mro__`` (not the metaclass's, unlike ``getattr``)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    return None


@functools.cache
def required_methods(interface: type) -> tuple[str, ...]:
    """The abstract methods of ``interface`` (works for ABCs and plain ``@abstractmethod``s)."""
    names = {n for klass in interface.__mro__ for n in vars(klass)}
    return tuple(sorted(n for n in names if getattr(_lookup(interface, n), "__isabstractmethod__", False)))


def _is_module_placeholder(name: str, attr: Any) -> bool:
    """True for ``nn.Module.forward``, the placeholder that raises at the first forward pass."""
    nn = sys.modules.get("torch.nn")
    return name == "forward" and nn is not None and attr is vars(nn.Module).get("forward")


def missing_methods(interface: type, cls: type) -> list[str]:
    """The required methods of ``interface`` that ``cls`` leaves missing or abstract.

    ``cls`` need not subclass ``interface`` (duck typing is allowed)."""
    missing = []
    for name in required_methods(interface):
        attr = _lookup(cls, name)
        if attr is None or getattr(attr, "__isabstractmethod__", False) or _is_module_placeholder(name, attr):
            missing.append(name)
    return missing


def check_component(kind: str, name: str, obj: Any, plugin: str, distribution: str | None = None) -> None:
    """Raise :class:`ComponentError` if ``obj`` does not implement ``kind``'s interface.

    ``obj`` is the registered class, or the object a registered factory returned.
    """
    interface = interface_for(kind)
    if interface is None:
        return
    is_class = inspect.isclass(obj)
    cls = obj if is_class else type(obj)
    missing = missing_methods(interface, cls)
    if not missing:
        return
    where = f"plugin '{plugin}'"
    if distribution:
        where += f" {distribution}" if distribution.startswith("(") else f" (distribution {distribution})"
    subject = (
        f"class {cls.__module__}.{cls.__qualname__}"
        if is_class
        else (f"its factory returned a {cls.__module__}.{cls.__qualname__}, which")
    )
    methods = ", ".join(f"{m}()" for m in missing)
    raise ComponentError(
        f"{kind} '{name}' from {where}: {subject} does not implement {methods} required by "
        f"{interface.__module__}.{interface.__qualname__}; define {'it' if len(missing) == 1 else 'them'} "
        "(see docs/plugins.md, 'What each kind must provide')"
    )


__all__ = ["INTERFACES", "check_component", "interface_for", "missing_methods", "required_methods"]
