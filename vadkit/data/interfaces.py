"""The contracts of the two data plugin kinds: dataset layouts and optical-flow estimators.

The core owns everything else about data (videos, labels, clips, the flow cache, transforms);
a plugin only says how a layout on disk maps to :class:`~vadkit.data.video.Video` objects, or
how to compute flow between two frames.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .video import Video

SPLITS = ("training", "testing")


class DatasetLayout(ABC):
    """A dataset layout on disk, opened as ``cls(root, **recipe_options)``.

    ``recognises(root)`` lets ``[data] type = "auto"`` ask every registered layout whether a
    folder is one of its own: return 0 for "not mine", higher numbers for more specific
    matches (the most specific layout wins; a tie is an error naming both).
    """

    layout: str = "?"
    root: Path

    @classmethod
    def recognises(cls, root: Path) -> int:
        """How specifically ``root`` matches this layout: 0 = not at all."""
        return 0

    @classmethod
    def expects(cls) -> str:
        """One line describing the layout, used in "cannot detect the layout" messages."""
        return cls.__doc__.strip().splitlines()[0] if cls.__doc__ else cls.__name__

    @abstractmethod
    def videos(self, split: str) -> list[Video]:
        """The videos of ``split`` ('training' or 'testing'), testing ones with labels when known.

        Cheap checks run here (empty videos, gaps in frame numbers, label lengths)."""

    @abstractmethod
    def check(self, split: str, progress: Callable[[int], None] | None = None) -> None:
        """Decode every frame of ``split``; a broken frame raises DataError naming file, video, frame."""

    @abstractmethod
    def summary(self) -> dict[str, Any]:
        """What ``vadkit data inspect --json`` prints: root, layout, label format, videos per split."""


class FlowEstimator(ABC):
    """Dense optical flow between two frames.

    ``est(prev_rgb, next_rgb)`` returns (H, W, 2) float32 flow from ``prev`` to ``next`` in
    pixels of the frames given (x then y). Estimators must be picklable (flow is computed in
    worker processes); create OpenCV or torch objects lazily. ``cache_key()`` names the method
    and every parameter that changes its output: it keys the on-disk flow cache.
    """

    @abstractmethod
    def __call__(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def cache_key(self) -> dict[str, Any]: ...


__all__ = ["DatasetLayout", "FlowEstimator", "SPLITS"]
