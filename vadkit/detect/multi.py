"""Many sources in one process: every source is read by its own thread into a small queue,
and each round the newest frames of all streams are scored in ONE batched forward pass.
Each source keeps its own ring buffer (StreamingScorer), smoothing, events and output files
(SourceSession); a source that fails or ends is finished and the others go on. Memory per
stream is constant: T+1 frames in its ring buffer, at most ``queue`` frames waiting, and at
most ``[detect] batch`` clips pending.

Live sources can drop frames (``[detect] drop_frames``): when scoring is slower than the
source, the oldest waiting frame is discarded, so detection stays close to real time; the
count is in events.json (``frames_dropped``), in scores.csv (column ``frames_dropped``,
cumulative) and on the progress line. scores.csv keeps the source's frame numbers, so
dropped frames are the gaps. A clip then spans more time than in training (the model sees
larger motion), which is the price of keeping up.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from ..atomic import atomic_write_text
from ..errors import DataError
from ..folder_lock import folder_lock
from ..registry import Registry
from ..stop_signals import deferred, stop_point
from ..stop_signals import reason as stop_reason
from ..trained_run import TrainedRun
from .api import Detector, DetectResult, SourceSession, run_config
from .sources import BufferedReader, FailedSource, FrameSource, open_sources
from .stream import StreamingScorer

NEVER = 1 << 30  # per-stream scorers never flush on their own: the pool scores all streams at once


@dataclass
class StreamResult(DetectResult):
    """A source's result with the frames dropped to keep up (0 unless dropping was on)."""

    frames_dropped: int = 0


@dataclass
class Stream:
    """One source being scored: its reader thread, ring buffer and output session."""

    source: FrameSource
    session: SourceSession
    scorer: StreamingScorer
    reader: BufferedReader
    task: TaskID | None
    start: float
    read: int = 0
    status: str = "complete"
    message: str | None = None
    done: bool = False


class MultiDetector:
    """Scores several sources together with one Detector (one model, one calibration)."""

    def __init__(
        self,
        detector: Detector,
        *,
        video: bool = True,
        drop_frames: bool = False,
        max_frames: int | None = None,
        queue: int = 4,
    ) -> None:
        self.detector, self.video, self.drop = detector, video, drop_frames
        self.max_frames, self.queue = max_frames, queue
        self.pool = detector.streaming_scorer(video)
        self.cond = threading.Condition()
        self.progress: Progress | None = None
        self.total: TaskID | None = None

    def _start(self, source: FrameSource, out: Path) -> Stream:
        scorer = self.detector.streaming_scorer(self.video)
        scorer.batch = NEVER
        session = SourceSession(self.detector, source, out, self.video)
        reader = BufferedReader(source, size=self.queue, drop=self.drop and source.live, cond=self.cond).start()
        task = None
        if self.progress is not None:
            task = self.progress.add_task(source.name, total=source.total, fps=0.0, dropped="")
        return Stream(source, session, scorer, reader, task, time.perf_counter())

    def run(self, sources: list[FrameSource], outs: list[Path], progress: Progress | None = None) -> list[StreamResult]:
        """Score ``sources`` into ``outs`` until every one has ended, failed or was interrupted."""
        self.progress = progress
        if progress is not None and len(sources) > 1:
            self.total = progress.add_task("all streams", total=None, fps=0.0, dropped="")
        streams = [self._start(s, o) for s, o in zip(sources, outs)]
        results: dict[int, StreamResult] = {}
        active = list(streams)
        try:
            with deferred():  # SIGINT / SIGTERM: this round is finished, then the outputs close as interrupted
                while active:
                    got = sum(self._read(s) for s in active)
                    self._score(active)
                    for s in [s for s in active if s.done]:
                        results[id(s)] = self._finish(s)
                        active.remove(s)
                    self._show(streams)
                    stop_point()
                    if not got and active:
                        self._wait(active)
        except KeyboardInterrupt as exc:
            for s in active:
                s.status, s.message, s.done = "interrupted", stop_reason(exc), True
            self._score(active)
            for s in active:
                results[id(s)] = self._finish(s)
        finally:
            for s in streams:
                s.reader.close()
        return [results[id(s)] for s in streams]

    def _read(self, s: Stream) -> int:
        """Push up to ``[detect] batch`` waiting frames of ``s``; how many were pushed."""
        got = 0
        while not s.done and got < self.detector.cfg.batch:
            item = s.reader.poll()
            if item is None:
                break
            kind, payload = item
            if kind == "end":
                s.done = True
            elif kind == "error":
                s.done, s.status = True, "error"
                s.message = str(payload) if isinstance(payload, DataError) else f"{s.source.path}: {payload!r}"
            else:
                index, time_s, rgb = payload
                s.read, got = s.read + 1, got + 1
                ready = s.scorer.push(index, time_s, rgb)
                if s.session.overlay is not None and not s.scorer.warm:
                    s.session.overlay.frame(rgb, index, time_s)
                s.session.handle(ready)
                if self.max_frames and s.read >= self.max_frames:
                    s.done = True
        return got

    def _score(self, streams: list[Stream]) -> None:
        """One forward pass over the pending clips of every stream; results back to their sessions."""
        owners, pending = [], []
        for s in streams:
            items = s.scorer.take_pending()
            if items:
                pending.extend(items)
                owners.append((s, len(items)))
        if not pending:
            return
        ready = self.pool.score(pending)
        k = 0
        for s, n in owners:
            s.session.handle(ready[k : k + n])
            k += n

    def _wait(self, active: list[Stream]) -> None:
        with self.cond:
            if not any(s.reader.waiting for s in active):
                self.cond.wait(0.05)

    def _show(self, streams: list[Stream]) -> None:
        if self.progress is None:
            return
        now, read, dropped = time.perf_counter(), 0, 0
        for s in streams:
            read, dropped = read + s.read, dropped + s.reader.dropped
            if s.task is not None:
                self.progress.update(
                    s.task,
                    completed=s.read,
                    fps=s.read / max(now - s.start, 1e-9),
                    dropped=f"{s.reader.dropped} dropped" if self.drop and s.source.live else "",
                )
        if self.total is not None:
            start = min(s.start for s in streams)
            self.progress.update(
                self.total,
                completed=read,
                fps=read / max(now - start, 1e-9),
                dropped=f"{dropped} dropped" if self.drop else "",
            )

    def _finish(self, s: Stream) -> StreamResult:
        s.reader.close()
        s.session.close()
        dropped = s.reader.dropped
        status, message = s.status, s.message
        if status == "complete" and s.source.note:
            status, message = "ended", s.source.note
        if self.drop and s.source.live:
            s.session.info["frames_dropped"] = dropped
            add_dropped_column(s.session.out / "scores.csv", self.detector.pre.window - 1)
        result = s.session.finish(status, message, s.read, time.perf_counter() - s.start)
        kept = {f.name: getattr(result, f.name) for f in fields(result) if f.init}
        return StreamResult(**kept, frames_dropped=dropped)


def add_dropped_column(path: Path, frames: int) -> None:
    """scores.csv + ``frames_dropped``: frames dropped up to each row. Row k scores the
    (frames + k)-th frame read, so its source frame number minus that is the drop count."""
    if not Path(path).is_file():
        return
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if len(lines) < 2:
        return
    buf = io.StringIO()
    buf.write(f"{lines[0]},frames_dropped\n")
    for k, line in enumerate(lines[1:]):
        buf.write(f"{line},{int(line.split(',', 1)[0]) - frames - k}\n")
    atomic_write_text(Path(path), buf.getvalue())


def progress_columns(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} frames"),
        TextColumn("{task.fields[fps]:.1f} frames/s"),
        TextColumn("{task.fields[dropped]}"),
        TimeElapsedColumn(),
        console=console,
    )


def open_many(specs: list[str | int | Path], *, fps: float, stall_timeout: float) -> list[FrameSource]:
    """The sources of every spec; one that cannot be opened becomes a failed source (reported
    in its results) so the others still run. Names are made unique (cam, cam-2, ...)."""
    sources: list[FrameSource] = []
    for spec in specs:
        try:
            sources.extend(open_sources(spec, fps=fps, stall_timeout=stall_timeout))
        except DataError as exc:
            failed = FailedSource(Path(str(spec)), exc)
            failed.path, failed.name = str(spec), _safe_name(str(spec))
            sources.append(failed)
    unique_names(sources)
    return sources


def unique_names(sources: list[FrameSource]) -> None:
    """Give every source a name no other source has (compared case-insensitively, as some file
    systems do): the second ``cam`` becomes ``cam-2``, skipping any name already taken."""
    taken: set[str] = set()
    for s in sources:
        name, k = s.name or "source", 1
        while name.lower() in taken:
            k += 1
            name = f"{s.name}-{k}"
        s.name = name
        taken.add(name.lower())


def _safe_name(spec: str) -> str:
    name = Path(spec.split("://", 1)[-1].rstrip("/")).stem if not spec.isdigit() else f"camera{spec}"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "source"


def detect_many(
    specs: list[str | int | Path] | list[FrameSource],
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
) -> list[StreamResult]:
    """Detect in all ``specs`` at once; one source writes into ``out``, several into ``out/<name>``."""
    console = console or Console()
    config = run_config(run_dir, overrides)  # read and checked once, before a source or the model opens
    if all(isinstance(s, FrameSource) for s in specs):
        sources: list[FrameSource] = list(specs)  # type: ignore[arg-type]
        unique_names(sources)
    else:
        cfg = config.detect
        sources = open_many(list(specs), fps=cfg.fps, stall_timeout=cfg.stall_timeout)  # type: ignore[arg-type]
    with folder_lock(Path(out), "detect"):  # one writer per output folder
        detector = Detector(
            run_dir, registry, device=device, console=console, config=config, allow_plugin_change=allow_plugin_change
        )
        return _detect_many(sources, detector, out, video, console, max_frames)


def _detect_many(
    sources: list[FrameSource], detector: Detector, out: Path, video: bool, console: Console, max_frames: int | None
) -> list[StreamResult]:
    multi = MultiDetector(detector, video=video, drop_frames=detector.cfg.drop_frames, max_frames=max_frames)
    console.print(
        f"detecting in {len(sources)} source{'s' if len(sources) != 1 else ''} at once with {detector.run.root}: "
        f"threshold {detector.threshold:.3f} ({detector.threshold_rule}), up to {detector.cfg.batch} frame(s) per "
        f"source per forward pass, {'dropping frames of live sources that lag, ' if multi.drop else ''}"
        f"{detector.run.describe_compute()}"
    )
    outs = [Path(out) if len(sources) == 1 else Path(out) / s.name for s in sources]
    if len(sources) > 1:
        for s, o in zip(sources, outs):
            console.print(f"  {s.path} -> {o}", highlight=False)
    with progress_columns(console) as progress:
        return multi.run(sources, outs, progress)


__all__ = ["MultiDetector", "StreamResult", "detect_many", "open_many", "add_dropped_column", "unique_names"]
