"""``vadkit train``: train a recipe on a dataset into a run folder.

Several GPUs or machines: ``torchrun --nproc-per-node N -m vadkit train ...`` (docs/training.md);
rank 0 alone calibrates and evaluates, after every rank has finished training."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from ._common import add_recipe_args, load_recipe_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a recipe on normal videos", description=__doc__)
    add_recipe_args(p)
    p.add_argument("--data", required=True, type=Path, help="dataset root (any supported layout)")
    p.add_argument("--out", type=Path, default=None, help="run folder (default: runs/<recipe name>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument(
        "--force",
        action="store_true",
        help="with --resume: continue even though [model], [data], [flow], [loss] or the optimisation "
        "settings changed (docs/training.md)",
    )
    p.add_argument("--eval", action="store_true", help="evaluate on the test split when training ends")
    p.add_argument(
        "--check",
        action="store_true",
        help="decode every training frame before training (default: full up to 20,000 frames, "
        "else 3 sampled frames per video; passed videos are remembered)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..config import read_config

    config = read_config(load_recipe_args(args))  # every section checked before torch, plugins or data load
    from .. import default_registry
    from ..recipe_check import check_recipe
    from ..training import distributed
    from ..training.trainer import train

    _import_after_training_steps()

    console = Console()
    out = args.out or Path("runs") / config.recipe.path.stem
    registry = default_registry()
    check_recipe(config, registry)  # [data] and [flow] components too, before any data is read
    try:
        run_folder = train(
            config,
            args.data,
            out,
            registry,
            resume=args.resume,
            console=console,
            check="full" if args.check else "auto",
            force=args.force,
        )
        distributed.barrier()  # every rank has finished; rank 0 goes on alone
        main = distributed.current().is_main
    finally:
        distributed.cleanup()  # every rank leaves the process group; the others exit cleanly
    if main:
        _after_training(args, run_folder, registry, console)
    return 0


def _import_after_training_steps() -> None:
    """Import what runs after training now, not hours later: a checkout edited or upgraded during
    a long run must not break its calibration and evaluation (the checkpoint would survive, the
    last steps would not)."""
    from ..detect import calibrate  # noqa: F401
    from ..evaluation import evaluate  # noqa: F401
    from ..trained_run import TrainedRun  # noqa: F401


def calibrate_and_evaluate(root: Path, registry, data_root: Path, console: Console, *, evaluate: bool) -> dict | None:
    """What follows training (`vadkit train`, `vadkit ablate`): the calibration for `vadkit
    detect`, which evaluation's detection metrics and MNAD's test-time memory update also read,
    then the evaluation when asked for (its metrics); the model is built once for both."""
    from ..detect import calibrate
    from ..evaluation.evaluate import evaluate as evaluate_run
    from ..trained_run import TrainedRun

    trained = TrainedRun.open(root, registry)
    calibrate(trained, registry, data_root=data_root, console=console)
    return evaluate_run(trained, registry, data_root=data_root, console=console) if evaluate else None


def _after_training(args: argparse.Namespace, run_folder, registry, console: Console) -> None:
    """Rank 0 (or the only process): calibration for `vadkit detect`, then the optional eval."""
    from ..evaluation.evaluate import auc_text

    metrics = calibrate_and_evaluate(run_folder.root, registry, args.data, console, evaluate=args.eval)
    console.print(f"run folder: {run_folder.root}")
    if metrics is not None:
        console.print(auc_text(metrics))
