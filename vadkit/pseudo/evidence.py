"""Evidence for calibration weights: how well each statistic of the run's scorer, alone and
pooled over videos, ranks pseudo-anomalous frames above normal ones in the held-out normal
training videos (no test data). Calibration turns these AUCs into the weights of the
calibrated score (:mod:`vadkit.postprocess.evidence`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress

from ..errors import DataError
from ..inference import VideoScores, collect_stats
from ..postprocess.evidence import pooled_auc
from ..registry import Registry
from ..scoring import Scorer
from ..trained_run import TrainedRun
from .anomalies import KINDS
from .clips import pseudo_clips

COPIES = 4
SEED = 0


def scored_evidence(
    run: TrainedRun,
    registry: Registry,
    root: Path,
    scorer: Scorer | None = None,
    console: Console | None = None,
    copies: int = COPIES,
    seed: int = SEED,
    shift: bool = False,
    videos: list[Any] | None = None,
) -> tuple[dict[str, Any], list[VideoScores]]:
    """Pooled pseudo-anomaly AUC of each statistic (``{"note": why}`` when none can be measured:
    no whole training video held out), and the scored pseudo-videos behind it (per-frame
    statistics, labels and kinds), which calibration reuses to see what its threshold catches.
    ``shift``: every pseudo-video under its own photometric shift, so a statistic whose normal
    level moves with the camera earns less. ``videos``: draw the pseudo-anomalies into these
    normal videos (a new camera's footage) instead of the hold-out."""
    scorer = scorer or run.scorer
    try:
        held, _videos, clips = pseudo_clips(run, registry, root, copies, seed, KINDS, shift=shift, videos=videos)
    except DataError as exc:
        return {"note": f"no evidence: {exc}"}, []
    with Progress(console=console or Console(quiet=True), transient=True) as progress:
        scored = collect_stats(
            run.model,
            clips,
            scorer,
            run.device,
            fast=run.fast,
            precision=run.precision,
            batch_size=8,
            progress=progress,
        )
    labels = np.concatenate([np.asarray(v.labels) for v in scored])
    aucs = {}
    for s in scorer.statistics:
        values = np.concatenate([np.asarray(v.stats[s.name], np.float64) for v in scored]) * s.anomaly_sign
        aucs[s.name] = pooled_auc(values, labels)
    summary = {
        "auc_pooled": aucs,
        "source": (
            f"pseudo-anomalies ({', '.join(KINDS)}; {copies} copies, seed {seed}) drawn into the "
            + ("calibration footage's videos " if videos is not None else "held-out training videos ")
            + ", ".join(v.name for v in held)
            + (", each under its own photometric shift (vadkit.pseudo.shift)" if shift else "")
        ),
        "shifted": shift,
        "frames": int(labels.size),
        "abnormal_frames": int(labels.sum()),
    }
    return summary, scored


__all__ = ["scored_evidence"]
