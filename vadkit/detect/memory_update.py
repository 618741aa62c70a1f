"""Test-time memory update (MNAD): in stream order, after each frame is scored, the memory learns
from the frames a rule calls normal. Off by default (``[eval] memory_update``, ``[detect]
memory_update``); the rule is ``memory_update_rule``:

- ``"calibrated"``: frames whose calibrated score is below the calibration threshold, so an
  anomaly never becomes a prototype (needs calibration.json);
- ``"point_score"``: MNAD's own rule (``Evaluate.py``: ``point_score(outputs, imgs) < args.th``),
  frames whose error-weighted squared error on images in [0, 1] is below a fixed threshold
  (MNAD's 0.01); needs no calibration.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from ..interfaces import ModelOutput
from ..scoring import Scorer


class MemoryUpdater(Protocol):
    """Called after each forward pass with the model output, the target frames and the scorer's statistics."""

    def __call__(self, output: ModelOutput, target: Tensor, stats: dict[str, np.ndarray]) -> int: ...

    def summary(self) -> dict[str, Any]: ...


class _Updater:
    """Shared bookkeeping: hand the selected frames to ``model.update_memory`` and count them."""

    rule = ""

    def __init__(self, model: Any, threshold: float) -> None:
        if not hasattr(model, "update_memory"):
            raise TypeError(f"{type(model).__name__} has no update_memory(); test-time memory update needs one")
        self.model, self.threshold = model, float(threshold)
        self.frames_used = 0
        self.frames_seen = 0

    def select(self, output: ModelOutput, target: Tensor, stats: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, output: ModelOutput, target: Tensor, stats: dict[str, np.ndarray]) -> int:
        normal = np.asarray(self.select(output, target, stats), dtype=bool)
        mask = torch.from_numpy(normal).to(output.prediction.device)
        used = int(self.model.update_memory(output, mask))
        self.frames_used += used
        self.frames_seen += int(normal.size)
        return used

    def summary(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "threshold": self.threshold,
            "frames_seen": self.frames_seen,
            "frames_used": self.frames_used,
        }


class NormalFrameUpdater(_Updater):
    """The calibrated rule: frames whose calibrated score (``Scorer.anomaly``) is below ``threshold``."""

    rule = "calibrated: update with frames whose calibrated score < threshold, in stream order"

    def __init__(self, model: Any, scorer: Scorer, state: dict[str, Any], threshold: float) -> None:
        super().__init__(model, threshold)
        self.scorer, self.state = scorer, state

    def select(self, output: ModelOutput, target: Tensor, stats: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self.scorer.anomaly(stats, self.state) < self.threshold)


class PointScoreUpdater(_Updater):
    """MNAD's rule: frames whose :func:`point_score` is below ``threshold`` (MNAD's ``--th``, 0.01)."""

    rule = "point_score: update with frames whose error-weighted squared error (images in [0, 1]) < threshold"

    def select(self, output: ModelOutput, target: Tensor, stats: dict[str, np.ndarray]) -> np.ndarray:
        return point_score(output.prediction, target).cpu().numpy() < self.threshold


def point_score(prediction: Tensor, target: Tensor) -> Tensor:
    """MNAD's ``point_score`` per frame: e = squared error of the images mapped from [-1, 1] to
    [0, 1], weighted by 1 - exp(-e): sum(w e) / sum(w) over pixels and channels. A perfect
    prediction (all weights 0) scores 0. prediction, target: (B, C, H, W); returns (B,).
    The weight is computed as -expm1(-e), exact where float32's 1 - exp(-e) rounds small e away."""
    err = ((prediction.float() - target.float()) / 2).pow(2).flatten(1)
    weight = -torch.expm1(-err)
    total = weight.sum(dim=1)
    return torch.where(total > 0, (weight * err).sum(dim=1) / total.clamp_min(1e-30), torch.zeros_like(total))


def raw_threshold(calibration: dict[str, Any]) -> float:
    """The update's threshold in units of the raw calibrated score (``Scorer.anomaly``, before
    any running normalisation or smoothing): its ``threshold_quantile`` on the normal frames."""
    q = f"{calibration['threshold_quantile']:g}"
    quantiles = calibration.get("score_raw", {}).get("quantiles", {})
    return float(quantiles[q]) if q in quantiles else float(calibration["threshold"])


def make_updater(
    model: Any, scorer: Scorer, cfg: Any, calibration: dict[str, Any] | None, state: dict[str, Any] | None = None
) -> MemoryUpdater:
    """The updater ``cfg.memory_update_rule`` names (``cfg``: an [eval] or [detect] section).
    The calibrated rule needs ``calibration`` (and uses its ``state`` unless one is given)."""
    if cfg.memory_update_rule == "point_score":
        return PointScoreUpdater(model, cfg.memory_update_point_score)
    if calibration is None:
        raise ValueError("memory_update_rule = calibrated needs the run's calibration.json")
    return NormalFrameUpdater(
        model, scorer, state if state is not None else calibration["state"], raw_threshold(calibration)
    )


__all__ = ["MemoryUpdater", "NormalFrameUpdater", "PointScoreUpdater", "make_updater", "point_score", "raw_threshold"]
