"""The calibration threshold's rule: a quantile of the streamed normal score, each video streamed
on its own exactly as detection streams a source (smoothing, optional running normalisation,
start-up rule). Shared by calibration, its operating points, serve's per-camera thresholds and
detection's warm-up re-fit."""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .online import StreamSettings, flaggable, stream_scores


def threshold_of(smoothed: np.ndarray, quantile: float) -> float:
    return float(np.quantile(np.asarray(smoothed, np.float64), quantile))


def video_scores(raw: np.ndarray, offsets: np.ndarray, settings: StreamSettings, threshold: float) -> np.ndarray:
    """Detection scores of the calibration frames that may be flagged (smoothing window full,
    warm-up over), each video streamed on its own exactly as detection streams a source. When
    every calibration video is shorter than the running warm-up, the frames whose smoothing
    window is full stand in (short calibration videos still give a threshold)."""
    streamed = [(stream_scores(raw[a:b], settings, threshold)[0], b - a) for a, b in zip(offsets[:-1], offsets[1:])]
    parts = [s[flaggable(n, settings)] for s, n in streamed]
    if not any(p.size for p in parts):
        parts = [s[np.arange(n) >= settings.smoothing - 1] for s, n in streamed]
    return np.concatenate(parts) if parts else np.zeros(0)


def stream_threshold(
    raw: np.ndarray, offsets: np.ndarray, settings: StreamSettings, quantile: float
) -> tuple[float, np.ndarray]:
    """(threshold, full-window scores): the ``quantile`` of the streamed normal score.

    With the running normalisation the scores depend on the threshold (flagged frames do not
    update it), so the quantile is iterated to a fixed point (two rounds settle it)."""
    threshold = float("inf")
    for _ in range(3 if settings.running_norm else 1):
        scores = video_scores(raw, offsets, settings, threshold)
        if scores.size == 0:
            raise DataError(f"no calibration video is longer than the smoothing window ({settings.smoothing} frames)")
        threshold = threshold_of(scores, quantile)
    return threshold, scores


__all__ = ["threshold_of", "video_scores", "stream_threshold"]
