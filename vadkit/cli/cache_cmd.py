"""``vadkit cache list|clear``: what the on-disk caches hold, and removing it.

The cache folder is ``[flow] cache`` of a recipe, else ``$VADKIT_CACHE``, else
``~/.cache/vadkit/flow``. It holds flow entries (``*.npy`` + ``*.json``), ``frames/`` (decoded
frames of video files) and ``checks/`` (videos that passed the frame check). ``clear`` removes
only what it can prove a vadkit cache wrote: the folder must carry the ``.vadkit-cache`` marker
and each entry its metadata (a folder without the marker is refused, naming what it holds)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import OutputError

KINDS = ("flow", "frames", "checks")
CHECK_MARKER = re.compile(r"^[0-9a-f]{32}\.ok$")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="list or clear the flow / frame / check caches", description=__doc__)
    p.add_argument("action", choices=("list", "clear"))
    p.add_argument(
        "--dir", type=Path, default=None, help="cache folder (default $VADKIT_CACHE or ~/.cache/vadkit/flow)"
    )
    p.add_argument("--kind", choices=(*KINDS, "all"), default="all", help="which cache (default %(default)s)")
    p.add_argument("--dataset", type=Path, default=None, help="clear only flow/frame entries of this dataset root")
    p.add_argument("--stale", action="store_true", help="clear only temporary files left by killed writers")
    p.set_defaults(func=run)


def _folders(root: Path) -> dict[str, Path]:
    return {"flow": root, "frames": root / "frames", "checks": root / "checks"}


def _candidates(kind: str, folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.ok" if kind == "checks" else "*.npy"))


def _proven(kind: str, entry: Path) -> bool:
    """True for a file a vadkit cache wrote: an empty check marker, or data with its metadata."""
    from ..data.cache_entry import read_meta

    if kind == "checks":
        return bool(CHECK_MARKER.match(entry.name)) and entry.stat().st_size == 0
    return read_meta(entry) is not None


def _dataset_of(entry: Path) -> str | None:
    from ..data.cache_entry import read_meta

    meta = read_meta(entry)
    return meta.get("dataset") if meta is not None and isinstance(meta.get("dataset"), str) else None


def cache_root(path: Path | None) -> Path:
    """The cache folder to act on; an error when it exists as something other than a folder."""
    from ..data.flow_cache import default_cache_dir

    root = Path(path).expanduser() if path else default_cache_dir()
    if root.exists() and not root.is_dir():
        source = "--dir" if path else "VADKIT_CACHE"
        raise OutputError(f"{source} {root}: is a file, not a cache folder")
    return root


def _require_marker(root: Path, folders: dict[str, Path]) -> None:
    """Refuse to delete anything in a folder no vadkit cache marked, saying what it holds."""
    from ..data.cache_entry import MARKER

    if (root / MARKER).is_file() or not root.is_dir():
        return
    files = [p for p in root.rglob("*") if p.is_file()]
    npy = [p for p in files if p.suffix == ".npy"]
    sample = ", ".join(p.name for p in (npy or files)[:3])
    found = f"{len(files)} file(s), {len(npy)} of them .npy" + (f" (e.g. {sample})" if sample else "")
    raise OutputError(
        f"{root}: not a vadkit cache (no {MARKER} marker, which every vadkit cache folder gets when "
        f"it is filled); it holds {found}; nothing removed. Is it a dataset? `--dataset ROOT` "
        f"clears that dataset's entries from the cache"
    )


def _list(console: Console, root: Path, folders: dict[str, Path]) -> int:
    table = Table(title=f"caches in {root}")
    for col in ("kind", "entries", "size (MiB)", "datasets", "stale temp files"):
        table.add_column(col)
    from ..atomic import stale_temps

    unproven: list[Path] = []
    for kind, folder in folders.items():
        entries = _candidates(kind, folder)
        good = [p for p in entries if _proven(kind, p)]
        unproven += [p for p in entries if p not in good]
        size = sum(p.stat().st_size for p in good)
        datasets = sorted({d for p in good if (d := _dataset_of(p))})
        table.add_row(
            kind, str(len(good)), f"{size / 2**20:.1f}", "\n".join(datasets) or "-", str(len(stale_temps(folder)))
        )
    console.print(table)
    if unproven:
        names = ", ".join(p.name for p in unproven[:3]) + (" ..." if len(unproven) > 3 else "")
        console.print(
            f"[yellow]note:[/] {len(unproven)} file(s) not listed: no valid entry metadata (a JSON object "
            f"with the cache key), so not a vadkit entry or damaged: {escape(names)}",
            highlight=False,
        )
    return 0


def run(args: argparse.Namespace) -> int:
    from ..atomic import clean_stale_temps

    console = Console()
    root = cache_root(args.dir)
    kinds = KINDS if args.kind == "all" else (args.kind,)
    folders = {k: v for k, v in _folders(root).items() if k in kinds}
    if args.action == "list":
        return _list(console, root, folders)
    _require_marker(root, folders)
    removed = sum(clean_stale_temps(folder) for folder in folders.values())
    if not args.stale:
        wanted = str(args.dataset.expanduser().resolve()) if args.dataset else None
        for kind, folder in folders.items():
            for entry in _candidates(kind, folder):
                if not _proven(kind, entry) or (wanted and _dataset_of(entry) != wanted):
                    continue
                entry.unlink(missing_ok=True)
                if kind != "checks":
                    entry.with_suffix(".json").unlink(missing_ok=True)
                removed += 1
    console.print(f"removed {removed} file(s) from {root}")
    return 0
