"""The built-in plugin: registers every entry of ``registry.toml`` through the public hook."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from .hookspecs import RegisterFn, hookimpl


def manifest_path() -> Path:
    """Where ``registry.toml`` lives: inside the installed package, or at the repository root."""
    packaged = resources.files("vadkit") / "registry.toml"
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "registry.toml"


def read_manifest(path: Path | None = None) -> list[dict[str, Any]]:
    """The manifest as a flat list of ``{kind, name, object, description}`` entries."""
    path = path or manifest_path()
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [{"kind": kind, "name": name, **entry} for kind, table in data.items() for name, entry in table.items()]


@hookimpl
def register_components(register: RegisterFn) -> None:
    for entry in read_manifest():
        register(entry["kind"], entry["name"], entry["object"], description=entry["description"])
