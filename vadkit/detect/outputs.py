"""Detection outputs of one source: scores.csv (written as frames are scored), events.json
(the status file: written atomically from the start, whenever an event closes and every few
seconds, see :class:`StatusFile`), the score-curve PNG and, for offline sources, the
per-video min-max score column added at the end."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write_text
from ..postprocess.temporal import smooth_stats
from ..scoring import Scorer
from .events import Event

MINMAX_COLUMN = "offline_minmax_score"


def columns(stat_names: tuple[str, ...]) -> tuple[str, ...]:
    """scores.csv columns: frame keys, the scorer's statistics, then the detection scores."""
    return ("frame", "time", *stat_names, "score", "flagged", "score_raw")


OUTPUT_FILES = ("scores.csv", "overlay.avi", "score_curve.png")  # besides events.json


def _named(path: Path, exc: OSError) -> OSError:
    """``exc`` naming ``path`` (a failed write of an open file carries no file name)."""
    return exc if exc.filename is not None else OSError(exc.errno, exc.strerror, str(path))


class ScoreLog:
    """Appends one row per scored frame to ``scores.csv``, flushed after every batch."""

    def __init__(self, path: Path, stat_names: tuple[str, ...]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.stat_names = tuple(stat_names)
        self._fh = self.path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._fh, lineterminator="\n")
        self._writer.writerow(columns(self.stat_names))
        self.rows = 0

    def write(
        self, frame: int, time_s: float, stats: dict[str, float], score: float, flagged: bool, score_raw: float
    ) -> None:
        values = [f"{stats[k]:.8g}" for k in self.stat_names]
        try:
            self._writer.writerow([frame, f"{time_s:.3f}", *values, f"{score:.4f}", int(flagged), f"{score_raw:.4f}"])
        except OSError as exc:
            raise _named(self.path, exc) from None
        self.rows += 1

    def flush(self) -> None:
        try:
            self._fh.flush()
        except OSError as exc:
            raise _named(self.path, exc) from None

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def read_scores(path: Path) -> dict[str, np.ndarray]:
    """scores.csv as float columns (empty arrays when it has no rows)."""
    with Path(path).open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    return {name: np.asarray([float(r[i]) for r in body], np.float64) for i, name in enumerate(header)}


def add_offline_minmax(path: Path, scorer: Scorer, temporal_sigma: float = 0.0) -> None:
    """Add the scorer's benchmark score, 1 - regularity on the whole video (needs it to end),
    with ``vadkit eval``'s protocol (``[eval] temporal_sigma``)."""
    cols = read_scores(path)
    if cols["frame"].size == 0:
        return
    stats = smooth_stats({k: cols[k] for k in scorer.stat_names}, temporal_sigma)
    score = 1.0 - np.asarray(scorer.regularity(stats), np.float64)
    with Path(path).open(encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    buf = io.StringIO()
    buf.write(f"{lines[0]},{MINMAX_COLUMN}\n")
    for line, s in zip(lines[1:], score):
        buf.write(f"{line},{s:.4f}\n")
    atomic_write_text(Path(path), buf.getvalue())


def write_events(path: Path, events: list[Event], info: dict[str, Any]) -> None:
    atomic_write_text(Path(path), json.dumps({**info, "events": [e.as_dict() for e in events]}, indent=2) + "\n")


def read_status(out: Path) -> dict[str, Any] | None:
    """The events.json in ``out`` when a vadkit detection wrote it (a JSON object with its keys)."""
    try:
        data = json.loads((Path(out) / "events.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    keys = ("source", "run", "threshold_rule", "events")
    return data if isinstance(data, dict) and all(k in data for k in keys) else None


class StatusFile:
    """events.json as the truthful state of a detection from its first moment: ``running``
    (with the writer's PID and the counts so far, rewritten atomically at most every
    ``every`` seconds and whenever an event closes), then ``complete`` / ``ended`` / ``error``
    / ``interrupted``. A ``running`` file whose PID is gone (and whose folder lock is free)
    was killed. Starting replaces a previous detection's events.json at once and removes the
    other outputs it proves vadkit wrote, so no earlier "complete" sits beside new partial files."""

    def __init__(self, out: Path, info: dict[str, Any], every: float = 2.0) -> None:
        self.path, self.info, self.every = Path(out) / "events.json", info, every
        self._last = 0.0

    def begin(self) -> str | None:
        """Retire the previous detection's outputs and write ``running``; a line about them or None."""
        out = self.path.parent
        previous = read_status(out)
        self.write([], "running", frames_scored=0)
        if previous is None:
            return None
        removed = [n for n in OUTPUT_FILES if n != "scores.csv" and (out / n).is_file()]
        for name in removed:
            (out / name).unlink(missing_ok=True)
        was = previous.get("status")
        pid = previous.get("pid")
        note = f" (pid {pid} was killed)" if was == "running" and isinstance(pid, int) and not _alive(pid) else ""
        return f"{out}: replacing the outputs of an earlier detection (status {was!r}{note})"

    def write(self, events: list[Event], status: str, **counts: Any) -> None:
        self._last = time.monotonic()
        write_events(
            self.path,
            events,
            {
                **self.info,
                "status": status,
                "pid": os.getpid(),
                "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                **counts,
            },
        )

    def tick(self, events: list[Event], **counts: Any) -> None:
        """``running`` with fresh counts, when ``every`` seconds have passed since the last write."""
        if time.monotonic() - self._last >= self.every:
            self.write(events, "running", **counts)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def score_curve(scores_path: Path, out: Path, threshold: float, events: list[Event], title: str) -> Path | None:
    """score over frames, the threshold, events shaded; the offline min-max score when present."""
    from ..plots import plt, save_figure  # plots selects the Agg backend first

    cols = read_scores(scores_path)
    if cols["frame"].size == 0:
        return None
    fig, ax = plt.subplots(figsize=(9, 2.8), dpi=100)
    for e in events:
        ax.axvspan(e.start_frame - 0.5, e.end_frame + 0.5, color="tab:red", alpha=0.18, lw=0)
    ax.plot(cols["frame"], cols["score"], color="tab:blue", lw=1.3, label="score (calibrated, smoothed)")
    ax.axhline(threshold, color="tab:orange", ls="--", lw=1, label=f"threshold {threshold:.2f}")
    ax.set_xlabel("frame")
    ax.set_ylabel("score (normal s.d.)")
    if MINMAX_COLUMN in cols:
        ax2 = ax.twinx()
        ax2.plot(
            cols["frame"],
            cols[MINMAX_COLUMN],
            color="tab:gray",
            lw=0.8,
            alpha=0.7,
            label="offline per-video min-max (needs the whole video)",
        )
        ax2.set_ylim(-0.02, 1.02)
        ax2.set_ylabel("min-max", color="tab:gray")
        ax2.legend(loc="upper right", fontsize=7)
    ax.legend(loc="upper left", fontsize=7)
    ax.set_title(f"{title}  (shaded: detected events)", fontsize=10)
    ax.grid(alpha=0.3)
    return save_figure(fig, out)
