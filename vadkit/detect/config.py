"""The ``[detect]`` recipe section: how raw frame statistics become flagged frames and events."""

from __future__ import annotations

from dataclasses import dataclass

from ..data.holdout import DEFAULT_TAIL, DEFAULT_VIDEOS
from ..recipe import Recipe
from ..sections import read_section


CALIBRATIONS = ("tail", "zscore")  # vadkit.scoring.CALIBRATION_METHODS
WEIGHTINGS = ("evidence", "scorer")


@dataclass
class DetectConfig:
    """[detect]: calibration, threshold, smoothing, event merging and streaming settings.

    Frame counts are in frames of the source. Every key can also be set on the command line.
    """

    calibration: str = "tail"  # tail: scale-free tail probabilities (default) | zscore: the previous release's
    calibration_weights: str = "evidence"  # evidence: pooled AUC on held-out pseudo-anomalies | scorer: its weights()
    threshold_quantile: float = 0.99  # threshold = this quantile of the smoothed score on normal data
    threshold: float = 0.0  # an absolute threshold on the score instead; 0 = use threshold_quantile
    smoothing: int = 5  # causal moving average over this many scored frames (1 = none)
    merge_gap: int = 10  # flagged frames at most this many frames apart join one event
    min_event: int = 3  # events shorter than this many frames are dropped
    batch: int = 1  # clips per forward pass (1 = lowest latency)
    fps: float = 25.0  # time base of frame folders, and of videos that do not state one
    stall_timeout: float = 10.0  # seconds without a frame before a camera/stream counts as stalled
    calibration_max_frames: int = 0  # 0 = every held-out clip; else a contiguous part of each video
    holdout_videos: int = DEFAULT_VIDEOS  # whole training videos kept out of training, for calibration
    holdout_tail: float = DEFAULT_TAIL  # last fraction of every other training video kept for calibration
    refit_frames: int = 0  # > 0: fit each source's own calibration on its first N scored frames (assumed normal)
    running_norm: bool = True  # re-centre/re-scale the score on the stream's own robust running statistics
    running_window: int = 500  # frames of unflagged scores the running median/MAD look back over
    running_warmup: int = 25  # first frames of a stream: they set its level and are never flagged
    overlay_width: int = 640  # the overlay video is at most this wide (0 = source size)
    strip_frames: int = 200  # frames of score history drawn in the overlay's score strip
    memory_update: bool = False  # MNAD's test-time memory update with frames below the threshold
    backend: str = "torch"  # torch | onnxruntime | openvino | auto (docs/detect.md, Export and backends)
    drop_frames: bool = False  # live sources: skip frames that arrive while scoring lags, to keep up


def validate(cfg: DetectConfig, recipe: Recipe | None = None) -> DetectConfig:
    """Check ranges; errors name the recipe key (or the option when there is no recipe)."""
    checks = [
        ("calibration", cfg.calibration in CALIBRATIONS, f"must be one of {', '.join(CALIBRATIONS)}"),
        ("calibration_weights", cfg.calibration_weights in WEIGHTINGS, f"must be one of {', '.join(WEIGHTINGS)}"),
        ("threshold_quantile", 0.0 < cfg.threshold_quantile < 1.0, "must be in (0, 1)"),
        ("smoothing", cfg.smoothing >= 1, "must be >= 1"),
        ("merge_gap", cfg.merge_gap >= 0, "must be >= 0"),
        ("min_event", cfg.min_event >= 1, "must be >= 1"),
        ("batch", cfg.batch >= 1, "must be >= 1"),
        ("fps", cfg.fps > 0, "must be > 0"),
        ("stall_timeout", cfg.stall_timeout > 0, "must be > 0"),
        ("calibration_max_frames", cfg.calibration_max_frames >= 0, "must be >= 0"),
        ("holdout_videos", cfg.holdout_videos >= 0, "must be >= 0"),
        ("holdout_tail", 0.0 <= cfg.holdout_tail < 1.0, "must be a fraction in [0, 1)"),
        ("refit_frames", cfg.refit_frames == 0 or cfg.refit_frames > cfg.smoothing,
         "must be 0 (off) or more than smoothing"),
        ("running_window", cfg.running_window >= 1, "must be >= 1"),
        ("running_warmup", cfg.running_warmup >= 1, "must be >= 1"),
        ("overlay_width", cfg.overlay_width >= 0, "must be >= 0"),
        ("strip_frames", cfg.strip_frames >= 2, "must be >= 2"),
    ]
    for key, ok, msg in checks:
        if not ok:
            value = getattr(cfg, key)
            if recipe is not None:
                raise recipe.error(f"detect.{key}", f"{msg}, got {value!r}")
            from ..errors import RecipeError

            raise RecipeError(f"detect.{key} {msg}, got {value!r}")
    return cfg


def read_detect(recipe: Recipe, **overrides: object) -> DetectConfig:
    """``[detect]`` of ``recipe`` with non-None ``overrides`` (command-line flags) applied."""
    cfg = validate(read_section(recipe, "detect", DetectConfig), recipe)
    given = {k: v for k, v in overrides.items() if v is not None}
    for key, value in given.items():
        setattr(cfg, key, type(getattr(cfg, key))(value))
    return validate(cfg) if given else cfg
