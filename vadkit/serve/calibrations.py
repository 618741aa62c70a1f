"""Per-camera calibration: each ``[[cameras]]`` entry may name its own calibration file
(``calibration = "cams/garden.json"``, written by ``vadkit calibrate --run RUN --data
<that camera's normal footage> --out cams/garden.json``) and/or fit one on its own first
frames (``refit_frames = N``, as ``[detect] refit_frames`` does for ``vadkit detect``).

Checked twice, both before any camera opens: when the config is read (the file exists, is a
calibration, and was written for the very checkpoint of the config's run: its recorded
``checkpoint_sha256`` is the checkpoint file's), and when the model is loaded (the run's
scorer, its statistics, a finite threshold). A mismatch is one error naming the camera's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.markup import escape

from ..detect.calibration import STAT_PREFIX, resolve_recall, stats_path, stream_settings
from ..detect.online import StreamSettings
from ..detect.pseudo_recall import recall_warnings, threshold_source
from ..detect.refit import WarmupRefit
from ..detect.thresholds import stream_threshold
from ..errors import CheckpointError, DataError
from .config import CameraConfig, ConfigError, read_camera_file


@dataclass
class CameraCalibration:
    """How one camera's scores are normalised and thresholded."""

    source: str  # "run" or the calibration file
    calibration: dict[str, Any]
    state: dict[str, Any]
    stream: StreamSettings
    threshold: float
    rule: str
    refit_frames: int = 0

    def refit(self, detector: Any) -> WarmupRefit | None:
        """The re-fit on the camera's first ``refit_frames`` scored frames, once per process (None: off)."""
        if not self.refit_frames:
            return None
        return WarmupRefit(
            detector.run.scorer, self.calibration, self.stream, detector.cfg.threshold_quantile, self.refit_frames
        )


def camera_calibration(detector: Any, cam: CameraConfig, file: Path, index: int) -> CameraCalibration:
    """Start time: the camera's calibration (its own file, else the run's) checked against the
    loaded run and its threshold resolved with the service's ``[detect]`` settings."""
    cfg = detector.cfg
    refit = cfg.refit_frames if cam.refit_frames < 0 else cam.refit_frames
    if not cam.calibration:
        cal, stream, threshold, rule = (
            detector.calibration,
            detector.stream,
            detector.threshold,
            detector.threshold_rule,
        )
    else:
        key = f"cameras[{index}].calibration"
        path = Path(cam.calibration)
        cal = read_camera_file(file, key, path, detector.run.root)
        _check_scorer(file, key, path, cal, detector.run)
        stream = stream_settings(cal, cfg)
        threshold, rule = _threshold(file, key, path, cal, stream, cfg, detector.run.scorer)
    if cam.threshold:  # an absolute threshold: no re-fit (not even [detect] refit_frames) moves it
        threshold, rule, refit = cam.threshold, "absolute (this camera's threshold)", 0
    if cam.calibration or cam.threshold:  # the run's own threshold was checked when the model loaded
        _warn_recall(detector, cam, cal, float(threshold), Path(cam.calibration) if cam.calibration else None, index)
    source = cam.calibration or "run"
    return CameraCalibration(source, cal, cal["state"], stream, float(threshold), rule, refit)


def _warn_recall(
    detector: Any, cam: CameraConfig, cal: dict[str, Any], threshold: float, path: Path | None, index: int
) -> None:
    """This camera's threshold against its calibration's pseudo-anomalies (vadkit/detect/pseudo_recall.py)."""
    if not isinstance(cal.get("pseudo_recall"), dict) or "spans" not in cal["pseudo_recall"]:
        return  # calibrated before this check existed, or without pseudo-anomalies
    stats = stats_path(path) if path is not None else None
    recall = resolve_recall(detector.run, cal, detector.cfg, threshold, stats)
    if recall is None:
        return
    absolute = bool(cam.threshold or detector.cfg.threshold)
    for line in recall_warnings(recall, threshold_source(cal, absolute=absolute)):
        detector.console.print(f"[yellow]warning:[/] cameras[{index}]: {escape(line)}", highlight=False)


def _check_scorer(file: Path, key: str, path: Path, cal: dict[str, Any], run: Any) -> None:
    scorer = type(run.scorer).__name__
    if cal.get("scorer") != scorer:
        raise ConfigError(
            file, key, f"{path} was calibrated for scorer {cal.get('scorer')!r}; the run scores with {scorer!r}"
        )
    missing = sorted(set(run.scorer.stat_names) - set(cal.get("statistics", {})))
    if missing:
        raise ConfigError(file, key, f"{path} has no statistics {', '.join(missing)} of the run's scorer")
    if not isinstance(cal.get("threshold"), (int, float)) or not np.isfinite(cal["threshold"]):
        raise ConfigError(file, key, f"{path}: threshold {cal.get('threshold')!r} is not a finite number")


def _threshold(
    file: Path, key: str, path: Path, cal: dict[str, Any], stream: StreamSettings, cfg: Any, scorer: Any
) -> tuple[float, str]:
    """As ``detect.calibration.resolve_threshold``, with this file's per-frame statistics."""
    if cfg.threshold:
        return float(cfg.threshold), "absolute ([detect] threshold)"
    if cfg.threshold_quantile == cal["threshold_quantile"] and stream.describe() == cal.get("stream"):
        return float(cal["threshold"]), f"quantile {cfg.threshold_quantile:g} of the normal score ({path.name})"
    stats_file = stats_path(path)
    if not stats_file.is_file():
        raise ConfigError(
            file,
            key,
            f"{stats_file} missing: the [detect] settings differ from the calibration's, "
            "and its per-frame statistics are needed to re-derive the threshold",
        )
    try:
        with np.load(stats_file, allow_pickle=False) as z:
            stats = {k.removeprefix(STAT_PREFIX): z[k] for k in z.files if k.startswith(STAT_PREFIX)}
            offsets = z["offsets"]
        value, _ = stream_threshold(scorer.anomaly(stats, cal["state"]), offsets, stream, cfg.threshold_quantile)
    except (OSError, ValueError, KeyError, CheckpointError, DataError) as exc:
        raise ConfigError(file, key, f"{stats_file}: cannot re-derive the threshold ({exc})") from None
    return value, f"quantile {cfg.threshold_quantile:g} of the normal score ({path.name}, recomputed)"


__all__ = ["CameraCalibration", "camera_calibration"]
