"""The assembled two-stream predictors. VADModel: appearance and motion streams, per-level
fusion, memory and decoder. TwoBranchModel: two independent stream -> memory -> decoder
branches mixed at the output (Table II model B). Any registered components fit, recipes or
plain Python alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from einops import rearrange
from torch import Tensor, nn

from .errors import AssemblyError
from .interfaces import Decoder, Encoder, Fusion, Memory, MemoryOutput, ModelOutput

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
            assert m is not None  # the constructor refuses concat without a motion stream
            x = self.join_proj(torch.cat([x, m], dim=1))
        memory = self.memory(x)
        prediction = self.decoder(memory.features, skips, frames.shape[-2:])
        return ModelOutput(prediction=prediction, memory=memory, skips=skips)

    @torch.no_grad()
    def update_memory(self, output: ModelOutput, normal_mask: Tensor) -> int:
        """Test-time memory update (MNAD) with the frames of ``output`` whose ``normal_mask``
        is True; see :func:`update_memory`. Returns how many frames were used."""
        return update_memory(self.memory, output.memory.features, normal_mask)


def update_memory(memory: Memory, features: Tensor, normal_mask: Tensor) -> int:
    """Call ``memory.update_items(queries, normal_mask)`` when the memory has one (0 otherwise).

    A memory offering ``update_items`` puts its queries in the first ``memory.channels``
    channels of ``MemoryOutput.features`` (as memory_bank does: concat(q, read)).
    """
    update = getattr(memory, "update_items", None)
    if update is None:
        return 0
    return int(update(features[:, : memory.channels], normal_mask))


def merge_memory_outputs(outputs: Sequence[MemoryOutput], prefixes: Sequence[str]) -> MemoryOutput:
    """One MemoryOutput for several memories read side by side (the two-branch model).

    features: concatenated on channels (branch order); distance: the mean over memories (D of
    eq. 10 for the model); losses: summed by name, so one ``[loss.weights]`` entry weighs the
    same term of every memory; weights: the first memory's; diagnostics: each memory's under
    its prefix.
    """
    losses: dict[str, Tensor] = {}
    diagnostics: dict[str, Tensor] = {}
    for out, prefix in zip(outputs, prefixes):
        for name, value in out.losses.items():
            losses[name] = losses[name] + value if name in losses else value
        diagnostics.update({prefix + k: v for k, v in out.diagnostics.items()})
    return MemoryOutput(
        features=torch.cat([o.features for o in outputs], dim=1),
        distance=torch.stack([o.distance.float() for o in outputs]).mean(dim=0),
        losses=losses,
        weights=outputs[0].weights,
        diagnostics=diagnostics,
    )


class TwoBranchModel(nn.Module):
    """Table II model B with no interaction: two predictors joined only at their outputs.

    The appearance branch (frames -> encoder -> memory[0] -> decoder[0]) and the motion branch
    (flows -> encoder -> memory[1] -> decoder[1]) each predict RGB frame t+1 from their own
    features and skips; no tensor of one branch enters the other. The head mixes the two
    predictions per colour channel with learned convex weights softmax(mix) (a 1x1 conv over
    their concatenation restricted to a weighted mean, so the result stays in [-1, 1]; it
    starts as the plain mean).
    """

    def __init__(
        self,
        appearance: Encoder,
        motion: Encoder,
        memories: Sequence[Memory],
        decoders: Sequence[Decoder],
        *,
        frames: int = 4,
        image_channels: int = 3,
    ) -> None:
        super().__init__()
        self.appearance = appearance
        self.motion = motion
        self.memory = nn.ModuleList(memories)
        self.decoder = nn.ModuleList(decoders)
        self.frames = frames
        self.image_channels = image_channels
        self._check()
        self.mix = nn.Parameter(torch.zeros(2, image_channels))

    def _check(self) -> None:
        app, mot = self.appearance, self.motion
        if mot is None or getattr(mot, "disabled", False):
            raise AssemblyError("the two-branch model needs a motion stream, but the motion encoder is 'none'")
        if len(self.memory) != 2 or len(self.decoder) != 2:
            raise AssemblyError(
                f"the two-branch model needs 2 memories and 2 decoders, got {len(self.memory)} and {len(self.decoder)}"
            )
        for stream, memory in zip((app, mot), self.memory):
            if memory.channels != stream.channels[-1]:
                raise AssemblyError(
                    f"memory '{_name(memory)}' has {memory.channels} channels but encoder '{_name(stream)}' "
                    f"has a {stream.channels[-1]}-channel bottleneck"
                )
        if app.strides[-1] != mot.strides[-1]:
            raise AssemblyError(
                f"appearance encoder '{_name(app)}' has bottleneck stride {app.strides[-1]} but motion encoder "
                f"'{_name(mot)}' has {mot.strides[-1]}: the two memories' outputs must have the same size"
            )

    @property
    def uses_motion(self) -> bool:
        return True

    def branches(self, frames: Tensor, flows: Tensor) -> tuple[list[Tensor], list[MemoryOutput]]:
        """Each branch's prediction of frame t+1 and memory output: [appearance, motion]."""
        inputs = (rearrange(frames, "b t c h w -> b (t c) h w"), rearrange(flows, "b t c h w -> b (t c) h w"))
        predictions, memories = [], []
        for x, encoder, memory, decoder in zip(inputs, (self.appearance, self.motion), self.memory, self.decoder):
            skips: list[Tensor] = []
            for stage in encoder.stages:
                x = stage(x)
                skips.append(x)
            out = memory(skips.pop())
            predictions.append(decoder(out.features, skips, frames.shape[-2:]))
            memories.append(out)
        return predictions, memories

    def forward(self, frames: Tensor, flows: Tensor | None = None) -> ModelOutput:
        """frames: (B, T, C, H, W) in [-1, 1]; flows: (B, T, 2, H, W)."""
        if flows is None:
            raise AssemblyError("this model has a motion stream: pass flows (B, T, 2, H, W)")
        predictions, memories = self.branches(frames, flows)
        mix = rearrange(self.mix.softmax(dim=0), "s c -> s 1 c 1 1")
        prediction = (mix * torch.stack([p.float() for p in predictions])).sum(dim=0).to(predictions[0].dtype)
        return ModelOutput(prediction=prediction, memory=merge_memory_outputs(memories, ("", "motion_")))

    @torch.no_grad()
    def update_memory(self, output: ModelOutput, normal_mask: Tensor) -> int:
        """Test-time update of both memories with the selected frames (see ``update_memory``)."""
        used, start = 0, 0
        for memory in self.memory:
            mem: Any = memory  # a Memory, held in an nn.ModuleList
            used = max(used, update_memory(mem, output.memory.features[:, start:], normal_mask))
            start += int(mem.out_channels)
        return used
