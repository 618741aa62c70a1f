"""How much say each statistic gets in the calibrated score: its measured evidence.

Evidence is the pooled AUC of a statistic alone (all frames of all videos together, no
per-video normalisation, signed so that larger = more anomalous) on labelled frames that are
not the test split: ``vadkit validate``'s pseudo-anomalies drawn into the held-out normal
training videos. The rule, fixed before any measurement with it:

    weight_s = max(AUC_s - 0.5, 0) / sum over statistics of the same

so a statistic at chance (or worse) gets no say and the rest share it in proportion to how far
above chance each ranks frames. A statistic constant on normal frames gets weight 0. When no
evidence exists (nothing held out) or every statistic is at chance, the scorer's own declared
weights (``Scorer.weights()``) are used, and the state says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

RULE = "weight = max(pooled pseudo-anomaly AUC - 0.5, 0), normalised to sum 1"


def pooled_auc(values: np.ndarray, labels: np.ndarray) -> float | None:
    """AUC of ``values`` (larger = more anomalous) against 0/1 ``labels``; None when undefined.

    Ties count one half (the Mann-Whitney statistic), NaN values are left out."""
    v, y = np.asarray(values, np.float64), np.asarray(labels).astype(bool)
    keep = np.isfinite(v)
    v, y = v[keep], y[keep]
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return None
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(v.size, np.float64)
    sv = v[order]
    # average ranks over ties
    edges = np.r_[0, np.flatnonzero(np.diff(sv)) + 1, sv.size]
    for a, b in zip(edges[:-1], edges[1:]):
        ranks[order[a:b]] = 0.5 * (a + b - 1) + 1.0
    return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def evidence_weights(
    aucs: Mapping[str, float | None],
    prior: Mapping[str, float],
    constant: Mapping[str, bool],
    names: Sequence[str] | None = None,
) -> tuple[dict[str, float], str]:
    """(weights, source) for the statistics ``names`` (default: ``prior``'s) from their AUCs;
    ``prior`` (missing = 0) when there is no usable evidence."""
    names = list(names) if names is not None else list(prior)
    raw = {k: max((aucs.get(k) or 0.5) - 0.5, 0.0) if not constant.get(k) else 0.0 for k in names}
    total = sum(raw.values())
    if aucs and total > 0:
        return {k: v / total for k, v in raw.items()}, "evidence"
    kept = {k: (0.0 if constant.get(k) else float(prior.get(k, 0.0))) for k in names}
    total = sum(kept.values())
    if total <= 0:
        live = [k for k in names if not constant.get(k)]
        return {k: (1.0 / len(live) if k in live else 0.0) for k in names}, "equal"
    source = "scorer weights (no evidence)" if not aucs else "scorer weights (every statistic at chance)"
    return {k: v / total for k, v in kept.items()}, source


__all__ = ["pooled_auc", "evidence_weights", "RULE"]
