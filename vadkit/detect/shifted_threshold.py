"""``[detect] threshold_shift``: a threshold that also covers the calibration frames under
camera-like photometric shifts.

The threshold is a quantile of the score on normal frames. Fitted on a few held-out videos, it
knows only their level; footage of the same scene at another hour, gain or noise level scores
higher while still normal, and crosses it. With ``threshold_shift`` the calibration clips are
scored a second time through ``SHIFT_COPIES`` random photometric shifts each
(:mod:`vadkit.pseudo.shift`: gain, offset, sensor noise) and the threshold is the quantile over
the plain and the shifted frames together. The scorer's fitted state (the tail probabilities)
still comes from the plain frames alone: only the threshold moves. The shifted frames' statistics
are stored with the others in ``calibration_stats.npz``, so a threshold re-derived for another
quantile or smoothing covers them too.
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import Subset

from ..pseudo.clips import uncached_clips
from ..pseudo.shift import shift_all
from ..registry import Registry
from ..trained_run import TrainedRun

SHIFT_COPIES = 2
SHIFT_SEED = 100  # other draws than validation's (seeds 0 and 1)


def shifted_copies(run: TrainedRun, registry: Registry, data: Any) -> Any:
    """The clips of ``data`` (a ClipDataset or a Subset of one), ``SHIFT_COPIES`` times, each
    time every video under its own random shift."""
    clips: Any = data.dataset if isinstance(data, Subset) else data
    pairs = [clips.index[i] for i in data.indices] if isinstance(data, Subset) else list(clips.index)
    n = len(clips.videos)
    videos: list[Any] = []
    index: list[tuple[int, int]] = []
    for copy in range(SHIFT_COPIES):
        videos += shift_all(clips.videos, SHIFT_SEED + copy)
        index += [(vi + copy * n, t) for vi, t in pairs]
    shifted = uncached_clips(run, registry, videos)
    shifted.index = index
    return shifted


__all__ = ["SHIFT_COPIES", "SHIFT_SEED", "shifted_copies"]
