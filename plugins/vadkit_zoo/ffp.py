"""FFP's U-Net generator (Liu et al., "Future Frame Prediction for Anomaly Detection - A New
Baseline", CVPR 2018; official code StevenLiuWen/ano_pred_cvpr2018, Codes/unet.py), split into
a vadkit encoder and decoder: 4 levels of (conv3x3 + ReLU) x 2 with biases and no
normalisation, max-pool down, 2x2 stride-2 transposed conv (+ ReLU) up, skip concatenation,
conv3x3 + tanh out. Used with memory "none", so the bottleneck goes straight to the decoder."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vadkit.interfaces import Decoder, Encoder

from .blocks import plain_double_conv
from .mnad import _widths


class FFPEncoder(Encoder):
    """The contracting half of FFP's U-Net: level 0 at full resolution, then (max-pool,
    double conv) per level; widths 64-128-256-512 in the paper (layers = 4, features_root = 64)."""

    def __init__(self, in_channels: int, widths: Sequence[int] = (64, 128, 256, 512)) -> None:
        super().__init__()
        widths = _widths(widths)
        stages: list[nn.Module] = []
        prev = in_channels
        for i, width in enumerate(widths):
            block = plain_double_conv(prev, width)
            stages.append(block if i == 0 else nn.Sequential(nn.MaxPool2d(2), block))
            prev = width
        self.stages = nn.ModuleList(stages)
        self.channels = tuple(widths)
        self.strides = tuple(2**i for i in range(len(widths)))
        self.in_channels = in_channels


class FFPDecoder(Decoder):
    """The expanding half: per level a 2x2 stride-2 transposed conv (+ ReLU, tf.contrib's
    default activation) to that level's width, concat(skip, up), double conv; then conv3x3, tanh."""

    def __init__(self, encoder_channels: Sequence[int], in_channels: int, out_channels: int = 3) -> None:
        super().__init__()
        chans = _widths(encoder_channels)
        self.ups = nn.ModuleList()
        self.blocks = nn.ModuleList()
        prev = in_channels
        for i in reversed(range(len(chans) - 1)):
            self.ups.append(nn.Sequential(nn.ConvTranspose2d(prev, chans[i], 2, stride=2), nn.ReLU(inplace=True)))
            self.blocks.append(plain_double_conv(2 * chans[i], chans[i]))
            prev = chans[i]
        self.head = nn.Conv2d(prev, out_channels, 3, padding=1)

    def forward(self, x: Tensor, skips: list[Tensor], size: tuple[int, int]) -> Tensor:
        for up, block, skip in zip(self.ups, self.blocks, reversed(skips)):
            x = up(x)
            if x.shape[-2:] != skip.shape[-2:]:
                x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([skip, x], dim=1))  # FFP: tf.concat([conv[layer], h_deconv])
        x = self.head(x)
        if tuple(x.shape[-2:]) != tuple(size):
            x = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
        return torch.tanh(x)
