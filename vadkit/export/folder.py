"""An export folder made whole or not at all, and checked before use.

``build_folder`` writes the graph and manifest into a temporary folder beside the target and
renames it into place (the previous export, when there is one, is moved aside first and then
deleted), so a kill leaves the old export, the new one, or none: never a graph of one
checkpoint with the manifest of another. A failed export (disk full) removes its temporary
folder. ``problem`` says why an export cannot be used: wrong manifest version, a graph whose
SHA-256 is not the manifest's, or made from another checkpoint or recipe than the run's."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..atomic import stale_temps, temp_name
from ..errors import CheckpointError, OutputError
from ..folder_lock import folder_lock
from .manifest import MANIFEST, VERSION, file_digest, read_manifest


def _clean_stale(out: Path) -> None:
    """Temporary and set-aside folders of exports to ``out`` whose writer was killed."""
    for p in stale_temps(out.parent):
        if p.is_dir() and p.name.startswith(f".{out.name}."):
            shutil.rmtree(p, ignore_errors=True)


def _is_export(folder: Path) -> bool:
    """True when ``folder`` is empty or was written by vadkit export (so it may be replaced)."""
    import json

    if not any(folder.iterdir()):
        return True
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(manifest, dict) and "vadkit_export" in manifest


@contextlib.contextmanager
def export_lock(out: Path) -> Iterator[None]:
    """One export into ``out`` at a time (the lock file ``.<name>.lock`` lies beside it)."""
    with folder_lock(out.parent, "export", lock_name=f".{out.name}.lock"):
        yield


def build_folder(out: Path, fill: Callable[[Path], Any]) -> Any:
    """``fill(tmp)`` writes the export into a temporary folder, which then replaces ``out``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is a file; --out must be a folder (it gets the graph and {MANIFEST})")
    if out.is_dir() and not _is_export(out):
        raise OutputError(
            f"{out}: holds files that are not a vadkit export (no {MANIFEST} written by vadkit "
            "export); choose an empty or new --out"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(out)
    tmp = temp_name(out)
    try:
        tmp.mkdir()
        result = fill(tmp)
        if out.is_dir():
            aside = temp_name(out)
            out.rename(aside)
            tmp.rename(out)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


def problem(folder: Path, run: Any = None) -> str | None:
    """Why the export in ``folder`` cannot be used (for ``run``, a TrainedRun, when given); None if it can."""
    try:
        manifest = read_manifest(folder)
    except CheckpointError as exc:
        return str(exc)
    graph = Path(folder) / str(manifest.get("model_file"))
    want = manifest.get("model_sha256")
    if not isinstance(want, str) or file_digest(graph) != want:
        return f"{graph}: damaged (its SHA-256 is not the one in {MANIFEST})"
    if run is not None:
        if (manifest.get("checkpoint") or {}).get("sha256") != file_digest(run.folder.checkpoint):
            return f"{folder}: made from another checkpoint than {run.folder.checkpoint}"
        if manifest.get("recipe_sha256") != file_digest(run.folder.recipe):
            return f"{folder}: made from another recipe than {run.folder.recipe}"
    return None


__all__ = ["build_folder", "export_lock", "problem", "VERSION"]
