"""``vadkit ablate``: train and evaluate each ablation of the paper's Table II and write the
table (markdown and CSV). With ``--seeds 0,1,2`` every variant is trained once per seed and the
table gives mean and standard deviation per column and whether each variant differs from E by
more than the seed spread (JSON, CSV, markdown; see vadkit/ablation/seeds.py)."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..ablation.tables import describe, table_rows, to_markdown
from ..errors import RecipeError
from ..recipe import BUILTIN_RECIPES, Recipe, load_recipe


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ablate", help="train + evaluate Table II ablations, write the table", description=__doc__)
    p.add_argument("--recipes", default="A,B,C,D,E", help="ablation letters (A-E) or recipe files, comma-separated")
    p.add_argument("--data", required=True, type=Path, help="dataset root")
    p.add_argument("--base", default=None, help="rebase every ablation on this recipe (e.g. demo) instead of mstinet")
    p.add_argument("--out", type=Path, default=Path("runs/ablate"), help="folder for the runs and the table")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key in every recipe",
    )
    p.add_argument("--resume", action="store_true", help="skip finished runs, resume unfinished ones")
    p.add_argument(
        "--seeds",
        default=None,
        help="comma-separated seeds (e.g. 0,1,2): train each variant once per seed "
        "(train.seed) and report mean and std; without it, one run per variant at the recipe's seed",
    )
    p.set_defaults(func=run)


def ablation_path(ref: str) -> Path:
    """A letter names recipes/ablations/<letter>-*.toml; anything else is a recipe file."""
    ref = ref.strip()
    if len(ref) == 1 and ref.isalpha():
        found = sorted((BUILTIN_RECIPES / "ablations").glob(f"{ref.upper()}-*.toml"))
        if not found:
            raise RecipeError(f"no ablation recipe for '{ref}' in {BUILTIN_RECIPES / 'ablations'}")
        return found[0]
    return Path(ref)


def model_name(stem: str) -> str:
    """A Table II recipe (``C-concat-fusion``) is its letter; any other recipe is its file stem
    (``mnad-pred-ped2-cpu`` and ``mnad-recon-ped2-cpu`` stay apart)."""
    head = stem.split("-")[0]
    return head if len(head) == 1 and head.isalpha() else stem


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` -> [0, 1, 2]; anything else is an error naming the option."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise RecipeError(f"--seeds must be comma-separated integers, e.g. 0,1,2; got '{text}'") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise RecipeError(f"--seeds needs at least one seed and no repeats; got '{text}'")
    return seeds


def run_one(recipe: Recipe, out: Path, args: argparse.Namespace, registry: Any, console: Console) -> dict[str, Any]:
    """Train, calibrate and evaluate one run folder (or read its metrics with --resume); its
    metrics. Calibration comes before evaluation as in `vadkit train`: detection metrics and
    MNAD's test-time memory update (`[eval] memory_update`) read the calibrated threshold."""
    from ..run_folder import RunFolder
    from ..training.trainer import train
    from .train_cmd import calibrate_and_evaluate

    run_folder = RunFolder(out)
    if args.resume and run_folder.metrics.is_file():
        from ..run_schema import METRICS, read_json

        return read_json(run_folder.metrics, METRICS)  # checked: a wrong type is one line naming file and key
    # resuming a finished run trains no further epochs; AUC is computed once, here
    train(recipe, args.data, out, registry, resume=args.resume and run_folder.checkpoint.exists(), console=console)
    metrics = calibrate_and_evaluate(out, registry, args.data, console, evaluate=True)
    assert metrics is not None  # evaluate=True
    return metrics


def run(args: argparse.Namespace) -> int:
    from .. import default_registry
    from ..atomic import atomic_write_text

    console = Console()
    registry = default_registry()
    seeds = parse_seeds(args.seeds) if args.seeds is not None else None
    results = []
    for ref in [r for r in args.recipes.split(",") if r.strip()]:
        path = ablation_path(ref)
        name = path.stem
        for seed in seeds if seeds is not None else [None]:
            overrides = list(args.overrides) + ([f"train.seed={seed}"] if seed is not None else [])
            recipe = load_recipe(path, overrides, base=args.base)
            out = args.out / name if seed is None else args.out / name / f"seed{seed}"
            console.rule(f"[bold]{name}" + ("" if seed is None else f", seed {seed}"))
            metrics = run_one(recipe, out, args, registry, console)
            row = {"model": model_name(name), "recipe": name, **describe(recipe), **metrics}
            results.append(row if seed is None else {**row, "seed": seed})
    args.out.mkdir(parents=True, exist_ok=True)
    if seeds is not None:
        from ..ablation.seeds import write_seed_tables

        write_seed_tables(results, args.out, console)
        return 0
    header, rows = table_rows(results)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    atomic_write_text(args.out / "table.csv", buf.getvalue())
    atomic_write_text(args.out / "table.md", to_markdown(header, rows))
    table = Table(*header, title="Ablations (frame-level AUC %, micro = paper protocol)")
    for cells in rows:
        table.add_row(*cells)
    console.print(table)
    console.print(f"table: {args.out / 'table.md'}, {args.out / 'table.csv'}")
    return 0
