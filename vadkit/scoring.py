"""Score normalisation shared by scorers, evaluation and detection."""

from __future__ import annotations

import numpy as np


def minmax(values: np.ndarray) -> np.ndarray:
    """Per-video min-max normalisation to [0, 1]; a constant video maps to 0."""
    values = np.asarray(values, dtype=np.float64)
    span = values.max() - values.min() if values.size else 0.0
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)
