"""``vadkit synth OUT --seed S``: generate the synthetic appearance / motion / joint diagnostic set."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="generate synthetic scenes with appearance, motion and joint anomalies")
    p.add_argument("out", type=Path, help="output folder (frames layout)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-videos", type=int, default=8)
    p.add_argument("--test-videos", type=int, default=6)
    p.add_argument("--frames", type=int, default=80, help="frames per video")
    p.add_argument("--size", type=int, default=128, help="frame height and width in pixels")
    p.add_argument("--object-size", type=int, default=18, help="object diameter / side in pixels")
    p.add_argument("--noise", type=float, default=2.0, help="per-frame Gaussian noise (0-255 scale)")
    p.set_defaults(func=run_synth)


def run_synth(args: argparse.Namespace) -> int:
    from vadkit.data.synth import generate
    from vadkit.errors import DataError, output_folder

    from ._errors import os_error_message

    output_folder(args.out, "OUT")
    start = time.perf_counter()
    try:
        out = generate(
            args.out,
            args.seed,
            train_videos=args.train_videos,
            test_videos=args.test_videos,
            frames=args.frames,
            size=args.size,
            object_size=args.object_size,
            noise=args.noise,
        )
    except OSError as exc:
        raise DataError(f"cannot write the synthetic set to {args.out}: {os_error_message(exc)}") from None
    except ValueError as exc:
        raise DataError(f"{args.out}: {exc}") from None
    Console().print(
        f"wrote {out} in {time.perf_counter() - start:.1f} s "
        f"({args.train_videos} training, {args.test_videos} test videos of {args.frames} frames)"
    )
    return 0
