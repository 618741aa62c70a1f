"""Photometric shifts of whole videos: the level changes one threshold must survive.

A deployed detector sees the same scene brighter at noon than at dusk, through a camera with
more sensor noise or another gain. Such a change moves every frame's prediction error, normal
or not, so a statistic that ranks frames well *within* a video can still rank them badly
*across* videos. Validation measures that by pooling pseudo-anomalous copies of the held-out
videos, each under its own random shift (:func:`draw_shift`): a pooled AUC over shifted copies
rewards statistics whose normal level does not move with the camera.

The ranges are fixed here, once, before any measurement with them (issue 19):
gain 0.7-1.3, offset -20..+20 grey levels, Gaussian sensor noise with a standard deviation of
0-4 grey levels; one draw per pseudo-video, the same for all its frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.video import Video

GAIN = (0.7, 1.3)
OFFSET = (-20.0, 20.0)
NOISE = (0.0, 4.0)


@dataclass(frozen=True)
class Shift:
    """``clip(gain * x + offset + N(0, noise^2))`` on 8-bit frames; the noise of frame i is
    seeded by (seed, i), so a frame reads the same every time."""

    gain: float = 1.0
    offset: float = 0.0
    noise: float = 0.0
    seed: int = 0

    def apply(self, image: np.ndarray, index: int) -> np.ndarray:
        out = image.astype(np.float32) * self.gain + self.offset
        if self.noise > 0:
            out += np.random.default_rng([self.seed, index]).normal(0.0, self.noise, image.shape).astype(np.float32)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

    def describe(self) -> str:
        return f"gain {self.gain:.2f}, offset {self.offset:+.1f}, noise {self.noise:.1f}"


def draw_shift(rng: np.random.Generator, seed: int) -> Shift:
    """One shift from the fixed ranges above."""
    return Shift(
        gain=float(rng.uniform(*GAIN)),
        offset=float(rng.uniform(*OFFSET)),
        noise=float(rng.uniform(*NOISE)),
        seed=seed,
    )


@dataclass
class ShiftedFrames:
    """Frame source that reads another video's frames through a :class:`Shift`
    (implements :class:`vadkit.data.video.FrameReader`)."""

    base: Video
    shift: Shift

    def __len__(self) -> int:
        return self.base.num_frames

    def file_of(self, index: int) -> str:
        return f"{self.base.file_of(index)} (shifted: {self.shift.describe()})"

    def read(self, index: int, video: Video) -> np.ndarray:
        return self.shift.apply(self.base.read(index), index)


def shifted(video: Video, shift: Shift) -> Video:
    """``video`` seen through ``shift``: same name suffixed, labels and categories kept."""
    return Video(
        name=f"{video.name}+shift",
        split=video.split,
        num_frames=video.num_frames,
        labels=video.labels,
        categories=video.categories,
        source=ShiftedFrames(video, shift),
        dataset_root=video.dataset_root,
    )


def shift_all(videos: list[Video], seed: int) -> list[Video]:
    """Every video under its own shift, drawn from ``seed`` and the video's position."""
    return [
        shifted(v, draw_shift(np.random.default_rng([seed, 7919, i]), seed * 100_003 + i)) for i, v in enumerate(videos)
    ]


__all__ = ["GAIN", "NOISE", "OFFSET", "Shift", "ShiftedFrames", "draw_shift", "shift_all", "shifted"]
