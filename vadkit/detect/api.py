"""``detect``: run a trained model over footage it has never seen, without labels, and write
scores, events, an overlay video and a score curve per source."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..builder import build_scorer
from ..errors import CheckpointError, DataError
from ..recipe import load_recipe
from ..registry import Registry
from ..runtime import describe, pick_device, prepare_model
from ..sections import TrainConfig, read_section
from ..training.run_folder import RunFolder
from .calibration import calibrate, load_calibration, resolve_threshold
from .config import DetectConfig, read_detect
from .events import Event, EventMerger
from .normalise import Normaliser, Smoother, scorer_weights
from .outputs import ScoreLog, add_offline_minmax, score_curve, write_events
from .overlay import OverlayWriter
from .preprocess import Preprocessor
from .sources import FrameSource, open_sources
from .stream import StreamingScorer


@dataclass
class DetectResult:
    """What happened on one source. ``status``: complete, ended (a stream closed), error
    (the source broke; results up to the break are written) or interrupted."""

    name: str
    source: str
    out: Path
    status: str
    message: str | None
    frames_read: int
    frames_scored: int
    threshold: float
    seconds: float
    events: list[Event] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames_read / self.seconds if self.seconds > 0 else 0.0


class Detector:
    """A trained run ready to score sources: model, preprocessing, normaliser, threshold."""

    def __init__(self, run_dir: Path, registry: Registry, *, overrides: dict[str, Any] | None = None,
                 device: str | None = None, console: Console | None = None, calibrate_if_missing: bool = True) -> None:
        from ..training.trainer import load_trained

        self.console = console or Console()
        self.run = RunFolder(Path(run_dir))
        if not self.run.recipe.is_file():
            raise CheckpointError(f"{self.run.root} is not a run folder (no recipe.toml); train one with `vadkit train`")
        self.recipe = load_recipe(self.run.recipe)
        self.cfg: DetectConfig = read_detect(self.recipe, **(overrides or {}))
        train_cfg = read_section(self.recipe, "train", TrainConfig)
        if train_cfg.threads:
            torch.set_num_threads(train_cfg.threads)
        self.fast, self.precision = train_cfg.fast, train_cfg.precision
        self.device = pick_device(device or train_cfg.device)
        model, ckpt = load_trained(self.run, registry, self.recipe, self.device)
        self.model = prepare_model(model, self.device, self.fast)
        if not self.run.calibration.is_file() and calibrate_if_missing:
            self.console.print(f"[yellow]{self.run.root} has no calibration yet: calibrating on its training videos[/]")
            calibrate(self.run.root, registry, console=self.console)
        self.calibration = load_calibration(self.run.root)
        epoch = int(ckpt.get("epoch", -1)) + 1
        if self.calibration.get("checkpoint_epoch") not in (None, epoch):
            self.console.print(
                f"[yellow]warning:[/] calibration is from epoch {self.calibration['checkpoint_epoch']}, the checkpoint "
                f"from epoch {epoch}: run `vadkit calibrate --run {self.run.root}` again"
            )
        self.normaliser = Normaliser(**self.calibration["normaliser"])
        self.threshold, self.threshold_rule = resolve_threshold(self.run.root, self.calibration, self.cfg)
        self.pre = Preprocessor.from_recipe(self.recipe, registry, self.model.uses_motion)
        self.weights = scorer_weights(build_scorer(self.recipe, registry))
        self.error_scale = 3.0 * 10 ** (-self.normaliser.psnr_mean / 20)

    def info(self, source: FrameSource) -> dict[str, Any]:
        return {
            "source": source.path,
            "run": str(self.run.root),
            "score": "calibrated: w_psnr*(mu-psnr)/sd + w_dist*(dist-mu)/sd on normal training frames, "
                     f"causal moving average over {self.cfg.smoothing} frames",
            "threshold": self.threshold,
            "threshold_rule": self.threshold_rule,
            "merge_gap": self.cfg.merge_gap,
            "min_event": self.cfg.min_event,
            "first_scored_frame": self.pre.frames,
            "fps": source.fps,
        }

    def process(self, source: FrameSource, out: Path, *, video: bool = True, progress: Progress | None = None,
                max_frames: int | None = None) -> DetectResult:
        """Score one source into ``out``; a broken source ends it early with its results written."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        cfg, start = self.cfg, time.perf_counter()
        scorer = StreamingScorer(self.model, self.pre, self.device, fast=self.fast, precision=self.precision, batch=cfg.batch,
                                 keep_frames=video, error_maps=video)
        smoother, merger = Smoother(cfg.smoothing), EventMerger(cfg.merge_gap, cfg.min_event)
        log = ScoreLog(out / "scores.csv")
        overlay = OverlayWriter(out / "overlay.avi", source.fps, self.threshold, self.error_scale,
                                cfg.overlay_width, cfg.strip_frames) if video else None
        events: list[Event] = []
        info = self.info(source)
        task = progress.add_task(source.name, total=source.total, fps=0.0) if progress else None
        status, message, read = "complete", None, 0

        def handle(ready: list) -> None:
            for s in ready:
                raw = float(self.normaliser(s.psnr, s.distance))
                score = smoother(raw)
                flagged = score >= self.threshold
                log.write(s.index, s.time, s.psnr, s.distance, score, flagged, raw)
                closed = merger.update(s.index, s.time, score, flagged)
                if closed is not None:
                    events.append(closed)
                    write_events(out / "events.json", events, {**info, "status": "running"})
                if overlay is not None and s.rgb is not None:
                    overlay.frame(s.rgb, s.index, s.time, score, flagged, s.error)
            if ready:
                log.flush()

        try:
            for index, time_s, rgb in source:
                read += 1
                ready = scorer.push(index, time_s, rgb)
                if overlay is not None and not scorer.warm:
                    overlay.frame(rgb, index, time_s)
                handle(ready)
                if progress is not None and task is not None:
                    progress.update(task, advance=1, fps=read / max(time.perf_counter() - start, 1e-9))
                if max_frames and read >= max_frames:
                    break
        except DataError as exc:
            status, message = "error", str(exc)
        except KeyboardInterrupt:
            status, message = "interrupted", "interrupted by the user"
        finally:
            source.close()
            try:
                handle(scorer.flush())
            finally:
                log.close()
                if overlay is not None:
                    overlay.close()
        if status == "complete" and source.note:
            status, message = "ended", source.note
        last = merger.close()
        if last is not None:
            events.append(last)
        files = {"scores": str(out / "scores.csv"), "events": str(out / "events.json")}
        if not source.live and status != "interrupted" and log.rows:
            add_offline_minmax(out / "scores.csv", self.weights)
        if overlay is not None and read:
            if overlay.failed:
                message = (message + "; " if message else "") + overlay.failed
            else:
                files["overlay"] = str(out / "overlay.avi")
        curve = score_curve(out / "scores.csv", out / "score_curve.png", self.threshold, events, source.name)
        if curve is not None:
            files["curve"] = str(curve)
        seconds = time.perf_counter() - start
        result = DetectResult(source.name, source.path, out, status, message, read, log.rows, self.threshold,
                              seconds, events, files)
        write_events(out / "events.json", events, {
            **info, "status": status, "message": message, "frames_read": read, "frames_scored": log.rows,
            "seconds": round(seconds, 2), "frames_per_s": round(result.fps, 2),
            "offline_minmax": "scores.csv column offline_minmax_score: per-video min-max of eq. 10, computed after "
                              "the video ended (the benchmark protocol; not available live)" if not source.live else None,
        })
        return result


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed} frames"),
        TextColumn("{task.fields[fps]:.1f} frames/s"), TimeElapsedColumn(), console=console,
    )


def detect(
    source: str | int | Path | FrameSource | list[FrameSource],
    run_dir: Path,
    out: Path,
    registry: Registry,
    *,
    overrides: dict[str, Any] | None = None,
    video: bool = True,
    device: str | None = None,
    console: Console | None = None,
    max_frames: int | None = None,
) -> list[DetectResult]:
    """Detect anomalies in ``source`` with the run in ``run_dir``; one result per video.

    A single source writes into ``out``; several (a folder of videos) into ``out/<name>``.
    Cameras and streams are opened before the model loads, so a bad one fails at once.
    """
    console = console or Console()
    cfg = read_detect(load_recipe(RunFolder(Path(run_dir)).recipe), **(overrides or {})) \
        if RunFolder(Path(run_dir)).recipe.is_file() else DetectConfig()
    if isinstance(source, FrameSource):
        sources = [source]
    elif isinstance(source, list):
        sources = source
    else:
        sources = open_sources(source, fps=cfg.fps, stall_timeout=cfg.stall_timeout)
    detector = Detector(Path(run_dir), registry, overrides=overrides, device=device, console=console)
    console.print(
        f"detecting in {len(sources)} source{'s' if len(sources) != 1 else ''} with {detector.run.root}: "
        f"threshold {detector.threshold:.3f} ({detector.threshold_rule}), first score after "
        f"{detector.pre.frames + 1} frames, batch {detector.cfg.batch}, "
        f"{describe(detector.device, detector.fast, detector.precision)}, {torch.get_num_threads()} threads"
    )
    results = []
    with progress_bar(console) as progress:
        for src in sources:
            target = Path(out) if len(sources) == 1 else Path(out) / src.name
            result = detector.process(src, target, video=video, progress=progress, max_frames=max_frames)
            results.append(result)
            if result.status == "interrupted":
                break
    return results
