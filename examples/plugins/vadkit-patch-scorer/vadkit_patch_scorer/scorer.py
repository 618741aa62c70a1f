"""A scorer that looks where the prediction is worst, not at the frame average.

A small anomaly (a bicycle in a wide walkway view) moves the whole-frame PSNR little, because
most pixels are still predicted well. This scorer reports two statistics per frame:

- ``patch_error``: the mean squared error of the worst ``patch`` x ``patch`` block
  (on the [0, 1] scale), normal = low;
- ``mean_error``: the whole-frame mean squared error, normal = low;

and combines them with weight ``alpha`` on the patch. It only implements the contract in
:mod:`vadkit.scoring`; evaluation, calibration and detection call it the same way they call
the built-in scorers.
"""

from __future__ import annotations

import numpy as np
import torch.nn.functional as F
from torch import Tensor

from vadkit.interfaces import ModelOutput
from vadkit.scoring import Scorer, Statistic, minmax


class PatchErrorScorer(Scorer):
    """Regularity = 1 - (alpha f(patch_error) + (1 - alpha) f(mean_error)), f = per-video min-max."""

    statistics = (
        Statistic("patch_error", "low", "mean squared error of the worst-predicted patch ([0, 1] scale)"),
        Statistic("mean_error", "low", "mean squared error of the whole predicted frame ([0, 1] scale)"),
    )

    def __init__(self, patch: int = 8, alpha: float = 0.8) -> None:
        if patch < 1:
            raise ValueError(f"patch must be >= 1 pixel, got {patch}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.patch, self.alpha = int(patch), float(alpha)

    def stats(self, output: ModelOutput, target: Tensor) -> dict[str, Tensor]:
        error = ((output.prediction.float() - target.float()) / 2).pow(2).mean(dim=1, keepdim=True)  # (B, 1, H, W)
        k = min(self.patch, error.shape[-2], error.shape[-1])
        blocks = F.avg_pool2d(error, kernel_size=k, stride=k)
        return {"patch_error": blocks.flatten(1).amax(dim=1), "mean_error": error.flatten(1).mean(dim=1)}

    def regularity(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        return 1.0 - self.alpha * minmax(stats["patch_error"]) - (1.0 - self.alpha) * minmax(stats["mean_error"])

    def weights(self) -> dict[str, float]:
        return {"patch_error": self.alpha, "mean_error": 1.0 - self.alpha}

    def protocol(self) -> str:
        return (f"regularity = 1 - {self.alpha:g} f(worst {self.patch}x{self.patch} patch MSE) - "
                f"{1 - self.alpha:g} f(frame MSE), f = min-max per test video; score = 1 - regularity")
