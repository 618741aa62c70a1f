"""Training-step time of a recipe at several widths / resolutions / batch sizes and precisions,
the measurement a CPU recipe is sized from (docs/results.md). Median of timed steps after warm-up.

    python benchmarks/step_time.py --recipe ped2-cpu --widths 16,24,32 --sizes 128 --batches 4,8
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from vadkit import create_registry
from vadkit.builder import build_model
from vadkit.config import LossConfig, read_section
from vadkit.recipe import load_recipe
from vadkit.runtime import autocast, cpu_has_native_bf16, prepare_model
from vadkit.training.loss import compute_loss


def parse_size(text: str) -> tuple[int, int]:
    """"128" -> (128, 128); "128x192" -> (128, 192) (height x width)."""
    h, _, w = text.partition("x")
    return int(h), int(w or h)


def step_seconds(recipe_name: str, width: int, size: tuple[int, int], batch: int, precision: str, iters: int,
                 warmup: int) -> float:
    widths = [width, 2 * width, 4 * width, 8 * width]
    overrides = [f"model.resolution=[{size[0]}, {size[1]}]", f"model.appearance.widths={widths}", f"model.motion.widths={widths}"]
    recipe = load_recipe(recipe_name, overrides)
    device = torch.device("cpu")
    model = prepare_model(build_model(recipe, create_registry(autoload=False)), device, True).train()
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    weights = read_section(recipe, "loss", LossConfig).weights
    frames = torch.rand(batch, 4, 3, *size) * 2 - 1
    flows = torch.randn(batch, 4, 2, *size) * 0.3
    target = torch.rand(batch, 3, *size) * 2 - 1
    times = []
    for i in range(warmup + iters):
        t = time.perf_counter()
        with autocast(device, True, precision):
            out = model(frames, flows if model.uses_motion else None)
        total, _ = compute_loss(out, target, weights)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default="ped2-cpu")
    p.add_argument("--widths", default="16,32", help="first-level widths (levels double)")
    p.add_argument("--sizes", default="128", help="comma-separated, each 'S' (square) or 'HxW'")
    p.add_argument("--batches", default="4")
    p.add_argument("--precisions", default="float32,bfloat16")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for w in map(int, args.widths.split(",")):
        for s in args.sizes.split(","):
            for b in map(int, args.batches.split(",")):
                for prec in args.precisions.split(","):
                    sec = step_seconds(args.recipe, w, parse_size(s), b, prec, args.iters, args.warmup)
                    rows.append({"width": w, "size": s, "batch": b, "precision": prec, "step_s": round(sec, 4),
                                 "frames_per_s": round(b / sec, 2)})
                    print(json.dumps(rows[-1]), flush=True)
    result = {"rows": rows, "threads": args.threads, "native_bf16": cpu_has_native_bf16(),
              "load_average": os.getloadavg(), "torch": torch.__version__}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
