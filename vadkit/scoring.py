"""Frame statistics and score normalisation shared by scorers, evaluation and detection."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def minmax(values: np.ndarray) -> np.ndarray:
    """Per-video min-max normalisation to [0, 1]; a constant video maps to 0."""
    values = np.asarray(values, dtype=np.float64)
    span = values.max() - values.min() if values.size else 0.0
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def psnr(prediction: Tensor, target: Tensor) -> Tensor:
    """Per-frame PSNR (dB) of images in [-1, 1], computed on the [0, 1] scale (MNAD)."""
    mse = ((prediction.float() - target.float()) / 2).pow(2).flatten(1).mean(dim=1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))
