"""The component registry: kind -> name -> spec, filled through the ``register_components`` hook."""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import RegistryError

KINDS: tuple[str, ...] = (
    "encoder",
    "attention",
    "fusion",
    "memory",
    "decoder",
    "scorer",
    "dataset",
    "flow",
)


@dataclass
class ComponentSpec:
    """One registered component; ``target`` is imported lazily when given as ``module:object``."""

    kind: str
    name: str
    target: Callable[..., Any] | str
    description: str
    plugin: str
    distribution: str

    def load(self) -> Callable[..., Any]:
        """Return the class or factory, importing it on first use."""
        if callable(self.target):
            return self.target
        module_name, _, attr = self.target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise RegistryError(
                f"{self.kind} '{self.name}' (from plugin '{self.plugin}') points to "
                f"'{self.target}', which cannot be imported: {exc}"
            ) from exc
        self.target = obj
        return obj

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "name": self.name,
            "description": self.description,
            "plugin": self.plugin,
            "distribution": self.distribution,
        }


@dataclass
class PluginInfo:
    """A loaded plugin: where it came from and what it registered (or why it failed)."""

    name: str
    distribution: str
    version: str | None = None
    components: list[str] = field(default_factory=list)
    error: str | None = None


class Registry:
    """Components by kind and name. A duplicate name is an error, never a silent overwrite."""

    def __init__(self) -> None:
        self._specs: dict[str, dict[str, ComponentSpec]] = {kind: {} for kind in KINDS}
        self.plugins: dict[str, PluginInfo] = {}

    # -- writing -------------------------------------------------------------------------
    def add(self, spec: ComponentSpec) -> None:
        if spec.kind not in self._specs:
            raise RegistryError(
                f"plugin '{spec.plugin}' registered '{spec.name}' under unknown kind "
                f"'{spec.kind}'; kinds are: {', '.join(KINDS)}"
            )
        if not spec.name or spec.name != spec.name.strip():
            raise RegistryError(f"plugin '{spec.plugin}' registered an invalid {spec.kind} name {spec.name!r}")
        existing = self._specs[spec.kind].get(spec.name)
        if existing is not None:
            raise RegistryError(
                f"{spec.kind} '{spec.name}' is registered twice: by plugin '{existing.plugin}' "
                f"({existing.distribution}) and by plugin '{spec.plugin}' ({spec.distribution})"
            )
        self._specs[spec.kind][spec.name] = spec

    def registrar(self, plugin: str, distribution: str) -> Callable[..., None]:
        """A narrow ``register`` callable bound to one plugin, handed to the hook."""

        def register(
            kind: str, name: str, obj: Callable[..., Any] | str, *, description: str | None = None
        ) -> None:
            if description is None:
                doc = inspect.getdoc(obj) if callable(obj) else None
                description = doc.splitlines()[0] if doc else ""
            self.add(ComponentSpec(kind, name, obj, description, plugin, distribution))
            info = self.plugins.setdefault(plugin, PluginInfo(plugin, distribution))
            info.components.append(f"{kind}:{name}")

        return register

    # -- reading -------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> ComponentSpec:
        """The spec of ``kind``/``name``; an unknown name lists close matches and all choices."""
        if kind not in self._specs:
            raise RegistryError(f"unknown component kind '{kind}'; kinds are: {', '.join(KINDS)}")
        specs = self._specs[kind]
        if name in specs:
            return specs[name]
        close = difflib.get_close_matches(str(name), list(specs), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        available = ", ".join(sorted(specs)) or "(none)"
        raise RegistryError(f"no {kind} named '{name}'.{hint} Available {kind}s: {available}")

    def names(self, kind: str) -> list[str]:
        return sorted(self._specs[kind])

    def list(self, pattern: str = "*", kind: str | None = None) -> list[ComponentSpec]:
        """Components whose name (or ``kind:name``) matches a shell-style wildcard, sorted."""
        kinds = [kind] if kind else list(KINDS)
        for k in kinds:
            if k not in self._specs:
                raise RegistryError(f"unknown component kind '{k}'; kinds are: {', '.join(KINDS)}")
        out = []
        for k in kinds:
            for name, spec in sorted(self._specs[k].items()):
                if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(f"{k}:{name}", pattern):
                    out.append(spec)
        return out

    def __iter__(self):
        for kind in KINDS:
            yield from self._specs[kind].values()

    def __len__(self) -> int:
        return sum(len(v) for v in self._specs.values())
