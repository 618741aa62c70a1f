"""How much memory a build, a training step or detection will need, checked before allocating.

A resolution or batch that cannot fit ends in a clear error that names the recipe key and the
estimate, instead of the allocator's error half-way through a forward pass.

How the estimate is made. Parameters are counted on a model built on ``torch.device("meta")``
(no storage is allocated, so absurd widths are caught too). Activations cannot be measured on
meta or fake tensors for every model: autocast rejects the meta device and the memory bank uses
data-dependent ops (``bincount``) that fake tensors refuse. So one real forward (and, for
training, backward) runs at a small probe resolution on the CPU, the peak of live tensor bytes is
recorded by a dispatch mode, and that activation peak is scaled by area and batch (activations
of a fully convolutional model grow linearly with both). Training adds the weights, their
gradients and Adam's two moment buffers (4 x parameters). Float32 is assumed (fast mode's lower
precision only makes the real need smaller).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from .errors import ResourceError

PROBE_AREA = 64 * 64  # resolutions above this area are probed at a smaller, same-aspect size
PROBE_MULTIPLE = 32  # probe sides are multiples of this (every encoder downsamples by <= 32)
PURPOSES = ("build", "training", "detection")


@dataclass
class MemoryEstimate:
    """Bytes one run of ``purpose`` needs: parameter state plus peak activations."""

    purpose: str
    resolution: tuple[int, int]
    batch: int
    parameters: int  # bytes of weights (x4 for training: grads and Adam moments)
    activations: int  # bytes of the peak live activations at full resolution and batch

    @property
    def total(self) -> int:
        return self.parameters + self.activations

    def describe(self) -> str:
        h, w = self.resolution
        what = {"build": "a dry forward pass", "training": "a training step", "detection": "detection"}[self.purpose]
        return (
            f"about {fmt_bytes(self.total)} for {what} at {h}x{w}, batch {self.batch} "
            f"(parameter state {fmt_bytes(self.parameters)} + activations {fmt_bytes(self.activations)})"
        )


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} TB"


class _LivePeak(TorchDispatchMode):
    """Peak bytes of tensors alive at once: each new storage counts until it is freed."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0

    def _free(self, n: int) -> None:
        self.live -= n

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if func._schema.is_mutable:  # in-place ops return storage that already counts
            return out
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and not t._is_view():
                n = t.untyped_storage().nbytes()
                self.live += n
                self.peak = max(self.peak, self.live)
                weakref.finalize(t, self._free, n)
        return out


def probe_resolution(resolution: tuple[int, int]) -> tuple[int, int]:
    """A resolution of about ``PROBE_AREA`` pixels with the same aspect (the real one when small)."""
    h, w = resolution
    if h * w <= PROBE_AREA:
        return h, w
    s = math.sqrt(PROBE_AREA / (h * w))
    side = lambda v: max(PROBE_MULTIPLE, round(v * s / PROBE_MULTIPLE) * PROBE_MULTIPLE)  # noqa: E731
    return side(h), side(w)


def parameter_bytes(recipe: Any, registry: Any) -> int:
    """Bytes of the recipe model's parameters and buffers, counted on the meta device."""
    from .builder import build_model

    with torch.device("meta"):
        model = build_model(recipe, registry)
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


def _probe(recipe: Any, registry: Any, resolution: tuple[int, int], train: bool, model: Any = None) -> int:
    """Peak activation bytes of one batch-1 pass at ``resolution`` (RNG state left untouched);
    ``model``: an already built model in eval mode (inference probes), else one is built."""
    from .builder import build_model
    from .summary import dry_inputs

    given = model is not None
    with torch.random.fork_rng(devices=[]):
        if model is None:
            model = build_model(recipe, registry).train(train)
        grads = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad) if train else 0
        device = next(iter(model.parameters()), torch.empty(0)).device
        inputs = {k: v.to(device) for k, v in dry_inputs(model, 1, *resolution).items()}
        kept = {k: v.detach().clone() for k, v in model.state_dict().items()} if given else None
        mode = _LivePeak()
        with torch.set_grad_enabled(train), mode:
            output = model(**inputs)
            saved = mode.live  # the output plus what autograd keeps for the backward pass
            if train:
                prediction = getattr(output, "prediction", output)
                prediction.float().mean().backward()
        del output
        if kept is not None:  # a memory that updates at test time must not keep the probe's random frames
            model.load_state_dict(kept)
    return max(mode.peak - grads, saved) + sum(v.numel() * v.element_size() for v in inputs.values())


def estimate(
    recipe: Any, registry: Any, purpose: str, batch: int = 1, *, params: int | None = None, model: Any = None
) -> MemoryEstimate:
    """The memory ``purpose`` (build | training | detection) needs with the recipe's model."""
    from .builder import model_section

    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}, got {purpose!r}")
    resolution = tuple(int(v) for v in model_section(recipe)["resolution"])
    params = parameter_bytes(recipe, registry) if params is None else params
    probe = probe_resolution(resolution)  # type: ignore[arg-type]
    train = purpose == "training"
    scale = resolution[0] * resolution[1] / (probe[0] * probe[1]) * max(1, batch)
    activations = int(_probe(recipe, registry, probe, train, None if train else model) * scale)
    return MemoryEstimate(purpose, resolution, batch, params * (4 if train else 1), activations)  # type: ignore[arg-type]


def available_bytes(device: torch.device | str) -> tuple[int, str] | None:
    """Free memory on ``device`` and where the number came from; None when it cannot be known."""
    device = torch.device(device)
    if device.type == "cuda":
        try:
            free, _total = torch.cuda.mem_get_info(device)
        except (RuntimeError, AssertionError):
            return None
        return int(free), f"free memory of {device} (torch.cuda.mem_get_info)"
    if device.type != "cpu":
        return None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo"
    except (OSError, ValueError, IndexError):
        return None
    return None


def _refuse(recipe: Any, need: str, have: int, source: str, device: torch.device, hint: str) -> ResourceError:
    where = recipe.where("model.resolution")
    return ResourceError(
        f"recipe {where}, key 'model.resolution': {need}, but only {fmt_bytes(have)} is available "
        f"on {device} ({source}). {hint}"
    )


def check_memory(
    recipe: Any, registry: Any, purpose: str, device: torch.device | str = "cpu", batch: int = 1, *, model: Any = None
) -> MemoryEstimate | None:
    """Refuse with the estimate when ``purpose`` cannot fit on ``device``; the estimate otherwise.

    Parameters are checked first (on the meta device), so the activation probe never
    allocates a model that cannot fit either. ``model``: the run's model, already built and
    loaded (detection): its parameters are counted and it is probed itself, so nothing is built
    again."""
    device = torch.device(device)
    have = available_bytes(device)
    if model is not None:
        params = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    else:
        params = parameter_bytes(recipe, registry)
    hint = (
        "Lower model.resolution or the batch size"
        + (" ([train] batch_size)" if purpose == "training" else " (--batch)")
        + ", or the model widths."
    )
    if have is not None and params * (4 if purpose == "training" else 1) > have[0]:
        need = (
            f"the model's parameter state alone needs {fmt_bytes(params * (4 if purpose == 'training' else 1))} "
            f"for {purpose}"
        )
        raise _refuse(recipe, need, have[0], have[1], device, "Narrow the model (widths, slots).")
    est = estimate(recipe, registry, purpose, batch, params=params, model=model)
    if have is not None and est.total > have[0]:
        raise _refuse(recipe, f"the model needs {est.describe()}", have[0], have[1], device, hint)
    return est


__all__ = ["MemoryEstimate", "estimate", "check_memory", "available_bytes", "parameter_bytes", "fmt_bytes"]
