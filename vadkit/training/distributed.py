"""torch.distributed plumbing for training: process group from torchrun's environment, DDP
wrapping, per-step state sync (memory items, BatchNorm statistics) and rank-0 decisions.

Single-process runs (no ``RANK``/``WORLD_SIZE`` in the environment) get a context with
``world_size == 1`` and every function here is a no-op for them.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ..errors import VadkitError
from ..runtime import pick_device

REQUIRED_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


class DistributedError(VadkitError):
    """The distributed environment is inconsistent, or the ranks disagree."""


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the job: rank, world size, local rank, backend."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _int(env: Mapping[str, str], key: str) -> int:
    try:
        return int(env[key])
    except ValueError:
        raise DistributedError(f"environment variable {key}={env[key]!r} is not an integer") from None


def read_env(env: Mapping[str, str] | None = None) -> DistContext | None:
    """The context torchrun describes in ``env``, None when not launched distributed.

    Partial or contradictory settings (RANK without WORLD_SIZE, RANK >= WORLD_SIZE, ...) are
    errors naming the variables, never a silent single-process run."""
    env = os.environ if env is None else env
    if "RANK" not in env and "WORLD_SIZE" not in env:
        return None
    missing = [k for k in REQUIRED_ENV if not env.get(k)]
    if missing:
        raise DistributedError(
            f"distributed launch: environment variable(s) {', '.join(missing)} missing; launch with "
            f"`torchrun --nproc-per-node N -m vadkit train ...` (which sets {', '.join(REQUIRED_ENV)})"
        )
    rank, world, local = _int(env, "RANK"), _int(env, "WORLD_SIZE"), _int(env, "LOCAL_RANK")
    if world < 1 or not 0 <= rank < world:
        raise DistributedError(f"distributed launch: RANK={rank} must be in 0..WORLD_SIZE-1 (WORLD_SIZE={world})")
    local_world = _int(env, "LOCAL_WORLD_SIZE") if env.get("LOCAL_WORLD_SIZE") else world
    if not 0 <= local < local_world or local_world > world:
        raise DistributedError(
            f"distributed launch: LOCAL_RANK={local} must be in 0..LOCAL_WORLD_SIZE-1 "
            f"(LOCAL_WORLD_SIZE={local_world}, WORLD_SIZE={world})"
        )
    return DistContext(rank, world, local)


def setup(device_name: str = "auto") -> tuple[DistContext, torch.device]:
    """Join the process group torchrun describes (NCCL on CUDA, gloo on CPU) and pick this
    rank's device; idempotent. Without a distributed launch: a world of one."""
    ctx = read_env()
    if ctx is None or ctx.world_size == 1:
        return DistContext(), pick_device(device_name)
    device = pick_device(device_name)
    if device.type == "cuda":
        if ctx.local_rank >= torch.cuda.device_count():
            raise DistributedError(
                f"LOCAL_RANK={ctx.local_rank} but this node has {torch.cuda.device_count()} "
                f"CUDA device(s); use --nproc-per-node <= the GPU count"
            )
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, init_method="env://")
    elif dist.get_world_size() != ctx.world_size:
        raise DistributedError(f"process group has {dist.get_world_size()} ranks, WORLD_SIZE says {ctx.world_size}")
    return DistContext(ctx.rank, ctx.world_size, ctx.local_rank, dist.get_backend()), device


def current() -> DistContext:
    """The context of the initialised process group (a world of one when there is none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistContext()
    return DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)), dist.get_backend())


def barrier() -> None:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def cleanup() -> None:
    """Leave the process group (every rank, once training and rank-0 work are done)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module, ctx: DistContext, device: torch.device, sync_batchnorm: bool) -> nn.Module:
    """DDP around ``model`` (itself when single-process). Buffers are not broadcast from rank 0
    at every forward: :func:`sync_state` averages them after each step instead, so every
    rank's memory update counts."""
    if not ctx.enabled:
        return model
    if sync_batchnorm:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [device.index] if device.type == "cuda" else None
    ddp = nn.parallel.DistributedDataParallel
    # newer torch names the per-forward buffer broadcast forward_sync_buffers (both still sync at init)
    no_forward_sync = (
        {"forward_sync_buffers": False}
        if "forward_sync_buffers" in inspect.signature(ddp).parameters
        else {"broadcast_buffers": False}
    )
    # some components leave parameters out of the graph (ablations, unused objectives)
    return ddp(model, device_ids=ids, find_unused_parameters=True, **no_forward_sync)  # type: ignore[arg-type]


def check_sync_batchnorm(enabled: bool, device: torch.device) -> str | None:
    """Why ``[train] sync_batchnorm`` cannot run here, or None."""
    if enabled and device.type != "cuda":
        return "SyncBatchNorm needs CUDA devices (PyTorch has no CPU/gloo implementation); set it to false on CPU"
    return None


def all_reduce_mean(tensor: Tensor) -> Tensor:
    """The element-wise mean of ``tensor`` over all ranks (a new tensor, float math)."""
    out = tensor.detach().clone()
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        out /= dist.get_world_size()
    return out


def _mean_coalesced(tensors: list[Tensor], reduce_mean: Callable[[Tensor], Tensor]) -> None:
    """Average ``tensors`` in place over the ranks with one all-reduce per dtype."""
    by_dtype: dict[torch.dtype, list[Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    for group in by_dtype.values():
        flat = reduce_mean(torch.cat([t.reshape(-1) for t in group]))
        for t, part in zip(group, flat.split([t.numel() for t in group])):
            t.copy_(part.view_as(t))


@torch.no_grad()
def sync_state(
    model: nn.Module, reduce_mean: Callable[[Tensor], Tensor] = all_reduce_mean, enabled: bool | None = None
) -> None:
    """Make state that changes by rule, not gradient, identical on every rank.

    A module with a ``sync_(reduce_mean)`` method (the memory bank: average the items, then
    re-normalise them) syncs itself; every other floating-point buffer (BatchNorm running
    statistics, a memory without ``sync_``) is averaged over the ranks. ``enabled`` defaults
    to "a process group of more than one rank exists"."""
    if enabled is None:
        enabled = dist.is_initialized() and dist.get_world_size() > 1
    if not enabled:
        return
    own: set[int] = set()
    for module in model.modules():
        hook = getattr(module, "sync_", None)
        if callable(hook):
            hook(reduce_mean)
            own.update(id(b) for b in module.buffers())
    rest = [b for b in model.buffers() if id(b) not in own and b.is_floating_point()]
    if rest:
        _mean_coalesced(rest, reduce_mean)


def fingerprint(model: nn.Module) -> Tensor:
    """Per-tensor float64 sums of every parameter and buffer: equal on ranks in sync."""
    tensors = [*model.parameters(), *model.buffers()]
    return torch.stack([t.detach().double().sum() for t in tensors]).cpu()


def assert_in_sync(model: nn.Module, what: str) -> None:
    """Raise on every rank when ranks hold different weights or memory items."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return
    mine = fingerprint(model)
    everyone: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    bad = [r for r, fp in enumerate(everyone) if not torch.equal(fp, everyone[0])]
    if bad:
        raise DistributedError(f"{what}: rank(s) {bad} hold different weights or buffers than rank 0")


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (pickled between our own processes)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return obj
    box = [obj if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def on_main(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on rank 0 only and give every rank its result; an error raised there is
    raised on every rank (as DistributedError elsewhere), so no rank waits for ever."""
    result: tuple[str, Any] = ("ok", None)
    error: BaseException | None = None
    if current().is_main:
        try:
            result = ("ok", fn())
        except VadkitError as exc:
            error, result = exc, ("error", str(exc))
    result = broadcast_object(result)
    if error is not None:
        raise error
    if result[0] == "error":
        raise DistributedError(f"rank 0: {result[1]}")
    return result[1]
