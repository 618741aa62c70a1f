"""The component registry: kind -> name -> spec, filled through the ``register_components`` hook."""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .contracts import check_component
from .errors import RegistryError

BUILTIN_NAME = "vadkit.builtin"
BLOCK_ENV = "VADKIT_BLOCK_PLUGINS"
IN_PROCESS = "(in-process)"

KINDS: tuple[str, ...] = (
    "encoder",
    "attention",
    "fusion",
    "memory",
    "decoder",
    "scorer",
    "dataset",
    "flow",
    "sink",
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
        if inspect.isclass(obj):
            check_component(self.kind, self.name, obj, self.plugin, self.distribution)
        self.target = obj  # cached only once it passed the interface check
        return obj

    def check_built(self, obj: Any) -> None:
        """Check what a factory (not a class, which :meth:`load` checked) returned."""
        if not inspect.isclass(self.load()):
            check_component(self.kind, self.name, obj, self.plugin, self.distribution)

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
    blocked: bool = False

    def origin(self) -> str:
        """``dist foo-vad 0.2``, ``in-process`` or ``dist vadkit``: where the plugin came from."""
        if self.distribution == IN_PROCESS:
            return "in-process"
        return f"dist {self.distribution}" + (f" {self.version}" if self.version else "")


class Registry:
    """Components by kind and name.

    A name registered by two plugins is a *conflict*: both specs are kept and listed, and any
    lookup of that name raises an error naming both plugins and the way out (never a silent
    overwrite, and never an error that stops the rest of the registry from working).
    """

    def __init__(self) -> None:
        self._specs: dict[str, dict[str, ComponentSpec]] = {kind: {} for kind in KINDS}
        self.conflicts: dict[tuple[str, str], list[ComponentSpec]] = {}
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
        key = (spec.kind, spec.name)
        existing = self.conflicts.get(key) or (
            [self._specs[spec.kind][spec.name]] if spec.name in self._specs[spec.kind] else []
        )
        if any(e.plugin == spec.plugin for e in existing):
            raise RegistryError(f"plugin '{spec.plugin}' registered {spec.kind} '{spec.name}' twice")
        if existing:
            self.conflicts[key] = [*existing, spec]
            return
        self._specs[spec.kind][spec.name] = spec

    def registrar(self, plugin: str, distribution: str) -> Callable[..., None]:
        """A narrow ``register`` callable bound to one plugin, handed to the hook.

        A class is checked against its kind's interface here; a ``module:object`` string when
        it is first loaded, a factory on what it returns (at build)."""

        def register(kind: str, name: str, obj: Callable[..., Any] | str, *, description: str | None = None) -> None:
            if description is None:
                doc = inspect.getdoc(obj) if callable(obj) else None
                description = doc.splitlines()[0] if doc else ""
            if inspect.isclass(obj) and kind in self._specs:
                check_component(kind, name, obj, plugin, distribution)
            self.add(ComponentSpec(kind, name, obj, description, plugin, distribution))
            info = self.plugins.setdefault(plugin, PluginInfo(plugin, distribution))
            info.components.append(f"{kind}:{name}")

        return register

    # -- reading -------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> ComponentSpec:
        """The spec of ``kind``/``name``; an unknown name lists close matches and all choices,
        and says which plugins failed to load or are blocked; a conflicted name is an error."""
        if kind not in self._specs:
            raise RegistryError(f"unknown component kind '{kind}'; kinds are: {', '.join(KINDS)}")
        if (kind, name) in self.conflicts:
            raise RegistryError(self.conflict_message(kind, name))
        specs = self._specs[kind]
        if name in specs:
            return specs[name]
        close = difflib.get_close_matches(str(name), list(specs), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        available = ", ".join(sorted(specs)) or "(none)"
        notes = "".join(f"\n{note}" for note in self._unavailable_notes())
        raise RegistryError(f"no {kind} named '{name}'.{hint} Available {kind}s: {available}{notes}")

    def _unavailable_notes(self) -> list[str]:
        """One line per plugin that failed to load or is blocked: it may provide the name."""
        notes = []
        for info in self.plugins.values():
            if info.error:
                notes.append(
                    f"note: plugin '{info.name}' ({info.origin()}) failed to load: {info.error}; "
                    "it may provide this component"
                )
            elif info.blocked:
                notes.append(
                    f"note: plugin '{info.name}' ({info.origin()}) is blocked ({BLOCK_ENV}); "
                    "it may provide this component"
                )
        return notes

    def conflict_message(self, kind: str, name: str) -> str:
        """Who registered ``kind``/``name`` and how to keep only one of them."""
        specs = self.conflicts[(kind, name)]
        who = " and ".join(f"plugin '{s.plugin}' ({self._origin(s)})" for s in specs)
        blockable = [s.plugin for s in specs if s.plugin != BUILTIN_NAME]
        dists = [s.distribution for s in specs if s.distribution not in (IN_PROCESS, "vadkit")]
        ways = []
        if len(blockable) == 1:
            ways.append(f"set {BLOCK_ENV}={blockable[0]} to block '{blockable[0]}'")
        elif blockable:
            ways.append(f"set {BLOCK_ENV}=<plugin> to block one of them (e.g. {BLOCK_ENV}={blockable[-1]})")
        if any(s.distribution == IN_PROCESS for s in specs):
            ways.append("pass create_registry(block=[...]) or leave the in-process plugin out")
        if dists:
            ways.append(f"pip uninstall {' or '.join(dists)}")
        note = f" ({BUILTIN_NAME} is built in and cannot be blocked)" if len(blockable) < len(specs) else ""
        return f"{kind} '{name}' is registered by {len(specs)} plugins: {who}. Way out: {'; or '.join(ways)}{note}"

    def _origin(self, spec: ComponentSpec) -> str:
        info = self.plugins.get(spec.plugin) or PluginInfo(spec.plugin, spec.distribution)
        return info.origin()

    def names(self, kind: str) -> list[str]:
        return sorted(self._specs[kind])

    def list(self, pattern: str = "*", kind: str | None = None) -> list[ComponentSpec]:
        """Components whose name (or ``kind:name``) matches a shell-style wildcard, sorted.

        A conflicted name appears once per plugin that registered it, in load order."""
        kinds = [kind] if kind else list(KINDS)
        for k in kinds:
            if k not in self._specs:
                raise RegistryError(f"unknown component kind '{k}'; kinds are: {', '.join(KINDS)}")
        out = []
        for k in kinds:
            for name, spec in sorted(self._specs[k].items()):
                if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(f"{k}:{name}", pattern):
                    out.extend(self.conflicts.get((k, name), [spec]))
        return out

    def __iter__(self):
        for kind in KINDS:
            for name, spec in self._specs[kind].items():
                yield from self.conflicts.get((kind, name), [spec])

    def __len__(self) -> int:
        return sum(1 for _ in self)
