"""``vadkit data inspect ROOT [--json] [--check]``: which layout and label format, per-split videos."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="inspect a dataset (layout, labels, videos)")
    inner = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    q = inner.add_parser("inspect", help="detected layout, label format and per-split frame counts")
    q.add_argument("root", type=Path, help="dataset root")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.add_argument("--check", action="store_true", help="decode every frame (finds corrupt files)")
    q.add_argument("--recipe", help="recipe whose [data] table chooses the loader (default: auto)")
    q.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="recipe override")
    q.set_defaults(func=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    from vadkit import default_registry
    from vadkit.recipe import load_recipe
    from vadkit.data import open_dataset

    recipe = load_recipe(args.recipe, args.set) if args.recipe else None
    ds = open_dataset(args.root, default_registry(), recipe)
    summary = ds.summary()
    if args.check:
        for split in ("training", "testing"):
            ds.check(split)
        summary["checked"] = True
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    console = Console()
    console.print(f"[bold]{summary['root']}[/]: layout [cyan]{summary['layout']}[/], "
                  f"labels [cyan]{summary['labels'] or 'none found'}[/]"
                  + (f" ({summary['label_file']})" if summary["label_file"] else ""))
    for split, rows in summary["splits"].items():
        table = Table(title=f"{split}: {len(rows)} videos, {sum(r['frames'] for r in rows)} frames")
        for col in ("video", "frames", "abnormal"):
            table.add_column(col, justify="left" if col == "video" else "right")
        for r in rows:
            table.add_row(r["video"], str(r["frames"]), "-" if r["abnormal"] is None else str(r["abnormal"]))
        if rows and all(r["abnormal"] is not None for r in rows):
            table.add_row("[bold]total", str(sum(r["frames"] for r in rows)), str(sum(r["abnormal"] for r in rows)))
        console.print(table)
    if args.check:
        console.print("[green]every frame decoded[/]")
    return 0
