"""The interfaces every component kind implements, and the typed outputs they return.

Plugins subclass these (or quack like them); the conformance tests in tests/ check every
registered component against them. See docs/plugins.md for the contract of each kind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from .scoring import Scorer, Statistic  # the scorer contract lives with the scoring code


@dataclass
class MemoryOutput:
    """What a memory gives the decoder and the loss."""

    features: Tensor  # (B, out_channels, h, w): what the decoder receives
    distance: Tensor  # (B,): mean squared distance of the queries to their nearest items
    losses: dict[str, Tensor] = field(default_factory=dict)  # named auxiliary losses (scalars)
    weights: Tensor | None = None  # (B, h, w, N) read weights, when the memory has items
    diagnostics: dict[str, Tensor] = field(default_factory=dict)  # usage statistics, no gradient


@dataclass
class ModelOutput:
    """A forward pass of an assembled model."""

    prediction: Tensor  # (B, C, H, W) predicted frame t+1 in [-1, 1]
    memory: MemoryOutput
    skips: list[Tensor] = field(default_factory=list)


class Encoder(nn.Module, ABC):
    """A multi-level stream. ``stages[i]`` maps level i-1 features to level i features, so a
    fusion can act between stages; the last stage is the bottleneck."""

    channels: tuple[int, ...]  # channels per level, bottleneck last
    strides: tuple[int, ...]  # spatial stride per level relative to the input
    stages: nn.ModuleList
    disabled: bool = False  # True for the "none" stream (single-stream ablation)

    def forward(self, x: Tensor) -> list[Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


class Attention(nn.Module, ABC):
    """Re-weights a feature map and keeps its shape: (B, C, H, W) -> (B, C, H, W)."""

    @abstractmethod
    def forward(self, x: Tensor) -> Tensor: ...


class Fusion(nn.Module, ABC):
    """Fuses one level of motion features into the appearance features.

    (B, Ca, H, W), (B, Cm, H, W) -> (B, Ca, H, W). One instance per encoder level.
    """

    appearance_channels: int
    motion_channels: int
    needs_motion: bool = True

    @abstractmethod
    def forward(self, appearance: Tensor, motion: Tensor | None) -> Tensor: ...


class Memory(nn.Module, ABC):
    """Reads (and, in training, writes) prototypes of normal bottleneck features."""

    channels: int  # query channels
    out_channels: int  # channels of MemoryOutput.features

    @abstractmethod
    def forward(self, query: Tensor) -> MemoryOutput: ...


class Decoder(nn.Module, ABC):
    """Bottleneck (after memory) plus encoder skips -> the predicted frame in [-1, 1]."""

    @abstractmethod
    def forward(self, x: Tensor, skips: list[Tensor], size: tuple[int, int]) -> Tensor: ...


def count_parameters(module: nn.Module | Any) -> int:
    if not isinstance(module, nn.Module):
        return 0
    return sum(p.numel() for p in module.parameters())


__all__ = [
    "Attention",
    "Decoder",
    "Encoder",
    "Fusion",
    "Memory",
    "MemoryOutput",
    "ModelOutput",
    "Scorer",
    "Statistic",
    "count_parameters",
]
