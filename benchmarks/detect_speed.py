"""Frames per second of streaming detection (`vadkit detect`'s inner loop) for a recipe.

A randomly initialised model built from the recipe (speed does not depend on the weights),
synthetic 240x360 frames (Ped2's size) with moving content, batch 1 by default, torch and
OpenCV limited to ``--threads``. Reports the whole per-frame loop (resize, flow, forward,
score) and the share of flow and of the forward pass.

    OMP_NUM_THREADS=2 python benchmarks/detect_speed.py --recipe ped2-cpu --frames 100
    OMP_NUM_THREADS=2 python benchmarks/detect_speed.py --recipe mstinet --set train.fast=true --frames 30
"""

from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np
import torch

from vadkit import default_registry
from vadkit.builder import build_model, build_scorer
from vadkit.config import TrainConfig, read_section
from vadkit.detect.preprocess import Preprocessor
from vadkit.detect.stream import StreamingScorer
from vadkit.recipe import load_recipe
from vadkit.runtime import describe, prepare_model


def frames(n: int, height: int, width: int):
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (0, 0), 3)
    for k in range(n):
        yield np.roll(base, 2 * k, axis=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default="ped2-cpu")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--frames", type=int, default=100, help="timed frames (after T+1 warm-up frames)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--source-size", default="240x360", help="HxW of the synthetic source frames")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    recipe = load_recipe(args.recipe, args.overrides)
    registry = default_registry()
    train_cfg = read_section(recipe, "train", TrainConfig)
    device = torch.device("cpu")
    model = prepare_model(build_model(recipe, registry).eval(), device, train_cfg.fast)
    pre = Preprocessor.from_recipe(recipe, registry, model.uses_motion)
    flow_time = [0.0]
    if pre.flow is not None:
        estimator = pre.flow

        def timed(prev, nxt):
            t = time.perf_counter()
            out = estimator(prev, nxt)
            flow_time[0] += time.perf_counter() - t
            return out

        pre.flow = timed
    scorer = StreamingScorer(model, build_scorer(recipe, registry), pre, device, fast=train_cfg.fast, precision=train_cfg.precision,
                             batch=args.batch, keep_frames=False, error_maps=True)
    h, w = (int(v) for v in args.source_size.split("x"))
    warm = pre.frames + 1 + args.batch
    scored, start = 0, 0.0
    for k, rgb in enumerate(frames(warm + args.frames, h, w)):
        if k == warm:
            start, flow_time[0] = time.perf_counter(), 0.0
        out = scorer.push(k, k / 25, rgb)
        if k >= warm:
            scored += len(out)
    scored += len(scorer.flush())
    seconds = time.perf_counter() - start
    result = {
        "recipe": str(recipe.path.name), "overrides": args.overrides,
        "resolution": list(pre.resolution), "source": [h, w], "batch": args.batch, "threads": args.threads,
        "precision": describe(device, train_cfg.fast, train_cfg.precision),
        "frames": args.frames, "seconds": round(seconds, 2),
        "frames_per_s": round(args.frames / seconds, 2),
        "flow_share": round(flow_time[0] / seconds, 3) if pre.flow is not None else 0.0,
        "ms_per_frame": round(1000 * seconds / args.frames, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
