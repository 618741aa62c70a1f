"""FFP's adversarial term: a patch discriminator with its own optimiser (LSGAN).

Enabled by weighing ``adversarial`` in ``[loss.weights]`` (FFP: 0.05). Each training step first
updates the discriminator on the real frame against the prediction (detached), then adds
``weight * mean((D(prediction) - 1)^2) / 2`` to the generator's loss, D's outputs being
sigmoid patch probabilities, as FFP's ``train.py`` does (Liu et al., CVPR 2018). The
discriminator is the pix2pix patch discriminator FFP uses: 4x4 convolutions with reflection
padding 2, LeakyReLU 0.2, stride 2 except the last feature layer, no normalisation, one logit per
patch. It is a training-time part only: it is saved in the checkpoint (a resumed run continues
it) and never exported or used to score.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

ADVERSARIAL = "adversarial"  # the [loss.weights] key that enables it
DISCRIMINATOR = "discriminator"  # its own loss, logged beside the generator's terms


class PatchDiscriminator(nn.Module):
    """pix2pix's patch discriminator: ``widths`` feature layers (stride 2, the last stride 1)
    and a 1-channel logit map."""

    def __init__(self, channels: int, widths: tuple[int, ...] = (128, 256, 512, 512)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = channels
        for i, width in enumerate(widths):
            stride = 1 if i == len(widths) - 1 else 2
            layers += [nn.ReflectionPad2d(2), nn.Conv2d(previous, width, 4, stride), nn.LeakyReLU(0.2)]
            previous = width
        layers += [nn.ReflectionPad2d(2), nn.Conv2d(previous, 1, 4, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, frames: Tensor) -> Tensor:
        """Sigmoid patch probabilities that ``frames`` (B, C, H, W) are real."""
        return torch.sigmoid(self.net(frames.float()))


class Adversary:
    """The discriminator, its Adam optimiser and the two LSGAN losses."""

    def __init__(self, channels: int, widths: tuple[int, ...], lr: float, device: torch.device) -> None:
        self.discriminator = PatchDiscriminator(channels, widths).to(device)
        self.optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=lr)

    def update(self, real: Tensor, fake: Tensor) -> Tensor:
        """One discriminator step: real frames towards 1, predictions (no gradient to the
        generator) towards 0; the loss before the step."""
        loss = (self.discriminator(real) - 1).pow(2).mean() / 2 + self.discriminator(fake.detach()).pow(2).mean() / 2
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def generator_loss(self, prediction: Tensor) -> Tensor:
        """How far the discriminator is from taking the prediction for real; gradients reach
        the prediction only (the discriminator's weights are not touched by it)."""
        for p in self.discriminator.parameters():
            p.requires_grad_(False)
        try:
            return (self.discriminator(prediction) - 1).pow(2).mean() / 2
        finally:
            for p in self.discriminator.parameters():
                p.requires_grad_(True)

    def state_dict(self) -> dict[str, Any]:
        return {"discriminator": self.discriminator.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.discriminator.load_state_dict(state["discriminator"])
        self.optimizer.load_state_dict(state["optimizer"])


__all__ = ["ADVERSARIAL", "DISCRIMINATOR", "Adversary", "PatchDiscriminator"]
