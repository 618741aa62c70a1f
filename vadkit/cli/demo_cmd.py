"""``vadkit demo``: the quickstart. Generate the synthetic set, train a small MSTI-Net,
evaluate it, and print the AUCs and where the pictures are."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="quickstart: synthetic data -> train -> evaluate (minutes on a CPU)", description=__doc__
    )
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="run folder (default: %(default)s)")
    p.add_argument("--recipe", default="demo", help="recipe (default: the built-in demo recipe)")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data set")
    p.add_argument("--resume", action="store_true", help="continue an interrupted demo in --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import default_registry
    from ..data.synth import generate
    from ..errors import output_folder
    from ..evaluation.evaluate import auc_text, evaluate
    from ..recipe import load_recipe
    from ..training.trainer import train

    output_folder(args.out, "--out")
    console = Console()
    start = time.perf_counter()
    registry = default_registry()
    recipe = load_recipe(args.recipe, args.overrides)
    data = args.out / "data"
    if not (data / "training").is_dir():
        console.print(f"[bold]1/3[/] generating the synthetic diagnostic set in {data} (seed {args.seed})")
        generate(data, seed=args.seed)
    else:
        console.print(f"[bold]1/3[/] reusing the synthetic set in {data}")
    console.print(f"[bold]2/3[/] training {recipe.path.name}")
    train(recipe, data, args.out, registry, resume=args.resume, console=console)
    from ..detect import calibrate
    from ..trained_run import TrainedRun

    trained = TrainedRun.open(args.out, registry)  # built once for calibration and evaluation
    calibrate(trained, registry, data_root=data, console=console)  # normal-score stats for `vadkit detect`
    console.print("[bold]3/3[/] evaluating on the synthetic test videos")
    metrics = evaluate(trained, registry, data_root=data, console=console)
    console.print(f"[bold green]{auc_text(metrics)}[/]")
    console.print(f"metrics: {args.out / 'metrics.json'}   scores: {args.out / 'scores.csv'}")
    console.print(f"pictures: {args.out / 'plots'} (regularity curves, top_frames.png)")
    console.print(f"demo finished in {time.perf_counter() - start:.0f} s")
    return 0
