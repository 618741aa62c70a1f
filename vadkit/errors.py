"""Exceptions with messages that say what is wrong and where."""

from __future__ import annotations

import os
from pathlib import Path


class VadkitError(Exception):
    """Base class: every vadkit error is reported to CLI users without a traceback."""


class RegistryError(VadkitError):
    """A component name is unknown, duplicated or cannot be imported."""


class ComponentError(RegistryError):
    """A registered component does not implement its kind's interface (names the plugin)."""


class RecipeError(VadkitError):
    """A recipe is malformed; the message names the file and the key path."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        where = ", ".join(p for p in (f"recipe {file}" if file else "", f"key '{key}'" if key else "") if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.key = key


class AssemblyError(VadkitError):
    """Components that cannot work together (e.g. a channel mismatch)."""


class DataError(VadkitError):
    """Bad input data; the message names the file, video and frame index."""


class CheckpointError(VadkitError):
    """A checkpoint is unreadable or does not match the recipe."""


class ResourceError(VadkitError):
    """A run would not fit in memory; the message gives the estimate and what is available."""


class OutputError(VadkitError):
    """An output path cannot be used (e.g. it exists as a file where a folder is needed)."""


def output_folder(path: str | os.PathLike[str], option: str) -> Path:
    """``path`` as a folder that may be written: an error naming ``option`` when it, or one of
    its parents, already exists as something other than a folder."""
    path = Path(path)
    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            what = "it" if p == path else f"its parent {p}"
            raise OutputError(
                f"{option} {path}: {what} already exists as a file; an output folder is needed here "
                "(choose another path or remove the file)"
            )
    return path
