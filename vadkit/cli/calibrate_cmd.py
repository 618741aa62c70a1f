"""``vadkit calibrate``: score a run's normal training videos with its scorer and store what
normal looks like (the scorer's fitted state, the score distribution and the threshold), so
`vadkit detect` can flag frames without labels."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from ..config import DetectConfig
from ._common import add_plugin_change_flag, add_setting_flags, given_settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="learn normal score statistics for `vadkit detect`", description=__doc__)
    p.add_argument("--run", required=True, type=Path, help="run folder written by `vadkit train`")
    p.add_argument("--data", type=Path, default=None, help="dataset root of normal videos (default: the run's)")
    p.add_argument("--split", default="training", choices=("training", "testing"), help="split to calibrate on")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the calibration to this file (its per-frame statistics beside it, <stem>_stats.npz) "
        "instead of into the run: e.g. one camera's own calibration for `vadkit serve` "
        "(docs/serve.md)",
    )
    add_setting_flags(
        p,
        "detect",
        DetectConfig,
        (
            "threshold_quantile",
            "smoothing",
            "calibration_max_frames",
            "calibration",
            "calibration_weights",
            "evidence_shift",
            "footage_evidence",
            "threshold_shift",
        ),
        rename={"calibration_max_frames": "max_frames"},
    )
    p.add_argument(
        "--operating-points",
        action="store_true",
        help="also print, for threshold quantiles 0.9-0.999, the threshold, the held-out normal frames it flags "
        "(plain and under lighting shifts) and the pseudo-anomalies it catches (always stored in "
        "calibration.json, operating_points)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write even where an output is an input or a file of a run (see docs/architecture.md)",
    )
    add_plugin_change_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import default_registry
    from ..detect import calibrate
    from ._errors import guard_run_outputs, require_run_folder

    require_run_folder(args.run)
    if args.out is None:
        guard_run_outputs(args, "calibrate")
    else:
        _guard_out(args)

    overrides = given_settings(args, "detect")
    calibrate(
        args.run,
        default_registry(),
        data_root=args.data,
        console=Console(),
        split=args.split,
        overrides=overrides,
        allow_plugin_change=args.allow_plugin_change,
        out=args.out,
        show_operating_points=args.operating_points,
    )
    return 0


def _guard_out(args: argparse.Namespace) -> None:
    """``--out`` and its statistics file: not an input, not a part of a run that calibrate does not write."""
    from ..detect.calibration import stats_path
    from ..output_guard import check_output

    inputs = [args.data] if args.data is not None else []
    for path in (args.out, stats_path(args.out)):
        check_output(path, command="calibrate", inputs=inputs, runs=[args.run], own_run=args.run, force=args.force)
