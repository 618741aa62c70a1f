"""FFP's flow loss with a differentiable Horn-Schunck flow: it finds a known motion, it is zero
when the prediction is the real frame, and its gradient reaches the prediction."""

from __future__ import annotations

import pytest
import torch

from vadkit.interfaces import MemoryOutput, ModelOutput
from vadkit.training.flow_loss import flow_loss, horn_schunck
from vadkit.training.loss import compute_loss


def _blob(shift_x: float = 0.0, shift_y: float = 0.0, size: int = 48) -> torch.Tensor:
    """A smooth bright blob in [-1, 1], centred off the middle by (shift_x, shift_y) pixels."""
    y, x = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                          indexing="ij")
    g = torch.exp(-((x - 24 - shift_x) ** 2 + (y - 24 - shift_y) ** 2) / (2 * 6.0**2))
    return (2 * g - 1).expand(1, 3, size, size).clone()


def test_horn_schunck_finds_a_small_translation_where_the_image_has_texture() -> None:
    flow = horn_schunck(_blob(), _blob(shift_x=1.0), iterations=200)
    centre = flow[0, :, 18:31, 18:31]
    assert 0.5 < centre[0].mean().item() < 1.5  # about one pixel to the right
    assert abs(centre[1].mean().item()) < 0.15  # no vertical motion
    down = horn_schunck(_blob(), _blob(shift_y=-1.0), iterations=200)[0, :, 18:31, 18:31]
    assert -1.5 < down[1].mean().item() < -0.5 and abs(down[0].mean().item()) < 0.15


def test_flow_loss_is_zero_for_the_real_frame_and_pulls_a_wrong_motion_back() -> None:
    previous, target = _blob(), _blob(shift_x=1.0)
    assert flow_loss(target, target, previous).item() == 0.0
    prediction = _blob(shift_x=-1.0).requires_grad_(True)  # moved the wrong way
    loss = flow_loss(prediction, target, previous)
    assert loss.item() > 0.05
    loss.backward()
    assert prediction.grad is not None and prediction.grad.abs().sum() > 0


def test_compute_loss_weighs_the_flow_term_only_when_asked() -> None:
    previous, target = _blob(), _blob(shift_x=1.0)
    output = ModelOutput(prediction=_blob(shift_x=-1.0), memory=MemoryOutput(features=torch.zeros(1),
                                                                               distance=torch.zeros(1)))
    total, terms = compute_loss(output, target, {"intensity": 1.0}, previous)
    assert "flow" not in terms
    total2, terms2 = compute_loss(output, target, {"intensity": 1.0, "flow": 2.0}, previous)
    assert total2.item() == pytest.approx(total.item() + 2 * terms2["flow"].item(), rel=1e-5)
