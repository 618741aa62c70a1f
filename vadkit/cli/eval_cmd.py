"""``vadkit eval``: score a run's test split once with its last checkpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from ._common import add_plugin_change_flag


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a trained run: AUC, scores.csv, pictures", description=__doc__)
    p.add_argument("--run", required=True, type=Path, help="run folder written by `vadkit train`")
    p.add_argument("--data", type=Path, default=None, help="dataset root (default: the one the run trained on)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="eval.KEY=VALUE",
        help="override an [eval] option of the run's recipe, e.g. eval.temporal_sigma=4 (repeatable; "
        "recorded in metrics.json)",
    )
    p.add_argument("--json", action="store_true", help="print metrics.json to stdout")
    p.add_argument(
        "--force",
        action="store_true",
        help="write even where an output is an input or a file of a run (see docs/architecture.md)",
    )
    add_plugin_change_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import default_registry
    from ..evaluation.evaluate import auc_text, evaluate
    from ._errors import guard_run_outputs, require_run_folder

    require_run_folder(args.run)
    guard_run_outputs(args, "eval")
    console = Console(stderr=args.json)
    metrics = evaluate(
        args.run,
        default_registry(),
        data_root=args.data,
        console=console,
        eval_overrides=args.overrides,
        allow_plugin_change=args.allow_plugin_change,
    )
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        console.print(auc_text(metrics))
        console.print(
            f"results: {args.run / 'metrics.json'}, {args.run / 'scores.csv'}, pictures in {args.run / 'plots'}"
        )
    return 0
