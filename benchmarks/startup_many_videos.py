"""Start-up time on a dataset of many video files (ShanghaiTech-like shape, tiny frames).

Generates ``--videos`` MJPG .avi files (Avenue layout, ``--frames`` frames of ``--size`` px
each, re-encoded synthetic frames) and times, cold then warm (caches filled):
indexing (open + header frame counts), the frame check (``auto``: sampled above 20,000
frames), the decoded-frame cache fill (parallel, ``--workers``) and the first batch.

    OMP_NUM_THREADS=1 python benchmarks/startup_many_videos.py --videos 300 --frames 80 --workers 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

import vadkit
from vadkit.data import open_dataset
from vadkit.data.factory import build_clips
from vadkit.recipe import load_recipe


def make_videos(root: Path, n: int, frames: int, size: int) -> None:
    """``n`` training (and 2 testing) videos: a moving square on noise, MJPG."""
    rng = np.random.default_rng(0)
    bg = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    for split, count in (("training", n), ("testing", 2)):
        d = root / f"{split}_videos"
        d.mkdir(parents=True)
        for i in range(count):
            vw = cv2.VideoWriter(str(d / f"{i:03d}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (size, size))
            for t in range(frames):
                img = bg.copy()
                x = (t * 2 + i) % (size - 8)
                img[8:16, x:x + 8] = (40, 200, 90)
                vw.write(img)
            vw.release()


def timed_start(root: Path, recipe, registry, workers: int, check: str) -> dict[str, float]:
    t0 = time.perf_counter()
    videos = open_dataset(root, registry, recipe).videos("training")
    t1 = time.perf_counter()
    clips = build_clips(recipe, registry, root, "training", uses_motion=False, workers=workers, check=check)
    t2 = time.perf_counter()
    loader = torch.utils.data.DataLoader(clips, batch_size=8, shuffle=True, num_workers=0)
    next(iter(loader))
    t3 = time.perf_counter()
    return {"videos": len(videos), "frames": sum(v.num_frames for v in videos), "index_s": t1 - t0,
            "check_and_caches_s": t2 - t1, "first_batch_s": t3 - t2, "total_s": t3 - t0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", type=int, default=300)
    p.add_argument("--frames", type=int, default=80)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--check", default="auto", choices=("auto", "full", "sample", "none"))
    args = p.parse_args()
    cv2.setNumThreads(1)
    registry = vadkit.default_registry()
    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp) / "data", Path(tmp) / "cache"
        os.environ["VADKIT_CACHE"] = str(cache)
        t = time.perf_counter()
        make_videos(root, args.videos, args.frames, args.size)
        print(f"generated {args.videos} videos x {args.frames} frames ({args.size}px) in {time.perf_counter() - t:.1f} s; "
              f"{os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, workers {args.workers}")
        recipe = load_recipe("mstinet", [f"model.resolution=[{args.resolution}, {args.resolution}]"])
        for run in ("cold", "warm"):
            r = timed_start(root, recipe, registry, args.workers, args.check)
            print(f"{run}: {r['videos']} videos / {r['frames']} frames: index {r['index_s']:.2f} s, "
                  f"check ({args.check}) + frame cache {r['check_and_caches_s']:.2f} s, "
                  f"first batch {r['first_batch_s']:.2f} s, total {r['total_s']:.2f} s")
        from vadkit.data.frame_check import check_videos

        videos = open_dataset(root, registry, recipe).videos("training")
        t = time.perf_counter()
        check_videos(videos, "full", cache / "serial-checks", workers=1)
        print(f"reference: serial full decode of every frame (the old check) {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
