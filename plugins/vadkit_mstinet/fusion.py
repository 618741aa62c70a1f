"""Per-level fusion of motion into appearance: ASTFM, direct concat, and none."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vadkit.interfaces import Attention, Fusion


class ASTFM(Fusion):
    """Attention-based spatial-temporal fusion (MSTI-Net eq. 3).

    x_m' = attention(x_m);  x_f = x_a * F(concat(x_a, x_m')), where F = 3x3 conv -> BN ->
    ReLU -> 1x1 conv -> sigmoid gives per-pixel, per-channel weights for the appearance.
    """

    def __init__(
        self,
        appearance_channels: int,
        motion_channels: int,
        attention: Attention | None = None,
        hidden: int | None = None,
    ) -> None:
        super().__init__()
        self.appearance_channels = appearance_channels
        self.motion_channels = motion_channels
        self.attention = attention if attention is not None else nn.Identity()
        hidden = hidden or appearance_channels
        self.weights = nn.Sequential(
            nn.Conv2d(appearance_channels + motion_channels, hidden, 3, padding=1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, appearance_channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, appearance: Tensor, motion: Tensor | None) -> Tensor:
        assert motion is not None, "ASTFM needs motion features"
        motion = self.attention(motion)
        return appearance * self.weights(torch.cat([appearance, motion], dim=1))


class ConcatFusion(Fusion):
    """Direct fusion (Table II model C): concat(x_a, x_m) -> 1x1 conv -> BN -> ReLU."""

    def __init__(self, appearance_channels: int, motion_channels: int, attention: Attention | None = None) -> None:
        super().__init__()
        self.appearance_channels = appearance_channels
        self.motion_channels = motion_channels
        self.attention = attention if attention is not None else nn.Identity()
        self.project = nn.Sequential(
            nn.Conv2d(appearance_channels + motion_channels, appearance_channels, 1, bias=False),
            nn.BatchNorm2d(appearance_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, appearance: Tensor, motion: Tensor | None) -> Tensor:
        assert motion is not None, "ConcatFusion needs motion features"
        return self.project(torch.cat([appearance, self.attention(motion)], dim=1))


class NoFusion(Fusion):
    """No interaction: the appearance features pass unchanged (Table II models A and B)."""

    needs_motion = False

    def __init__(self, appearance_channels: int, motion_channels: int = 0) -> None:
        super().__init__()
        self.appearance_channels = appearance_channels
        self.motion_channels = motion_channels

    def forward(self, appearance: Tensor, motion: Tensor | None) -> Tensor:
        return appearance
