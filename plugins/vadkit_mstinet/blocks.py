"""Small conv building blocks shared by the MSTI-Net components."""

from __future__ import annotations

from torch import nn


def conv_block(in_channels: int, out_channels: int, *, final_relu: bool = True) -> nn.Sequential:
    """MNAD/FFP double conv: (3x3 conv -> BN -> ReLU) x 2; the bottleneck drops the last ReLU."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
    ]
    if final_relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def up_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """x2 upsampling by transposed conv, as in MNAD's decoder."""
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )
