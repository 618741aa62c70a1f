"""Calibration: the distribution of PSNR, memory distance and the combined score on normal
(training) clips, stored in ``<run>/calibration.json`` (+ per-frame values in
``calibration_stats.npz``) so detection can normalise and threshold without labels."""

from __future__ import annotations

import io
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch.utils.data import DataLoader, Subset

from ..builder import build_scorer
from ..errors import CheckpointError, DataError
from ..recipe import load_recipe
from ..registry import Registry
from ..runtime import pick_device, prepare_model
from ..sections import TrainConfig, read_section
from ..atomic import atomic_write_bytes, atomic_write_text
from ..training.run_folder import RunFolder
from .config import DetectConfig, read_detect
from .normalise import Normaliser, scorer_weights, smooth
from .stream import forward_stats

VERSION = 1
QUANTILES = (0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.995, 0.999)
STATS_NAME = "calibration_stats.npz"


def describe(values: np.ndarray) -> dict[str, Any]:
    values = np.asarray(values, np.float64)
    return {
        "mean": float(values.mean()), "std": float(values.std()),
        "min": float(values.min()), "max": float(values.max()),
        "quantiles": {f"{q:g}": float(np.quantile(values, q)) for q in QUANTILES},
    }


def _subset(clips: Any, max_frames: int) -> Any:
    """A contiguous run of clips from each video, about ``max_frames`` in all (0 = all)."""
    if not max_frames or max_frames >= len(clips):
        return clips
    per_video = max(1, -(-max_frames // max(1, len(clips.videos))))
    seen: dict[int, int] = {}
    keep = []
    for i, (vi, _t) in enumerate(clips.index):
        if seen.get(vi, 0) < per_video:
            keep.append(i)
            seen[vi] = seen.get(vi, 0) + 1
    return Subset(clips, keep)


def threshold_of(smoothed: np.ndarray, quantile: float) -> float:
    return float(np.quantile(np.asarray(smoothed, np.float64), quantile))


def video_scores(stats: dict[str, np.ndarray], normaliser: Normaliser, smoothing: int) -> np.ndarray:
    """Smoothed scores of every calibration frame, smoothing within each video."""
    out = []
    bounds = stats["offsets"]
    for a, b in zip(bounds[:-1], bounds[1:]):
        raw = normaliser(stats["psnr"][a:b], stats["distance"][a:b])
        out.append(smooth(raw, smoothing))
    return np.concatenate(out) if out else np.zeros(0)


def calibrate(
    run_dir: Path,
    registry: Registry,
    data_root: Path | None = None,
    console: Console | None = None,
    *,
    split: str = "training",
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Score the normal clips of ``split`` with the run's model and write the calibration.

    The threshold is the ``threshold_quantile`` of the smoothed score over these frames
    (``[detect]`` settings of the run's recipe, or ``overrides``).
    """
    console = console or Console()
    start = time.perf_counter()
    run = RunFolder(Path(run_dir))
    if not run.recipe.is_file():
        raise CheckpointError(f"{run.root} is not a run folder (no recipe.toml); train one with `vadkit train`")
    recipe = load_recipe(run.recipe)
    cfg = read_detect(recipe, **(overrides or {}))
    root = Path(data_root or run.read_info().get("data_root", ""))
    if not str(root) or not root.is_dir():
        raise DataError(f"{root or '(none)'}: calibration data not found; pass the normal videos' dataset root (--data)")
    train_cfg = read_section(recipe, "train", TrainConfig)
    device = pick_device(train_cfg.device)
    from ..clips import build_clips
    from ..training.trainer import load_trained

    model, ckpt = load_trained(run, registry, recipe, device)
    model = prepare_model(model, device, train_cfg.fast)
    weights = scorer_weights(build_scorer(recipe, registry))
    clips = build_clips(recipe, registry, root, split, uses_motion=model.uses_motion, console=console)
    data = _subset(clips, cfg.calibration_max_frames)
    loader = DataLoader(data, batch_size=8, shuffle=False, num_workers=0)
    psnr: list[np.ndarray] = []
    distance: list[np.ndarray] = []
    video: list[np.ndarray] = []
    columns = (TextColumn("[bold]calibrating[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("clips"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("calibrate", total=len(data))
        for batch in loader:
            p, d, _ = forward_stats(model, batch["frames"], batch["target"], batch.get("flows"), device, train_cfg.fast,
                                    precision=train_cfg.precision)
            psnr.append(p)
            distance.append(d)
            video.append(np.asarray(batch["video_index"]))
            progress.advance(task, len(p))
    p_all, d_all, v_all = np.concatenate(psnr), np.concatenate(distance), np.concatenate(video)
    if p_all.size < 2:
        raise DataError(f"{root}: the {split} split gives {p_all.size} clips; calibration needs at least 2")
    offsets = np.r_[0, np.flatnonzero(np.diff(v_all)) + 1, v_all.size]
    normaliser = Normaliser.fit(p_all, d_all, weights)
    stats = {"psnr": p_all, "distance": d_all, "video_index": v_all, "offsets": offsets}
    raw = normaliser(p_all, d_all)
    smoothed = video_scores(stats, normaliser, cfg.smoothing)
    result = {
        "version": VERSION,
        "run": str(run.root),
        "checkpoint_epoch": int(ckpt.get("epoch", -1)) + 1,
        "data_root": str(root.resolve()),
        "split": split,
        "videos": int(len(offsets) - 1),
        "frames": int(p_all.size),
        "stats": {"psnr": describe(p_all), "distance": describe(d_all)},
        "normaliser": normaliser.as_dict(),
        "score_raw": describe(raw),
        "score": describe(smoothed),
        "smoothing": cfg.smoothing,
        "threshold_quantile": cfg.threshold_quantile,
        "threshold": threshold_of(smoothed, cfg.threshold_quantile),
        "detect": asdict(cfg),
        "seconds": round(time.perf_counter() - start, 2),
    }
    buf = io.BytesIO()
    np.savez(buf, **stats)
    atomic_write_bytes(run.root / STATS_NAME, buf.getvalue())
    atomic_write_text(run.calibration, json.dumps(result, indent=2) + "\n")
    console.print(
        f"calibrated on {result['frames']} normal frames of {result['videos']} videos: threshold "
        f"{result['threshold']:.3f} (quantile {cfg.threshold_quantile:g} of the score, smoothing {cfg.smoothing}) "
        f"-> {run.calibration}"
    )
    return result


def load_calibration(run_dir: Path) -> dict[str, Any]:
    run = RunFolder(Path(run_dir))
    if not run.calibration.is_file():
        raise CheckpointError(
            f"{run.root}: no calibration.json; run `vadkit calibrate --run {run.root}` (it scores the normal "
            "training videos to learn what a normal score is)"
        )
    try:
        cal = json.loads(run.calibration.read_text())
        cal["normaliser"]["psnr_mean"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{run.calibration}: unreadable calibration ({exc}); run `vadkit calibrate` again") from None
    return cal


def resolve_threshold(run_dir: Path, cal: dict[str, Any], cfg: DetectConfig) -> tuple[float, str]:
    """The threshold detection uses and how it was chosen."""
    if cfg.threshold:
        return float(cfg.threshold), "absolute (--threshold / [detect] threshold)"
    if cfg.threshold_quantile == cal["threshold_quantile"] and cfg.smoothing == cal["smoothing"]:
        return float(cal["threshold"]), f"quantile {cfg.threshold_quantile:g} of the normal score (calibration)"
    path = Path(run_dir) / STATS_NAME
    if not path.is_file():
        raise CheckpointError(f"{path} missing: cannot re-derive the threshold; run `vadkit calibrate` again")
    with np.load(path, allow_pickle=False) as z:
        stats = {k: z[k] for k in z.files}
    normaliser = Normaliser(**cal["normaliser"])
    value = threshold_of(video_scores(stats, normaliser, cfg.smoothing), cfg.threshold_quantile)
    return value, f"quantile {cfg.threshold_quantile:g} of the normal score, smoothing {cfg.smoothing} (recomputed)"


__all__ = ["calibrate", "load_calibration", "resolve_threshold", "describe"]
