"""Frame scores: PSNR, memory distance and the regularity score of MSTI-Net eq. 10.

Each scorer implements :class:`vadkit.scoring.Scorer`: the statistics it declares become the
columns of scores.csv, ``regularity`` is the benchmark protocol (per-video min-max, eq. 10),
and detection standardises the same statistics on normal frames and weights them like eq. 10
(``weights``: tau for PSNR, 1 - tau for the distance).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from vadkit.interfaces import ModelOutput
from vadkit.scoring import Scorer, Statistic, minmax

PSNR = Statistic("psnr", "high", "PSNR (dB) of the predicted frame against the real one, on the [0, 1] scale (MNAD)")
DISTANCE = Statistic("distance", "low", "mean squared distance of the bottleneck queries to their nearest memory item")


def psnr(prediction: Tensor, target: Tensor) -> Tensor:
    """Per-frame PSNR (dB) of images in [-1, 1], computed on the [0, 1] scale (MNAD)."""
    mse = ((prediction.float() - target.float()) / 2).pow(2).flatten(1).mean(dim=1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))


class PSNRScorer(Scorer):
    """Regularity = f(PSNR): a well-predicted frame is normal."""

    statistics = (PSNR,)

    def stats(self, output: ModelOutput, target: Tensor) -> dict[str, Tensor]:
        return {"psnr": psnr(output.prediction, target)}

    def regularity(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        return minmax(stats["psnr"])

    def protocol(self) -> str:
        return "regularity = f(PSNR), f = min-max per test video; score = 1 - regularity"


class MemoryDistanceScorer(Scorer):
    """Regularity = 1 - f(D(q, p)): queries far from every memory item are abnormal."""

    statistics = (DISTANCE,)

    def stats(self, output: ModelOutput, target: Tensor) -> dict[str, Tensor]:
        return {"distance": output.memory.distance.float()}

    def regularity(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        return 1.0 - minmax(stats["distance"])

    def protocol(self) -> str:
        return "regularity = 1 - f(D), D = mean query-to-nearest-item distance, f = min-max per test video"


class RegularityScorer(Scorer):
    """R_t = 1 - tau (1 - f(PSNR)) - (1 - tau) f(D(q, p)), f = per-video min-max (eq. 10)."""

    statistics = (PSNR, DISTANCE)

    def __init__(self, tau: float = 0.7) -> None:
        if not 0.0 <= tau <= 1.0:
            raise ValueError(f"tau must be in [0, 1], got {tau}")
        self.tau = float(tau)

    def stats(self, output: ModelOutput, target: Tensor) -> dict[str, Tensor]:
        return {"psnr": psnr(output.prediction, target), "distance": output.memory.distance.float()}

    def regularity(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        return 1.0 - self.tau * (1.0 - minmax(stats["psnr"])) - (1.0 - self.tau) * minmax(stats["distance"])

    def weights(self) -> dict[str, float]:
        return {"psnr": self.tau, "distance": 1.0 - self.tau}

    def protocol(self) -> str:
        return (f"MSTI-Net eq. 10: R_t = 1 - tau(1 - f(PSNR)) - (1 - tau) f(D), tau = {self.tau:g}, "
                "f = min-max per test video; score = 1 - R_t")
