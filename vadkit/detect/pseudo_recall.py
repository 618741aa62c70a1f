"""What a calibrated threshold catches: the pseudo-anomalies of the calibration's evidence
streamed through detection's own path at that threshold.

The threshold is a quantile of the normal score, so by construction it says how often normal
frames cross it, and nothing about whether anything abnormal ever does. With
``[detect] threshold_shift`` it also covers the calibration frames under camera-like lighting
shifts; for a model whose score moves more with a lighting change than with an anomaly, that
quantile lies above every anomaly, and detection stays silent on all of them (seen on Ped2,
docs/detect.md). The pseudo-videos that calibration already scores for its evidence
(:mod:`vadkit.pseudo.evidence`: one abnormal stretch of known extent each, in held-out normal
video) show it without test labels: each is streamed frame by frame (smoothing, running
normalisation, event merging as ``vadkit detect`` does) and its stretch counts as caught when a
detection event overlaps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..config import DetectConfig
from ..inference import VideoScores
from ..scoring import Scorer
from .detection_metrics import VideoDetection, detect_video, true_spans
from .online import StreamSettings, flaggable

PSEUDO_PREFIX = "pseudo_"  # their arrays in calibration_stats.npz: pseudo_video, ..., pseudo_stat_<name>
LOW_RECALL = 0.5  # fewer spans caught than this fraction: calibration warns
HIGH_FLAGGED = 0.2  # more of the pseudo-videos' normal frames flagged than this: calibration warns


def pseudo_recall(
    scored: Sequence[VideoScores],
    scorer: Scorer,
    state: dict[str, Any],
    settings: StreamSettings,
    threshold: float,
    cfg: DetectConfig,
    shifted: bool = False,
) -> dict[str, Any]:
    """Spans caught (overall and per kind), normal frames flagged and false events of the
    pseudo-videos ``scored`` at ``threshold``; JSON-serialisable. ``shifted``: whether the
    pseudo-videos were drawn under lighting shifts (recorded, and said in warnings)."""
    spans = caught = normal = flagged = false_events = 0
    by_kind: dict[str, list[int]] = {}
    for v in scored:
        d, kinds = _stream(v, scorer, state, settings, threshold, cfg)
        found = [(e.start_frame, e.end_frame) for e in d.events]
        truth = true_spans(d.frames, d.labels)
        for span, kind in zip(truth, kinds):
            hit = any(a <= span[1] and span[0] <= b for a, b in found)
            spans, caught = spans + 1, caught + hit
            counts = by_kind.setdefault(kind or "unnamed", [0, 0])
            counts[0], counts[1] = counts[0] + hit, counts[1] + 1
        ok = flaggable(len(d.frames), settings) & (d.labels == 0)
        normal, flagged = normal + int(ok.sum()), flagged + int((d.flags & ok).sum())
        false_events += sum(not any(a <= s[1] and s[0] <= b for s in truth) for a, b in found)
    return {
        "threshold": float(threshold),
        "spans": spans,
        "spans_caught": caught,
        "by_kind": {k: {"caught": c, "spans": n} for k, (c, n) in sorted(by_kind.items())},
        "normal_frames": normal,
        "normal_frames_flagged": flagged,
        "false_events": false_events,
        "videos": len(scored),
        "shifted": shifted,
    }


def _stream(
    v: VideoScores, scorer: Scorer, state: dict[str, Any], settings: StreamSettings, threshold: float, cfg: DetectConfig
) -> tuple[VideoDetection, list[str]]:
    """One pseudo-video through detection's path, and the kind of each of its abnormal spans."""
    order = np.argsort(np.asarray(v.frames), kind="stable")
    frames = np.asarray(v.frames, int)[order]
    labels = np.asarray(v.labels, int)[order]
    raw = scorer.anomaly({k: np.asarray(v.stats[k], np.float64)[order] for k in scorer.stat_names}, state)
    d = detect_video(v.name, frames, labels, raw, settings, threshold, cfg.merge_gap, cfg.min_event, cfg.fps)
    categories = np.asarray(v.categories, dtype=object)[order] if len(v.categories) == len(order) else None
    starts = np.flatnonzero(np.diff(np.r_[0, (labels > 0).astype(np.int8)]) == 1)
    kinds = [str(categories[i]) if categories is not None else "" for i in starts]
    return d, kinds


def pseudo_arrays(scored: Sequence[VideoScores]) -> dict[str, np.ndarray]:
    """The scored pseudo-videos as flat arrays for calibration_stats.npz (no object arrays), so
    detection can count what another threshold catches without running the model again."""
    if not scored:
        return {}
    names = list(scored[0].stats)
    out: dict[str, np.ndarray] = {
        "names": np.asarray([v.name for v in scored], dtype=str),
        "video": np.concatenate([np.full(len(v.frames), i, np.int64) for i, v in enumerate(scored)]),
        "frame": np.concatenate([np.asarray(v.frames, np.int64) for v in scored]),
        "label": np.concatenate([np.asarray(v.labels, np.int64) for v in scored]),
        "kind": np.concatenate([np.asarray(v.categories, dtype=str).reshape(-1) for v in scored]).astype(str),
    }
    for name in names:
        out[f"stat_{name}"] = np.concatenate([np.asarray(v.stats[name], np.float64) for v in scored])
    return {PSEUDO_PREFIX + k: v for k, v in out.items()}


def pseudo_from_arrays(arrays: dict[str, np.ndarray]) -> list[VideoScores]:
    """The pseudo-videos stored by :func:`pseudo_arrays` (an empty list when none were)."""
    a = {k.removeprefix(PSEUDO_PREFIX): v for k, v in arrays.items() if k.startswith(PSEUDO_PREFIX)}
    if "video" not in a or "names" not in a:
        return []
    stats = {k.removeprefix("stat_"): v for k, v in a.items() if k.startswith("stat_")}
    out = []
    for i, name in enumerate(a["names"].tolist()):
        rows = a["video"] == i
        v = VideoScores(str(name), a["frame"][rows].tolist(), a["label"][rows].tolist(), a["kind"][rows].tolist())
        for k, values in stats.items():
            v.stats[k] = values[rows].tolist()
        out.append(v)
    return out


# why a threshold misses the pseudo-anomalies, by where it came from, and what to do about it
MISSED_BECAUSE = {
    "shift": "the lighting-shifted copies of the calibration frames ([detect] threshold_shift) score above them: "
    "this model's score moves more with a lighting change than with these anomalies. For a camera whose "
    "lighting is steady, calibrate with --no-threshold-shift; otherwise expect missed events",
    "quantile": "the normal frames' score overlaps the anomalies'; a lower [detect] threshold_quantile trades "
    "more false alarms for them",
    "absolute": "the given threshold lies above their scores; a lower one trades more false alarms for them",
}


def recall_warnings(recall: dict[str, Any], source: str) -> list[str]:
    """Warning lines for a threshold that catches fewer than LOW_RECALL of the pseudo-anomalies,
    or flags more than HIGH_FLAGGED of their normal frames; none for a sound one. ``source``:
    how the threshold was set, a key of MISSED_BECAUSE (the advice differs)."""
    spans, caught = int(recall.get("spans") or 0), int(recall.get("spans_caught") or 0)
    where = "drawn into the calibration's normal video" + (
        " under random lighting shifts" if recall.get("shifted") else ""
    )
    out = []
    if spans and caught < LOW_RECALL * spans:
        out.append(
            f"the threshold {recall['threshold']:.3f} catches {caught} of {spans} pseudo-anomalies {where}: "
            + MISSED_BECAUSE[source]
        )
    share = int(recall.get("normal_frames_flagged") or 0) / max(1, int(recall.get("normal_frames") or 0))
    if share > HIGH_FLAGGED:
        out.append(
            f"the threshold {recall['threshold']:.3f} flags {100 * share:.0f} % of the normal frames of the "
            f"pseudo-videos {where}"
            + (
                ": expect false alarms whenever the light changes ([detect] threshold_shift covers that)"
                if source != "shift" and recall.get("shifted")
                else ""
            )
        )
    return out


def threshold_source(cal: dict[str, Any], absolute: bool) -> str:
    """How a threshold was set: "absolute" (given), "shift" (a quantile over the calibration frames
    and their lighting-shifted copies) or "quantile" (over the plain frames)."""
    if absolute:
        return "absolute"
    return "shift" if cal.get("threshold_shift") is not None else "quantile"


def recall_text(recall: dict[str, Any]) -> str:
    """'8 of 8 pseudo-anomalies caught (object 4/4, speed 4/4), 2.4 % of their normal frames flagged'."""
    kinds = ", ".join(f"{k} {v['caught']}/{v['spans']}" for k, v in recall.get("by_kind", {}).items())
    share = recall["normal_frames_flagged"] / max(1, recall["normal_frames"])
    return (
        f"at this threshold {recall['spans_caught']} of {recall['spans']} pseudo-anomalies"
        + (" (each pseudo-video under a random lighting shift)" if recall.get("shifted") else "")
        + " are caught"
        + (f" ({kinds})" if kinds else "")
        + f", {100 * share:.1f} % of their normal frames flagged"
    )


__all__ = [
    "pseudo_recall",
    "pseudo_arrays",
    "pseudo_from_arrays",
    "recall_warnings",
    "threshold_source",
    "MISSED_BECAUSE",
    "recall_text",
    "LOW_RECALL",
    "HIGH_FLAGGED",
    "PSEUDO_PREFIX",
]
