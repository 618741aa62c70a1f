"""Two fusions that plug into MSTI-Net's per-level fusion slot."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from vadkit.interfaces import Attention, Fusion


class GatedFusion(Fusion):
    """x_f = x_a + sigmoid(W [x_a, x_m']) * P(x_m'), with x_m' = attention(x_m).

    The gate decides, per pixel and channel, how much projected motion to add to the
    appearance. The gate's bias starts at ``init_gate`` (negative: start close to x_a).
    """

    def __init__(
        self,
        appearance_channels: int,
        motion_channels: int,
        attention: Attention | None = None,
        kernel_size: int = 3,
        init_gate: float = -2.0,
    ) -> None:
        super().__init__()
        self.appearance_channels = appearance_channels
        self.motion_channels = motion_channels
        self.attention = attention if attention is not None else nn.Identity()
        self.gate = nn.Conv2d(appearance_channels + motion_channels, appearance_channels, kernel_size, padding=kernel_size // 2)
        nn.init.constant_(self.gate.bias, init_gate)
        self.project = nn.Conv2d(motion_channels, appearance_channels, 1)

    def forward(self, appearance: Tensor, motion: Tensor | None) -> Tensor:
        assert motion is not None, "GatedFusion needs motion features"
        motion = self.attention(motion)
        gate = torch.sigmoid(self.gate(torch.cat([appearance, motion], dim=1)))
        return appearance + gate * self.project(motion)


class CrossAttentionFusion(Fusion):
    """Every appearance pixel attends to the motion features average-pooled to ``tokens`` x
    ``tokens`` positions (cost linear in the pixel count), multi-head; the result is added
    back: x_f = x_a + O(attn(Q x_a, K x_m', V x_m'))."""

    def __init__(
        self,
        appearance_channels: int,
        motion_channels: int,
        attention: Attention | None = None,
        heads: int = 4,
        head_dim: int = 16,
        tokens: int = 8,
    ) -> None:
        super().__init__()
        self.appearance_channels = appearance_channels
        self.motion_channels = motion_channels
        self.attention = attention if attention is not None else nn.Identity()
        self.heads = heads
        self.tokens = tokens
        inner = heads * head_dim
        self.norm = nn.GroupNorm(1, appearance_channels)
        self.to_q = nn.Conv2d(appearance_channels, inner, 1, bias=False)
        self.to_kv = nn.Conv2d(motion_channels, 2 * inner, 1, bias=False)
        self.out = nn.Conv2d(inner, appearance_channels, 1)

    def forward(self, appearance: Tensor, motion: Tensor | None) -> Tensor:
        assert motion is not None, "CrossAttentionFusion needs motion features"
        h, w = appearance.shape[-2:]
        motion = F.adaptive_avg_pool2d(self.attention(motion), self.tokens)
        q = rearrange(self.to_q(self.norm(appearance)), "b (n d) h w -> b n (h w) d", n=self.heads)
        k, v = rearrange(self.to_kv(motion), "b (two n d) h w -> two b n (h w) d", two=2, n=self.heads)
        attended = F.scaled_dot_product_attention(q, k, v)
        attended = rearrange(attended, "b n (h w) d -> b (n d) h w", h=h, w=w)
        return appearance + self.out(attended)
