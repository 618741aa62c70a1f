"""Label-free scores: raw statistics -> a score in units of normal variation, smoothed.

Per-video min-max (the benchmark protocol) needs the whole video. Detection instead
standardises each statistic with its mean and standard deviation on normal (training) data
and combines them with the scorer's weights (MSTI-Net eq. 10: tau for PSNR, 1 - tau for the
memory distance):

    score_raw = w_psnr (mu_psnr - psnr) / sd_psnr + w_dist (distance - mu_dist) / sd_dist

so 0 is a typical normal frame and 3 is three normal standard deviations more anomalous.
A causal moving average over ``smoothing`` frames gives the reported score.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

EPS = 1e-8


def scorer_weights(scorer: Any) -> tuple[float, float]:
    """(w_psnr, w_distance) of a scorer: eq. 10's tau, or all weight on the statistic it uses."""
    names = tuple(getattr(scorer, "stat_names", ()))
    if hasattr(scorer, "tau"):
        return float(scorer.tau), 1.0 - float(scorer.tau)
    if names == ("psnr",):
        return 1.0, 0.0
    if names == ("distance",):
        return 0.0, 1.0
    return 0.7, 0.3


@dataclass
class Normaliser:
    """Standardises PSNR and distance with normal-data statistics and combines them."""

    psnr_mean: float
    psnr_std: float
    distance_mean: float
    distance_std: float
    w_psnr: float
    w_distance: float

    @classmethod
    def fit(cls, psnr: np.ndarray, distance: np.ndarray, weights: tuple[float, float]) -> Normaliser:
        """Statistics of normal frames; a constant statistic (e.g. no memory) gets weight 0."""
        psnr, distance = np.asarray(psnr, np.float64), np.asarray(distance, np.float64)
        w_p, w_d = weights
        sd_p, sd_d = float(psnr.std()), float(distance.std())
        if sd_d < EPS:
            w_p, w_d = (1.0 if w_p + w_d > 0 else 0.0), 0.0
        if sd_p < EPS:
            w_p, w_d = 0.0, (1.0 if sd_d >= EPS else 0.0)
        return cls(float(psnr.mean()), max(sd_p, EPS), float(distance.mean()), max(sd_d, EPS), w_p, w_d)

    def __call__(self, psnr: np.ndarray | float, distance: np.ndarray | float) -> np.ndarray:
        p = (self.psnr_mean - np.asarray(psnr, np.float64)) / self.psnr_std
        d = (np.asarray(distance, np.float64) - self.distance_mean) / self.distance_std
        return self.w_psnr * p + self.w_distance * d

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


class Smoother:
    """Causal moving average over the last ``window`` scores (no look-ahead: live-safe)."""

    def __init__(self, window: int) -> None:
        self.window = int(window)
        self._values: deque[float] = deque(maxlen=self.window)

    def __call__(self, value: float) -> float:
        self._values.append(float(value))
        return float(sum(self._values) / len(self._values))

    def reset(self) -> None:
        self._values.clear()


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """The :class:`Smoother` over a whole array (used on calibration videos)."""
    values = np.asarray(values, np.float64)
    if window <= 1 or values.size == 0:
        return values.copy()
    csum = np.cumsum(np.r_[0.0, values])
    idx = np.arange(1, values.size + 1)
    lo = np.maximum(0, idx - window)
    return (csum[idx] - csum[lo]) / (idx - lo)
