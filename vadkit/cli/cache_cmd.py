"""``vadkit cache list|clear``: what the on-disk caches hold, and removing it.

The cache folder is ``[flow] cache`` of a recipe, else ``$VADKIT_CACHE``, else
``~/.cache/vadkit/flow``. It holds flow entries (``*.npy`` + ``*.json``), ``frames/`` (decoded
frames of video files) and ``checks/`` (videos that passed the frame check)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

KINDS = ("flow", "frames", "checks")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="list or clear the flow / frame / check caches", description=__doc__)
    p.add_argument("action", choices=("list", "clear"))
    p.add_argument("--dir", type=Path, default=None, help="cache folder (default $VADKIT_CACHE or ~/.cache/vadkit/flow)")
    p.add_argument("--kind", choices=(*KINDS, "all"), default="all", help="which cache (default all)")
    p.add_argument("--dataset", type=Path, default=None, help="clear only flow/frame entries of this dataset root")
    p.add_argument("--stale", action="store_true", help="clear only temporary files left by killed writers")
    p.set_defaults(func=run)


def _folders(root: Path) -> dict[str, Path]:
    return {"flow": root, "frames": root / "frames", "checks": root / "checks"}


def _entries(kind: str, folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.ok" if kind == "checks" else "*.npy"))


def _dataset_of(entry: Path) -> str | None:
    meta = entry.with_suffix(".json")
    try:
        return json.loads(meta.read_text()).get("dataset")
    except (OSError, ValueError):
        return None


def run(args: argparse.Namespace) -> int:
    from ..atomic import clean_stale_temps, stale_temps
    from ..data.flow_cache import default_cache_dir

    console = Console()
    root = Path(args.dir).expanduser() if args.dir else default_cache_dir()
    kinds = KINDS if args.kind == "all" else (args.kind,)
    folders = {k: v for k, v in _folders(root).items() if k in kinds}
    if args.action == "list":
        table = Table(title=f"caches in {root}")
        for col in ("kind", "entries", "size (MiB)", "datasets", "stale temp files"):
            table.add_column(col)
        for kind, folder in folders.items():
            entries = _entries(kind, folder)
            size = sum(p.stat().st_size for p in entries)
            datasets = sorted({d for p in entries if (d := _dataset_of(p))})
            table.add_row(kind, str(len(entries)), f"{size / 2**20:.1f}", "\n".join(datasets) or "-",
                          str(len(stale_temps(folder))))
        console.print(table)
        return 0
    removed = sum(clean_stale_temps(folder) for folder in folders.values())
    if not args.stale:
        wanted = str(args.dataset.expanduser().resolve()) if args.dataset else None
        for kind, folder in folders.items():
            for entry in _entries(kind, folder):
                if wanted and _dataset_of(entry) != wanted:
                    continue
                entry.unlink(missing_ok=True)
                entry.with_suffix(".json").unlink(missing_ok=True)
                removed += 1
    console.print(f"removed {removed} file(s) from {root}")
    return 0
