"""FFP's optical-flow loss without a pretrained flow network: differentiable Horn-Schunck.

FFP (Liu et al., CVPR 2018) adds ``lam_flow * | f(I_t, I^_{t+1}) - f(I_t, I_{t+1}) |_1`` with
f = FlowNet-SD, pretrained and frozen, so the predicted frame must move like the real one. No
pretrained flow network ships offline here, and vadkit's DIS / Farneback are not differentiable.
Horn and Schunck's method (1981) is: a fixed number of Jacobi iterations of

    u <- u_bar - Ix (Ix u_bar + Iy v_bar + It) / (alpha^2 + Ix^2 + Iy^2)     (v alike)

is a chain of convolutions and arithmetic, so the flow of (I_t, prediction) has a gradient with
respect to the prediction, and nothing has to be trained or downloaded. It is a coarser flow than
FlowNet-SD (small motions, smooth fields): docs/zoo.md says what differs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

ALPHA = 0.05  # smoothness weight on frames scaled to [0, 1]
ITERATIONS = 20
SCALE = 2  # the loss's flows on a grid half as fine (frames of 64 pixels or more): 4x cheaper

_DX = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0


def _grey(frames: Tensor) -> Tensor:
    """(B, C, H, W) in [-1, 1] -> (B, 1, H, W) in [0, 1]."""
    return (frames.float().mean(dim=1, keepdim=True) + 1.0) / 2.0


def _conv(x: Tensor, kernel: Tensor) -> Tensor:
    """3x3 convolution with replicated borders; ``kernel`` (out, in, 3, 3)."""
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel.to(x))


def _neighbour_mean(x: Tensor) -> Tensor:
    """Horn and Schunck's weighted mean of the 8 neighbours (edges 1/6, corners 1/12), borders
    replicated; by slices, which is several times faster on a CPU than a 2-group convolution."""
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    edges = p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:]
    corners = p[..., :-2, :-2] + p[..., :-2, 2:] + p[..., 2:, :-2] + p[..., 2:, 2:]
    return edges / 6 + corners / 12


def horn_schunck(
    first: Tensor, second: Tensor, alpha: float = ALPHA, iterations: int = ITERATIONS, scale: int = 1
) -> Tensor:
    """(B, 2, H/scale, W/scale) flow (x, y in pixels of that grid) from ``first`` to ``second``,
    both (B, C, H, W) in [-1, 1]; differentiable with respect to both. ``scale`` > 1 averages
    the frames down first (cheaper; motions measured on the coarser grid)."""
    a, b = _grey(first), _grey(second)
    if scale > 1:
        a, b = F.avg_pool2d(a, scale), F.avg_pool2d(b, scale)
    mean = (a + b) / 2
    grad = _conv(mean, torch.stack([_DX, _DX.T])[:, None])  # (B, 2, H, W): Ix, Iy
    it = b - a
    denominator = alpha**2 + grad.pow(2).sum(dim=1, keepdim=True)
    flow = torch.zeros_like(grad)
    for _ in range(iterations):
        bar = _neighbour_mean(flow)
        flow = bar - grad * ((grad * bar).sum(dim=1, keepdim=True) + it) / denominator
    return flow


def flow_loss(prediction: Tensor, target: Tensor, previous: Tensor) -> Tensor:
    """L_op (FFP): mean | flow(previous -> prediction) - flow(previous -> target) |, the real
    frame's flow held fixed (no gradient), as FFP's frozen flow network is."""
    scale = SCALE if min(prediction.shape[-2:]) >= 64 else 1
    with torch.no_grad():
        real = horn_schunck(previous, target, scale=scale)
    return (horn_schunck(previous, prediction, scale=scale) - real).abs().mean()


__all__ = ["ALPHA", "ITERATIONS", "SCALE", "flow_loss", "horn_schunck"]
