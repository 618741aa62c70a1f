"""Opt-in re-fit of the calibration on a new camera's first frames (``[detect] refit_frames``).

The run's calibration describes normal footage of the camera it was trained on. On another
camera the statistics sit elsewhere, and no fixed threshold fits. With ``refit_frames = N``
each source's first N scored frames are assumed normal: they are scored and logged with the
run's calibration but never flagged; then the scorer fits a new state on their statistics
(same method, the run's evidence weights) and the threshold becomes the same quantile of the
streamed score over those frames, exactly as ``vadkit calibrate`` derives it. From frame N on
the source is scored with its own calibration.

The trade-off (docs/detect.md): an anomaly inside the first N frames becomes part of "normal"
for this camera, so similar events later score lower, and nothing is flagged during the fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..scoring import Scorer
from .online import StreamSettings
from .running_norm import robust_reference
from .thresholds import stream_threshold  # the very quantile rule calibration uses


class WarmupRefit:
    """Collects a source's first ``frames`` statistics, then fits its own calibration."""

    def __init__(
        self, scorer: Scorer, calibration: dict[str, Any], settings: StreamSettings, quantile: float, frames: int
    ) -> None:
        if frames < settings.smoothing + 1:
            raise ValueError(f"refit_frames must exceed smoothing ({settings.smoothing}), got {frames}")
        self.scorer, self.calibration, self.settings = scorer, calibration, settings
        self.quantile, self.frames = float(quantile), int(frames)
        self._stats: dict[str, list[float]] = {k: [] for k in scorer.stat_names}
        self.state: dict[str, Any] | None = None
        self.threshold: float | None = None
        self.stream: StreamSettings | None = None
        self.raw = np.zeros(0)

    @property
    def done(self) -> bool:
        return self.state is not None

    @property
    def collected(self) -> int:
        return len(next(iter(self._stats.values()), []))

    def add(self, stats: dict[str, np.ndarray]) -> bool:
        """Take a batch of frame statistics (in order); True when this batch completed the fit."""
        if self.done:
            return False
        for k in self._stats:
            self._stats[k].extend(np.asarray(stats[k], np.float64).ravel().tolist())
        if self.collected < self.frames:
            return False
        self._fit()
        return True

    def _fit(self) -> None:
        stats = {k: np.asarray(v, np.float64) for k, v in self._stats.items()}
        finite = np.all([np.isfinite(v) for v in stats.values()], axis=0)
        stats = {k: v[finite] for k, v in stats.items()}
        old = self.calibration["state"]
        evidence = (self.calibration.get("evidence") or {}).get("auc_pooled")
        self.state = self.scorer.fit(stats, evidence=evidence, method=old.get("method", "zscore"))
        raw = self.scorer.anomaly(stats, self.state)
        s = self.settings
        self.stream = StreamSettings(
            s.smoothing, s.running_norm, s.running_window, s.running_warmup, robust_reference(raw)
        )
        self.threshold, _ = stream_threshold(raw, np.array([0, raw.size]), self.stream, self.quantile)
        self.raw = raw

    def describe(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "done": self.done,
            "threshold": self.threshold,
            "weights": (self.state or {}).get("weights"),
        }


__all__ = ["WarmupRefit"]
