"""The training objective: weighted sum of the intensity loss, the weighted frame terms (FFP's
gradient and optical-flow losses) and the memory's named losses."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import VadkitError
from ..interfaces import ModelOutput
from .flow_loss import flow_loss


class NonFiniteLossError(VadkitError):
    """A loss term became NaN or infinite."""


def intensity_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """L_int: mean squared error between the predicted and the real frame t+1 (L2)."""
    return (prediction.float() - target.float()).pow(2).mean()


def gradient_loss(prediction: Tensor, target: Tensor, previous: Tensor | None = None) -> Tensor:
    """L_gd (FFP, Liu et al. CVPR 2018, alpha = 1): mean | |dx target| - |dx prediction| | plus
    the same along y, dx and dy the differences of neighbouring pixels."""
    p, t = prediction.float(), target.float()
    dx = ((t[..., :, 1:] - t[..., :, :-1]).abs() - (p[..., :, 1:] - p[..., :, :-1]).abs()).abs().mean()
    dy = ((t[..., 1:, :] - t[..., :-1, :]).abs() - (p[..., 1:, :] - p[..., :-1, :]).abs()).abs().mean()
    return dx + dy


def _flow_term(prediction: Tensor, target: Tensor, previous: Tensor | None) -> Tensor:
    if previous is None:
        raise ValueError("the flow loss needs the last input frame")
    return flow_loss(prediction, target, previous)


# Frame terms computed only when [loss.weights] weighs them
# (name -> fn(prediction, target, the clip's last input frame)).
WEIGHTED_FRAME_TERMS = {"gradient": gradient_loss, "flow": _flow_term}


def compute_loss(
    output: ModelOutput, target: Tensor, weights: dict[str, float], previous: Tensor | None = None
) -> tuple[Tensor, dict[str, Tensor]]:
    """Total loss and every term by name. Terms without a weight are logged, not optimised.
    ``previous``: the clip's last input frame (B, C, H, W), for the flow loss."""
    terms: dict[str, Tensor] = {"intensity": intensity_loss(output.prediction, target)}
    terms.update(
        {
            name: fn(output.prediction, target, previous)
            for name, fn in WEIGHTED_FRAME_TERMS.items()
            if weights.get(name)
        }
    )
    terms.update(output.memory.losses)
    total = sum(
        (weights.get(name, 0.0) * value for name, value in terms.items()), torch.zeros((), device=target.device)
    )
    return total, terms


def check_finite(total: Tensor, terms: dict[str, Tensor], epoch: int, step: int, global_step: int) -> None:
    """Stop with a message naming the step and the term when a loss is NaN or inf."""
    if math.isfinite(float(total.detach())):
        return
    bad = [f"{name}={float(v.detach())}" for name, v in terms.items() if not math.isfinite(float(v.detach()))]
    bad = bad or [f"total={float(total.detach())}"]
    raise NonFiniteLossError(
        f"loss became non-finite at epoch {epoch + 1}, step {step + 1} (global step {global_step}): "
        f"{', '.join(bad)}. Lower [train] lr, or set [train] fast = false to rule out bf16 overflow."
    )
