"""Loader throughput vs. the model's training step: is the data pipeline a bottleneck?

Measures, at each resolution: DIS flow ms/frame (one core), ClipDataset clips/s through a
DataLoader (without flow, with flow computed on the fly, with the float16 cache), and the
training step of the recipe's model (forward + backward + Adam, batch ``--batch``) in clips/s.
``--layouts frames video_files`` also re-encodes the training videos as MJPG .avi files (the
Avenue layout) and compares frames read per clip from the files with the decoded-frame cache.

    OMP_NUM_THREADS=1 python benchmarks/loader_throughput.py --data ../shared/data/ped2 \
        --resolution 64 128 --workers 0 2 --threads 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import torch

import vadkit
from vadkit.builder import build_model
from vadkit.data import ClipDataset, FlowCache, make_flow, open_dataset
from vadkit.data.frame_cache import FrameCache
from vadkit.recipe import load_recipe


def clips_per_s(ds: ClipDataset, workers: int, batch: int, n_batches: int) -> float:
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers,
                                         multiprocessing_context="spawn" if workers else None,
                                         persistent_workers=False, generator=torch.Generator().manual_seed(0))
    it = iter(loader)
    next(it)  # worker start-up (spawn: fork deadlocks FFmpeg decoding after the parent used it) is not throughput
    start, seen = time.perf_counter(), 0
    for _ in range(n_batches):
        b = next(it)
        seen += b["frames"].shape[0]
    return seen / (time.perf_counter() - start)


def train_step_clips_per_s(recipe_ref: str, res: int, batch: int, steps: int, motion: bool) -> float:
    sets = [f"model.resolution=[{res}, {res}]"]
    recipe = load_recipe(recipe_ref, sets)
    model = build_model(recipe, vadkit.default_registry()).train()
    opt = torch.optim.Adam(model.parameters(), 2e-4)
    frames = torch.rand(batch, 4, 3, res, res) * 2 - 1
    flows = torch.randn(batch, 4, 2, res, res) * 0.1 if model.uses_motion else None
    target = torch.rand(batch, 3, res, res) * 2 - 1

    def step() -> None:
        out = model(frames, flows)
        loss = (out.prediction - target).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/ped2")
    p.add_argument("--recipe", default="mstinet")
    p.add_argument("--resolution", type=int, nargs="+", default=[64, 128])
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--threads", type=int, default=2, help="torch threads for the training step")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--batches", type=int, default=40)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--layouts", nargs="+", default=["frames"], choices=("frames", "video_files"))
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    registry = vadkit.default_registry()
    ds = open_dataset(args.data, registry)
    videos = ds.videos("training")
    est = make_flow(registry)
    print(f"data {ds.root} ({ds.layout}), {len(videos)} training videos; flow {est.cache_key()}; "
          f"torch threads {args.threads}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    if "video_files" in args.layouts:
        compare_layouts(videos, args)
        if "frames" not in args.layouts:
            return
    v = videos[0]
    frames = [v.read(i) for i in range(31)]
    start = time.perf_counter()
    for i in range(1, 31):
        est(frames[i - 1], frames[i])
    print(f"DIS flow on original {frames[0].shape[1]}x{frames[0].shape[0]} frames: "
          f"{(time.perf_counter() - start) / 30 * 1000:.2f} ms/frame (one core)")
    with tempfile.TemporaryDirectory() as tmp:
        cache, frame_store = FlowCache(tmp), FrameCache(Path(tmp) / "frames")
        start = time.perf_counter()
        for res in args.resolution:
            cache.precompute(videos, est, (res, res), workers=max(args.workers), console=False, dataset_root=ds.root)
        total = sum(x.num_frames for x in videos) * len(args.resolution)
        print(f"cache fill: {total} frames in {time.perf_counter() - start:.1f} s with {max(args.workers)} processes")
        for res in args.resolution:
            kw = dict(frames=4, resolution=(res, res), dataset_root=ds.root)
            variants = {
                "no flow": ClipDataset(videos, **kw),
                "flow on the fly": ClipDataset(videos, flow=est, **kw),
                "cached flow": ClipDataset(videos, flow=est, cache=cache, **kw),
                # what training uses on Ped2 since [train] frame_cache = "auto" (docs/training.md)
                "cached flow+frames": ClipDataset(videos, flow=est, cache=cache, frame_store=frame_store,
                                                  store_all=True, **kw),
            }
            variants["cached flow+frames"].prepare_frames(workers=max(args.workers))
            step = train_step_clips_per_s(args.recipe, res, args.batch, args.steps, True)
            print(f"\n{res}x{res}: model training step ({args.recipe}, batch {args.batch}): {step:.1f} clips/s")
            for name, clips in variants.items():
                for w in args.workers:
                    rate = clips_per_s(clips, w, args.batch, args.batches // (2 if "fly" in name else 1))
                    print(f"  loader {name:18s} workers={w}: {rate:7.1f} clips/s ({rate / step:5.1f}x the step)")


def video_files_copy(videos: list, out: Path) -> list:
    """The videos re-encoded as MJPG .avi files in the Avenue layout; its training videos."""
    d = out / "training_videos"
    d.mkdir(parents=True)
    for v in videos:
        first = v.read(0)
        vw = cv2.VideoWriter(str(d / f"{v.name}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, first.shape[1::-1])
        for k in range(v.num_frames):
            vw.write(cv2.cvtColor(v.read(k), cv2.COLOR_RGB2BGR))
        vw.release()
    return open_dataset(out, vadkit.default_registry()).videos("training")


def compare_layouts(videos: list, args: argparse.Namespace) -> None:
    """clips/s (frames only, no flow) from frame folders, video files, and the frame cache."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        # encode in a spawned process: OpenCV's encoder threads in this one would deadlock forked loader workers
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            avi = pool.submit(video_files_copy, videos, Path(tmp) / "avenue").result()
        print(f"\nre-encoded {len(avi)} videos as MJPG .avi in {time.perf_counter() - start:.1f} s")
        store = FrameCache(Path(tmp) / "frames")
        for res in args.resolution:
            kw = dict(frames=4, resolution=(res, res))
            start = time.perf_counter()
            cached = ClipDataset(avi, frame_store=store, **kw)
            cached.prepare_frames(workers=max(args.workers))
            print(f"{res}x{res}: frame cache fill {time.perf_counter() - start:.1f} s "
                  f"({sum(v.num_frames for v in avi)} frames, {max(args.workers)} processes)")
            variants = {"frame folders": ClipDataset(videos, **kw), "video files": ClipDataset(avi, **kw),
                        "video files+cache": cached}
            for name, clips in variants.items():
                for w in args.workers:
                    rate = clips_per_s(clips, w, args.batch, args.batches)
                    print(f"  loader {name:18s} workers={w}: {rate:7.1f} clips/s")


if __name__ == "__main__":
    main()
