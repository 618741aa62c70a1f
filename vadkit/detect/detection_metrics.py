"""Detection measured the way a user lives with it: at the calibrated threshold, on whole test
videos streamed frame by frame exactly as ``vadkit detect`` streams them (``ScoreStream`` +
``EventMerger`` over the per-frame statistics, in order).

- event precision: detected events that overlap a ground-truth anomaly span;
- event recall: ground-truth spans overlapped by at least one event; event F1;
- frame precision / recall / F1 of the flagged frames;
- false alarms per hour of normal video: events overlapping no anomaly, per hour of the test
  videos' normal frames (at ``fps``);
- pooled AUC of the detection score over all test frames (what one fixed threshold can reach),
  and of the raw calibrated score (no running normalisation, no smoothing);
- lead-in flags: flagged frames before a video's first abnormal frame;
- what a deployer reads besides AUC: the equal error rate of the pooled detection score, the
  false alarms per hour left when the threshold is lowered until 90 % of the anomalous spans
  are caught (the videos are re-streamed at each candidate threshold, because with the running
  normalisation the scores depend on the threshold), and the detection latency (frames from a
  found span's first frame to its first flagged frame).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from .events import Event, merge_events
from .online import StreamSettings, stream_scores


@dataclass
class VideoDetection:
    """One test video after streaming detection."""

    name: str
    frames: np.ndarray
    labels: np.ndarray
    raw: np.ndarray
    scores: np.ndarray
    flags: np.ndarray
    events: list[Event] = field(default_factory=list)


def detect_video(
    name: str,
    frames: np.ndarray,
    labels: np.ndarray,
    raw: np.ndarray,
    settings: StreamSettings,
    threshold: float,
    merge_gap: int,
    min_event: int,
    fps: float,
) -> VideoDetection:
    """Stream one video's raw calibrated scores (frame order) through detection's decision path."""
    frames = np.asarray(frames, int)
    scores, flags = stream_scores(raw, settings, threshold)
    events = merge_events(
        frames.tolist(), (frames / fps).tolist(), scores.tolist(), flags.tolist(), merge_gap, min_event
    )
    return VideoDetection(name, frames, np.asarray(labels, int), np.asarray(raw, np.float64), scores, flags, events)


def true_spans(frames: np.ndarray, labels: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive frame spans of consecutive abnormal scored frames."""
    edges = np.flatnonzero(np.diff(np.r_[0, (np.asarray(labels) > 0).astype(np.int8), 0]))
    return [(int(frames[a]), int(frames[b - 1])) for a, b in zip(edges[::2], edges[1::2])]


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _f1(p: float | None, r: float | None) -> float:
    return 2 * p * r / (p + r) if p is not None and r is not None and p + r > 0 else 0.0


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def _auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    return float(roc_auc_score(labels, scores)) if labels.size and labels.min() != labels.max() else None


def _event_counts(videos: list[VideoDetection]) -> dict[str, int]:
    counts = {"events": 0, "events_on_anomaly": 0, "false_alarms": 0, "anomaly_spans": 0, "spans_found": 0}
    for v in videos:
        spans = true_spans(v.frames, v.labels)
        found = [(e.start_frame, e.end_frame) for e in v.events]
        hits = sum(any(_overlaps(e, s) for s in spans) for e in found)
        counts["events"] += len(found)
        counts["events_on_anomaly"] += hits
        counts["false_alarms"] += len(found) - hits
        counts["anomaly_spans"] += len(spans)
        counts["spans_found"] += sum(any(_overlaps(e, s) for e in found) for s in spans)
    return counts


def _lead_in(v: VideoDetection) -> int:
    """Flagged frames before the first abnormal frame (all of a normal video's flags)."""
    first = np.flatnonzero(v.labels > 0)
    end = int(first[0]) if first.size else v.labels.size
    return int(v.flags[:end].sum())


TARGET_RECALL = 0.9
LEVELS = 64  # candidate thresholds: quantiles of the pooled scores


def equal_error_rate(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """The error rate where the false-positive and false-negative rates of a frame threshold meet."""
    y, s = np.asarray(labels) > 0, np.asarray(scores, np.float64)
    keep = np.isfinite(s)
    y, s = y[keep], s[keep]
    if y.all() or not y.any():
        return None
    fpr, tpr, _ = roc_curve(y, s)
    fnr = 1.0 - tpr
    i = int(np.flatnonzero(fnr <= fpr)[0]) if (fnr <= fpr).any() else len(fpr) - 1
    if i == 0:
        return float(fpr[0])
    # linear interpolation between the two ROC points around the crossing
    d0, d1 = fnr[i - 1] - fpr[i - 1], fnr[i] - fpr[i]
    w = d0 / (d0 - d1) if d0 != d1 else 0.0
    return float(fpr[i - 1] + w * (fpr[i] - fpr[i - 1]))


def latency(videos: Sequence[Any], fps: float) -> dict[str, Any]:
    """Frames (and seconds) from each found anomaly span's first frame to its first flagged frame."""
    delays = []
    for v in videos:
        flagged = np.asarray(v.frames)[np.asarray(v.flags, bool)]
        for a, b in true_spans(v.frames, v.labels):
            inside = flagged[(flagged >= a) & (flagged <= b)]
            if inside.size:
                delays.append(int(inside[0] - a))
    if not delays:
        return {"spans": 0, "median_frames": None, "mean_frames": None, "max_frames": None, "median_seconds": None}
    d = np.asarray(delays, np.float64)
    return {
        "spans": len(delays),
        "median_frames": float(np.median(d)),
        "mean_frames": float(d.mean()),
        "max_frames": int(d.max()),
        "median_seconds": float(np.median(d) / fps),
    }


def alarms_at_recall(
    videos: Sequence[Any],
    settings: StreamSettings,
    merge_gap: int,
    min_event: int,
    fps: float,
    recall: float = TARGET_RECALL,
) -> dict[str, Any]:
    """False alarms per hour of normal video at the highest threshold whose event recall is at
    least ``recall`` (bisection over quantiles of the pooled scores)."""
    pooled = np.concatenate([np.asarray(v.scores, np.float64) for v in videos]) if videos else np.zeros(0)
    pooled = pooled[np.isfinite(pooled)]
    if pooled.size == 0 or not any((np.asarray(v.labels) > 0).any() for v in videos):
        return {"recall": recall, "threshold": None, "false_alarms_per_hour": None, "event_recall": None}
    candidates = np.unique(np.quantile(pooled, np.linspace(0.0, 1.0, LEVELS)))

    def at(threshold: float) -> tuple[float, int]:
        streamed = [
            detect_video(v.name, v.frames, v.labels, v.raw, settings, threshold, merge_gap, min_event, fps)
            for v in videos
        ]
        c = _event_counts(streamed)
        return (c["spans_found"] / c["anomaly_spans"] if c["anomaly_spans"] else 0.0), c["false_alarms"]

    lo, hi, best = 0, len(candidates) - 1, None  # recall falls as the threshold rises
    while lo <= hi:
        mid = (lo + hi) // 2
        r, fa = at(float(candidates[mid]))
        if r >= recall:
            best, lo = (float(candidates[mid]), r, fa), mid + 1
        else:
            hi = mid - 1
    normal_hours = sum(float((np.asarray(v.labels) == 0).sum()) for v in videos) / fps / 3600.0
    if best is None or normal_hours <= 0:
        return {"recall": recall, "threshold": None, "false_alarms_per_hour": None, "event_recall": None}
    threshold, r, fa = best
    return {
        "recall": recall,
        "threshold": threshold,
        "event_recall": r,
        "false_alarms": fa,
        "false_alarms_per_hour": fa / normal_hours,
    }


def detection_metrics(
    videos: list[VideoDetection],
    fps: float,
    settings: StreamSettings | None = None,
    merge_gap: int = 10,
    min_event: int = 3,
) -> dict[str, Any]:
    """Event, frame and pooled-score metrics of streamed detection over labelled videos."""
    labels = np.concatenate([v.labels for v in videos]) if videos else np.zeros(0, int)
    flags = np.concatenate([v.flags for v in videos]) if videos else np.zeros(0, bool)
    y = labels > 0
    c = _event_counts(videos)
    ev_p, ev_r = _ratio(c["events_on_anomaly"], c["events"]), _ratio(c["spans_found"], c["anomaly_spans"])
    tp = int((flags & y).sum())
    fr_p, fr_r = _ratio(tp, int(flags.sum())), _ratio(tp, int(y.sum()))
    normal_hours = float((~y).sum()) / fps / 3600.0
    return {
        "event_precision": ev_p,
        "event_recall": ev_r,
        "event_f1": _f1(ev_p, ev_r),
        "frame_precision": fr_p,
        "frame_recall": fr_r,
        "frame_f1": _f1(fr_p, fr_r),
        "false_alarms": c["false_alarms"],
        "false_alarms_per_hour": c["false_alarms"] / normal_hours if normal_hours > 0 else None,
        "normal_frames_flagged": _ratio(int((flags & ~y).sum()), int((~y).sum())),
        "auc_pooled": _auc(y.astype(int), np.concatenate([v.scores for v in videos]) if videos else np.zeros(0)),
        "auc_pooled_raw": _auc(y.astype(int), np.concatenate([v.raw for v in videos]) if videos else np.zeros(0)),
        **c,
        "normal_hours": round(normal_hours, 6),
        "lead_in_flags": {v.name: n for v in videos if (n := _lead_in(v))},
        "videos_mostly_flagged": [
            v.name for v in videos if (v.labels == 0).any() and v.flags[v.labels == 0].mean() > 0.5
        ],
        "eer": equal_error_rate(y, np.concatenate([v.scores for v in videos]) if videos else np.zeros(0)),
        "latency": latency(videos, fps),
        "at_recall": (alarms_at_recall(videos, settings, merge_gap, min_event, fps) if settings is not None else None),
    }


__all__ = [
    "VideoDetection",
    "detect_video",
    "detection_metrics",
    "true_spans",
    "equal_error_rate",
    "latency",
    "alarms_at_recall",
]
