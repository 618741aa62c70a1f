"""The assembled two-stream predictor: appearance and motion streams, per-level fusion,
memory and decoder. Any registered components fit, recipes or plain Python alike."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from einops import rearrange
from torch import Tensor, nn

from .errors import AssemblyError
from .interfaces import Decoder, Encoder, Fusion, Memory, ModelOutput

JOINS = ("none", "concat")


def _name(component: nn.Module) -> str:
    return getattr(component, "registry_name", None) or type(component).__name__


class VADModel(nn.Module):
    """Predicts frame t+1 from T past frames (appearance) and their optical flow (motion).

    Level by level, each stream runs one encoder stage, then ``fusions[i]`` fuses the motion
    features into the appearance features, which feed the next appearance stage and the
    decoder's skip connection (MSTI-Net Fig. 2). The appearance bottleneck queries the memory.
    ``join="concat"`` instead joins the two bottlenecks once (Table II model B).
    """

    def __init__(
        self,
        appearance: Encoder,
        memory: Memory,
        decoder: Decoder,
        motion: Encoder | None = None,
        fusions: Sequence[Fusion] = (),
        *,
        join: str = "none",
        frames: int = 4,
        image_channels: int = 3,
    ) -> None:
        super().__init__()
        if motion is not None and getattr(motion, "disabled", False):
            motion = None
        self.appearance = appearance
        self.motion = motion
        self.fusions = nn.ModuleList(fusions)
        self.memory = memory
        self.decoder = decoder
        self.join = join
        self.frames = frames
        self.image_channels = image_channels
        self._check()
        levels = len(appearance.channels) - 1
        if join == "concat":
            assert motion is not None
            c_a, c_m = appearance.channels[-1], motion.channels[-1]
            self.join_proj: nn.Module = nn.Sequential(nn.Conv2d(c_a + c_m, c_a, 1), nn.ReLU(inplace=True))
        else:
            self.join_proj = nn.Identity()
        self.levels = levels

    def _check(self) -> None:
        app, mot = self.appearance, self.motion
        levels = len(app.channels) - 1
        if self.join not in JOINS:
            raise AssemblyError(f"join must be one of {JOINS}, got '{self.join}'")
        if len(self.fusions) not in (0, levels):
            raise AssemblyError(
                f"{len(self.fusions)} fusion modules for appearance encoder '{_name(app)}' with "
                f"{levels} fusion levels (channels {app.channels}): give one per level or none"
            )
        if mot is not None and len(mot.channels) != len(app.channels):
            raise AssemblyError(
                f"appearance encoder '{_name(app)}' has {len(app.channels)} levels {app.channels} but "
                f"motion encoder '{_name(mot)}' has {len(mot.channels)} levels {mot.channels}"
            )
        if mot is not None and tuple(mot.strides) != tuple(app.strides):
            raise AssemblyError(
                f"appearance encoder '{_name(app)}' has strides {tuple(app.strides)} but motion encoder "
                f"'{_name(mot)}' has strides {tuple(mot.strides)}: fused levels must have the same size"
            )
        for i, fusion in enumerate(self.fusions):
            if fusion.appearance_channels != app.channels[i]:
                raise AssemblyError(
                    f"fusion '{_name(fusion)}' at level {i} expects {fusion.appearance_channels} appearance "
                    f"channels but appearance encoder '{_name(app)}' gives {app.channels[i]}"
                )
            if getattr(fusion, "needs_motion", True):
                if mot is None:
                    raise AssemblyError(
                        f"fusion '{_name(fusion)}' needs a motion stream, but the motion encoder is 'none'"
                    )
                if fusion.motion_channels != mot.channels[i]:
                    raise AssemblyError(
                        f"fusion '{_name(fusion)}' at level {i} expects {fusion.motion_channels} motion "
                        f"channels but motion encoder '{_name(mot)}' gives {mot.channels[i]}"
                    )
        if self.join == "concat" and mot is None:
            raise AssemblyError("join = 'concat' needs a motion stream, but the motion encoder is 'none'")
        if self.memory.channels != app.channels[-1]:
            raise AssemblyError(
                f"memory '{_name(self.memory)}' has {self.memory.channels} channels but appearance encoder "
                f"'{_name(app)}' has a {app.channels[-1]}-channel bottleneck"
            )

    @property
    def uses_motion(self) -> bool:
        return self.motion is not None

    def forward(self, frames: Tensor, flows: Tensor | None = None) -> ModelOutput:
        """frames: (B, T, C, H, W) in [-1, 1]; flows: (B, T, 2, H, W) or None."""
        x = rearrange(frames, "b t c h w -> b (t c) h w")
        m = None
        if self.motion is not None:
            if flows is None:
                raise AssemblyError("this model has a motion stream: pass flows (B, T, 2, H, W)")
            m = rearrange(flows, "b t c h w -> b (t c) h w")
        skips: list[Tensor] = []
        for i, stage in enumerate(self.appearance.stages):
            x = stage(x)
            if self.motion is not None:
                m = self.motion.stages[i](m)
            if i < self.levels:
                if self.fusions:
                    x = self.fusions[i](x, m)
                skips.append(x)
        if self.join == "concat":
            x = self.join_proj(torch.cat([x, m], dim=1))
        memory = self.memory(x)
        prediction = self.decoder(memory.features, skips, frames.shape[-2:])
        return ModelOutput(prediction=prediction, memory=memory, skips=skips)
