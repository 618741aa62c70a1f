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
- lead-in flags: flagged frames before a video's first abnormal frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

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


def detect_video(name: str, frames: np.ndarray, labels: np.ndarray, raw: np.ndarray, settings: StreamSettings,
                 threshold: float, merge_gap: int, min_event: int, fps: float) -> VideoDetection:
    """Stream one video's raw calibrated scores (frame order) through detection's decision path."""
    frames = np.asarray(frames, int)
    scores, flags = stream_scores(raw, settings, threshold)
    events = merge_events(frames.tolist(), (frames / fps).tolist(), scores.tolist(), flags.tolist(), merge_gap,
                          min_event)
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


def detection_metrics(videos: list[VideoDetection], fps: float) -> dict[str, Any]:
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
        "event_precision": ev_p, "event_recall": ev_r, "event_f1": _f1(ev_p, ev_r),
        "frame_precision": fr_p, "frame_recall": fr_r, "frame_f1": _f1(fr_p, fr_r),
        "false_alarms": c["false_alarms"],
        "false_alarms_per_hour": c["false_alarms"] / normal_hours if normal_hours > 0 else None,
        "normal_frames_flagged": _ratio(int((flags & ~y).sum()), int((~y).sum())),
        "auc_pooled": _auc(y.astype(int), np.concatenate([v.scores for v in videos]) if videos else np.zeros(0)),
        "auc_pooled_raw": _auc(y.astype(int), np.concatenate([v.raw for v in videos]) if videos else np.zeros(0)),
        **c,
        "normal_hours": round(normal_hours, 6),
        "lead_in_flags": {v.name: n for v in videos if (n := _lead_in(v))},
        "videos_mostly_flagged": [v.name for v in videos if (v.labels == 0).any() and v.flags[v.labels == 0].mean() > 0.5],
    }


__all__ = ["VideoDetection", "detect_video", "detection_metrics", "true_spans"]
