"""Frame and flow preprocessing for detection, identical to what training saw.

Training clips come from ``vadkit.data.ClipDataset``: frames resized to the model resolution
(``vadkit.data.transforms.resize_frame``), optionally converted to luma,
scaled to [-1, 1]; flow estimated on the ORIGINAL frames, resized with its vectors scaled to
the new grid (``vadkit.data.transforms.resize_flow``) and divided by ``[flow] scale`` (clipped to
``[flow] clip`` when set); flow passes through float16 like the training cache. ``tests/test_detect_preprocess.py`` checks the equality.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..builder import model_section
from ..data.transforms import normalise_flow, resize_flow, resize_frame
from ..recipe import Recipe
from ..registry import Registry


def to_unit_range(frames: np.ndarray) -> Tensor:
    """uint8 -> float32 in [-1, 1] (x / 127.5 - 1), as training does."""
    return torch.from_numpy(np.ascontiguousarray(frames)).float().div_(127.5).sub_(1.0)


@dataclass
class Preprocessor:
    """What a recipe says the model sees: resolution, channels, flow estimator and scaling."""

    resolution: tuple[int, int]
    channels: int
    frames: int
    flow: Any = None  # estimator(prev_rgb, next_rgb) -> (H, W, 2) px; None = appearance only
    flow_scale: float = 10.0
    flow_clip: float | None = None
    target: str = "next"  # [model] target: "current" reconstructs the newest frame instead of predicting it

    @property
    def window(self) -> int:
        """Frames one scored clip spans: T inputs, plus the predicted frame when it follows them."""
        return self.frames + (1 if self.target == "next" else 0)

    @classmethod
    def from_recipe(cls, recipe: Recipe, registry: Registry, uses_motion: bool) -> Preprocessor:
        from ..data.factory import flow_settings, make_flow

        m = model_section(recipe)
        settings = flow_settings(recipe)
        return cls(
            resolution=(int(m["resolution"][0]), int(m["resolution"][1])),
            channels=int(m["image_channels"]),
            frames=int(m["frames"]),
            target=str(m["target"]),
            flow=make_flow(registry, recipe) if uses_motion else None,
            flow_scale=settings["scale"],
            flow_clip=settings["clip"],
        )

    def frame(self, rgb: np.ndarray) -> np.ndarray:
        return resize_frame(rgb, self.resolution, self.channels)

    def flow_between(self, prev_rgb: np.ndarray | None, next_rgb: np.ndarray) -> np.ndarray:
        """(2, h, w) float32 normalised flow into ``next_rgb``; zeros for a video's first frame."""

        if prev_rgb is None or self.flow is None:
            return np.zeros((2, *self.resolution), np.float32)
        # training reads flow from the float16 cache, so round through float16 the same way
        flow = resize_flow(self.flow(prev_rgb, next_rgb), self.resolution).astype(np.float16)
        return normalise_flow(flow, self.flow_scale, self.flow_clip)
