"""Frame scores: PSNR, memory distance and the regularity score of MSTI-Net eq. 10."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from vadkit.interfaces import ModelOutput, Scorer
from vadkit.scoring import minmax, psnr


class PSNRScorer(Scorer):
    """Regularity = f(PSNR): a well-predicted frame is normal."""

    stat_names = ("psnr",)

    def stats(self, output: ModelOutput, target: Tensor) -> dict[str, Tensor]:
        return {"psnr": psnr(output.prediction, target)}

    def combine(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        return minmax(stats["psnr"])


class MemoryDistanceScorer(Scorer):
    """Regularity = 1 - f(D(q, p)): queries far from every memory item are abnormal."""

    stat_names = ("distance",)

    def stats(self, output: ModelOutput, target: Tensor) -> dict[str, Tensor]:
        return {"distance": output.memory.distance.float()}

    def combine(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        return 1.0 - minmax(stats["distance"])


class RegularityScorer(Scorer):
    """R_t = 1 - tau (1 - f(PSNR)) - (1 - tau) f(D(q, p)), f = per-video min-max (eq. 10)."""

    stat_names = ("psnr", "distance")

    def __init__(self, tau: float = 0.7) -> None:
        if not 0.0 <= tau <= 1.0:
            raise ValueError(f"tau must be in [0, 1], got {tau}")
        self.tau = float(tau)

    def stats(self, output: ModelOutput, target: Tensor) -> dict[str, Tensor]:
        return {"psnr": psnr(output.prediction, target), "distance": output.memory.distance.float()}

    def combine(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        return 1.0 - self.tau * (1.0 - minmax(stats["psnr"])) - (1.0 - self.tau) * minmax(stats["distance"])
