"""The scorer contract: how a model's output becomes per-frame statistics and scores.

A scorer plugin owns everything about what makes a frame anomalous; the core only calls it.
It declares its per-frame :class:`Statistic` s (name, which direction is normal) and answers
three questions, each used by one part of the core:

- ``stats(output, target)``: the statistics of a batch of frames (eval, calibration, detect);
- ``regularity(stats)``: the benchmark protocol, offline, on one whole video at a time:
  a regularity in [0, 1] (1 = normal) that may normalise per video (``vadkit eval``);
- ``fit(stats)`` + ``anomaly(stats, state)``: streaming detection, causal and label-free:
  ``fit`` learns a JSON-serialisable state from normal frames (calibration), ``anomaly``
  turns one frame's statistics into a score in units of normal variation (0 = a typical
  normal frame, higher = more anomalous) using only that state (``vadkit detect``).

The defaults of ``fit``/``anomaly`` standardise each statistic with its mean and standard
deviation on normal frames, sign it so that higher means more anomalous, and take the
weighted sum with ``weights()``; most scorers only override ``weights``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:  # torch is only needed by implementations, not to read the contract
    from torch import Tensor

    from .interfaces import ModelOutput

DIRECTIONS = ("high", "low")
EPS = 1e-8


@dataclass(frozen=True)
class Statistic:
    """One per-frame statistic a scorer computes. ``normal``: "high" when large values are
    normal (e.g. PSNR), "low" when small values are (e.g. a distance or an error)."""

    name: str
    normal: str
    description: str = ""

    def __post_init__(self) -> None:
        if self.normal not in DIRECTIONS:
            raise ValueError(f"statistic '{self.name}': normal must be 'high' or 'low', got {self.normal!r}")

    @property
    def anomaly_sign(self) -> float:
        """+1 when larger values are more anomalous, -1 when smaller ones are."""
        return -1.0 if self.normal == "high" else 1.0


class Scorer(ABC):
    """Per-frame statistics -> benchmark regularity (offline) and calibrated anomaly (streaming)."""

    statistics: ClassVar[tuple[Statistic, ...]] = ()

    @property
    def stat_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.statistics)

    def statistic(self, name: str) -> Statistic:
        for s in self.statistics:
            if s.name == name:
                return s
        raise KeyError(f"{type(self).__name__} has no statistic '{name}' (it has {', '.join(self.stat_names)})")

    @abstractmethod
    def stats(self, output: ModelOutput, target: Tensor) -> dict[str, Tensor]:
        """Per-frame statistics of a batch: one (B,) tensor per declared statistic."""

    @abstractmethod
    def regularity(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        """The benchmark protocol on one whole video (arrays of its frames, in order):
        regularity in [0, 1] per frame, 1 = normal. May normalise over the video."""

    @abstractmethod
    def protocol(self) -> str:
        """One paragraph saying how ``regularity`` is formed (written to metrics.json)."""

    def weights(self) -> dict[str, float]:
        """Weight of each statistic in the calibrated score (default: equal)."""
        return {name: 1.0 / max(len(self.statistics), 1) for name in self.stat_names}

    def fit(self, stats: dict[str, np.ndarray]) -> dict[str, Any]:
        """Calibration state from the statistics of normal frames (JSON-serialisable).

        Default: mean and standard deviation of each statistic; a statistic that does not vary
        on normal data (e.g. the distance of a model without memory) gets weight 0 and the
        others share its weight."""
        weights = self.weights()
        state: dict[str, Any] = {"statistics": {}, "weights": {}}
        for s in self.statistics:
            values = np.asarray(stats[s.name], np.float64)
            sd = float(values.std())
            state["statistics"][s.name] = {"mean": float(values.mean()), "std": max(sd, EPS)}
            state["weights"][s.name] = float(weights.get(s.name, 0.0)) if sd >= EPS else 0.0
        total, kept = sum(weights.values()), sum(state["weights"].values())
        if kept > 0 and total > 0:
            state["weights"] = {k: v * total / kept for k, v in state["weights"].items()}
        return state

    def anomaly(self, stats: dict[str, np.ndarray], state: dict[str, Any]) -> np.ndarray:
        """Calibrated anomaly score per frame from ``fit``'s state: frame-wise, so causal.

        Default: sum of weight * sign * (x - mean) / std over the statistics."""
        out: np.ndarray | None = None
        for s in self.statistics:
            norm = state["statistics"][s.name]
            z = s.anomaly_sign * (np.asarray(stats[s.name], np.float64) - norm["mean"]) / norm["std"]
            term = state["weights"].get(s.name, 0.0) * z
            out = term if out is None else out + term
        return np.zeros(0) if out is None else np.asarray(out, np.float64)


def minmax(values: np.ndarray) -> np.ndarray:
    """Per-video min-max normalisation to [0, 1]; a constant video maps to 0."""
    values = np.asarray(values, dtype=np.float64)
    span = values.max() - values.min() if values.size else 0.0
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def as_arrays(stats: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.float64) for k, v in stats.items()}


__all__ = ["Scorer", "Statistic", "minmax", "as_arrays", "DIRECTIONS"]
