"""Streaming scoring: a ring buffer of the last T+1 preprocessed frames and their flows (T when
the model reconstructs the newest frame, ``[model] target = "current"``), so memory stays
constant however long the source runs and the first score comes after T+1
frames. Flow is computed once per new frame (previous frame -> newest frame)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..runtime import autocast
from ..scoring import Scorer
from .preprocess import Preprocessor, to_unit_range


@dataclass
class FrameStats:
    """The scorer's statistics of one scored frame (the target of a T-frame clip)."""

    index: int
    time: float
    stats: dict[str, float]
    error: np.ndarray | None = None  # (h, w) |prediction - frame| on the [0, 1] scale
    rgb: np.ndarray | None = None  # the original frame, kept only for the overlay


@torch.no_grad()
def forward_stats(
    model: Any,
    scorer: Scorer,
    frames: Tensor,
    target: Tensor,
    flows: Tensor | None,
    device: torch.device,
    fast: bool,
    error_maps: bool = False,
    precision: str = "auto",
    on_output: Callable[..., Any] | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """(the scorer's statistics, each (B,), and error maps (B, h, w) or None) for a batch of clips.

    ``on_output(output, target, stats)`` runs after the forward pass (test-time memory update)."""
    frames, target = frames.to(device), target.to(device)
    flows = flows.to(device) if (flows is not None and model.uses_motion) else None
    with autocast(device, fast, precision):
        out = model(frames, flows)
    stats = {k: v.float().cpu().numpy().astype(np.float64) for k, v in scorer.stats(out, target).items()}
    if on_output is not None:
        on_output(out, target, stats)
    maps = None
    if error_maps:
        maps = ((out.prediction.float() - target.float()).abs().mean(dim=1) / 2).cpu().numpy().astype(np.float32)
    return stats, maps


class StreamingScorer:
    """Push frames in order; get the statistics of each frame once T past frames exist.

    Holds at most T+1 preprocessed frames, T+1 flows, one previous original frame (for
    flow) and ``batch`` pending clips (with their original frames when ``keep_frames``).
    """

    def __init__(
        self,
        model: Any,
        scorer: Scorer,
        pre: Preprocessor,
        device: torch.device,
        *,
        fast: bool = False,
        batch: int = 1,
        keep_frames: bool = True,
        error_maps: bool = True,
        precision: str = "auto",
        on_output: Callable[..., Any] | None = None,
    ) -> None:
        self.model, self.scorer, self.pre, self.device = model, scorer, pre, device
        self.fast, self.precision, self.on_output = fast, precision, on_output
        self.batch, self.keep_frames, self.error_maps = int(batch), keep_frames, error_maps
        self.T = pre.frames
        self.window = pre.window  # T + 1 (prediction) or T (reconstruction of the newest frame)
        self.motion = bool(getattr(model, "uses_motion", False))
        self.reset()

    def reset(self) -> None:
        """Start a new video: the next frame has no past (its flow is zero)."""
        self._frames: deque[np.ndarray] = deque(maxlen=self.window)
        self._flows: deque[np.ndarray] = deque(maxlen=self.window)
        self._prev: np.ndarray | None = None
        self._pending: list[tuple[int, float, np.ndarray | None, np.ndarray, np.ndarray | None]] = []

    @property
    def buffered_frames(self) -> int:
        """Frames held right now (ring buffer + pending clips' targets + the previous frame)."""
        return len(self._frames) + len(self._pending) + (self._prev is not None)

    @property
    def warm(self) -> bool:
        return len(self._frames) == self.window

    def push(self, index: int, time_s: float, rgb: np.ndarray) -> list[FrameStats]:
        """Add the newest frame; returns the statistics that became ready (maybe none)."""
        self._frames.append(self.pre.frame(rgb))
        if self.motion:
            self._flows.append(self.pre.flow_between(self._prev, rgb))
            self._prev = rgb
        if len(self._frames) < self.window:
            return []
        clip = np.stack(
            self._frames
        )  # (window, C, h, w) uint8: the T inputs, then the target unless it is the last input
        flows = np.stack(list(self._flows)[: self.T]) if self.motion else None  # flows into the T inputs
        self._pending.append((index, time_s, rgb if self.keep_frames else None, clip, flows))
        return self.flush() if len(self._pending) >= self.batch else []

    def flush(self) -> list[FrameStats]:
        """Score the pending clips now (end of a video, or a full batch)."""
        return self.score(self.take_pending())

    def take_pending(self) -> list[tuple]:
        """Hand over the clips waiting for a forward pass (a pool batches several streams' clips
        through one scorer's ``score``); this scorer keeps no other state for them."""
        pending, self._pending = self._pending, []
        return pending

    def score(self, pending: list[tuple]) -> list[FrameStats]:
        """One forward pass over ``pending`` clips (from ``take_pending``, of any stream with the
        same preprocessing), in order."""
        if not pending:
            return []
        images = to_unit_range(np.stack([p[3] for p in pending]))  # (B, T+1, C, h, w)
        flows = torch.from_numpy(np.stack([p[4] for p in pending])) if self.motion else None
        stats, maps = forward_stats(
            self.model,
            self.scorer,
            images[:, : self.T],  # the T inputs; the target is the last frame either way
            images[:, -1],
            flows,
            self.device,
            self.fast,
            self.error_maps,
            self.precision,
            self.on_output,
        )
        return [
            FrameStats(
                index=i,
                time=t,
                stats={k: float(v[b]) for k, v in stats.items()},
                error=None if maps is None else maps[b],
                rgb=rgb,
            )
            for b, (i, t, rgb, _, _) in enumerate(pending)
        ]


def clip_shapes(pre: Preprocessor, batch: int = 1) -> dict[str, tuple[int, ...]]:
    """The input shapes one forward pass gets (for messages and benchmarks)."""
    h, w = pre.resolution
    shapes: dict[str, tuple[int, ...]] = {"frames": (batch, pre.frames, pre.channels, h, w)}
    if pre.flow is not None:
        shapes["flows"] = (batch, pre.frames, 2, h, w)
    return shapes


__all__ = ["FrameStats", "StreamingScorer", "forward_stats", "clip_shapes"]
