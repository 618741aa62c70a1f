"""Frame scores: PSNR, memory distance and the regularity score of MSTI-Net eq. 10.

Each scorer implements :class:`vadkit.scoring.Scorer`: the statistics it declares become the
columns of scores.csv, ``regularity`` is the benchmark protocol (per-video min-max, eq. 10),
and detection standardises the same statistics on normal frames and weights them like eq. 10
(``weights``: tau for PSNR, 1 - tau for the distance).

``patch = p`` (PSNR and regularity scorers) scores the worst p x p window of the error map
instead of the whole frame (``psnr_patch``), so a small abnormal object is not averaged away
by a large, well-predicted background. The paper scores the whole frame (``patch = 0``, the
default); with a patch size the whole-frame PSNR is still computed and reported beside it.

``contrast = c`` (default 16; 0 = off) adds the statistic ``contrast``: by how many dB the worst
c x c window's error exceeds the whole frame's. It is a ratio of two errors of the same frame, so
a change that moves every pixel's error alike (light, gain, a busier scene) leaves it where it
was, while a small abnormal object raises it. Detection weighs it by its evidence like any
statistic; the benchmark's regularity (eq. 10) does not use it. The default was chosen on
validation by a rule written before the run (docs/detect-validation.md, "One threshold across levels").
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from vadkit.interfaces import ModelOutput
from vadkit.scoring import Scorer, Statistic, minmax

PSNR = Statistic("psnr", "high", "PSNR (dB) of the predicted frame against the real one, on the [0, 1] scale (MNAD)")
PSNR_PATCH = Statistic("psnr_patch", "high", "PSNR (dB) of the worst p x p window of the prediction error (stride p/2)")
CONTRAST_WINDOW = 16  # pixels at the model's resolution; chosen on validation (docs/detect.md)
CONTRAST = Statistic(
    "contrast", "low", "dB by which the worst c x c window's prediction error exceeds the whole frame's"
)
DISTANCE = Statistic("distance", "low", "mean squared distance of the bottleneck queries to their nearest memory item")


def psnr(prediction: Tensor, target: Tensor, patch: int = 0) -> Tensor:
    """Per-frame PSNR (dB) of images in [-1, 1], computed on the [0, 1] scale (MNAD).

    ``patch = p > 0``: the PSNR of the p x p window (stride p / 2) with the largest mean squared
    error, i.e. the worst-predicted region of the frame."""
    return psnr_of_error(squared_error(prediction, target), patch)


def squared_error(prediction: Tensor, target: Tensor) -> Tensor:
    """(B, C, H, W) squared error on the [0, 1] scale of images in [-1, 1]."""
    return ((prediction.float() - target.float()) / 2).pow(2)


def psnr_of_error(error: Tensor, patch: int = 0) -> Tensor:
    """Per-frame PSNR (dB) from a squared-error map: whole frame, or its worst p x p window."""
    if patch > 0:
        stride = max(patch // 2, 1)
        mse = F.avg_pool2d(error.mean(dim=1, keepdim=True), patch, stride).flatten(1).amax(dim=1)
    else:
        mse = error.flatten(1).mean(dim=1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))


def check_patch(patch: int, key: str = "patch") -> int:
    if not isinstance(patch, int) or isinstance(patch, bool) or patch < 0:
        raise ValueError(f"{key} must be a whole number of pixels >= 0 (0 = off: the whole frame), got {patch!r}")
    return patch


def local_contrast(error: Tensor, window: int, whole: Tensor | None = None) -> Tensor:
    """Per-frame dB of the worst ``window`` x ``window`` mean error over the whole frame's mean
    error (>= 0): how far the worst region stands out of its own frame. A window larger than
    the frame shrinks to it (contrast 0). ``whole``: the frame's PSNR when already computed."""
    whole = psnr_of_error(error) if whole is None else whole
    return whole - psnr_of_error(error, min(window, *error.shape[-2:]))


class _PSNRTerm:
    """The PSNR statistic a scorer's regularity uses: whole-frame, or the worst patch plus the
    whole-frame value as a diagnostic; optionally the local contrast beside them."""

    patch: int = 0
    contrast: int = 0

    def psnr_statistics(self) -> tuple[Statistic, ...]:
        """The PSNR-side statistics these options declare, in column order."""
        local = (CONTRAST,) if self.contrast else ()
        return ((PSNR_PATCH, PSNR) if self.patch else (PSNR,)) + local

    @property
    def psnr_key(self) -> str:
        return "psnr_patch" if self.patch else "psnr"

    def psnr_stats(self, output: ModelOutput, target: Tensor) -> dict[str, Tensor]:
        error = squared_error(output.prediction, target)  # once, for every statistic
        out = {"psnr": psnr_of_error(error)}
        if self.patch:
            out = {"psnr_patch": psnr_of_error(error, self.patch), **out}
        if self.contrast == self.patch and self.patch:  # the worst window is already measured
            out["contrast"] = out["psnr"] - out["psnr_patch"]
        elif self.contrast:
            out["contrast"] = local_contrast(error, self.contrast, whole=out["psnr"])
        return out

    def psnr_protocol(self) -> str:
        return f"PSNR of the worst {self.patch}x{self.patch} window" if self.patch else "PSNR"


class PSNRScorer(_PSNRTerm, Scorer):
    """Regularity = f(PSNR): a well-predicted frame is normal."""

    statistics: tuple[Statistic, ...] = (PSNR,)

    def __init__(self, patch: int = 0, contrast: int = CONTRAST_WINDOW) -> None:
        self.patch = check_patch(patch)
        self.contrast = check_patch(contrast, "contrast")
        self.statistics = self.psnr_statistics()

    def stats(self, output: ModelOutput, target: Tensor) -> dict[str, Tensor]:
        return self.psnr_stats(output, target)

    def regularity(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        return minmax(stats[self.psnr_key])

    def weights(self) -> dict[str, float]:
        return {self.psnr_key: 1.0}

    def protocol(self) -> str:
        return f"regularity = f({self.psnr_protocol()}), f = min-max per test video; score = 1 - regularity"


class MemoryDistanceScorer(Scorer):
    """Regularity = 1 - f(D(q, p)): queries far from every memory item are abnormal."""

    statistics: tuple[Statistic, ...] = (DISTANCE,)

    def stats(self, output: ModelOutput, target: Tensor) -> dict[str, Tensor]:
        return {"distance": output.memory.distance.float()}

    def regularity(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        return 1.0 - minmax(stats["distance"])

    def protocol(self) -> str:
        return "regularity = 1 - f(D), D = mean query-to-nearest-item distance, f = min-max per test video"


class RegularityScorer(_PSNRTerm, Scorer):
    """R_t = 1 - tau (1 - f(PSNR)) - (1 - tau) f(D(q, p)), f = per-video min-max (eq. 10)."""

    statistics: tuple[Statistic, ...] = (PSNR, DISTANCE)

    def __init__(self, tau: float = 0.7, patch: int = 0, contrast: int = CONTRAST_WINDOW) -> None:
        if not 0.0 <= tau <= 1.0:
            raise ValueError(f"tau must be in [0, 1], got {tau}")
        self.tau = float(tau)
        self.patch = check_patch(patch)
        self.contrast = check_patch(contrast, "contrast")
        self.statistics = (*self.psnr_statistics(), DISTANCE)

    def stats(self, output: ModelOutput, target: Tensor) -> dict[str, Tensor]:
        return {**self.psnr_stats(output, target), "distance": output.memory.distance.float()}

    def regularity(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        term = minmax(stats[self.psnr_key])
        return 1.0 - self.tau * (1.0 - term) - (1.0 - self.tau) * minmax(stats["distance"])

    def weights(self) -> dict[str, float]:
        return {self.psnr_key: self.tau, "distance": 1.0 - self.tau}

    def protocol(self) -> str:
        return (
            f"MSTI-Net eq. 10: R_t = 1 - tau(1 - f(P)) - (1 - tau) f(D), P = {self.psnr_protocol()}, "
            f"tau = {self.tau:g}, f = min-max per test video; score = 1 - R_t"
        )
