"""Scene-following normalisation of the calibrated score (``[detect] running_norm``).

The calibrated score of a normal frame moves with scene content the calibration did not see
(more people, other light, another camera): a whole stream can sit above or below the
calibration's centre, and then one fixed threshold flags all of it or none of it.
:class:`RunningNorm` re-centres and re-scales each raw score on robust statistics of the
stream itself: the median and MAD of the last ``window`` scores of frames that were *not*
flagged, combined with the calibration's statistics:

- warm-up: the first ``warmup`` frames of a stream all enter the statistics and none is
  flagged; they define the stream's normal level (the median ignores a minority of odd frames
  among them). The price: a stream that *starts* inside a long anomaly takes it as its level;
- after the warm-up, flagged frames (and frames over the threshold) never update the
  statistics, so an anomaly, however long, does not become normal;
- the scale is the calibration's unless the stream varies more: a calmer stream than the
  calibration does not become hypersensitive;
- the output stays in calibrated units (calibration centre + deviation from the stream's
  centre), so the calibrated threshold applies; a stream like the calibration maps to itself.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

MAD_TO_SD = 1.4826  # MAD of a normal distribution times this = its standard deviation


def robust_reference(raw: np.ndarray) -> dict[str, float]:
    """Centre (median) and scale (1.4826 MAD, or the std when the MAD is 0) of calibration scores."""
    raw = np.asarray(raw, np.float64)
    centre = float(np.median(raw)) if raw.size else 0.0
    scale = MAD_TO_SD * float(np.median(np.abs(raw - centre))) if raw.size else 1.0
    if scale <= 1e-9:
        scale = float(raw.std()) if raw.size else 1.0
    return {"centre": centre, "scale": max(scale, 1e-6)}


class RunningNorm:
    """Causal robust normalisation over unflagged frames; ``__call__`` then ``update`` per frame."""

    def __init__(self, centre: float, scale: float, window: int, warmup: int) -> None:
        self.centre0, self.scale0 = float(centre), max(float(scale), 1e-6)
        self.warmup = int(warmup)
        self._values: deque[float] = deque(maxlen=int(window))
        self._seen = 0

    @classmethod
    def from_calibration(cls, reference: dict[str, Any], window: int, warmup: int) -> RunningNorm:
        return cls(reference["centre"], reference["scale"], window, warmup)

    @property
    def warm(self) -> bool:
        """True once the warm-up frames are in (detection may flag only then)."""
        return self._seen >= self.warmup

    def estimate(self) -> tuple[float, float]:
        """(centre, scale) now: the stream's median, and the larger of its MAD-based spread and
        the calibration's (the calibration's centre and scale before any frame)."""
        n = len(self._values)
        if n == 0:
            return self.centre0, self.scale0
        values = np.fromiter(self._values, np.float64, n)
        med = float(np.median(values))
        mad = MAD_TO_SD * float(np.median(np.abs(values - med)))
        return med, max(self.scale0, mad)

    def __call__(self, raw: float) -> float:
        """The score of ``raw`` relative to the stream, in calibrated units."""
        centre, scale = self.estimate()
        return self.centre0 + (float(raw) - centre) * self.scale0 / scale

    def update(self, raw: float, flagged: bool) -> None:
        """Let a frame's raw score into the running statistics: every frame of the warm-up, then
        only frames not judged abnormal."""
        if not flagged or not self.warm:
            self._values.append(float(raw))
        self._seen += 1

    def reset(self) -> None:
        self._values.clear()
        self._seen = 0


__all__ = ["RunningNorm", "robust_reference", "MAD_TO_SD"]
