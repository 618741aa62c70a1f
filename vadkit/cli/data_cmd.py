"""``vadkit data inspect ROOT [--json] [--check]``: which layout and label format, per-split videos."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
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
    from vadkit.data import open_dataset
    from vadkit.recipe import load_recipe

    recipe = load_recipe(args.recipe, args.set) if args.recipe else None
    ds = open_dataset(args.root, default_registry(), recipe)
    summary = ds.summary()
    problems = check_splits(ds) if args.check else []
    if args.check:
        summary["checked"], summary["problems"] = not problems, problems
    code = 1 if problems else 0  # a check that finds a problem fails
    if args.json:
        print(json.dumps(summary, indent=1))
        return code
    console = Console()
    console.print(
        f"[bold]{summary['root']}[/]: layout [cyan]{summary['layout']}[/], "
        f"labels [cyan]{summary['labels'] or 'none found'}[/]"
        + (f" ({summary['label_file']})" if summary["label_file"] else "")
    )
    for split, rows in summary["splits"].items():
        table = Table(title=f"{split}: {len(rows)} videos, {sum(r['frames'] for r in rows)} frames")
        for col in ("video", "frames", "abnormal"):
            table.add_column(col, justify="left" if col == "video" else "right")
        for r in rows:
            table.add_row(r["video"], str(r["frames"]), "-" if r["abnormal"] is None else str(r["abnormal"]))
        if rows and all(r["abnormal"] is not None for r in rows):
            table.add_row("[bold]total", str(sum(r["frames"] for r in rows)), str(sum(r["abnormal"] for r in rows)))
        console.print(table)
    if problems:
        err = Console(stderr=True)
        for p in problems:
            err.print(f"[bold red]error:[/] {escape(p)}", highlight=False)
        err.print(f"check failed: {len(problems)} split{'s' if len(problems) != 1 else ''} with a problem")
    elif args.check:
        console.print("[green]every frame decoded[/]")
    return code


def check_splits(ds: object) -> list[str]:
    """Decode every frame of each split; the first problem of each split (none: all good)."""
    from vadkit.errors import DataError

    problems = []
    for split in ("training", "testing"):
        try:
            ds.check(split)  # type: ignore[attr-defined]
        except DataError as exc:
            problems.append(f"{split}: {exc}")
    return problems
