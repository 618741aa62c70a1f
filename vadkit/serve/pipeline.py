"""One camera's path from scored frames to events, composed from detect's public classes:
``StreamingScorer`` (ring buffer) -> ``Scorer.anomaly`` -> ``ScoreStream`` (running
normalisation, smoothing, threshold: the camera's own calibration, vadkit/serve/calibrations.py)
-> ``EventMerger``; plus the pre-roll buffer, the clip of
each event (pre-roll, event, post-roll) and the event payload handed to the sinks once its clip
is complete. A new connection (reconnect) ends the open event: frames across a gap are no
clip of one another."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ..detect.api import Detector
from ..detect.events import Event, EventMerger
from ..detect.online import ScoreStream
from ..detect.stream import FrameStats, StreamingScorer
from .calibrations import CameraCalibration
from .clips import ClipRecorder, ClipStore, annotate, shrink
from .config import ServeSettings

NEVER = 1 << 30  # per-camera scorers never run on their own: the service scores all cameras at once


@dataclass
class Recording:
    """The clip and peak frame of one event, while it is open and during its post-roll."""

    start_frame: int
    clip: ClipRecorder | None
    peak_score: float = float("-inf")
    peak_rgb: np.ndarray | None = None
    event: Event | None = None
    until: float = 0.0  # wall time the post-roll ends


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CameraPipeline:
    """Scored frames of one camera in, finished event payloads out (through ``emit``)."""

    def __init__(
        self,
        name: str,
        detector: Detector,
        model: Any,
        calib: CameraCalibration,
        settings: ServeSettings,
        store: ClipStore,
        emit: Callable[[dict[str, Any]], None],
        meta: dict[str, Any],
    ) -> None:
        run = detector.run
        self.name, self.detector, self.calib, self.settings = name, detector, calib, settings
        self.store, self.emit, self.meta = store, emit, meta
        self.scorer = StreamingScorer(
            model,
            run.scorer,
            detector.pre,
            run.device,
            fast=run.fast,
            precision=run.precision,
            batch=NEVER,
            keep_frames=True,
            error_maps=False,
        )
        self.state, self.threshold, self.rule = calib.state, calib.threshold, calib.rule
        self.stream = ScoreStream(calib.stream, self.threshold)
        self.refit = calib.refit(detector)  # refit_frames: fitted on the first frames (of the first connection)
        self.merger = EventMerger(detector.cfg.merge_gap, detector.cfg.min_event)
        self.fps = 25.0
        self.preroll: deque[np.ndarray] = deque(maxlen=max(1, int(round(settings.pre_roll * self.fps))))
        self.current: Recording | None = None
        self.closing: list[Recording] = []
        self.read_at: dict[int, float] = {}
        self.latencies: list[float] = []  # frame read -> scored, seconds (taken by the metrics)
        self.scored = self.events = 0
        self.last_score: float | None = None

    def push(self, index: int, wall: float, read_at: float, rgb: np.ndarray) -> None:
        self.read_at[index] = read_at
        self.scorer.push(index, wall, rgb)

    def new_connection(self, fps: float) -> None:
        """A (re)connection starts: end what the old one left open; the next frame has no past."""
        self.finish_all()
        self.scorer.reset()
        self.stream.smoother.reset()
        self.read_at.clear()
        self.fps = fps if 0 < fps < 1000 else 25.0
        self.preroll = deque(maxlen=max(1, int(round(self.settings.pre_roll * self.fps))))

    def handle(self, ready: list[FrameStats]) -> None:
        """Frames whose statistics are ready: score, flag, merge, record, emit."""
        if not ready:
            return
        scorer, now = self.detector.run.scorer, time.monotonic()
        batch = {k: np.array([s.stats[k] for s in ready]) for k in scorer.stat_names}
        raw = scorer.anomaly(batch, self.state)
        fitting = self.refit is not None and not self.refit.done
        for s, r in zip(ready, raw, strict=True):
            score, flagged = self.stream(float(r))
            flagged = flagged and not fitting  # the frames of a re-fit are assumed normal
            read = self.read_at.pop(s.index, None)
            if read is not None:
                self.latencies.append(now - read)
            self.scored, self.last_score = self.scored + 1, score
            frame = (
                annotate(shrink(s.rgb, self.settings.clip_width), score, self.threshold, flagged, self.name)
                if s.rgb is not None
                else None
            )
            self._track(s, score, flagged)
            for rec in ([self.current] if self.current else []) + self.closing:
                if rec.clip is not None and frame is not None:
                    rec.clip.write(frame)
            if flagged and self.current is not None and score > self.current.peak_score:
                self.current.peak_score, self.current.peak_rgb = score, frame
            if frame is not None:
                self.preroll.append(frame)
            for rec in [r for r in self.closing if s.time >= r.until]:
                self._finish(rec, s.time)
        if fitting and self.refit is not None and self.refit.add(batch):
            self._adopt_refit()

    def _adopt_refit(self) -> None:
        """Score this camera with the calibration fitted on its first frames from now on."""
        refit = self.refit
        assert refit is not None and refit.state is not None and refit.threshold is not None  # fitted
        assert refit.stream is not None
        self.state, self.threshold = refit.state, float(refit.threshold)
        self.stream = ScoreStream(refit.stream, self.threshold)
        for r in refit.raw:  # the fitted frames prime the smoothing and the running statistics
            self.stream(float(r))
        self.rule = f"quantile {refit.quantile:g} of this camera's first {refit.frames} scored frames (refit_frames)"
        self.detector.console.print(
            f"{self.name}: calibration re-fitted on its first {refit.frames} frames, threshold {self.threshold:.3f}",
            highlight=False,
        )

    def _track(self, s: FrameStats, score: float, flagged: bool) -> None:
        """Follow the merger: move a closed event to its post-roll, drop a too-short one, start a new one."""
        closed = self.merger.update(s.index, s.time, score, flagged)
        cur, open_ev = self.current, self.merger.open_event
        if closed is not None and cur is not None and closed.start_frame == cur.start_frame:
            cur.event, cur.until = closed, closed.end_time + self.settings.post_roll
            self.closing.append(cur)
            self.current = cur = None
        if cur is not None and (open_ev is None or open_ev.start_frame != cur.start_frame):
            if cur.clip is not None:  # a run of flagged frames shorter than min_event
                cur.clip.discard()
            self.current = cur = None
        if open_ev is not None and cur is None:
            name = f"{self.name}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(s.time))}-{open_ev.start_frame}"
            clip = ClipRecorder(self.store, name, self.fps) if self.settings.clips else None
            if clip is not None:
                for f in self.preroll:
                    clip.write(f)
            self.current = Recording(open_ev.start_frame, clip)

    def _finish(self, rec: Recording, trigger: float) -> None:
        self.closing.remove(rec)
        ev = rec.event
        assert ev is not None
        clip = rec.clip.finish() if rec.clip is not None else None
        base = rec.clip.name if rec.clip is not None else f"{self.name}-{ev.start_frame}"
        snap = self.store.snapshot(base, rec.peak_rgb) if rec.peak_rgb is not None else None
        self.events += 1
        self.emit(
            {
                **self.meta,
                "id": f"{self.meta.get('instance', 'vadkit')}:{self.name}:{int(ev.start_time * 1000)}:{ev.start_frame}",
                "camera": self.name,
                "start": iso(ev.start_time),
                "end": iso(ev.end_time),
                "start_time": round(ev.start_time, 3),
                "end_time": round(ev.end_time, 3),
                "peak_score": round(ev.peak_score, 4),
                "peak_time": round(ev.peak_time, 3),
                "threshold": round(self.threshold, 4),
                "frames": ev.length,
                "flagged_frames": ev.flagged_frames,
                "start_frame": ev.start_frame,
                "end_frame": ev.end_frame,
                "snapshot": str(snap) if snap is not None else None,
                "clip": str(clip) if clip is not None else None,
                "trigger_time": round(trigger, 3),
                "emitted_at": round(time.time(), 3),
            }
        )

    def finish_all(self) -> None:
        """End the open event and cut every post-roll short (reconnect, shutdown): emit them now."""
        last = self.merger.close()
        cur, self.current = self.current, None
        if cur is not None:
            if last is not None and last.start_frame == cur.start_frame:
                cur.event, cur.until = last, last.end_time
                self.closing.append(cur)
            elif cur.clip is not None:
                cur.clip.discard()
        for rec in list(self.closing):
            self._finish(rec, time.time())


__all__ = ["CameraPipeline", "Recording", "iso"]
