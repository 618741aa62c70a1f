"""Test-time memory update, MNAD's rule: in stream order, a memory learns only from frames the
calibrated score calls normal (below the calibration threshold), so an anomaly never becomes
a prototype. Off by default (``[eval] memory_update``, ``[detect] memory_update``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..interfaces import ModelOutput
from ..scoring import Scorer


class NormalFrameUpdater:
    """Called after each forward pass with the model output and the scorer's statistics."""

    def __init__(self, model: Any, scorer: Scorer, state: dict[str, Any], threshold: float) -> None:
        if not hasattr(model, "update_memory"):
            raise TypeError(f"{type(model).__name__} has no update_memory(); test-time memory update needs one")
        self.model, self.scorer, self.state, self.threshold = model, scorer, state, float(threshold)
        self.frames_used = 0
        self.frames_seen = 0

    def __call__(self, output: ModelOutput, stats: dict[str, np.ndarray]) -> int:
        normal = self.scorer.anomaly(stats, self.state) < self.threshold
        mask = torch.from_numpy(np.asarray(normal, dtype=bool)).to(output.prediction.device)
        used = int(self.model.update_memory(output, mask))
        self.frames_used += used
        self.frames_seen += int(normal.size)
        return used

    def summary(self) -> dict[str, Any]:
        return {
            "rule": "MNAD: update with frames whose calibrated score < threshold, in stream order",
            "threshold": self.threshold,
            "frames_seen": self.frames_seen,
            "frames_used": self.frames_used,
        }


def raw_threshold(calibration: dict[str, Any]) -> float:
    """The update's threshold in units of the raw calibrated score (``Scorer.anomaly``, before
    any running normalisation or smoothing): its ``threshold_quantile`` on the normal frames."""
    q = f"{calibration['threshold_quantile']:g}"
    quantiles = calibration.get("score_raw", {}).get("quantiles", {})
    return float(quantiles[q]) if q in quantiles else float(calibration["threshold"])


__all__ = ["NormalFrameUpdater", "raw_threshold"]
