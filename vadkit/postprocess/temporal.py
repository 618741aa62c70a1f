"""Optional temporal smoothing of per-frame statistics before the benchmark protocol.

Anomalies in surveillance video last many frames, while a prediction network's error jumps on
single frames (a hard-to-predict crowd, a compression artefact). Under per-video min-max one
such frame sets the video's range and squeezes every other frame into a corner of it, so many
VAD papers low-pass the frame scores in time first. ``[eval] temporal_sigma`` applies a
Gaussian filter of that standard deviation (in frames) to each statistic along each video,
before the scorer's per-video normalisation; 0 (the default) is the paper's unsmoothed
protocol. The filter is centred, so it needs the whole video: it is part of the offline
protocol (``vadkit eval``, ``vadkit validate``), not of causal detection, which has its own
trailing window (``[detect] smoothing``).
"""

from __future__ import annotations

import math

import numpy as np


def gaussian_kernel(sigma: float) -> np.ndarray:
    """Normalised Gaussian weights over ``[-ceil(3 sigma), ceil(3 sigma)]`` frames."""
    radius = max(int(math.ceil(3.0 * sigma)), 1)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (x / sigma) ** 2)
    return weights / weights.sum()


def smooth_series(values: np.ndarray, sigma: float) -> np.ndarray:
    """``values`` filtered along time; the ends repeat the first and last frame ("nearest")."""
    values = np.asarray(values, dtype=np.float64)
    if sigma <= 0 or values.size == 0:
        return values
    kernel = gaussian_kernel(sigma)
    radius = kernel.size // 2
    padded = np.pad(values, radius, mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def smooth_stats(stats: dict[str, np.ndarray], sigma: float) -> dict[str, np.ndarray]:
    """Every statistic of one video smoothed with the same filter."""
    return {name: smooth_series(values, sigma) for name, values in stats.items()}


__all__ = ["gaussian_kernel", "smooth_series", "smooth_stats"]
