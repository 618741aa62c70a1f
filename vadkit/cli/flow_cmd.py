"""``vadkit flow --data ROOT --recipe R``: precompute the optical-flow cache, parallel across videos."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rich.console import Console


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("flow", help="precompute the optical-flow cache of a dataset")
    p.add_argument("--data", type=Path, required=True, help="dataset root")
    p.add_argument("--recipe", default="mstinet", help="recipe ([flow], [data], model.resolution)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="recipe override")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 1)), help="parallel processes")
    p.add_argument("--split", default="training,testing", help="comma-separated splits")
    p.add_argument(
        "--cache", type=Path, help="cache folder (default [flow] cache, $VADKIT_CACHE, ~/.cache/vadkit/flow)"
    )
    p.set_defaults(func=run_flow)


def run_flow(args: argparse.Namespace) -> int:
    from vadkit import default_registry
    from vadkit.data import FlowCache, flow_settings, make_flow, model_resolution, open_dataset
    from vadkit.errors import DataError
    from vadkit.recipe import load_recipe

    registry = default_registry()
    recipe = load_recipe(args.recipe, args.set)
    ds = open_dataset(args.data, registry, recipe)
    est = make_flow(registry, recipe)
    settings = flow_settings(recipe)
    cache = FlowCache(args.cache) if args.cache else settings["cache"]
    resolution = model_resolution(recipe)
    console = Console()
    splits = [s.strip() for s in args.split.split(",") if s.strip()]
    for split in splits:
        if split not in ("training", "testing"):
            raise DataError(f"--split: unknown split '{split}' (use training, testing)")
    videos = [v for s in splits for v in ds.videos(s)]
    frames = sum(v.num_frames for v in videos)
    console.print(
        f"flow [cyan]{est.cache_key()}[/] at {resolution[0]}x{resolution[1]} for {len(videos)} videos "
        f"({frames} frames), {args.workers} workers -> {cache.directory}"
    )
    start = time.perf_counter()
    cache.precompute(videos, est, resolution, args.workers, console, dataset_root=ds.root)
    took = time.perf_counter() - start
    console.print(f"done in {took:.1f} s ({1000 * took / max(frames, 1):.2f} ms/frame wall)")
    return 0
