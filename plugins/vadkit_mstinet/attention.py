"""Channel attention for the motion features (MSTI-Net eq. 1-2)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vadkit.interfaces import Attention


class ChannelAttention(Attention):
    """x' = x + g(x) * sigmoid(g(GAP(x))), with g = conv -> ReLU -> conv (eq. 1-2).

    ``shared=True`` uses one g for both terms, as the paper writes it; ``shared=False`` gives
    the global branch its own g. The hidden width is channels // reduction.
    """

    def __init__(self, channels: int, reduction: int = 4, kernel_size: int = 3, shared: bool = True) -> None:
        super().__init__()
        if reduction < 1 or channels // reduction < 1:
            raise ValueError(f"reduction must be in [1, {channels}], got {reduction}")
        hidden = channels // reduction
        pad = kernel_size // 2

        def g() -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(channels, hidden, kernel_size, padding=pad),
                nn.ReLU(inplace=True),
                nn.Conv2d(hidden, channels, kernel_size, padding=pad),
            )

        self.g = g()
        self.g_global = self.g if shared else g()

    def forward(self, x: Tensor) -> Tensor:
        gap = x.mean(dim=(2, 3), keepdim=True)
        return x + self.g(x) * torch.sigmoid(self.g_global(gap))


class IdentityAttention(Attention):
    """No attention: x' = x."""

    def __init__(self, channels: int = 0) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x
