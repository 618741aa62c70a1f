"""``vadkit eval``: score the test split with a run's last checkpoint and write the results."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import Progress

from ..atomic import atomic_write_text, temp_name
from ..config import EvalConfig
from ..data.factory import build_clips
from ..errors import DataError, RecipeError
from ..inference import VideoScores, collect_stats, score_videos
from ..plots import error_panels, regularity_curve
from ..recipe import parse_override
from ..registry import Registry
from ..scoring import Scorer
from ..stop_signals import deferred
from ..trained_run import TrainedRun
from .detection import detection_section, detection_text
from .metrics import frame_auc, stat_auc

PROTOCOL = (
    "Frame-level AUC of score = 1 - regularity, regularity from the scorer (see 'scorer_protocol'). "
    "The first T frames of each video have no T past frames, so they are not predicted and are left "
    "out of scores.csv and of every AUC (as in FFP and MNAD). auc_micro pools all scored frames (the "
    "paper's protocol); auc_macro averages per-video AUCs over videos that hold both classes. With "
    "temporal_sigma > 0 each statistic is Gaussian-smoothed along its video before the scorer's "
    "per-video protocol (scores.csv keeps the raw statistics)."
)


RUN_RESULTS = "the run's metrics.json, scores.csv and plots"


def score_columns(scorer: Scorer, with_categories: bool) -> tuple[str, ...]:
    """scores.csv columns: the scorer's own statistics between the frame keys and the scores."""
    return ("video", "frame", "label", *scorer.stat_names, "regularity", "score") + (
        ("category",) if with_categories else ()
    )


def scores_csv(videos: list[VideoScores], scorer: Scorer) -> str:
    """One row per scored frame; ``score = 1 - regularity`` (higher = more anomalous)."""
    with_categories = any(c for v in videos for c in v.categories)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(score_columns(scorer, with_categories))
    for v in videos:
        for i, frame in enumerate(v.frames):
            stats = [f"{v.stats[name][i]:.8g}" for name in scorer.stat_names]
            regularity = float(np.asarray(v.regularity)[i])
            row = [v.name, frame, v.labels[i], *stats, f"{regularity:.6f}", f"{1.0 - regularity:.6f}"]
            writer.writerow(row + ([v.categories[i]] if with_categories else []))
    return buf.getvalue()


def statistic_aucs(videos: list[VideoScores], scorer: Scorer) -> dict[str, float | None]:
    """Diagnostic micro AUC of each statistic alone (min-max per video, its own direction)."""
    return {
        f"auc_micro_{s.name}_only": stat_auc(videos, s.name, higher_is_normal=s.normal == "high")
        for s in scorer.statistics
    }


def unsmoothed_aucs(videos: list[VideoScores], scorer: Scorer) -> dict[str, Any]:
    """Micro and macro AUC of the same statistics without temporal smoothing (the paper's protocol)."""
    raw = score_videos([dataclasses.replace(v, smoothed=None, regularity=None) for v in videos], scorer)
    aucs = frame_auc(raw)
    return {"auc_micro": aucs["auc_micro"], "auc_macro": aucs["auc_macro"], "auc_per_video": aucs.get("auc_per_video")}


@torch.no_grad()
def _top_frame_rows(run: TrainedRun, clips: Any, videos: list[VideoScores], k: int) -> list[dict]:
    """Re-run the k most anomalous frames to draw input / prediction / error panels."""
    model, device = run.model, run.device
    ranked = sorted(
        ((1.0 - float(np.asarray(v.regularity)[i]), v.name, f) for v in videos for i, f in enumerate(v.frames)),
        reverse=True,
    )[:k]
    lookup = {(clips.videos[vi].name, frame): i for i, (vi, frame) in enumerate(clips.index)}
    rows = []
    for score, name, frame in ranked:
        sample = clips[lookup[(name, frame)]]
        frames = sample["frames"][None].to(device)
        flows = sample["flows"][None].to(device) if model.uses_motion else None
        pred = model(frames, flows).prediction[0].float().cpu().numpy()
        rows.append(
            {
                "video": name,
                "frame": frame,
                "score": score,
                "input": sample["frames"][-1].numpy(),
                "target": sample["target"].numpy(),
                "prediction": pred,
            }
        )
    return rows


def memory_updater(run: TrainedRun, eval_cfg: EvalConfig) -> Any:
    """MNAD's test-time memory update by ``eval_cfg.memory_update_rule``; the calibrated rule
    reads the run's calibration (normal frames only)."""
    from ..detect.calibration import load_calibration
    from ..detect.memory_update import make_updater

    cal = load_calibration(run) if eval_cfg.memory_update_rule == "calibrated" else None
    return make_updater(run.model, run.scorer, eval_cfg, cal)


def _metrics(run: TrainedRun, videos: list[VideoScores], root: Path) -> dict[str, Any]:
    metrics: dict[str, Any] = frame_auc(videos)
    metrics["diagnostics"] = statistic_aucs(videos, run.scorer)
    metrics.update(
        {
            "protocol": PROTOCOL,
            "scorer": type(run.scorer).__name__,
            "scorer_protocol": run.scorer.protocol(),
            "statistics": {s.name: {"normal": s.normal, "description": s.description} for s in run.scorer.statistics},
            "score": run.config.score,
            "frames_excluded_per_video": run.config.model.window - 1,
            "checkpoint": str(run.folder.checkpoint),
            "checkpoint_epoch": run.epoch,
            "data_root": str(root),
            "videos": len(videos),
        }
    )
    metrics["detection"] = detection_section(run, videos)  # vadkit detect's streaming path at its threshold
    return metrics


def _pictures(
    run: TrainedRun, clips: Any, videos: list[VideoScores], cfg: EvalConfig, pictures: dict[Path, Path]
) -> None:
    """Draw every picture under a temporary name, recorded in ``pictures`` (final path ->
    temporary path) as it is made, so a failure half-way can remove them (see _publish)."""

    def staged(name: str) -> Path:
        final = run.folder.plots / name
        pictures[final] = temp_name(final)
        return pictures[final]

    if cfg.curves:
        for v in videos:
            regularity_curve(v, staged(f"regularity_{v.name}.png"))
    if cfg.top_frames > 0:
        rows = _top_frame_rows(run, clips, videos, cfg.top_frames)
        error_panels(rows, staged("top_frames.png"))


def _publish(run: TrainedRun, videos: list[VideoScores], metrics: dict[str, Any], pictures: dict[Path, Path]) -> None:
    """Rename the staged pictures into place, then write scores.csv and, last, metrics.json: an
    evaluation that fails before this point leaves the previous results as they were."""
    for final, tmp in pictures.items():
        os.replace(tmp, final)
    atomic_write_text(run.folder.scores, scores_csv(videos, run.scorer))
    atomic_write_text(run.folder.metrics, json.dumps(metrics, indent=2) + "\n")


def require_test_videos(clips: Any, root: Path) -> None:
    """An empty testing split is an error naming the data root: an evaluation of nothing would
    replace the run's results with empty ones."""
    if len(clips) == 0:
        videos = len(getattr(clips, "videos", []) or [])
        what = (
            f"its {videos} testing video(s) are too short to score"
            if videos
            else "it holds no testing split (no test videos found)"
        )
        raise DataError(
            f"{root}: {what}; nothing to evaluate, and {RUN_RESULTS} were left as they were; "
            "pass the dataset root that holds the test videos and labels (--data)"
        )


def eval_settings(run: Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """``eval.KEY=VALUE`` overrides as settings; other sections would change the trained model or
    its calibrated scorer, so they are refused."""
    settings = dict(parse_override(o) for o in overrides)
    bad = [k for k in settings if not k.startswith("eval.")]
    if bad:
        raise RecipeError(
            f"{Path(run) / 'recipe.toml'}: eval --set takes [eval] keys only, not {', '.join(bad)} "
            "(a model, scorer or training change needs its own run, or `vadkit validate --set "
            "score.KEY=V`)"
        )
    return settings


def eval_config(run: TrainedRun, overrides: Sequence[str] = ()) -> EvalConfig:
    """The run's [eval] section with ``eval.KEY=VALUE`` overrides applied."""
    return run.configured(eval_settings(run.root, overrides)).eval


def evaluate(
    run_dir: Path | TrainedRun,
    registry: Registry,
    *,
    data_root: Path | None = None,
    console: Console | None = None,
    eval_overrides: Sequence[str] = (),
    allow_plugin_change: bool = False,
) -> dict[str, Any]:
    """Score the test split once with the last checkpoint; write metrics.json, scores.csv, plots."""
    console = console or Console()
    if isinstance(run_dir, TrainedRun):
        run, eval_cfg = run_dir, eval_config(run_dir, eval_overrides)
    else:  # the overrides checked before the model is built
        run = TrainedRun.open(
            run_dir,
            registry,
            settings=eval_settings(run_dir, eval_overrides),
            allow_plugin_change=allow_plugin_change,
            console=console,
        )
        eval_cfg = run.config.eval
    root = run.data_root(data_root, purpose="the test data")
    clips = build_clips(run.recipe, registry, root, "testing", uses_motion=run.model.uses_motion, console=console)
    require_test_videos(clips, root)
    with Progress(console=console) as progress:
        updater = memory_updater(run, eval_cfg) if eval_cfg.memory_update else None
        videos = collect_stats(
            run.model,
            clips,
            run.scorer,
            run.device,
            fast=run.fast,
            precision=run.precision,
            batch_size=eval_cfg.batch_size,
            progress=progress,
            on_batch=updater,
            temporal_sigma=eval_cfg.temporal_sigma,
        )
    metrics = _metrics(run, videos, root)
    metrics["temporal_sigma"] = eval_cfg.temporal_sigma
    metrics["eval_overrides"] = list(eval_overrides)
    if eval_cfg.temporal_sigma > 0:  # the paper's unsmoothed protocol, always reported beside
        metrics["unsmoothed"] = unsmoothed_aucs(videos, run.scorer)
    if updater is not None:
        metrics["memory_update"] = updater.summary()
    pictures: dict[Path, Path] = {}
    try:
        _pictures(run, clips, videos, eval_cfg, pictures)
        with deferred(raise_at_end=False):  # SIGINT / SIGTERM wait: pictures, scores.csv, metrics.json agree
            _publish(run, videos, metrics, pictures)
    finally:
        for tmp in pictures.values():
            tmp.unlink(missing_ok=True)
    metrics["pictures"] = [str(p) for p in pictures]
    return metrics


def auc_text(metrics: dict[str, Any]) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}"

    sigma = metrics.get("temporal_sigma") or 0
    if sigma:
        raw = metrics.get("unsmoothed") or {}
        text = (
            f"frame-level AUC, statistics smoothed in time (sigma {sigma:g} frames): micro "
            f"{pct(metrics.get('auc_micro'))}, macro {pct(metrics.get('auc_macro'))}; unsmoothed (paper "
            f"protocol): micro {pct(raw.get('auc_micro'))}, macro {pct(raw.get('auc_macro'))}"
        )
    else:
        text = f"frame-level AUC: micro {pct(metrics.get('auc_micro'))} (paper protocol), macro {pct(metrics.get('auc_macro'))}"
    cats = metrics.get("auc_per_category")
    if cats:
        text += "; per category: " + ", ".join(f"{k} {pct(v)}" for k, v in cats.items())
    detection = detection_text(metrics)
    return text + ("\n" + detection if detection else "")


__all__ = ["evaluate", "scores_csv", "auc_text", "score_columns", "memory_updater", "statistic_aucs"]
