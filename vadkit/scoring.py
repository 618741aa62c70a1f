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

The defaults of ``fit``/``anomaly`` are scale-free: each statistic becomes its tail
probability under the normal calibration frames (empirical distribution + fitted tail), and the
calibrated score is the weighted sum of the surprisals ``-log10 p``, weighted by each
statistic's measured evidence (pooled AUC on pseudo-anomalies in held-out normal video), or by
``weights()`` when there is none. Most scorers override nothing of it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .postprocess.evidence import RULE, evidence_weights
from .postprocess.tail import FEW_FRAMES, fit_tail, surprisal, tail_fraction

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

    statistics: tuple[Statistic, ...] = ()  # a class default; an instance may declare its own (options)

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
        """The scorer's own weight of each statistic (default: equal). Calibration uses them
        only when there is no measured evidence (see ``fit``)."""
        return {name: 1.0 / max(len(self.statistics), 1) for name in self.stat_names}

    def fit(
        self, stats: dict[str, np.ndarray], evidence: Mapping[str, float | None] | None = None, method: str = "tail"
    ) -> dict[str, Any]:
        """Calibration state from the statistics of normal frames (JSON-serialisable).

        Default (``method = "tail"``): each statistic, signed so larger = more anomalous, is
        modelled by its empirical distribution on these frames plus a fitted generalised Pareto
        tail (:mod:`vadkit.postprocess.tail`); ``anomaly`` is then the weighted sum of each
        statistic's surprisal ``-log10 P(X >= x)``, so no statistic can dominate through a tiny
        spread. ``evidence`` (statistic -> pooled AUC on pseudo-anomalies in held-out normal
        video) sets the weights (:mod:`vadkit.postprocess.evidence`); without it the scorer's
        ``weights()`` are used. A statistic constant on normal frames gets weight 0 and a note.
        ``method = "zscore"``: the previous release's mean / standard-deviation standardisation
        (kept to compare against)."""
        if method not in _FITS:
            raise ValueError(f"calibration method must be one of {', '.join(_FITS)}, got {method!r}")
        return _FITS[method](self, stats, evidence)

    def anomaly(self, stats: dict[str, np.ndarray], state: dict[str, Any]) -> np.ndarray:
        """Calibrated anomaly score per frame from ``fit``'s state: frame-wise, so causal.

        "tail": sum of weight * surprisal (0 = at most as unusual as the typical normal frame,
        2 = as rare as 1 normal frame in 100); "zscore": sum of weight * sign * (x - mean) / std."""
        return _ANOMALY[state.get("method", "zscore")](self, stats, state)


def _signed(scorer: Scorer, stats: Mapping[str, Any], name: str) -> np.ndarray:
    return scorer.statistic(name).anomaly_sign * np.asarray(stats[name], np.float64)


def _fit_tail(
    scorer: Scorer, stats: dict[str, np.ndarray], evidence: Mapping[str, float | None] | None
) -> dict[str, Any]:
    fitted = {s.name: fit_tail(_signed(scorer, stats, s.name)) for s in scorer.statistics}
    constant = {k: bool(v["constant"]) for k, v in fitted.items()}
    weights, source = evidence_weights(dict(evidence or {}), scorer.weights(), constant, list(fitted))
    n = min((v["n"] for v in fitted.values()), default=0)
    notes = [
        f"statistic '{k}' is constant on the {v['n']} normal frames: weight 0"
        for k, v in fitted.items()
        if v["constant"]
    ]
    if n < FEW_FRAMES:
        notes.append(
            f"only {n} normal frames: the tail of each statistic is fitted to "
            f"{max(1, round(n * tail_fraction(n)))} of them, so thresholds far out are rough "
            f"(use {FEW_FRAMES} or more)"
        )
    return {
        "method": "tail",
        "statistics": fitted,
        "weights": weights,
        "weights_source": source,
        "evidence": {k: evidence.get(k) for k in fitted} if evidence else None,
        "rule": RULE,
        "notes": notes,
    }


def _anomaly_tail(scorer: Scorer, stats: dict[str, np.ndarray], state: dict[str, Any]) -> np.ndarray:
    out: np.ndarray | None = None
    for s in scorer.statistics:
        w = float(state["weights"].get(s.name, 0.0))
        term = (
            w * surprisal(_signed(scorer, stats, s.name), state["statistics"][s.name])
            if w
            else np.zeros(np.shape(stats[s.name]))
        )
        out = term if out is None else out + term
    return np.zeros(0) if out is None else np.asarray(out, np.float64)


def _fit_zscore(
    scorer: Scorer, stats: dict[str, np.ndarray], evidence: Mapping[str, float | None] | None
) -> dict[str, Any]:
    """The previous release's default: mean and standard deviation of each statistic; one that
    does not vary gets weight 0 and the others share its weight."""
    weights = scorer.weights()
    state: dict[str, Any] = {"method": "zscore", "statistics": {}, "weights": {}}
    for s in scorer.statistics:
        values = np.asarray(stats[s.name], np.float64)
        sd = float(values.std())
        state["statistics"][s.name] = {"mean": float(values.mean()), "std": max(sd, EPS)}
        state["weights"][s.name] = float(weights.get(s.name, 0.0)) if sd >= EPS else 0.0
    total, kept = sum(weights.values()), sum(state["weights"].values())
    if kept > 0 and total > 0:
        state["weights"] = {k: v * total / kept for k, v in state["weights"].items()}
    return state


def _anomaly_zscore(scorer: Scorer, stats: dict[str, np.ndarray], state: dict[str, Any]) -> np.ndarray:
    out: np.ndarray | None = None
    for s in scorer.statistics:
        norm = state["statistics"][s.name]
        z = s.anomaly_sign * (np.asarray(stats[s.name], np.float64) - norm["mean"]) / norm["std"]
        term = state["weights"].get(s.name, 0.0) * z
        out = term if out is None else out + term
    return np.zeros(0) if out is None else np.asarray(out, np.float64)


_FITS = {"tail": _fit_tail, "zscore": _fit_zscore}
_ANOMALY = {"tail": _anomaly_tail, "zscore": _anomaly_zscore}
CALIBRATION_METHODS = tuple(_FITS)


def minmax(values: np.ndarray) -> np.ndarray:
    """Per-video min-max normalisation to [0, 1]; a constant video maps to 0."""
    values = np.asarray(values, dtype=np.float64)
    span = values.max() - values.min() if values.size else 0.0
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def as_arrays(stats: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.float64) for k, v in stats.items()}


__all__ = ["Scorer", "Statistic", "minmax", "as_arrays", "DIRECTIONS", "CALIBRATION_METHODS"]
