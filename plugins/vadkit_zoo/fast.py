"""A fast, flow-free frame predictor for CPUs: every level strided (the first at 1/2
resolution), one or two 3x3 convs a level, a light U-Net decoder whose head predicts the
full-resolution frame by pixel shuffle. Sized for >= 300 frames/s at 128x128 on 2 CPU cores.
It was the zoo's first fast tier; MNAD's parts at an eighth of their widths replaced it on
validation (docs/zoo.md, "The fast flow-free tier")."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vadkit.interfaces import Decoder, Encoder

from .mnad import _widths


def conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """conv3x3 (no bias) - BN - ReLU: this predictor's only block (BN folds into the conv on export)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class FastEncoder(Encoder):
    """Levels at strides 2, 4, 8, ...: a stride-2 conv into each level, then ``depth - 1`` more
    convs at that level (none in the first, full-width level, where a conv costs most)."""

    def __init__(self, in_channels: int, widths: Sequence[int] = (16, 32, 64, 64), depth: int = 2) -> None:
        super().__init__()
        widths = _widths(widths)
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        stages: list[nn.Module] = []
        prev = in_channels
        for i, width in enumerate(widths):
            extra = [conv_bn_relu(width, width) for _ in range(depth - 1)] if i > 0 else []
            stages.append(nn.Sequential(conv_bn_relu(prev, width, stride=2), *extra))
            prev = width
        self.stages = nn.ModuleList(stages)
        self.channels = tuple(widths)
        self.strides = tuple(2 ** (i + 1) for i in range(len(widths)))
        self.in_channels = in_channels


class FastDecoder(Decoder):
    """Per level: x2 nearest upsample, concat the skip, conv3x3 - BN - ReLU; then a conv3x3 to
    4 x out_channels and a x2 pixel shuffle to the input resolution (the encoder's first level
    is at 1/2), tanh."""

    def __init__(self, encoder_channels: Sequence[int], in_channels: int, out_channels: int = 3) -> None:
        super().__init__()
        chans = _widths(encoder_channels)
        self.blocks = nn.ModuleList()
        prev = in_channels
        for i in reversed(range(len(chans) - 1)):
            self.blocks.append(conv_bn_relu(prev + chans[i], chans[i]))
            prev = chans[i]
        self.head = nn.Sequential(nn.Conv2d(prev, 4 * out_channels, 3, padding=1), nn.PixelShuffle(2))

    def forward(self, x: Tensor, skips: list[Tensor], size: tuple[int, int]) -> Tensor:
        for block, skip in zip(self.blocks, reversed(skips)):
            x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
            x = block(torch.cat([x, skip], dim=1))
        x = self.head(x)
        if tuple(x.shape[-2:]) != tuple(size):
            x = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
        return torch.tanh(x)
