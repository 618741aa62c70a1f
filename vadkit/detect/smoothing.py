"""Smoothing of the calibrated per-frame score.

The scorer turns a frame's statistics into a calibrated anomaly score (``Scorer.anomaly``: 0 is
a typical normal frame, units of normal variation); detection reports its causal moving
average over ``smoothing`` frames, computed the same way live and on calibration videos. The
first ``smoothing - 1`` averages of a stream cover fewer frames; they are reported but never
flagged (see ``online.py``).
"""

from __future__ import annotations

from collections import deque

import numpy as np


class Smoother:
    """Causal moving average over the last ``window`` scores (no look-ahead: live-safe)."""

    def __init__(self, window: int) -> None:
        self.window = int(window)
        self._values: deque[float] = deque(maxlen=self.window)

    def __call__(self, value: float) -> float:
        self._values.append(float(value))
        return float(sum(self._values) / len(self._values))

    @property
    def full(self) -> bool:
        """True once the window holds ``window`` scores (detection flags only then)."""
        return len(self._values) >= self.window

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
