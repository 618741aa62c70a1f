"""Calibration: what normal looks like to the run's scorer, stored in ``<run>/calibration.json``
(+ per-frame statistics in ``calibration_stats.npz``) so detection can normalise and threshold
without labels.

The scorer's statistics are computed on normal clips, the scorer fits its state on them
(``Scorer.fit``), and the threshold is a quantile of the detection score over the same frames,
computed by the very streaming path detection uses (``online.ScoreStream``: optional running
normalisation, causal smoothing; only frames whose smoothing window is full count).

The normal clips are, by default on the run's own training split, the ones the recipe held
out of training (``[detect] holdout_videos`` / ``holdout_tail``, see ``vadkit.data.holdout``):
a model scores the frames it fitted better than new footage, so an in-sample calibration sees
too narrow a normal spread. Any other data root or split (``--data``/``--split``) is used whole.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch.utils.data import DataLoader, Subset

from ..atomic import atomic_write_bytes, atomic_write_text
from ..calibration_clips import calibration_clips
from ..config import DetectConfig
from ..errors import CheckpointError, DataError
from ..registry import Registry
from ..trained_run import TrainedRun
from .config import detect_settings
from .online import StreamSettings
from .operating_points import operating_points, operating_points_table
from .pseudo_recall import (
    pseudo_arrays,
    pseudo_from_arrays,
    pseudo_recall,
    recall_text,
    recall_warnings,
    threshold_source,
)
from .running_norm import robust_reference
from .stream import forward_stats
from .thresholds import stream_threshold

VERSION = 4  # 4: scale-free tail calibration with evidence weights (3: z-scores)
QUANTILES = (0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.995, 0.999)
STATS_NAME = "calibration_stats.npz"
STAT_PREFIX = "stat_"


def describe(values: np.ndarray) -> dict[str, Any]:
    values = np.asarray(values, np.float64)
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
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


def _score_clips(run: TrainedRun, data: Any, console: Console) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The scorer's statistics of every clip, the video index and frame of each, in order."""
    loader = DataLoader(data, batch_size=8, shuffle=False, num_workers=0)
    stats: dict[str, list[np.ndarray]] = {}
    video, frame, error = [], [], []
    columns = (
        TextColumn("[bold]calibrating[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("clips"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("calibrate", total=len(data))
        for batch in loader:
            values, maps = forward_stats(
                run.model,
                run.scorer,
                batch["frames"],
                batch["target"],
                batch.get("flows"),
                run.device,
                run.fast,
                error_maps=True,
                precision=run.precision,
            )
            for k, v in values.items():
                stats.setdefault(k, []).append(v)
            video.append(np.asarray(batch["video_index"]))
            frame.append(np.asarray(batch["frame"]))
            assert maps is not None  # asked for with error_maps=True
            error.append(maps.reshape(len(maps), -1).mean(axis=1))
            progress.advance(task, len(maps))
    merged = {k: np.concatenate(v) for k, v in stats.items()}
    merged["_error"] = np.concatenate(error) if error else np.zeros(0)
    return (
        merged,
        np.concatenate(video) if video else np.zeros(0, int),
        np.concatenate(frame) if frame else np.zeros(0, int),
    )


def check_finite(
    stats: dict[str, np.ndarray], clips: Any, video_index: np.ndarray, frames: np.ndarray, root: Path
) -> None:
    """Refuse non-finite statistics: a NaN fitted into the state would silence detection."""
    for name, values in stats.items():
        bad = np.flatnonzero(~np.isfinite(np.asarray(values, np.float64)))
        if bad.size:
            vi, f = int(video_index[bad[0]]), int(frames[bad[0]])
            raise DataError(
                f"{root}: statistic '{name}' is not finite on {bad.size} calibration frames (first: video "
                f"{clips.videos[vi].name}, frame {f}); a damaged frame, cache entry or checkpoint? "
                "nothing was written"
            )


def _evidence(
    run: TrainedRun,
    registry: Registry,
    root: Path,
    clips: Any,
    holdout: dict[str, Any],
    cfg: DetectConfig,
    console: Console,
) -> tuple[dict[str, Any], list[Any]]:
    """Per-statistic evidence for the weights, and the scored pseudo-videos it was measured on
    (none when it was not measured here): measured on pseudo-anomalies in the held-out videos
    when calibrating on the run's own hold-out; when calibrating on other footage (a new
    camera), measured on pseudo-anomalies in that footage (``footage_evidence``) or else the
    evidence of the run's previous calibration of the same checkpoint."""
    if cfg.calibration_weights != "evidence" or cfg.calibration != "tail":
        return {
            "note": f"not used ([detect] calibration = {cfg.calibration!r}, "
            f"calibration_weights = {cfg.calibration_weights!r})"
        }, []
    from ..pseudo.evidence import scored_evidence

    if holdout.get("applied") and holdout.get("videos"):
        return scored_evidence(run, registry, root, console=console, shift=cfg.evidence_shift)
    if cfg.footage_evidence and not holdout.get("own_training_split"):
        return scored_evidence(run, registry, root, console=console, shift=cfg.evidence_shift, videos=clips.videos)
    try:
        previous = run.calibration() or {}
    except CheckpointError:  # a damaged earlier calibration is replaced, not a reason to stop
        previous = {}
    kept = previous.get("evidence") if isinstance(previous.get("evidence"), dict) else None
    same_kind = bool(kept and kept.get("shifted", False) == cfg.evidence_shift)
    if kept and same_kind and kept.get("auc_pooled") and previous.get("checkpoint_epoch") == run.epoch:
        return {**kept, "note": f"kept from the run's previous calibration on {previous.get('data_root')}"}, []
    return {"note": "no evidence: no whole training video held out of this calibration; the scorer's weights apply"}, []


def _frames_used(clips: Any, video_index: np.ndarray, frames: np.ndarray) -> list[dict[str, Any]]:
    used = []
    for vi in np.unique(video_index):
        f = frames[video_index == vi]
        used.append(
            {
                "video": clips.videos[int(vi)].name,
                "first_frame": int(f.min()),
                "last_frame": int(f.max()),
                "frames": int(f.size),
            }
        )
    return used


def _open(
    run: Path | TrainedRun,
    registry: Registry,
    overrides: dict[str, Any] | None,
    allow_plugin_change: bool,
    console: Console,
) -> tuple[TrainedRun, DetectConfig]:
    """The run and its [detect] settings with the command-line ``overrides``, checked before the
    model is built."""
    flags = detect_settings(overrides)
    if isinstance(run, TrainedRun):
        return run, run.configured(flags).detect
    opened = TrainedRun.open(run, registry, settings=flags, allow_plugin_change=allow_plugin_change, console=console)
    return opened, opened.config.detect


def calibrate(
    run: Path | TrainedRun,
    registry: Registry,
    data_root: Path | None = None,
    console: Console | None = None,
    *,
    split: str = "training",
    overrides: dict[str, Any] | None = None,
    allow_plugin_change: bool = False,
    out: Path | None = None,
    show_operating_points: bool = False,
) -> dict[str, Any]:
    """Score the normal clips of ``split`` with the run's model and scorer; write the calibration:
    the threshold is the ``threshold_quantile`` of the detection score over these frames
    (``[detect]`` of the run's recipe, or ``overrides``). ``out``: write it there (statistics
    beside it, :func:`stats_path`) instead of into the run, e.g. one camera's own for serve."""
    console = console or Console()
    start = time.perf_counter()
    run, cfg = _open(run, registry, overrides, allow_plugin_change, console)
    root = run.data_root(data_root, purpose="calibration data (normal videos)")
    clips, holdout = calibration_clips(run, registry, root, split, cfg, console)
    data = _subset(clips, cfg.calibration_max_frames)
    stats, video_index, frames = _score_clips(run, data, console)
    error = stats.pop("_error")
    if video_index.size < 2:
        raise DataError(f"{root}: the {split} split gives {video_index.size} clips; calibration needs at least 2")
    check_finite(stats, clips, video_index, frames, root)
    offsets = np.r_[0, np.flatnonzero(np.diff(video_index)) + 1, video_index.size]
    evidence, pseudo = _evidence(run, registry, root, clips, holdout, cfg, console)
    state = run.scorer.fit(stats, evidence=evidence.get("auc_pooled"), method=cfg.calibration)
    raw = run.scorer.anomaly(stats, state)
    reference = robust_reference(raw)
    settings = StreamSettings.of(cfg, reference)
    plain, all_stats, all_index, shifted = {k: describe(v) for k, v in stats.items()}, stats, video_index, None
    if cfg.threshold_shift:  # the threshold also covers the frames under camera-like shifts
        all_stats, all_index, offsets, shifted = _with_shifted(run, registry, data, stats, video_index, console)
        raw = run.scorer.anomaly(all_stats, state)
    threshold, smoothed = _finite_threshold(raw, offsets, settings, cfg, root)
    result = {
        **_source(run, root, split, clips, video_index, frames, holdout),
        "statistics": plain,
        "state": state,
        "evidence": evidence,
        "score_raw": describe(raw),
        "reference": reference,
        "score": describe(smoothed),
        "smoothing": cfg.smoothing,
        "stream": settings.describe(),
        "threshold_quantile": cfg.threshold_quantile,
        "threshold_shift": shifted,
        "threshold": threshold,
        **_what_it_catches(run, pseudo, state, settings, threshold, cfg, (raw, offsets, np.unique(video_index).size)),
        "overlay_error_scale": float(3.0 * max(error.mean(), 1e-6)),
        "detect": asdict(cfg),
        "seconds": round(time.perf_counter() - start, 2),
    }
    written = _write(run, result, all_stats, all_index, offsets, out, pseudo_arrays(pseudo))
    _report(console, run, result, holdout, split, written, show_operating_points)
    return result


def _finite_threshold(
    raw: np.ndarray, offsets: np.ndarray, settings: StreamSettings, cfg: DetectConfig, root: Path
) -> tuple[float, np.ndarray]:
    """stream_threshold, refusing a threshold that is not a finite number."""
    threshold, smoothed = stream_threshold(raw, offsets, settings, cfg.threshold_quantile)
    if not np.isfinite(threshold):
        raise DataError(
            f"{root}: the calibrated threshold is {threshold} (non-finite scores on normal frames); "
            "check the model and the calibration data"
        )
    return threshold, smoothed


def _what_it_catches(
    run: TrainedRun,
    pseudo: list[Any],
    state: dict[str, Any],
    settings: StreamSettings,
    threshold: float,
    cfg: DetectConfig,
    scored: tuple[np.ndarray, np.ndarray, int],
) -> dict[str, Any]:
    """calibration.json's ``pseudo_recall`` (the threshold against the evidence's pseudo-anomalies,
    vadkit/detect/pseudo_recall.py) and ``operating_points`` (other quantiles); ``scored``: the
    raw scores of every calibration video, their offsets and how many of them are plain (the
    rest are shifted copies)."""
    raw, offsets, plain_videos = scored
    recall = (
        pseudo_recall(pseudo, run.scorer, state, settings, threshold, cfg, shifted=cfg.evidence_shift)
        if pseudo
        else {"note": "not measured: no pseudo-anomalies were scored for this calibration's evidence"}
    )
    return {
        "pseudo_recall": recall,
        "operating_points": operating_points(raw, offsets, int(plain_videos), settings, pseudo, run.scorer, state, cfg),
    }


def _with_shifted(
    run: TrainedRun,
    registry: Registry,
    data: Any,
    stats: dict[str, np.ndarray],
    video_index: np.ndarray,
    console: Console,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, dict[str, Any]]:
    """The statistics of the calibration clips ``data`` with those of their shifted copies
    appended as further videos (vadkit/detect/shifted_threshold.py), the new video index and
    offsets, and what was added."""
    from .shifted_threshold import SHIFT_COPIES, shifted_copies

    extra, extra_index, _frames = _score_clips(run, shifted_copies(run, registry, data), console)
    extra.pop("_error")
    merged = {k: np.concatenate([v, np.asarray(extra[k], v.dtype)]) for k, v in stats.items()}
    index = np.concatenate([video_index, extra_index + int(video_index.max()) + 1])
    offsets = np.r_[0, np.flatnonzero(np.diff(index)) + 1, index.size]
    info = {"copies": SHIFT_COPIES, "frames": int(extra_index.size), "shift": "vadkit.pseudo.shift ranges"}
    return merged, index, offsets, info


def _source(
    run: TrainedRun,
    root: Path,
    split: str,
    clips: Any,
    video_index: np.ndarray,
    frames: np.ndarray,
    holdout: dict[str, Any],
) -> dict[str, Any]:
    """What a calibration was made from: the run, its checkpoint, the data and the frames used."""
    return {
        "version": VERSION,
        "run": str(run.root),
        "checkpoint_epoch": run.epoch,
        "checkpoint_sha256": checkpoint_digest(run.folder.checkpoint),
        "data_root": str(root.resolve()),
        "split": split,
        "videos": int(np.unique(video_index).size),
        "frames": int(video_index.size),
        "frames_used": _frames_used(clips, video_index, frames),
        "holdout": holdout,
        "scorer": type(run.scorer).__name__,
    }


def _report(
    console: Console,
    run: TrainedRun,
    result: dict[str, Any],
    holdout: dict[str, Any],
    split: str,
    written: Path,
    show_operating_points: bool = False,
) -> None:
    where = "held-out" if holdout["applied"] else ("in-sample" if "note" in holdout else split)
    state = result["state"]
    for note in state.get("notes", []):
        console.print(f"[yellow]warning:[/] {note}")
    if "weights" in state:
        weights = ", ".join(f"{k} {v:.2f}" for k, v in state["weights"].items())
        console.print(
            f"calibrated score = weighted {state.get('method', 'zscore')} terms; weights {weights} "
            f"({state.get('weights_source', 'scorer weights')})"
        )
    console.print(
        f"calibrated on {result['frames']} {where} normal frames of {result['videos']} videos: threshold "
        f"{result['threshold']:.3f} (quantile {result['threshold_quantile']:g} of the score, smoothing "
        f"{result['smoothing']}) -> {written}"
    )
    recall = result.get("pseudo_recall") or {}
    if "spans" in recall:
        console.print(recall_text(recall), highlight=False)
        for warning in recall_warnings(recall, threshold_source(result, absolute=False)):
            console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    if show_operating_points:
        console.print(operating_points_table(result["operating_points"]))


def _write(
    run: TrainedRun,
    result: dict[str, Any],
    stats: dict[str, np.ndarray],
    video_index: np.ndarray,
    offsets: np.ndarray,
    out: Path | None = None,
    pseudo: dict[str, np.ndarray] | None = None,
) -> Path:
    """calibration_stats.npz (per-frame statistics, to re-derive thresholds, and those of the
    evidence's pseudo-videos, to count what another threshold catches) and calibration.json
    (or ``out`` and its :func:`stats_path`); the calibration file written."""
    buf = io.BytesIO()
    arrays = {STAT_PREFIX + k: v for k, v in stats.items()} | (pseudo or {})
    np.savez(buf, video_index=video_index, offsets=offsets, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
    target = Path(out) if out is not None else run.folder.calibration
    atomic_write_bytes(stats_path(target), buf.getvalue())
    atomic_write_text(target, json.dumps(result, indent=2) + "\n")
    run.forget_calibration()
    return target


def stats_path(calibration: Path) -> Path:
    """The per-frame statistics beside a calibration file: ``<stem>_stats.npz`` (for the run's own
    calibration.json, calibration_stats.npz)."""
    return Path(calibration).with_name(Path(calibration).stem + "_stats.npz")


def checkpoint_digest(path: Path) -> str:
    """SHA-256 of a checkpoint file: which weights a calibration was computed with."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_calibration(run: TrainedRun) -> dict[str, Any]:
    """The run's calibration, checked against its scorer."""
    cal = run.calibration()
    if cal is None:
        raise CheckpointError(
            f"{run.root}: no calibration.json; run `vadkit calibrate --run {run.root}` (it scores the normal "
            "training videos to learn what a normal score is)"
        )
    path = run.folder.calibration
    if cal.get("version") != VERSION or not isinstance(cal.get("state"), dict):
        raise CheckpointError(
            f"{path}: calibration format {cal.get('version')!r} is not {VERSION} (written by another "
            f"vadkit version); run `vadkit calibrate --run {run.root}` again"
        )
    if not isinstance(cal.get("threshold"), (int, float)) or not np.isfinite(cal["threshold"]):
        raise CheckpointError(
            f"{path}: threshold {cal.get('threshold')!r} is not a finite number; run "
            f"`vadkit calibrate --run {run.root}` again"
        )
    if cal.get("scorer") != type(run.scorer).__name__:
        raise CheckpointError(
            f"{path}: calibrated for scorer {cal.get('scorer')!r}, but the run's recipe scores with "
            f"{type(run.scorer).__name__!r}; run `vadkit calibrate --run {run.root}` again"
        )
    fitted = sorted(cal["state"].get("statistics") or {})
    if fitted != sorted(run.scorer.stat_names):
        raise CheckpointError(
            f"{path}: calibrated for the statistics {', '.join(fitted) or 'none'}, but the scorer now computes "
            f"{', '.join(run.scorer.stat_names)} (a [score] option or its default changed); "
            f"run `vadkit calibrate --run {run.root}` again"
        )
    return cal


def stream_settings(cal: dict[str, Any], cfg: DetectConfig) -> StreamSettings:
    """The streaming settings of ``cfg`` with the calibration's reference statistics."""
    return StreamSettings.of(cfg, cal.get("reference"))


def resolve_threshold(run: TrainedRun, cal: dict[str, Any], cfg: DetectConfig) -> tuple[float, str]:
    """The threshold detection uses and how it was chosen."""
    if cfg.threshold:
        return float(cfg.threshold), "absolute (--threshold / [detect] threshold)"
    settings = stream_settings(cal, cfg)
    norm = "running normalisation, " if cfg.running_norm else ""
    if cfg.threshold_quantile == cal["threshold_quantile"] and settings.describe() == cal.get("stream"):
        return float(cal["threshold"]), f"quantile {cfg.threshold_quantile:g} of the normal score ({norm}calibration)"
    path = run.root / STATS_NAME
    if not path.is_file():
        raise CheckpointError(f"{path} missing: cannot re-derive the threshold; run `vadkit calibrate` again")
    with np.load(path, allow_pickle=False) as z:
        stats = {k.removeprefix(STAT_PREFIX): z[k] for k in z.files if k.startswith(STAT_PREFIX)}
        offsets = z["offsets"]
    raw = run.scorer.anomaly(stats, cal["state"])
    value, _ = stream_threshold(raw, offsets, settings, cfg.threshold_quantile)
    return value, (
        f"quantile {cfg.threshold_quantile:g} of the normal score, {norm}smoothing {cfg.smoothing} (recomputed)"
    )


def resolve_recall(
    run: TrainedRun, cal: dict[str, Any], cfg: DetectConfig, threshold: float, stats_file: Path | None = None
) -> dict[str, Any] | None:
    """What ``threshold`` catches of the calibration's pseudo-anomalies under ``cfg``'s stream and
    event settings: calibration's own count when nothing differs, else counted again from the
    pseudo-videos' statistics in ``stats_file`` (the run's calibration_stats.npz by default);
    None when the calibration kept none."""
    recall = cal.get("pseudo_recall")
    if not isinstance(recall, dict) or "spans" not in recall:
        return None
    settings = stream_settings(cal, cfg)
    made: dict[str, Any] = cal["detect"] if isinstance(cal.get("detect"), dict) else {}
    same = (cfg.merge_gap, cfg.min_event) == (made.get("merge_gap"), made.get("min_event"))
    if recall.get("threshold") == threshold and settings.describe() == cal.get("stream") and same:
        return recall
    path = stats_file or run.root / STATS_NAME
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        scored = pseudo_from_arrays({k: z[k] for k in z.files})
    if not scored:
        return None
    return pseudo_recall(
        scored, run.scorer, cal["state"], settings, threshold, cfg, shifted=bool(recall.get("shifted"))
    )


__all__ = [
    "calibrate",
    "resolve_recall",
    "load_calibration",
    "resolve_threshold",
    "stream_settings",
    "describe",
    "stats_path",
    "checkpoint_digest",
]
