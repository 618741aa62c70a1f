"""``vadkit validate``: AUC of a trained run on pseudo-anomalies in its held-out normal videos.

This is the number to choose settings by (a scorer option, a recipe) without looking at the
test split: the videos were held out of training by ``[detect] holdout_videos``, and the
anomalies are drawn into them (:mod:`vadkit.pseudo.anomalies`), so the labels are known by
construction. ``score_overrides`` re-score the same run with other ``[score]`` options (the
scorer is not part of the trained weights), and so do the [eval] protocol keys
:data:`PROTOCOL_KEYS` (temporal smoothing, test-time memory update), so such variants compare
on one model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from ..atomic import atomic_write_text
from ..builder import build_scorer
from ..config import EvalConfig
from ..errors import RecipeError
from ..evaluation.evaluate import memory_updater, statistic_aucs
from ..evaluation.metrics import frame_auc
from ..inference import collect_stats
from ..pseudo.anomalies import KINDS
from ..pseudo.clips import held_out_videos, pseudo_clips
from ..recipe import parse_override
from ..registry import Registry
from ..trained_run import TrainedRun

PROTOCOL = (
    "Frame-level AUC on pseudo-anomalies drawn into the run's held-out normal training videos "
    "([detect] holdout_videos): label 1 = the predicted frame lies in the drawn stretch. Same "
    "scoring as vadkit eval (per-video protocol of the scorer, micro = frames pooled). No test "
    "data is read."
)


# [eval] keys that change how a trained run is scored, not the run itself.
PROTOCOL_KEYS = (
    "eval.temporal_sigma",
    "eval.memory_update",
    "eval.memory_update_rule",
    "eval.memory_update_point_score",
)


def rescored(run: TrainedRun, registry: Registry, overrides: Sequence[str]) -> tuple[Any, EvalConfig]:
    """The run's scorer and scoring protocol with ``score.*`` / :data:`PROTOCOL_KEYS` overrides
    (any other key would change the trained model)."""
    keys = [o.split("=", 1)[0].strip() for o in overrides]
    bad = [o for o, k in zip(overrides, keys) if not (k.startswith("score.") or k in PROTOCOL_KEYS)]
    if bad:
        raise RecipeError(
            f"{run.folder.recipe}: validate only re-scores; {', '.join(bad)} is neither a [score] key nor "
            f"one of {', '.join(PROTOCOL_KEYS)} (a model or training change needs its own run)"
        )
    config = run.configured(dict(parse_override(o) for o in overrides))
    recipe, eval_cfg = config.recipe, config.eval
    rescore = any(k.startswith("score.") for k in keys)
    if eval_cfg.memory_update and eval_cfg.memory_update_rule == "calibrated" and rescore:
        raise RecipeError(
            f"{run.folder.recipe}: eval.memory_update thresholds with the run's calibration, which was "
            "fitted for the run's own scorer; validate it without score.* overrides"
        )
    return (build_scorer(recipe, registry) if rescore else run.scorer), eval_cfg


def result_name(overrides: Sequence[str] = (), copies: int = 4, seed: int = 0, kinds: Sequence[str] = KINDS) -> str:
    """File name of a result: "recipe" for the defaults, else every setting that differs, so a
    result is never mistaken for one drawn with other settings."""
    parts = [f"copies={copies}"] if copies != 4 else []
    parts += [f"seed={seed}"] if seed != 0 else []
    parts += [f"kinds={'+'.join(kinds)}"] if tuple(kinds) != KINDS else []
    return re.sub(r"[^A-Za-z0-9_.,=+-]+", "_", ",".join([*parts, *overrides])) or "recipe"


def validate(
    run_dir: Path | TrainedRun,
    registry: Registry,
    *,
    data_root: Path | None = None,
    copies: int = 4,
    seed: int = 0,
    kinds: Sequence[str] = KINDS,
    score_overrides: Sequence[str] = (),
    console: Console | None = None,
) -> dict[str, Any]:
    """Score pseudo-anomalous copies of the held-out videos; write validation/<tag>.json."""
    console = console or Console()
    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies}")
    run = run_dir if isinstance(run_dir, TrainedRun) else TrainedRun.open(run_dir, registry)
    root = run.data_root(data_root, purpose="the training data")
    scorer, protocol = rescored(run, registry, score_overrides)
    held, videos, clips = pseudo_clips(run, registry, root, copies, seed, kinds)
    with Progress(console=console) as progress:
        updater = memory_updater(run, protocol) if protocol.memory_update else None  # changes run.model's memory
        scored = collect_stats(
            run.model,
            clips,
            scorer,
            run.device,
            fast=run.fast,
            precision=run.precision,
            batch_size=8,
            progress=progress,
            on_batch=updater,
            temporal_sigma=protocol.temporal_sigma,
        )
    result: dict[str, Any] = {
        **frame_auc(scored),
        "diagnostics": statistic_aucs(scored, scorer),
        "protocol": PROTOCOL,
        "scorer_protocol": scorer.protocol(),
        "score_overrides": list(score_overrides),
        "temporal_sigma": protocol.temporal_sigma,
        "memory_update": updater.summary() if updater is not None else None,
        "checkpoint_epoch": run.epoch,
        "held_out_videos": [v.name for v in held],
        "pseudo": {
            "seed": seed,
            "copies": copies,
            "kinds": list(kinds),
            "segments": {v.name: asdict(v.source.segment) for v in videos},
        },
    }
    path = run.folder.root / "validation" / f"{result_name(score_overrides, copies, seed, kinds)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(result, indent=2) + "\n")
    result["path"] = str(path)
    return result


def validation_text(result: dict[str, Any]) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}"

    cats = ", ".join(f"{k} {pct(v)}" for k, v in (result.get("auc_per_category") or {}).items())
    stats = ", ".join(f"{k[len('auc_micro_') : -len('_only')]} {pct(v)}" for k, v in result["diagnostics"].items())
    return (
        f"pseudo-anomaly AUC: micro {pct(result['auc_micro'])}, macro {pct(result['auc_macro'])} "
        f"({cats}; each statistic alone: {stats}) on {len(result['pseudo']['segments'])} copies of "
        f"{', '.join(result['held_out_videos'])}"
    )


__all__ = ["validate", "validation_text", "held_out_videos", "pseudo_clips", "result_name", "PROTOCOL"]
