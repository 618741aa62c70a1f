"""TOML recipes: ``extends`` chains, ``--set`` overrides, and where every key came from.

A recipe is plain data. Nothing in it is imported or evaluated: component tables name
registered components by ``type`` and give keyword arguments.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RecipeError

BUILTIN_RECIPES = Path(__file__).resolve().parent / "recipes"


@dataclass
class Recipe:
    """A fully merged recipe plus the file each key came from (for error messages)."""

    data: dict[str, Any]
    path: Path
    origins: dict[str, str] = field(default_factory=dict)

    def where(self, key: str) -> str:
        """The file that set ``key`` (or its closest parent), else the top recipe."""
        parts = key.split(".")
        while parts:
            origin = self.origins.get(".".join(parts))
            if origin:
                return origin
            parts.pop()
        return str(self.path)

    def error(self, key: str, message: str) -> RecipeError:
        return RecipeError(message, file=self.where(key), key=key)

    def get(self, key: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def section(self, key: str) -> dict[str, Any]:
        value = self.get(key, {})
        if not isinstance(value, dict):
            raise self.error(key, f"must be a table, got {type(value).__name__}")
        return copy.deepcopy(value)

    def with_values(self, values: dict[str, Any], source: str = "command line") -> Recipe:
        """A copy with dotted ``values`` set (``{"detect.threshold": 2.0}``); errors name ``source``."""
        data, origins = copy.deepcopy(self.data), dict(self.origins)
        for key, value in values.items():
            apply_override(data, key, value, origins, source)
        return Recipe(data=data, path=self.path, origins=origins)

    def to_toml(self) -> str:
        """The merged recipe as TOML (tomli-w: strings with newlines, keys with spaces or dots round-trip)."""
        return dumps_toml(self.data)


def resolve_recipe_path(ref: str | Path, base: Path | None = None) -> Path:
    """A recipe file: a path (relative to ``base``), or a built-in name such as ``mstinet``."""
    ref = Path(ref)
    candidates = [base / ref if base and not ref.is_absolute() else ref]
    if ref.suffix != ".toml":
        candidates += [BUILTIN_RECIPES / f"{ref}.toml"]
    else:
        candidates += [BUILTIN_RECIPES / ref]
    for cand in candidates:
        if cand.is_file():
            return cand.resolve()
    raise RecipeError(f"recipe not found: '{ref}' (looked in {', '.join(str(c) for c in candidates)})")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise RecipeError(
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); a recipe is a TOML "
            "text file saved as UTF-8",
            file=str(path),
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"not valid TOML: {exc}", file=str(path)) from None
    except OSError as exc:
        raise RecipeError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None


def _merge(base: dict, over: dict, origins: dict[str, str], source: str | dict[str, str], prefix: str = "") -> dict:
    """Deep-merge ``over`` into ``base``. A table whose ``type`` changes is replaced whole,
    so keyword arguments of the old component never leak into the new one."""
    out = dict(base)
    for key, value in over.items():
        path = f"{prefix}{key}"
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict) and value.get("type", old.get("type")) == old.get("type"):
            out[key] = _merge(old, value, origins, source, f"{path}.")
        else:
            for stale in [k for k in origins if k == path or k.startswith(f"{path}.")]:
                del origins[stale]
            out[key] = copy.deepcopy(value)
            _record(value, origins, source, path)
    return out


def _record(value: Any, origins: dict[str, str], source: str | dict[str, str], path: str) -> None:
    """Remember which file set ``path``; ``source`` may map key paths to files (a parent chain)."""
    origins[path] = source if isinstance(source, str) else source.get(path, source.get("", "?"))
    if isinstance(value, dict):
        for k, v in value.items():
            _record(v, origins, source, f"{path}.{k}")


def _load_chain(path: Path, seen: tuple[Path, ...], origins: dict[str, str], base: str | None = None) -> dict[str, Any]:
    """Load ``path`` and its ``extends`` parents; fills ``origins`` with the file of each key.
    ``base`` replaces the file's own ``extends`` (used to rebase ablations on a smaller recipe)."""
    if path in seen:
        chain = " -> ".join(str(p) for p in (*seen, path))
        raise RecipeError(f"'extends' forms a cycle: {chain}", file=str(path), key="extends")
    raw = _read_toml(path)
    parents = raw.pop("extends", [])
    if base is not None:
        parents = [str(resolve_recipe_path(base))]
    if isinstance(parents, str):
        parents = [parents]
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise RecipeError("must be a file name or a list of file names", file=str(path), key="extends")
    merged: dict[str, Any] = {}
    for parent in parents:
        try:
            parent_path = resolve_recipe_path(parent, base=path.parent)
        except RecipeError as exc:
            raise RecipeError(str(exc), file=str(path), key="extends") from None
        parent_origins: dict[str, str] = {"": str(parent_path)}
        parent_data = _load_chain(parent_path, (*seen, path), parent_origins)
        merged = _merge(merged, parent_data, origins, parent_origins)
    merged = _merge(merged, raw, origins, str(path))
    return merged


def parse_override(text: str) -> tuple[str, Any]:
    """``a.b.c=value`` -> (``a.b.c``, value); the value is read as TOML, else as a string."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise RecipeError(f"override '{text}' must look like key.path=value")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    return key, parsed


def apply_override(data: dict[str, Any], key: str, value: Any, origins: dict[str, str], source: str = "--set") -> None:
    node = data
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise RecipeError(
                f"cannot set '{key}': '{'.'.join(parts[: i + 1])}' is a {type(child).__name__}, not a table",
                file=source,
                key=key,
            )
        node = child
    leaf = parts[-1]
    if leaf == "type" and node.get("type") != value:
        for k in list(node):
            node.pop(k)
    node[leaf] = value
    _record(value, origins, source, key)


def load_recipe(path: str | Path, overrides: Iterable[str] = (), *, base: str | Path | None = None) -> Recipe:
    """Read a recipe, follow ``extends`` and apply ``key=value`` overrides.

    ``base`` swaps the recipe's own ``extends`` for another recipe: an ablation written
    against the paper's recipe can then be run on top of a small CPU recipe.
    """
    resolved = resolve_recipe_path(path)
    origins: dict[str, str] = {}
    data = _load_chain(resolved, (), origins, None if base is None else str(base))
    for text in overrides:
        key, value = parse_override(text)
        apply_override(data, key, value, origins)
    return Recipe(data=data, path=resolved, origins=origins)


def recipe_from_dict(data: dict[str, Any], name: str = "<dict>") -> Recipe:
    origins: dict[str, str] = {}
    for k, v in data.items():
        _record(v, origins, name, k)
    return Recipe(data=copy.deepcopy(data), path=Path(name), origins=origins)


def dumps_toml(data: dict[str, Any]) -> str:
    """``data`` as TOML text, written by tomli-w (a maintained writer that round-trips any recipe)."""
    import tomli_w

    return tomli_w.dumps(data)
