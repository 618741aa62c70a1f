"""Many streams in one process: aggregate and per-stream frames/s of ``vadkit detect SRC1 SRC2
...`` (MultiDetector: one batched forward pass over all streams each round) against scoring
the same videos one by one (Detector.process), for 1, 4 and 8 streams, end to end: decoding,
flow, the model, scoring and scores.csv (no overlay video).

    python benchmarks/multi_stream.py --out runs/multi_stream.json        # ped2-cpu at 128x128
    python benchmarks/multi_stream.py --backends torch openvino

Without ``--run`` it trains a throwaway run of the recipe for one epoch on a few synthetic
frames (the weights do not change the speed) and calibrates it. The videos are synthetic
240x360 AVIs (UCSD Ped2's frame size).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from rich.console import Console

from vadkit import default_registry
from vadkit.detect import Detector, VideoFileSource, calibrate
from vadkit.detect.multi import MultiDetector
from vadkit.recipe import load_recipe
from vadkit.training.trainer import train

H, W = 240, 360


def walkers(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Dark blobs drifting over a textured background."""
    bg = np.full((H, W, 3), 120, np.uint8)
    bg[::12], bg[:, ::12] = 100, 100
    pos = rng.uniform([0, 0], [W - 20, H - 30], (6, 2))
    vel = rng.uniform(-2, 2, (6, 2))
    frames = []
    for _ in range(n):
        img = bg.copy()
        pos = (pos + vel) % [W - 20, H - 30]
        for x, y in pos.astype(int):
            img[y : y + 30, x : x + 14] = 40
        frames.append(img)
    return frames


def write_video(path: Path, frames: list[np.ndarray]) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (W, H))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def throwaway_run(root: Path, recipe: str, size: int) -> Path:
    rng = np.random.default_rng(0)
    for v in range(3):
        d = root / "data" / "training" / "frames" / f"{v:02d}"
        d.mkdir(parents=True)
        for k, f in enumerate(walkers(rng, 24)):
            cv2.imwrite(str(d / f"{k:03d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    overrides = [f"model.resolution=[{size}, {size}]", "train.epochs=1", f'flow.cache="{root / "cache"}"',
                 "train.device=\"cpu\""]
    registry = default_registry()
    train(load_recipe(recipe, overrides), root / "data", root / "run", registry)
    calibrate(root / "run", registry, console=Console(file=io.StringIO()))
    return root / "run"


def one_by_one(detector: Detector, videos: list[Path], out: Path) -> tuple[float, int]:
    start, frames = time.perf_counter(), 0
    for i, v in enumerate(videos):
        frames += detector.process(VideoFileSource(v), out / f"s{i}", video=False).frames_read
    return time.perf_counter() - start, frames


def together(detector: Detector, videos: list[Path], out: Path) -> tuple[float, int]:
    start = time.perf_counter()
    sources = [VideoFileSource(v) for v in videos]
    results = MultiDetector(detector, video=False).run(sources, [out / f"m{i}" for i in range(len(videos))])
    return time.perf_counter() - start, sum(r.frames_read for r in results)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, default=None, help="a trained run (default: a throwaway one)")
    p.add_argument("--recipe", default="ped2-cpu")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--streams", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument("--frames", type=int, default=80, help="frames per stream")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--backends", nargs="+", default=["torch"], help="e.g. torch onnxruntime openvino")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run = args.run or throwaway_run(root, args.recipe, args.size)
        videos = [write_video(root / f"v{i}.avi", walkers(np.random.default_rng(10 + i), args.frames))
                  for i in range(max(args.streams))]
        for backend in args.backends:
            detector = Detector(run, default_registry(), overrides={"backend": backend},
                                console=Console(file=io.StringIO()))
            torch.set_num_threads(args.threads)  # opening the run applies its [train] threads
            together(detector, videos[:1], root / "warm")  # warm-up (first export, allocator, flow)
            for n in args.streams:
                t_seq, f_seq = one_by_one(detector, videos[:n], root / f"seq{n}")
                t_mul, f_mul = together(detector, videos[:n], root / f"mul{n}")
                row = {"backend": backend, "streams": n, "frames": f_mul, "one_by_one_fps": round(f_seq / t_seq, 1),
                       "together_fps": round(f_mul / t_mul, 1),
                       "together_per_stream_fps": round(f_mul / t_mul / n, 1)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    result = {"recipe": args.recipe, "size": args.size, "threads": args.threads,
              "frames_per_stream": args.frames, "video": f"{W}x{H} MJPG", "loadavg": os.getloadavg(), "rows": rows}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
