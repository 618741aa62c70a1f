"""``vadkit eval``: score a run's test split once with its last checkpoint, or (``--detections``)
score `vadkit detect` outputs against the labels of a dataset root."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from ._common import add_plugin_change_flag


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a trained run: AUC, scores.csv, pictures", description=__doc__)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--run", type=Path, help="run folder written by `vadkit train`")
    what.add_argument(
        "--detections",
        type=Path,
        help="`vadkit detect` output folder (one source, or one sub-folder per source) to score against "
        "the labels of --data; writes DETECTIONS/detection_metrics.json",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="dataset root (default: the one the run trained on; with --detections: required, its labels)",
    )
    p.add_argument("--split", default="testing", choices=("testing", "training"), help="--detections: labelled split")
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
    if args.detections is not None:
        return run_detections(args)
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


def run_detections(args: argparse.Namespace) -> int:
    """``--detections``: the detection metrics of what `vadkit detect` wrote, against labels."""
    from .. import default_registry
    from ..atomic import atomic_write_text
    from ..errors import OutputError, VadkitError
    from ..evaluation.detect_outputs import KIND, RESULT_NAME, score_detections
    from ..evaluation.detection import detection_text
    from ..output_guard import check_output
    from ..run_folder import RunFolder

    if args.data is None:
        raise VadkitError("--detections needs --data: the dataset root whose labels the outputs are scored against")
    if args.overrides or args.allow_plugin_change:
        raise VadkitError("--set and --allow-plugin-change apply to --run, not to --detections")
    out = args.detections / RESULT_NAME
    run = RunFolder.enclosing(args.detections)  # detect outputs inside a run: RUN/detect/...
    own = None if run is None else run.root
    check_output(out, command="eval --detections", inputs=[args.data], own_run=own, force=args.force)
    if out.is_file() and not args.force and _kind(out) != KIND:
        raise OutputError(f"{out} exists and was not written by `vadkit eval --detections`; move it or pass --force")
    console = Console(stderr=args.json)
    result = score_detections(args.detections, args.data, default_registry(), split=args.split)
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    line = detection_text({"detection": result}) or "no detection metrics"
    console.print(
        line.replace("detection at the calibrated threshold", "detect outputs against the labels"), highlight=False
    )
    if result["incomplete"]:
        console.print(f"[yellow]warning:[/] incomplete outputs (status): {result['incomplete']}")
    if result["at_recall_note"]:
        console.print(f"no false alarms at 90 % event recall: {result['at_recall_note']}")
    console.print(f"results: {out}")
    return 0


def _kind(path: Path) -> object:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data.get("kind") if isinstance(data, dict) else None
