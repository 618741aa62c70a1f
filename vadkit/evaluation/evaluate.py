"""``vadkit eval``: score the test split with a run's last checkpoint and write the results."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import Progress

from ..builder import build_scorer
from ..clips import build_clips
from ..errors import CheckpointError
from ..recipe import load_recipe
from ..registry import Registry
from ..runtime import pick_device, prepare_model
from ..sections import EvalConfig, TrainConfig, read_section
from ..atomic import atomic_write_text
from ..training.run_folder import RunFolder
from ..training.trainer import load_trained
from .inference import VideoScores, collect_stats
from .metrics import frame_auc, stat_auc
from .plots import error_panels, regularity_curve

SCORE_COLUMNS = ("video", "frame", "label", "psnr", "distance", "regularity", "score")

PROTOCOL = (
    "Frame-level AUC of score = 1 - R_t, R_t = 1 - tau(1 - f(PSNR)) - (1 - tau) f(D), "
    "f = min-max per test video. The first T frames of each video have no T past frames, "
    "so they are not predicted and are left out of scores.csv and of every AUC (as in FFP "
    "and MNAD). auc_micro pools all scored frames (the paper's protocol); auc_macro averages "
    "per-video AUCs over videos that hold both classes."
)


def scores_csv(videos: list[VideoScores]) -> str:
    """One row per scored frame; ``score = 1 - regularity`` (higher = more anomalous)."""
    with_categories = any(c for v in videos for c in v.categories)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SCORE_COLUMNS + (("category",) if with_categories else ()))
    for v in videos:
        psnr = v.stats.get("psnr", [float("nan")] * len(v.frames))
        dist = v.stats.get("distance", [float("nan")] * len(v.frames))
        for i, frame in enumerate(v.frames):
            row = [v.name, frame, v.labels[i], f"{psnr[i]:.6f}", f"{dist[i]:.8f}",
                   f"{v.regularity[i]:.6f}", f"{1.0 - v.regularity[i]:.6f}"]
            writer.writerow(row + ([v.categories[i]] if with_categories else []))
    return buf.getvalue()


@torch.no_grad()
def _top_frame_rows(model: Any, clips: Any, videos: list[VideoScores], k: int, device: torch.device) -> list[dict]:
    """Re-run the k most anomalous frames to draw input / prediction / error panels."""
    ranked = sorted(
        ((1.0 - float(v.regularity[i]), v.name, f) for v in videos for i, f in enumerate(v.frames)), reverse=True
    )[:k]
    lookup = {(name, frame): i for i, name, frame in _index(clips)}
    rows = []
    for score, name, frame in ranked:
        sample = clips[lookup[(name, frame)]]
        frames = sample["frames"][None].to(device)
        flows = sample["flows"][None].to(device) if model.uses_motion else None
        pred = model(frames, flows).prediction[0].float().cpu().numpy()
        rows.append({"video": name, "frame": frame, "score": score, "input": sample["frames"][-1].numpy(),
                     "target": sample["target"].numpy(), "prediction": pred})
    return rows


def _index(clips: Any):
    for i, (video_index, frame) in enumerate(clips.index):
        yield i, clips.videos[video_index].name, frame


def evaluate(
    run_dir: Path, registry: Registry, *, data_root: Path | None = None, console: Console | None = None
) -> dict[str, Any]:
    """Score the test split once with the last checkpoint; write metrics.json, scores.csv, plots."""
    console = console or Console()
    run = RunFolder(Path(run_dir))
    if not run.recipe.is_file():
        raise CheckpointError(f"{run.root} is not a run folder (no recipe.toml); train one with `vadkit train`")
    recipe = load_recipe(run.recipe)
    info = run.read_info()
    root = Path(data_root or info.get("data_root", ""))
    train_cfg = read_section(recipe, "train", TrainConfig)
    eval_cfg = read_section(recipe, "eval", EvalConfig)
    device = pick_device(train_cfg.device)
    model, ckpt = load_trained(run, registry, recipe, device)
    model = prepare_model(model, device, train_cfg.fast)
    scorer = build_scorer(recipe, registry)
    clips = build_clips(recipe, registry, root, "testing", uses_motion=model.uses_motion, console=console)
    with Progress(console=console) as progress:
        videos = collect_stats(model, clips, scorer, device, fast=train_cfg.fast, precision=train_cfg.precision,
                               batch_size=eval_cfg.batch_size, progress=progress)

    metrics: dict[str, Any] = frame_auc(videos)
    metrics["diagnostics"] = {
        "auc_micro_psnr_only": stat_auc(videos, "psnr", higher_is_normal=True),
        "auc_micro_distance_only": stat_auc(videos, "distance", higher_is_normal=False),
    }
    metrics.update(
        {
            "protocol": PROTOCOL,
            "score": recipe.section("score"),
            "frames_excluded_per_video": int(recipe.get("model.frames", 4)),
            "checkpoint": str(run.checkpoint),
            "checkpoint_epoch": int(ckpt["epoch"]) + 1,
            "data_root": str(root),
            "videos": len(videos),
        }
    )
    atomic_write_text(run.scores, scores_csv(videos))
    atomic_write_text(run.metrics, json.dumps(metrics, indent=2) + "\n")

    pictures: list[Path] = []
    if eval_cfg.curves:
        for v in videos:
            pictures.append(regularity_curve(v, run.plots / f"regularity_{v.name}.png"))
    if eval_cfg.top_frames > 0:
        rows = _top_frame_rows(model, clips, videos, eval_cfg.top_frames, device)
        pictures.append(error_panels(rows, run.plots / "top_frames.png"))
    metrics["pictures"] = [str(p) for p in pictures]
    return metrics


def auc_text(metrics: dict[str, Any]) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}"

    text = f"frame-level AUC: micro {pct(metrics.get('auc_micro'))} (paper protocol), macro {pct(metrics.get('auc_macro'))}"
    cats = metrics.get("auc_per_category")
    if cats:
        text += "; per category: " + ", ".join(f"{k} {pct(v)}" for k, v in cats.items())
    return text


__all__ = ["evaluate", "scores_csv", "auc_text"]
