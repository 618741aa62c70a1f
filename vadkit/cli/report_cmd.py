"""``vadkit report``: write one self-contained HTML report (opens from disk, loads nothing) of
one or more runs, or of every run inside a folder written by ``vadkit ablate``."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML report of one or more runs", description=__doc__)
    p.add_argument(
        "runs",
        nargs="+",
        type=Path,
        metavar="RUN",
        help="run folder(s) (`vadkit train` / `demo`) or a folder of runs (`vadkit ablate --out`)",
    )
    p.add_argument("--out", type=Path, default=Path("report.html"), help="HTML file to write (default: %(default)s)")
    p.add_argument("--title", default=None, help="page title")
    p.add_argument("--max-videos", type=int, default=24, help="score curves shown per run (default %(default)s)")
    p.add_argument("--no-build", action="store_true", help="skip building each model (no params / GFLOPs)")
    p.add_argument(
        "--force",
        action="store_true",
        help="write --out even where it is an input or a file of a run (see docs/architecture.md)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..output_guard import check_output
    from ..report import write_report

    check_output(args.out, command="report", runs=args.runs, force=args.force)
    console = Console(stderr=True)
    result = write_report(
        args.runs,
        args.out,
        title=args.title,
        max_videos=max(0, args.max_videos),
        build=not args.no_build,
        console=console,
    )
    for run_data, info in zip(result.runs, result.infos):
        for problem in run_data.problems:
            console.print(f"[yellow]{run_data.name}[/]: {problem}", highlight=False)
        if info.error and not args.no_build:
            console.print(f"[yellow]{run_data.name}[/]: model not built: {info.error}", highlight=False)
    size = result.out.stat().st_size / 1e6
    console.print(f"report of {len(result.runs)} run(s): {result.out} ({size:.1f} MB)", highlight=False)
    return 0
