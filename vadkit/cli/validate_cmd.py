"""``vadkit validate``: AUC on pseudo-anomalies drawn into the run's held-out normal training
videos: a model-selection number that never reads the test split."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate", help="AUC on pseudo-anomalies in held-out normal videos (no test data)", description=__doc__
    )
    p.add_argument("--run", required=True, type=Path, help="run folder written by `vadkit train`")
    p.add_argument("--data", type=Path, default=None, help="dataset root (default: the one the run trained on)")
    p.add_argument(
        "--copies", type=int, default=4, help="pseudo-anomalous copies of each held-out video (default %(default)s)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the drawn anomalies (default %(default)s)")
    p.add_argument("--kinds", default="speed,object", help="pseudo-anomaly kinds, comma-separated (speed, object)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="score.KEY=VALUE",
        help="re-score with another [score] option, or eval.temporal_sigma / eval.memory_update (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON to stdout")
    p.add_argument(
        "--force",
        action="store_true",
        help="write even where an output is an input or a file of a run (see docs/architecture.md)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import default_registry
    from ..validation.validate import validate, validation_text
    from ._errors import guard_run_outputs, require_run_folder

    require_run_folder(args.run)
    guard_run_outputs(args, "validate")
    console = Console(stderr=args.json)
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    result = validate(
        args.run,
        default_registry(),
        data_root=args.data,
        copies=args.copies,
        seed=args.seed,
        kinds=kinds,
        score_overrides=args.overrides,
        console=console,
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        console.print(validation_text(result))
        console.print(f"written: {result['path']}")
    return 0
