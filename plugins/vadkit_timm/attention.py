"""timm.layers channel/spatial attention blocks as vadkit ``attention`` components.

Each wraps one timm module and keeps its semantics: the output is the input re-weighted by
the block's gate (``x * gate``), with the same shape. Options are timm's own.
"""

from __future__ import annotations

from typing import Any

from timm.layers import EcaModule, SEModule
from timm.layers.cbam import CbamModule  # not re-exported by timm.layers
from torch import Tensor, nn

from vadkit.interfaces import Attention


class _TimmAttention(Attention):
    """Holds one timm attention module in ``self.block`` and applies it."""

    block: nn.Module

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x)


class SEAttention(_TimmAttention):
    """Squeeze-and-Excitation: GAP -> 1x1 conv -> ReLU -> 1x1 conv -> sigmoid gate."""

    def __init__(self, channels: int, rd_ratio: float = 1 / 16, rd_divisor: int = 8, add_maxpool: bool = False) -> None:
        super().__init__()
        self.block = SEModule(channels, rd_ratio=rd_ratio, rd_divisor=rd_divisor, add_maxpool=add_maxpool)


class ECAAttention(_TimmAttention):
    """Efficient Channel Attention: GAP -> 1D conv over channels -> sigmoid gate.

    ``kernel_size=None`` picks the kernel from the channel count (the ECA paper's rule).
    """

    def __init__(self, channels: int, kernel_size: int | None = None, gamma: int = 2, beta: int = 1) -> None:
        super().__init__()
        extra: dict[str, Any] = {"kernel_size": kernel_size} if kernel_size is not None else {}
        self.block = EcaModule(channels, gamma=gamma, beta=beta, **extra)


class CBAMAttention(_TimmAttention):
    """CBAM: channel gate (avg + max pooled MLP), then a spatial gate (7x7 conv by default)."""

    def __init__(self, channels: int, rd_ratio: float = 1 / 16, spatial_kernel_size: int = 7) -> None:
        super().__init__()
        self.block = CbamModule(channels, rd_ratio=rd_ratio, spatial_kernel_size=spatial_kernel_size)
