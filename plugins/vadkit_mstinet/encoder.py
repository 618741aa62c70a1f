"""Encoder streams: the MNAD-style conv stream, and "none" for single-stream models."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from vadkit.interfaces import Encoder

from .blocks import conv_block


class ConvEncoder(Encoder):
    """Conv stream: a full-resolution level, then (max-pool, double conv) per level.

    With widths (64, 128, 256, 512) the levels sit at strides 1, 2, 4 and 8: three encoding
    levels that take part in fusion, plus the bottleneck (MNAD's encoder, used by MSTI-Net).
    """

    def __init__(self, in_channels: int, widths: Sequence[int] = (64, 128, 256, 512)) -> None:
        super().__init__()
        widths = [int(w) for w in widths]
        if len(widths) < 2 or any(w <= 0 for w in widths):
            raise ValueError(f"widths must list at least 2 positive channel counts, got {widths}")
        stages: list[nn.Module] = []
        prev = in_channels
        for i, width in enumerate(widths):
            block = conv_block(prev, width, final_relu=i < len(widths) - 1)
            stages.append(block if i == 0 else nn.Sequential(nn.MaxPool2d(2), block))
            prev = width
        self.stages = nn.ModuleList(stages)
        self.channels = tuple(widths)
        self.strides = tuple(2**i for i in range(len(widths)))
        self.in_channels = in_channels


class NoStream(Encoder):
    """The absent stream: switches the motion stream off (Table II model A)."""

    disabled = True

    def __init__(self, in_channels: int = 0) -> None:
        super().__init__()
        self.stages = nn.ModuleList()
        self.channels = ()
        self.strides = ()

    def forward(self, x: Tensor) -> list[Tensor]:
        return []
