"""``detect``: run a trained model over footage it has never seen, without labels, and write
scores, events, an overlay video and a score curve per source."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..atomic import clean_stale_temps
from ..config import DetectConfig, RunConfig
from ..errors import DataError
from ..faults import fault
from ..folder_lock import folder_lock
from ..memory_estimate import check_memory
from ..registry import Registry
from ..stop_signals import deferred, stop_point
from ..stop_signals import reason as stop_reason
from ..trained_run import TrainedRun, read_run_config
from .backends import detector_model
from .calibration import calibrate, load_calibration, resolve_recall, resolve_threshold, stream_settings
from .config import detect_settings
from .events import Event, EventMerger
from .memory_update import make_updater
from .online import ScoreStream
from .outputs import ScoreLog, StatusFile, add_offline_minmax, score_curve
from .overlay import OverlayWriter
from .preprocess import Preprocessor
from .pseudo_recall import recall_text, recall_warnings, threshold_source
from .refit import WarmupRefit
from .sources import FrameSource, open_sources
from .stream import FrameStats, StreamingScorer

SCORE_UNITS = {
    "tail": "weighted surprisal -log10 P(as unusual on normal frames): 0 = typical, 2 = 1 normal frame in 100",
    "zscore": "0 = typical normal frame, units of normal variation",
}


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
    frames_needed: int = 0  # frames read before the first score: T + 1 (prediction) or T (reconstruction)

    @property
    def fps(self) -> float:
        return self.frames_read / self.seconds if self.seconds > 0 else 0.0


class SourceSession:
    """The per-source state of one detection: smoothing, events and the files being written."""

    def __init__(self, detector: Detector, source: FrameSource, out: Path, video: bool) -> None:
        cfg = detector.cfg
        self.detector, self.source, self.out = detector, source, Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        clean_stale_temps(self.out)  # what a killed earlier detection left behind
        self.info = detector.info(source)
        self.status = StatusFile(self.out, self.info)  # events.json says "running" from now on
        if (note := self.status.begin()) is not None:
            detector.console.print(note, highlight=False)
        self.stream = ScoreStream(detector.stream, detector.threshold)  # running norm, smoothing, threshold
        self.state, self.threshold = detector.state, detector.threshold
        self.refit = detector.refit()  # [detect] refit_frames: this source's own calibration after N frames
        self.merger = EventMerger(cfg.merge_gap, cfg.min_event)
        self.log = ScoreLog(self.out / "scores.csv", detector.run.scorer.stat_names)
        self.overlay = (
            OverlayWriter(
                self.out / "overlay.avi",
                source.fps,
                detector.threshold,
                detector.error_scale,
                cfg.overlay_width,
                cfg.strip_frames,
            )
            if video
            else None
        )
        self.events: list[Event] = []

    def handle(self, ready: list[FrameStats]) -> None:
        """Score, normalise, smooth, flag and log frames whose statistics are ready (``ScoreStream``:
        the same path calibration and ``vadkit eval`` run)."""
        if not ready:
            return
        scorer = self.detector.run.scorer
        batch = {k: np.array([s.stats[k] for s in ready]) for k in scorer.stat_names}
        raw = scorer.anomaly(batch, self.state)
        fitting = self.refit is not None and not self.refit.done
        for s, r in zip(ready, raw):
            score, flagged = self.stream(float(r))
            flagged = flagged and not fitting  # frames of the re-fit are assumed normal
            self.log.write(s.index, s.time, s.stats, score, flagged, float(r))
            closed = self.merger.update(s.index, s.time, score, flagged)
            if closed is not None:
                self.events.append(closed)
                self.status.write(self.events, "running", frames_scored=self.log.rows)
            if self.overlay is not None and s.rgb is not None:
                self.overlay.frame(s.rgb, s.index, s.time, score, flagged, s.error)
        self.log.flush()
        if fitting and self.refit is not None and self.refit.add(batch):
            self._adopt_refit()
        self.status.tick(self.events, frames_scored=self.log.rows)
        fault("detect-events")

    def _adopt_refit(self) -> None:
        """Score this source with the calibration fitted on its first frames from now on."""
        refit = self.refit
        assert refit is not None and refit.threshold is not None and refit.stream is not None  # fitted
        self.state, self.threshold = refit.state, float(refit.threshold)
        self.stream = ScoreStream(refit.stream, self.threshold)
        for r in refit.raw:  # the fitted frames prime the smoothing and the running statistics
            self.stream(float(r))
        if self.overlay is not None:
            self.overlay.threshold = self.threshold
        self.info["refit"] = refit.describe()  # events.json (StatusFile shares this dict)
        self.info["threshold"], self.info["threshold_rule"] = (
            self.threshold,
            (
                f"quantile {refit.quantile:g} of this source's first {refit.frames} scored frames ([detect] refit_frames)"
            ),
        )
        self.detector.console.print(
            f"{self.source.name}: calibration re-fitted on its first {refit.frames} frames, "
            f"threshold {self.threshold:.3f}",
            highlight=False,
        )

    def fail(self, exc: BaseException) -> None:
        """Mark events.json ``error`` (best effort: the disk may be what failed)."""
        try:
            self.status.write(self.events, "error", message=str(exc), frames_scored=self.log.rows)
        except OSError:
            pass

    def close(self) -> None:
        self.log.close()
        if self.overlay is not None:
            self.overlay.close()
        last = self.merger.close()
        if last is not None:
            self.events.append(last)

    def finish(self, status: str, message: str | None, read: int, seconds: float) -> DetectResult:
        """Offline score column, curve and the final events.json; the result of this source."""
        out, source = self.out, self.source
        files = {"scores": str(out / "scores.csv"), "events": str(out / "events.json")}
        if not source.live and status != "interrupted" and self.log.rows:
            run = self.detector.run
            add_offline_minmax(out / "scores.csv", run.scorer, run.config.eval.temporal_sigma)
        if self.overlay is not None and read:
            if self.overlay.failed:
                message = (message + "; " if message else "") + self.overlay.failed
            else:
                files["overlay"] = str(out / "overlay.avi")
        curve = score_curve(out / "scores.csv", out / "score_curve.png", self.threshold, self.events, source.name)
        if curve is not None:
            files["curve"] = str(curve)
        result = DetectResult(
            source.name,
            source.path,
            out,
            status,
            message,
            read,
            self.log.rows,
            self.threshold,
            seconds,
            self.events,
            files,
            self.detector.pre.window,
        )
        self.status.write(
            self.events,
            status,
            **{
                "message": message,
                "frames_read": read,
                "frames_scored": self.log.rows,
                "files": sorted(Path(f).name for f in files.values()),
                "seconds": round(seconds, 2),
                "frames_per_s": round(result.fps, 2),
                "offline_minmax": "scores.csv column offline_minmax_score: the scorer's benchmark score (1 - regularity, "
                "normalised over the whole video); not available live"
                if not source.live
                else None,
            },
        )
        return result


class Detector:
    """A trained run ready to score sources: model, scorer with its calibration, threshold."""

    def __init__(
        self,
        run: Path | TrainedRun,
        registry: Registry,
        *,
        overrides: dict[str, Any] | None = None,
        device: str | None = None,
        console: Console | None = None,
        calibrate_if_missing: bool = True,
        config: RunConfig | None = None,
        allow_plugin_change: bool = False,
    ) -> None:
        """``overrides``: [detect] settings from the command line; ``config``: the run's configuration
        when the caller has read it already (it then has the overrides applied)."""
        self.console = console or Console()
        settings = detect_settings(overrides)
        if isinstance(run, TrainedRun):
            self.run = run
            self.cfg: DetectConfig = (config or run.configured(settings)).detect
        else:  # the model is built once, here
            self.run = TrainedRun.open(
                run,
                registry,
                device=device,
                settings=settings,
                config=config,
                allow_plugin_change=allow_plugin_change,
                console=self.console,
            )
            self.cfg = self.run.config.detect
        check_memory(
            self.run.recipe, registry, "detection", self.run.device, batch=self.cfg.batch, model=self.run.model
        )
        if self.run.calibration() is None and calibrate_if_missing:
            self.console.print(f"[yellow]{self.run.root} has no calibration yet: calibrating on its training videos[/]")
            calibrate(self.run, registry, console=self.console)
        self.calibration = load_calibration(self.run)
        if self.calibration.get("checkpoint_epoch") not in (None, self.run.epoch):
            self.console.print(
                f"[yellow]warning:[/] calibration is from epoch {self.calibration['checkpoint_epoch']}, the checkpoint "
                f"from epoch {self.run.epoch}: run `vadkit calibrate --run {self.run.root}` again"
            )
        self.state = self.calibration["state"]
        self.threshold, self.threshold_rule = resolve_threshold(self.run, self.calibration, self.cfg)
        self._warn_recall()
        self.stream = stream_settings(self.calibration, self.cfg)  # running normalisation + smoothing of each source
        self.pre = Preprocessor.from_recipe(self.run.recipe, registry, self.run.model.uses_motion)
        self.error_scale = float(self.calibration.get("overlay_error_scale", 0.1))

    def _warn_recall(self) -> None:
        """What the threshold in use catches of the calibration's pseudo-anomalies
        (vadkit/detect/pseudo_recall.py): one line when it is not the calibrated threshold, and
        calibration's warnings when it misses them or floods their normal frames."""
        recall = resolve_recall(self.run, self.calibration, self.cfg, self.threshold)
        if recall is None:
            return
        recounted = id(recall) != id(self.calibration.get("pseudo_recall"))
        if recounted:
            self.console.print(recall_text(recall), highlight=False)
        for line in recall_warnings(recall, threshold_source(self.calibration, absolute=bool(self.cfg.threshold))):
            self.console.print(f"[yellow]warning:[/] {escape(line)}", highlight=False)

    def refit(self) -> WarmupRefit | None:
        """A per-source re-fit of the calibration on its first frames, when asked for."""
        if not self.cfg.refit_frames:
            return None
        return WarmupRefit(
            self.run.scorer, self.calibration, self.stream, self.cfg.threshold_quantile, self.cfg.refit_frames
        )

    # kept for callers that used the old attribute names
    @property
    def model(self) -> Any:
        return self.run.model

    @property
    def device(self) -> torch.device:
        return self.run.device

    def info(self, source: FrameSource) -> dict[str, Any]:
        return {
            "source": source.path,
            "run": str(self.run.root),
            "scorer": type(self.run.scorer).__name__,
            "score": (
                f"calibrated score of the scorer ({SCORE_UNITS.get(self.state.get('method', 'zscore'))}), "
                f"causal moving average over {self.cfg.smoothing} frames"
            ),
            "threshold": self.threshold,
            "threshold_rule": self.threshold_rule,
            "merge_gap": self.cfg.merge_gap,
            "min_event": self.cfg.min_event,
            "first_scored_frame": self.pre.window - 1,
            "fps": source.fps,
            # what re-streams the raw scores at another threshold (`vadkit eval --detections`)
            "stream": {**self.stream.describe(), "reference": self.stream.reference},
            "memory_update": self.cfg.memory_update,
            "memory_update_rule": self.cfg.memory_update_rule if self.cfg.memory_update else None,
        }

    def streaming_scorer(self, video: bool) -> StreamingScorer:
        run = self.run
        updater = (
            make_updater(run.model, run.scorer, self.cfg, self.calibration, self.state)
            if self.cfg.memory_update
            else None
        )
        return StreamingScorer(
            detector_model(self),
            run.scorer,
            self.pre,
            run.device,
            fast=run.fast,
            precision=run.precision,
            batch=self.cfg.batch,
            keep_frames=video,
            error_maps=video,
            on_output=updater,
        )

    def process(
        self,
        source: FrameSource,
        out: Path,
        *,
        video: bool = True,
        progress: Progress | None = None,
        max_frames: int | None = None,
    ) -> DetectResult:
        """Score one source into ``out``; a broken source ends it early with its results written."""
        start = time.perf_counter()
        scorer = self.streaming_scorer(video)
        session = SourceSession(self, source, out, video)
        task = progress.add_task(source.name, total=source.total, fps=0.0) if progress else None
        status, message, read = "complete", None, 0
        try:
            with deferred():  # SIGINT / SIGTERM: this frame is finished, then the outputs close as interrupted
                for index, time_s, rgb in source:
                    read += 1
                    ready = scorer.push(index, time_s, rgb)
                    if session.overlay is not None and not scorer.warm:
                        session.overlay.frame(rgb, index, time_s)
                    session.handle(ready)
                    if progress is not None and task is not None:
                        progress.update(task, advance=1, fps=read / max(time.perf_counter() - start, 1e-9))
                    if max_frames and read >= max_frames:
                        break
                    stop_point()
        except DataError as exc:
            status, message = "error", str(exc)
        except KeyboardInterrupt as exc:
            status, message = "interrupted", stop_reason(exc)
        except OSError as exc:  # a write failed (disk full): events.json says so if it still can
            session.fail(exc)
            raise
        finally:
            source.close()
            try:
                session.handle(scorer.flush())
            finally:
                session.close()
        if status == "complete" and source.note:
            status, message = "ended", source.note
        return session.finish(status, message, read, time.perf_counter() - start)


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} frames"),
        TextColumn("{task.fields[fps]:.1f} frames/s"),
        TimeElapsedColumn(),
        console=console,
    )


def detect(
    source: str | int | Path | FrameSource | list[FrameSource],
    run_dir: Path | TrainedRun,
    out: Path,
    registry: Registry,
    *,
    overrides: dict[str, Any] | None = None,
    video: bool = True,
    device: str | None = None,
    console: Console | None = None,
    max_frames: int | None = None,
    allow_plugin_change: bool = False,
) -> list[DetectResult]:
    """Detect anomalies in ``source`` with the run in ``run_dir``; one result per video.

    A single source writes into ``out``; several (a folder of videos) into ``out/<name>``.
    Cameras and streams are opened before the model loads, so a bad one fails at once.
    ``allow_plugin_change``: use a component whose name now resolves to another plugin
    distribution than at training (vadkit/provenance.py), with a warning.
    """
    console = console or Console()
    config = run_config(run_dir, overrides)  # read and checked once, before a source or the model opens
    if isinstance(source, FrameSource):
        sources = [source]
    elif isinstance(source, list):
        sources = source
    else:
        sources = open_sources(source, fps=config.detect.fps, stall_timeout=config.detect.stall_timeout)
    with folder_lock(Path(out), "detect"):  # one writer per output folder: a second gets the holder's PID
        detector = Detector(
            run_dir, registry, device=device, console=console, config=config, allow_plugin_change=allow_plugin_change
        )
        return _detect(sources, detector, out, video, console, max_frames)


def _detect(
    sources: list[FrameSource], detector: Detector, out: Path, video: bool, console: Console, max_frames: int | None
) -> list[DetectResult]:
    console.print(
        f"detecting in {len(sources)} source{'s' if len(sources) != 1 else ''} with {detector.run.root}: "
        f"threshold {detector.threshold:.3f} ({detector.threshold_rule}), first score after "
        f"{detector.pre.window} frames, batch {detector.cfg.batch}, "
        f"{detector.run.describe_compute()}, {torch.get_num_threads()} threads"
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


def run_config(run: Path | TrainedRun, overrides: dict[str, Any] | None) -> RunConfig:
    """The run's configuration with ``[detect]`` overrides applied, read once (no model is built)."""
    if isinstance(run, TrainedRun):
        return run.configured(detect_settings(overrides))
    return read_run_config(run, detect_settings(overrides))


__all__ = ["Detector", "DetectResult", "detect", "SourceSession", "run_config", "detect_settings"]
