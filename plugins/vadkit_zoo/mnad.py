"""MNAD's encoder and decoder (Park et al., "Learning Memory-guided Normality for Anomaly
Detection", CVPR 2020; official code cvlab-yonsei/MNAD), as vadkit components.

The memory between them is vadkit's ``memory_bank`` (MNAD's read, update and losses); with
widths 64-128-256-512, 10 items of 512 channels and 4 input frames of 3 channels the assembly
has the official prediction model's 15,651,843 parameters (tests/test_zoo.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vadkit.interfaces import Decoder, Encoder

from .blocks import mnad_basic, mnad_head, mnad_upsample


def _widths(widths: Sequence[int]) -> list[int]:
    out = [int(w) for w in widths]
    if len(out) < 2 or any(w <= 0 for w in out):
        raise ValueError(f"widths must list at least 2 positive channel counts, got {out}")
    return out


class MNADEncoder(Encoder):
    """MNAD's encoder: Basic(in, w0), then (max-pool, Basic) per level; the bottleneck block
    ends on its second conv (no BN, no ReLU), so queries keep their sign before L2 norm.

    ``official_layout``: the official Encoder also defines a BatchNorm2d and a ReLU after the
    bottleneck that its forward never calls; they are kept (frozen, unused: 2 x w_last
    parameters) so the parameter count equals the official model's. Their values never change.
    """

    def __init__(
        self, in_channels: int, widths: Sequence[int] = (64, 128, 256, 512), official_layout: bool = True
    ) -> None:
        super().__init__()
        widths = _widths(widths)
        stages: list[nn.Module] = []
        prev = in_channels
        for i, width in enumerate(widths):
            block = mnad_basic(prev, width, last="bn_relu" if i < len(widths) - 1 else "none")
            stages.append(block if i == 0 else nn.Sequential(nn.MaxPool2d(2), block))
            prev = width
        self.stages = nn.ModuleList(stages)
        self.channels = tuple(widths)
        self.strides = tuple(2**i for i in range(len(widths)))
        self.in_channels = in_channels
        if official_layout:
            self.unused_bn = nn.BatchNorm2d(widths[-1]).requires_grad_(False)


class MNADDecoder(Decoder):
    """MNAD's decoder: Basic(in, w_last), then per level a transposed-conv upsample and a Basic,
    the last level's Basic replaced by the output block (Gen: two conv-BN-ReLU at w0, conv, tanh).

    ``skips = true`` (prediction model): each upsample halves the channels and is concatenated
    with the encoder's feature of that level. ``skips = false`` (reconstruction model): no
    skip connections, each upsample keeps its channels (the official Reconstruction.py).
    """

    def __init__(
        self, encoder_channels: Sequence[int], in_channels: int, out_channels: int = 3, skips: bool = True
    ) -> None:
        super().__init__()
        chans = _widths(encoder_channels)
        self.skips = bool(skips)
        self.entry = mnad_basic(in_channels, chans[-1])
        self.ups = nn.ModuleList()
        self.blocks = nn.ModuleList()
        for i in reversed(range(len(chans) - 1)):
            up_out = chans[i] if self.skips else chans[i + 1]
            block_in = 2 * chans[i] if self.skips else chans[i + 1]
            self.ups.append(mnad_upsample(chans[i + 1], up_out))
            self.blocks.append(mnad_basic(block_in, chans[i]) if i > 0 else mnad_head(block_in, out_channels, chans[0]))

    def forward(self, x: Tensor, skips: list[Tensor], size: tuple[int, int]) -> Tensor:
        x = self.entry(x)
        levels = list(reversed(skips)) if self.skips else [None] * len(self.ups)
        for up, block, skip in zip(self.ups, self.blocks, levels):
            x = up(x)
            if skip is not None:
                if x.shape[-2:] != skip.shape[-2:]:
                    x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
                x = torch.cat([skip, x], dim=1)  # MNAD: skip first, then the upsampled map
            x = block(x)
        if tuple(x.shape[-2:]) != tuple(size):
            x = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False).clamp(-1, 1)
        return x
