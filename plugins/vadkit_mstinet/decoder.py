"""The U-Net decoder that predicts frame t+1 (MNAD / FFP practice)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vadkit.interfaces import Decoder

from .blocks import conv_block, up_block


class UNetDecoder(Decoder):
    """Bottleneck -> (x2 up, concat skip, double conv) per level -> 3x3 conv -> tanh.

    Works with any encoder: an upsampled map that does not match its skip's size is resized,
    and the output is resized to the input frame size when the encoder's first level is
    strided (timm backbones).
    """

    def __init__(self, encoder_channels: Sequence[int], in_channels: int, out_channels: int = 3) -> None:
        super().__init__()
        chans = list(encoder_channels)
        self.entry = conv_block(in_channels, chans[-1])
        self.ups = nn.ModuleList()
        self.blocks = nn.ModuleList()
        for i in reversed(range(len(chans) - 1)):
            self.ups.append(up_block(chans[i + 1], chans[i]))
            self.blocks.append(conv_block(2 * chans[i], chans[i]))
        self.head = nn.Conv2d(chans[0], out_channels, 3, padding=1)

    def forward(self, x: Tensor, skips: list[Tensor], size: tuple[int, int]) -> Tensor:
        x = self.entry(x)
        for up, block, skip in zip(self.ups, self.blocks, reversed(skips)):
            x = up(x)
            if x.shape[-2:] != skip.shape[-2:]:
                x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        x = self.head(x)
        if tuple(x.shape[-2:]) != tuple(size):
            x = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
        return torch.tanh(x)
