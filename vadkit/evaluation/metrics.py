"""Frame-level AUC, named by protocol: micro (all frames pooled, the paper's) and macro."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from ..inference import VideoScores
from ..scoring import minmax


def _auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    if labels.size == 0 or labels.min() == labels.max():
        return None
    return float(roc_auc_score(labels, scores))


def frame_auc(videos: list[VideoScores]) -> dict[str, Any]:
    """AUCs of ``score = 1 - regularity`` (higher = more anomalous) against the frame labels.

    - ``auc_micro``: all test frames pooled after per-video min-max normalisation (the
      protocol of MSTI-Net, MNAD and FFP);
    - ``auc_macro``: mean of per-video AUCs over videos holding both classes; the others are
      listed in ``macro_skipped_videos``;
    - ``auc_per_category``: for each anomaly category, its frames against all normal frames.
    """
    labelled = [v for v in videos if v.labels and min(v.labels) >= 0]
    if not labelled:
        return {"auc_micro": None, "auc_macro": None, "note": "no frame labels: AUC not computed"}
    labels = np.concatenate([np.asarray(v.labels) for v in labelled])
    scores = np.concatenate([1.0 - np.asarray(v.regularity) for v in labelled])
    per_video: dict[str, float] = {}
    skipped: list[str] = []
    for v in labelled:
        auc = _auc(np.asarray(v.labels), 1.0 - np.asarray(v.regularity))
        if auc is None:
            skipped.append(v.name)
        else:
            per_video[v.name] = auc
    result: dict[str, Any] = {
        "auc_micro": _auc(labels, scores),
        "auc_macro": float(np.mean(list(per_video.values()))) if per_video else None,
        "auc_per_video": per_video,
        "macro_skipped_videos": skipped,
        "frames_scored": int(labels.size),
        "abnormal_frames_scored": int(labels.sum()),
    }
    categories = np.concatenate([np.asarray(v.categories, dtype=object) for v in labelled])
    names = sorted({c for c in categories if c})
    if names:
        normal = labels == 0
        result["auc_per_category"] = {
            c: _auc(
                np.r_[np.zeros(normal.sum()), np.ones((categories == c).sum())],
                np.r_[scores[normal], scores[categories == c]],
            )
            for c in names
        }
    return result


def stat_auc(videos: list[VideoScores], stat: str, higher_is_normal: bool) -> float | None:
    """Diagnostic micro AUC of one statistic as the protocol sees it (smoothed in time when the
    evaluation smooths), min-max normalised per video."""
    labelled = [v for v in videos if v.labels and min(v.labels) >= 0 and stat in v.stats]
    if not labelled:
        return None
    parts = []
    for v in labelled:
        f = minmax(v.protocol_arrays()[stat])
        parts.append(1.0 - f if higher_is_normal else f)
    return _auc(np.concatenate([np.asarray(v.labels) for v in labelled]), np.concatenate(parts))
