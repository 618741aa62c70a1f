"""Where the time of ``vadkit detect`` goes: per-frame time of decode, resize, flow, model,
scoring and writing, for 1 and 8 streams of one trained run; frames/s per stream, p50/p99
per-frame latency (frame decoded -> its score written), peak RSS, and the flow's share.

    python benchmarks/detect_profile.py --run runs/ped2-cpu --videos ../shared/data/ped2/training/frames \\
        --streams 1 8 --backend openvino --batch 8 --out /tmp/profile.json --table /tmp/profile.md
    python benchmarks/detect_profile.py ... --flow dis:ultrafast --flow dis:fast@0.5      # cheaper flow options

Each configuration runs ``vadkit detect``'s own code (``detect_many``: reader threads, one batched
forward pass over all streams per round, scores.csv, events.json, overlay video unless
``--no-video``) in a fresh process, so peak RSS is that configuration's. Stage times are the
time spent inside each stage's functions (exclusive of the stages they call), summed over
threads and divided by the frames scored; decode runs in the reader threads, beside the rest.
A flow option ``dis:PRESET@F`` estimates DIS flow on frames scaled by F (its vectors are
rescaled to the model grid as usual); its accuracy cost is measured with ``vadkit validate``
(``--validate``), never on the test split.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

STAGES = ("decode", "resize", "flow", "model", "scoring", "writing")


class Timers:
    """Exclusive time per stage, per thread: a stage called inside another pauses the outer one."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.local = threading.local()
        self.lock = threading.Lock()

    def run(self, stage: str, fn: Callable[..., Any], *a: Any, **k: Any) -> Any:
        stack = self.local.__dict__.setdefault("stack", [])
        stack.append([time.perf_counter(), 0.0])
        try:
            return fn(*a, **k)
        finally:
            start, inner = stack.pop()
            elapsed = time.perf_counter() - start
            if stack:
                stack[-1][1] += elapsed
            with self.lock:
                self.seconds[stage] += elapsed - inner

    def method(self, cls: Any, name: str, stage: str) -> None:
        original = getattr(cls, name)
        setattr(cls, name, lambda obj, *a, **k: self.run(stage, original, obj, *a, **k))

    def generator(self, cls: Any, name: str, stage: str, seen: Callable[[Any], None]) -> None:
        """Time each item a generator method yields (the reader thread's decoding)."""
        original = getattr(cls, name)

        def timed(obj: Any, *a: Any, **k: Any) -> Iterator[Any]:
            items = original(obj, *a, **k)
            while True:
                try:
                    item = self.run(stage, next, items)
                except StopIteration:
                    return
                seen(obj)
                yield item
        setattr(cls, name, timed)


class TimedModel:
    """The backend with its forward pass counted as ``model``."""

    def __init__(self, model: Any, timers: Timers) -> None:
        self.model, self.timers = model, timers
        self.uses_motion = bool(getattr(model, "uses_motion", False))

    def __call__(self, frames: Any, flows: Any = None) -> Any:
        return self.timers.run("model", self.model, frames, flows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


class ScaledFlow:
    """DIS with ``preset`` on frames scaled by ``scale``; vectors stay in the small grid, which
    resize_flow rescales to the model's (as it does for the original grid)."""

    def __init__(self, estimator: Any, scale: float) -> None:
        self.estimator, self.scale = estimator, scale

    def __call__(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        import cv2

        if self.scale == 1.0:
            return self.estimator(prev, nxt)
        size = (max(8, round(prev.shape[1] * self.scale)), max(8, round(prev.shape[0] * self.scale)))
        return self.estimator(*(cv2.resize(x, size, interpolation=cv2.INTER_AREA) for x in (prev, nxt)))


def cheaper_flow(spec: str, registry: Any) -> ScaledFlow:
    """``dis:PRESET[@SCALE]``: the flow plugin with that preset on frames scaled by SCALE."""
    from vadkit.data.factory import make_flow
    from vadkit.recipe import recipe_from_dict

    method, _, rest = spec.partition(":")
    preset, _, scale = rest.partition("@")
    estimator = make_flow(registry, recipe_from_dict({"flow": {"type": method, "preset": preset}}, "<flow>"))
    return ScaledFlow(estimator, float(scale or 1.0))


def instrument(timers: Timers, decoded: dict[str, list[float]], flow: str | None, registry: Any) -> None:
    """Wrap the stage functions of detect (class attributes: every instance is timed)."""
    from vadkit.detect import api, outputs, overlay, preprocess, sources, stream

    def seen(source: Any) -> None:
        decoded.setdefault(source.name, []).append(time.perf_counter())

    for cls in (sources.VideoFileSource, sources.FrameFolderSource):
        timers.generator(cls, "_frames", "decode", seen)
    timers.method(preprocess.Preprocessor, "frame", "resize")
    timers.method(preprocess.Preprocessor, "flow_between", "resize")  # the flow itself is timed inside
    original_flow = preprocess.Preprocessor.flow_between
    replacement = cheaper_flow(flow, registry) if flow else None

    def flow_between(pre: Any, prev: Any, nxt: Any) -> Any:
        if pre.flow is not None and not getattr(pre.flow, "_timed", False):
            estimator = replacement or pre.flow
            timed = lambda a, b: timers.run("flow", estimator, a, b)  # noqa: E731
            timed._timed = True  # type: ignore[attr-defined]
            pre.flow = timed
        return original_flow(pre, prev, nxt)
    preprocess.Preprocessor.flow_between = flow_between
    stream_forward = stream.forward_stats
    stream.forward_stats = lambda *a, **k: timers.run("scoring", stream_forward, *a, **k)
    timers.method(api.SourceSession, "handle", "scoring")
    for cls, names in ((outputs.ScoreLog, ("write", "flush", "close")), (outputs.StatusFile, ("write", "tick")),
                       (overlay.OverlayWriter, ("frame", "close")), (api.SourceSession, ("finish",))):
        for name in names:
            timers.method(cls, name, "writing")


def latencies(decoded: dict[str, list[float]], written: dict[str, list[tuple[int, float]]]) -> np.ndarray:
    """Seconds from each frame's decoding to its score row being written."""
    out = [t - decoded[name][index] for name, rows in written.items() for index, t in rows
           if index < len(decoded.get(name, []))]
    return np.asarray(out)


def one(args: argparse.Namespace) -> dict[str, Any]:
    """One configuration in this process: detect ``args.streams[0]`` videos, timed."""
    import torch

    from vadkit import default_registry
    from vadkit.detect import api, outputs
    from vadkit.detect.multi import detect_many

    torch.set_num_threads(args.threads)
    registry = default_registry()
    timers, decoded = Timers(), {}
    written: dict[str, list[tuple[int, float]]] = defaultdict(list)
    instrument(timers, decoded, args.flow[0] if args.flow else None, registry)
    log_write = outputs.ScoreLog.write

    def write(log: Any, index: int, *a: Any, **k: Any) -> Any:
        written[getattr(log, "source_name", "?")].append((int(index), time.perf_counter()))
        return log_write(log, index, *a, **k)
    outputs.ScoreLog.write = write
    session_init = api.SourceSession.__init__

    def init(session: Any, detector: Any, source: Any, *a: Any, **k: Any) -> None:
        session_init(session, detector, source, *a, **k)
        session.log.source_name = source.name  # which stream's decode times a score row answers
    api.SourceSession.__init__ = init
    if args.ov_precision != "auto":  # force OpenVINO's arithmetic (detect's own rule: bf16 in fast mode on native bf16)
        from functools import partial

        from vadkit.detect import backends

        backends.graph_backend = partial(backends.graph_backend, hint=args.ov_precision)
    real_model = api.detector_model
    computed: list[str] = []

    def timed_model(detector: Any) -> Any:
        model = real_model(detector)
        if not isinstance(model, TimedModel):
            computed.append(str(getattr(model, "compute", "torch")))
            model = detector._backend_model = TimedModel(model, timers)
        return model
    api.detector_model = timed_model
    videos = sorted(p for p in args.videos.iterdir() if p.is_dir() or p.suffix in (".avi", ".mp4"))
    sources = [str(v) for v in videos[: args.streams[0]]]
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        results = detect_many(sources, args.run, Path(out), registry, video=not args.no_video,
                              overrides={"backend": args.backend, "batch": args.batch},
                              console=_quiet(), max_frames=args.max_frames)
        wall = time.perf_counter() - start
    frames = sum(r.frames_scored for r in results)
    lat = latencies(decoded, written)
    per_frame = {s: 1000 * timers.seconds.get(s, 0.0) / max(frames, 1) for s in STAGES}
    return {"streams": len(sources), "frames_scored": frames, "seconds": round(wall, 2),
            "fps_total": round(frames / wall, 2), "fps_per_stream": round(frames / wall / len(sources), 2),
            "ms_per_frame": {k: round(v, 2) for k, v in per_frame.items()},
            "flow_share": round(per_frame["flow"] / max(sum(per_frame.values()), 1e-9), 3),
            "latency_ms": {"p50": _q(lat, 0.5), "p99": _q(lat, 0.99), "frames": int(lat.size)},
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "statuses": sorted({r.status for r in results}), "compute": sorted(set(computed)),
            "backend": args.backend, "batch": args.batch, "threads": args.threads, "video": not args.no_video}


def _q(x: np.ndarray, q: float) -> float | None:
    return round(1000 * float(np.quantile(x, q)), 1) if x.size else None


def _quiet() -> Any:
    import io

    from rich.console import Console

    return Console(file=io.StringIO())


def validate_flow(args: argparse.Namespace, spec: str | None) -> dict[str, Any]:
    """``vadkit validate`` of the run (in a copy: it writes into the run) with flow ``spec``."""
    import shutil

    from vadkit import default_registry
    from vadkit.pseudo import clips
    from vadkit.trained_run import TrainedRun
    from vadkit.validation.validate import validate

    registry = default_registry()
    if spec:
        clips.make_flow = lambda *_a, **_k: cheaper_flow(spec, registry)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / args.run.name
        shutil.copytree(args.run, copy, ignore=shutil.ignore_patterns("export", "detect", "validation", "plots"))
        result = validate(TrainedRun.open(copy, registry, device="cpu"), registry, console=_quiet())
    return {"auc_micro": result["auc_micro"], "diagnostics": result["diagnostics"]}


def child(args: argparse.Namespace, streams: int, flow: str | None, mode: str) -> dict[str, Any]:
    """One configuration in a fresh process (``--one``): its own threads and peak RSS."""
    cmd = [sys.executable, __file__, "--one", mode, "--run", str(args.run), "--videos", str(args.videos),
           "--streams", str(streams), "--backend", args.backend, "--batch", str(args.batch),
           "--threads", str(args.threads)] + (["--flow", flow] if flow else []) + (["--no-video"] if args.no_video else [])
    cmd += ["--ov-precision", args.ov_precision]
    if args.max_frames:
        cmd += ["--max-frames", str(args.max_frames)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"configuration {streams} streams, flow {flow or 'recipe'} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table of the profile rows."""
    head = ("| compute | video | streams | flow | frames/s per stream | " + " | ".join(f"{s} ms" for s in STAGES)
            + " | flow share | p50 / p99 latency ms | peak RSS MiB | load |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        ms = " | ".join(f"{r['ms_per_frame'][s]:.2f}" for s in STAGES)
        lat = r["latency_ms"]
        lines.append(f"| {', '.join(r.get('compute') or ['?'])} | {'on' if r.get('video', True) else 'off'} | "
                     f"{r['streams']} | {r.get('flow') or 'recipe'} | {r['fps_per_stream']:.1f} | {ms} | "
                     f"{r['flow_share']:.0%} | {lat['p50']} / {lat['p99']} | {r['peak_rss_mib']:.0f} | "
                     f"{r['load'][0]:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--videos", type=Path, required=True, help="folder of videos or frame folders (one per stream)")
    p.add_argument("--streams", type=int, nargs="+", default=[1, 8])
    p.add_argument("--backend", default="openvino", choices=("torch", "onnxruntime", "openvino"))
    p.add_argument("--batch", type=int, default=8, help="clips per forward pass ([detect] batch)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3, help="runs of each configuration (the median is reported)")
    p.add_argument("--flow", action="append", default=[], metavar="dis:PRESET@SCALE", help="cheaper flow options")
    p.add_argument("--flow-repeats", type=int, default=1, help="runs of each cheaper flow option")
    p.add_argument("--validate", action="store_true", help="vadkit validate the run with each flow option")
    p.add_argument("--ov-precision", choices=("auto", "f32", "bf16"), default="auto",
                   help="OpenVINO's arithmetic (auto: detect's rule, bf16 for a fast-mode run on a CPU with native bf16)")
    p.add_argument("--no-video", action="store_true", help="no overlay video (detect --no-video)")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=None, help="JSON of every run")
    p.add_argument("--table", type=Path, default=None, help="markdown table of the medians")
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(args)))
        return
    rows, runs = [], []
    for flow in [None, *args.flow]:
        for streams in args.streams if flow is None else args.streams[-1:]:
            tries = []
            for _ in range(args.repeats if flow is None else args.flow_repeats):
                tries.append({**child(args, streams, flow, "profile"), "flow": flow, "load": os.getloadavg()})
                print(json.dumps(tries[-1]), flush=True)
            runs += tries
            rows.append(sorted(tries, key=lambda r: r["fps_per_stream"])[len(tries) // 2])  # the median run
    result: dict[str, Any] = {"settings": {k: str(v) for k, v in vars(args).items()}, "median_runs": rows, "runs": runs}
    if args.validate:
        result["validation"] = {flow or "recipe": validate_flow(args, flow) for flow in [None, *args.flow]}
        print(json.dumps(result["validation"]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.table:
        args.table.write_text(table(rows))
    print(table(rows))


if __name__ == "__main__":
    main()
