"""Conv blocks of the zoo's published models, as their official code builds them (biases on
every conv, unlike vadkit_mstinet's bias-free blocks), so parameter counts match."""

from __future__ import annotations

from torch import nn


def mnad_basic(in_channels: int, out_channels: int, *, last: str = "bn_relu") -> nn.Sequential:
    """MNAD's double conv: conv3x3 - BN - ReLU - conv3x3, then ``last``: "bn_relu" (Basic) or
    "none" (the bottleneck's Basic_, which ends on the conv)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
    ]
    if last == "bn_relu":
        layers += [nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def mnad_upsample(in_channels: int, out_channels: int) -> nn.Sequential:
    """MNAD's x2 upsampling: transposed conv 3x3 stride 2 (with bias) - BN - ReLU."""
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def mnad_head(in_channels: int, out_channels: int, width: int) -> nn.Sequential:
    """MNAD's output block (Gen): (conv3x3 - BN - ReLU) x 2 at ``width``, conv3x3, tanh."""
    return nn.Sequential(
        *mnad_basic(in_channels, width),
        nn.Conv2d(width, out_channels, 3, padding=1),
        nn.Tanh(),
    )


def plain_double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """FFP's U-Net level: (conv3x3 with bias - ReLU) x 2, no normalisation (tf.contrib conv2d defaults)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.ReLU(inplace=True),
    )
