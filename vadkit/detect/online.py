"""The per-frame decision of streaming detection, shared by ``vadkit detect``, calibration
(thresholds) and ``vadkit eval`` (detection metrics), so all three run the very same path:

    raw calibrated score (Scorer.anomaly) -> [RunningNorm] -> causal Smoother -> threshold

Start-up: a frame can be flagged only once the smoothing window is full (and, with the running
normalisation, once its warm-up is over), so the first scores of a stream (averaged over fewer
frames, hence noisier) are held to the same standard as the middle of the stream; calibration
takes its threshold over the same frames for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import DetectConfig
from .running_norm import RunningNorm
from .smoothing import Smoother


@dataclass(frozen=True)
class StreamSettings:
    """What a :class:`ScoreStream` needs besides the threshold (from [detect] + calibration)."""

    smoothing: int
    running_norm: bool = False
    running_window: int = 500
    running_warmup: int = 25
    reference: dict[str, float] | None = None  # the calibration's robust centre/scale of the raw score

    @classmethod
    def of(cls, cfg: DetectConfig, reference: dict[str, float] | None) -> StreamSettings:
        return cls(cfg.smoothing, cfg.running_norm, cfg.running_window, cfg.running_warmup, reference)

    def describe(self) -> dict[str, Any]:
        return {
            "smoothing": self.smoothing,
            "running_norm": self.running_norm,
            "running_window": self.running_window,
            "running_warmup": self.running_warmup,
        }


class ScoreStream:
    """One source's state: raw score in, (score, flagged) out, one frame at a time."""

    def __init__(self, settings: StreamSettings, threshold: float) -> None:
        self.settings, self.threshold = settings, float(threshold)
        self.smoother = Smoother(settings.smoothing)
        self.norm: RunningNorm | None = None
        if settings.running_norm:
            if settings.reference is None:
                raise ValueError("running_norm needs the calibration's reference (calibrate the run again)")
            self.norm = RunningNorm.from_calibration(
                settings.reference, settings.running_window, settings.running_warmup
            )

    def __call__(self, raw: float) -> tuple[float, bool]:
        value = self.norm(raw) if self.norm is not None else float(raw)
        score = self.smoother(value)
        flagged = self.smoother.full and (self.norm is None or self.norm.warm) and score >= self.threshold
        if self.norm is not None:  # frames that are, or look, abnormal do not move the running statistics
            self.norm.update(raw, flagged or value >= self.threshold)
        return score, flagged

    def reset(self) -> None:
        self.smoother.reset()
        if self.norm is not None:
            self.norm.reset()


def stream_scores(raw: np.ndarray, settings: StreamSettings, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """A :class:`ScoreStream` over one whole video: (scores, flags), frame by frame."""
    stream = ScoreStream(settings, threshold)
    out = [stream(float(r)) for r in np.asarray(raw, np.float64)]
    scores = np.asarray([s for s, _ in out], np.float64)
    return scores, np.asarray([f for _, f in out], bool)


def flaggable(length: int, settings: StreamSettings) -> np.ndarray:
    """Mask of the frames of a video that may be flagged: smoothing window full, warm-up over."""
    first = max(settings.smoothing - 1, settings.running_warmup if settings.running_norm else 0)
    return np.arange(length) >= first


__all__ = ["ScoreStream", "StreamSettings", "stream_scores", "flaggable"]
