"""Operating points without labels: for a few threshold quantiles, what the threshold would be,
how many held-out normal frames (plain and under lighting shifts) it flags, and how many of the
calibration's pseudo-anomalies it catches (vadkit/detect/pseudo_recall.py).

One quantile is a guess about a camera; the table shows the trade-off it sits on, so a
deployer can move ``[detect] threshold_quantile`` knowingly instead of by trial on live alerts.
Stored in calibration.json (``operating_points``); ``vadkit calibrate --operating-points``
prints it and ``vadkit report`` shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from rich.table import Table

from ..config import DetectConfig
from ..inference import VideoScores
from ..scoring import Scorer
from .online import StreamSettings
from .pseudo_recall import pseudo_recall
from .thresholds import stream_threshold, video_scores

QUANTILES = (0.9, 0.95, 0.98, 0.99, 0.995, 0.999)


def operating_points(
    raw: np.ndarray,
    offsets: np.ndarray,
    plain_videos: int,
    settings: StreamSettings,
    pseudo: Sequence[VideoScores],
    scorer: Scorer,
    state: dict[str, Any],
    cfg: DetectConfig,
) -> list[dict[str, Any]]:
    """One row per quantile (QUANTILES and the configured one): the threshold over all the
    calibration videos (the first ``plain_videos`` plain, the rest shifted copies), the share of
    each kind's flaggable frames at or above it, and the pseudo-anomalies it catches."""
    rows = []
    cut = int(offsets[min(plain_videos, len(offsets) - 1)])
    for q in sorted({*QUANTILES, float(cfg.threshold_quantile)}):
        threshold, _ = stream_threshold(raw, offsets, settings, q)
        plain = video_scores(raw[:cut], offsets[: plain_videos + 1], settings, threshold)
        row: dict[str, Any] = {
            "quantile": q,
            "threshold": threshold,
            "plain_flagged": _share(plain, threshold),
        }
        if cut < raw.size:
            shifted = video_scores(raw[cut:], offsets[plain_videos:] - cut, settings, threshold)
            row["shifted_flagged"] = _share(shifted, threshold)
        if pseudo:
            recall = pseudo_recall(pseudo, scorer, state, settings, threshold, cfg)
            row |= {"pseudo_caught": recall["spans_caught"], "pseudo_spans": recall["spans"]}
        rows.append(row)
    return rows


def operating_points_table(rows: Sequence[dict[str, Any]]) -> Table:
    """The rows as a rich table for the terminal."""
    table = Table(title="operating points (no labels): threshold quantile -> what it flags and catches")
    for name in ("quantile", "threshold", "held-out normal flagged", "shifted copies flagged", "pseudo caught"):
        table.add_column(name, justify="right")
    for r in rows:
        caught = f"{r['pseudo_caught']} of {r['pseudo_spans']}" if "pseudo_spans" in r else "n/a"
        table.add_row(
            f"{r['quantile']:g}",
            f"{r['threshold']:.3f}",
            _pct(r.get("plain_flagged")),
            _pct(r.get("shifted_flagged")),
            caught,
        )
    return table


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def _share(scores: np.ndarray, threshold: float) -> float | None:
    return float(np.mean(scores >= threshold)) if scores.size else None


__all__ = ["operating_points", "operating_points_table", "QUANTILES"]
