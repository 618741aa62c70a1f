"""The training loop: recipe + data -> a run folder with a checkpoint per epoch."""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from .. import __version__
from ..atomic import atomic_write_text
from ..builder import build_model
from ..checkpoint import (
    architecture,
    atomic_save,
    check_compatible,
    load_checkpoint,
    restore_epoch_record,
    rng_state,
    set_rng_state,
)
from ..config import RunConfig, TrainConfig, read_config
from ..data.factory import build_clips
from ..data.holdout import holdout_note, training_part
from ..errors import CheckpointError, RecipeError
from ..faults import fault
from ..folder_lock import folder_lock
from ..recipe import Recipe
from ..registry import Registry
from ..run_folder import RunFolder, environment
from ..runtime import autocast, describe, prepare_model
from ..stop_signals import deferred, stop_point
from . import distributed
from .adversarial import ADVERSARIAL, DISCRIMINATOR, Adversary
from .budget import plan_epochs, probe_step_seconds
from .child_signals import sigchld_restored
from .diagnostics import MemoryDiagnostics
from .distributed import DistContext
from .loggers import build_loggers
from .loss import check_finite, compute_loss
from .resume_check import check_resume


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]epoch {task.fields[epoch]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[losses]}"),
        TextColumn("{task.fields[fps]:.1f} frames/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


@dataclass
class TrainState:
    """Everything one training run carries from epoch to epoch."""

    cfg: TrainConfig
    run: RunFolder
    device: torch.device
    model: Any
    optimizer: torch.optim.Optimizer
    weights: dict[str, float]
    model_table: dict[str, Any]
    start_epoch: int = 0
    global_step: int = 0
    steps: int = 0
    scheduler: Any = None
    diagnostics: MemoryDiagnostics = field(default_factory=MemoryDiagnostics)
    dist: DistContext = field(default_factory=DistContext)  # rank / world size (1 = single process)
    net: Any = None  # what the forward pass calls: the model, or DDP around it
    loggers: Any = None  # log.jsonl (+ TensorBoard): rank 0 only
    adversary: Adversary | None = None  # FFP's patch discriminator, when [loss.weights] adversarial > 0


def train(
    recipe: Recipe | RunConfig,
    data_root: Path,
    out: Path,
    registry: Registry,
    *,
    resume: bool = False,
    console: Console | None = None,
    check: bool | str = "auto",
    force: bool = False,
) -> RunFolder:
    """Train the recipe's model on the training split of ``data_root`` into run folder ``out``.

    A checkpoint (model, memory items, optimiser, epoch, RNG state) is written atomically
    after every epoch; ``resume=True`` continues from it, losing at most the epoch in progress.
    Launched by torchrun, every rank trains a shard of each epoch under DDP and rank 0 alone
    writes the run folder (docs/training.md). ``check``: the frame check before training
    (``build_clips``: "auto", "full", "sample" or "none"). ``force``: resume even though the
    recipe changed in a way resuming cannot honour (vadkit/training/resume_check.py).
    """
    started = time.perf_counter()  # [train] time_budget counts data preparation too
    config = recipe if isinstance(recipe, RunConfig) else read_config(recipe)  # every section, before any data
    recipe = config.recipe
    console = console or Console()
    with sigchld_restored():  # DataLoader workers leave torch's SIGCHLD handler behind
        if int(os.environ.get("RANK", "0")) != 0:  # under torchrun rank 0 alone writes (and locks) the run folder
            return _train(config, data_root, out, registry, resume, console, check, started)
        with folder_lock(Path(out), "train"):  # one writer per run folder: a second one gets its PID, exit 2
            if resume:  # before anything is read or written: the recipe may not have changed under the run
                check_resume(RunFolder(Path(out)), recipe, force=force)
            return _train(config, data_root, out, registry, resume, console, check, started)


def _train(
    config: RunConfig,
    data_root: Path,
    out: Path,
    registry: Registry,
    resume: bool,
    console: Console,
    check: bool | str,
    started: float,
) -> RunFolder:
    recipe = config.recipe
    state = _prepare(config, registry, RunFolder(Path(out)), resume, console)
    if not state.dist.is_main:  # rank 0 alone prints, logs and writes the run folder
        console = Console(quiet=True)
    else:
        _record_run(state, config, registry, data_root)
        state.loggers = build_loggers(state.cfg.loggers, state.run, str(recipe.path))
    clips = build_clips(
        recipe,
        registry,
        Path(data_root),
        "training",
        uses_motion=state.model.uses_motion,
        console=console,
        check=check,
        shard=(state.dist.rank, state.dist.world_size),
        barrier=distributed.barrier,
        frame_cache=state.cfg.frame_cache,
    )
    if note := holdout_note(config.detect, clips):
        console.print(note)
    clips = training_part(clips, config.detect)  # [detect] holdout: normal frames kept for calibration
    _plan_steps(state, clips, recipe, data_root, console, started)
    cfg = state.cfg
    try:
        with _progress(console) as progress:
            task = progress.add_task(
                "train",
                total=state.steps * cfg.epochs,
                completed=state.start_epoch * state.steps,
                epoch=state.start_epoch + 1,
                losses="",
                fps=0.0,
            )
            with deferred():  # SIGINT / SIGTERM: the step under way finishes, then Stopped (vadkit/stop_signals.py)
                for epoch in range(state.start_epoch, cfg.epochs):
                    _run_epoch(state, clips, epoch, progress, task, console)
    finally:
        if state.loggers is not None:
            state.loggers.close()
    if state.dist.is_main:
        info = state.run.read_info()
        info["epochs_completed"] = cfg.epochs
        state.run.write_info(info)
    distributed.barrier()
    return state.run


def _plan_steps(
    state: TrainState, clips: Any, recipe: Recipe, data_root: Path, console: Console, started: float
) -> None:
    """Steps per epoch (the same on every rank: each rank sees 1/world of the clips), the epoch
    count under ``time_budget`` and the learning-rate schedule."""
    cfg, world, n_clips = state.cfg, state.dist.world_size, len(clips)
    if n_clips < cfg.batch_size * world:
        raise RecipeError(
            f"the training split of {data_root} yields {n_clips} clips, fewer than one batch "
            f"on each of {world} rank(s)",
            file=str(recipe.path),
            key="train.batch_size",
        )
    per_rank = n_clips // world
    state.steps = min(per_rank // cfg.batch_size, cfg.max_steps_per_epoch or per_rank)
    if cfg.time_budget:
        _fit_budget(state, clips, recipe, started, console)
        cfg = state.cfg
    state.scheduler = _scheduler(state, cfg.epochs)
    ranks = (
        f" per rank, {world} ranks ({state.dist.backend}), global batch {cfg.batch_size * world}" if world > 1 else ""
    )
    console.print(
        f"training {n_clips} clips, {state.steps} steps x {cfg.epochs} epochs, batch {cfg.batch_size}{ranks}, "
        f"{describe(state.device, cfg.fast, cfg.precision)}, {torch.get_num_threads()} threads"
    )


def _prepare(config: RunConfig, registry: Registry, run: RunFolder, resume: bool, console: Console) -> TrainState:
    """Build the model and optimiser from the checked settings, and load the checkpoint to resume."""
    cfg, recipe = config.train, config.recipe
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    ctx, device = distributed.setup(cfg.device)
    if ctx.enabled and (why := distributed.check_sync_batchnorm(cfg.sync_batchnorm, device)):
        raise recipe.error("train.sync_batchnorm", why)

    def fresh() -> None:
        if run.checkpoint.exists() and not resume:
            raise CheckpointError(
                f"{run.root} already holds a trained checkpoint; pass --resume to continue it or choose another --out"
            )

    distributed.on_main(fresh)  # rank 0's run folder decides; every rank raises the same error
    seed_everything(cfg.seed)
    from ..memory_estimate import check_memory  # refuse a step that cannot fit, before allocating it

    check_memory(recipe, registry, "training", device, batch=cfg.batch_size)
    model = prepare_model(build_model(recipe, registry), device, cfg.fast)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=cfg.lr, betas=(cfg.betas[0], cfg.betas[1]), weight_decay=cfg.weight_decay
    )
    state = TrainState(cfg, run, device, model, optimizer, config.loss.weights, config.model.table(), dist=ctx)
    state.adversary = _adversary(config, device, ctx.enabled)
    if resume:
        _resume(state, console)
    # after the resume: wrapping broadcasts rank 0's weights and buffers to every rank
    state.net = distributed.wrap(model, ctx, device, cfg.sync_batchnorm)
    if state.net is not model:
        state.model = state.net.module  # SyncBatchNorm conversion may have replaced modules
    return state


def _adversary(config: RunConfig, device: torch.device, distributed_run: bool) -> Adversary | None:
    """FFP's discriminator and its optimiser, when the recipe weighs the adversarial term."""
    if not config.loss.weights.get(ADVERSARIAL):
        return None
    if distributed_run:
        raise config.recipe.error("loss.weights.adversarial", "works in single-process runs only (no DDP)")
    cfg = config.train
    return Adversary(config.model.image_channels, tuple(cfg.discriminator_widths), cfg.discriminator_lr, device)


def _resume(state: TrainState, console: Console) -> None:
    run = state.run

    def load() -> dict[str, Any]:
        if not run.checkpoint.exists():
            raise CheckpointError(f"--resume: no checkpoint in {run.root}; start a new run without --resume")
        return load_checkpoint(run.checkpoint)

    ckpt = distributed.on_main(load)  # rank 0 reads it: other nodes need no shared run folder
    check_compatible(ckpt, state.model, state.model_table, run.checkpoint)
    state.model.load_state_dict(ckpt["model"])
    state.optimizer.load_state_dict(ckpt["optimizer"])
    if state.adversary is not None and ckpt.get("adversary"):
        state.adversary.load_state_dict(ckpt["adversary"])
    set_rng_state(ckpt["rng"])
    state.start_epoch, state.global_step = int(ckpt["epoch"]) + 1, int(ckpt["global_step"])
    console.print(f"resuming {run.root} after epoch {state.start_epoch} (step {state.global_step})")
    # steps logged after the checkpoint belong to the lost epoch; mark where the rerun starts
    if state.dist.is_main:
        restore_epoch_record(run.log, ckpt.get("log_record"))  # killed after the rename, before the log line
        run.append_log({"resumed_after_epoch": state.start_epoch, "global_step": state.global_step})


def _record_run(state: TrainState, config: RunConfig, registry: Registry, data_root: Path) -> None:
    """recipe.toml and run.json (versions, data, settings, environment, and the distribution of
    every component: vadkit/provenance.py) of the run folder."""
    from ..provenance import provenance

    run, recipe = state.run, config.recipe
    run.root.mkdir(parents=True, exist_ok=True)
    run.clean_temps()  # what a killed earlier run left behind
    atomic_write_text(run.recipe, recipe.to_toml())
    info = run.read_info()
    info.update(
        {
            "vadkit_version": __version__,
            "recipe_source": str(recipe.path),
            "data_root": str(Path(data_root).resolve()),
            "train": asdict(state.cfg),
            "device": str(state.device),
        }
    )
    info.setdefault("environment", []).append(environment())
    info.setdefault("provenance", provenance(config, registry))  # a resumed run keeps what it was trained with
    run.write_info(info)


def _fit_budget(state: TrainState, clips: Any, recipe: Recipe, started: float, console: Console) -> None:
    """``epochs`` lowered to what ``time_budget`` leaves, from a step time measured here
    (vadkit/training/budget.py); a resumed run keeps the plan it started with."""
    cfg = state.cfg
    if state.dist.enabled:
        raise recipe.error("train.time_budget", "works in single-process runs only; under torchrun set train.epochs")
    info = state.run.read_info()
    planned = info.get("time_budget")
    if state.start_epoch > 0:  # never change the schedule of a run under way
        if isinstance(planned, dict) and isinstance(planned.get("epochs"), int):
            state.cfg = replace(cfg, epochs=min(cfg.epochs, planned["epochs"]))
            console.print(f"time budget: keeping the {state.cfg.epochs} epochs planned when this run started")
        else:
            console.print(f"time budget: this run started without one; keeping its {cfg.epochs} epochs")
        return
    global_step = state.global_step
    step_s = probe_step_seconds(
        state.model,
        state.optimizer,
        clips,
        cfg.batch_size,
        cfg.workers,
        lambda batch: _step(state, batch, 0, 0),
        extra=[state.adversary] if state.adversary is not None else [],
    )
    state.global_step = global_step
    plan = plan_epochs(cfg.time_budget, cfg.epochs, time.perf_counter() - started, step_s, state.steps, recipe)
    state.cfg = replace(cfg, epochs=plan.epochs)
    console.print(plan.describe())
    info["time_budget"] = asdict(plan)
    state.run.write_info(info)


def _scheduler(state: TrainState, epochs: int) -> Any:
    """The lr factor of global step s: cosine from 1 to 0 over the run, in steps ("cosine") or
    in whole epochs ("cosine_per_epoch": epoch e at 0.5 (1 + cos(pi e / epochs)), as MNAD's
    CosineAnnealingLR with T_max = epochs stepped after each epoch); None when constant."""
    if state.cfg.lr_schedule == "constant":
        return None
    for group in state.optimizer.param_groups:
        group["initial_lr"] = state.cfg.lr  # a resumed optimiser's group holds the decayed rate
    steps = state.steps
    total = steps * epochs
    if state.cfg.lr_schedule == "cosine_per_epoch":
        factor = lambda s: 0.5 * (1 + math.cos(math.pi * min(s // steps, epochs) / epochs))  # noqa: E731
    else:
        factor = lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total))  # noqa: E731
    # last_epoch puts a resumed schedule at its step in closed form: replaying step() before any
    # optimizer.step() of this process is the order torch warns about
    return torch.optim.lr_scheduler.LambdaLR(state.optimizer, factor, last_epoch=state.global_step - 1)


def _run_epoch(state: TrainState, clips: Any, epoch: int, progress: Progress, task: Any, console: Console) -> None:
    """One pass over ``steps`` shuffled batches, then the checkpoint and the epoch's log record."""
    cfg, model, main = state.cfg, state.model, state.dist.is_main
    model.train()
    state.diagnostics.reset()
    loader = DataLoader(
        clips,
        batch_size=cfg.batch_size,
        sampler=_sampler(state, clips, epoch),
        num_workers=cfg.workers,
        drop_last=True,
        persistent_workers=False,
    )
    sums: dict[str, float] = {}
    epoch_start, seen, step = time.perf_counter(), 0, 0
    stop_point()  # a stop asked for while the last checkpoint was written
    for step, batch in enumerate(loader):
        if step >= state.steps:
            break
        tick = time.perf_counter()
        values = _step(state, batch, epoch, step)
        seen += batch["frames"].shape[0] * state.dist.world_size  # frames/s of the whole job
        for k, v in values.items():
            sums[k] = sums.get(k, 0.0) + v
        fps = seen / (time.perf_counter() - epoch_start)
        if main:
            state.loggers.log(
                {
                    "epoch": epoch + 1,
                    "step": step + 1,
                    "global_step": state.global_step,
                    **values,
                    "lr": state.optimizer.param_groups[0]["lr"],
                    "frames_per_s": round(fps, 3),
                    "step_s": round(time.perf_counter() - tick, 4),
                }
            )
        progress.update(
            task,
            advance=1,
            epoch=f"{epoch + 1}/{cfg.epochs}",
            fps=fps,
            losses=" ".join(f"{k} {v:.4g}" for k, v in values.items()),
        )
        stop_point()  # the step is finished; the checkpoint on disk is that of the last whole epoch
    distributed.assert_in_sync(model, f"epoch {epoch + 1}")
    seconds = time.perf_counter() - epoch_start
    means = {f"mean_{k}": v / max(1, step + 1) for k, v in _mean_over_ranks(state, sums).items()}
    memory = state.diagnostics.summary()
    record = {"epoch": epoch + 1, "epoch_end": True, "seconds": round(seconds, 2), **means, **memory}
    _checkpoint(state, epoch, record)  # the record rides in the checkpoint: a resume restores it if lost
    if not main:
        return
    state.loggers.log(record)
    shown = {**{k.removeprefix("mean_"): v for k, v in means.items()}, **memory}
    console.print(
        f"epoch {epoch + 1}/{cfg.epochs}: "
        + ", ".join(f"{k} {v:.5g}" for k, v in shown.items())
        + f" ({seconds:.1f} s, checkpoint saved)"
    )


def _step(state: TrainState, batch: dict[str, Any], epoch: int, step: int) -> dict[str, float]:
    """Forward, loss, backward and optimiser step on one batch; the loss terms as floats."""
    cfg, model, device = state.cfg, state.model, state.device
    frames = batch["frames"].to(device, non_blocking=True)
    target = batch["target"].to(device, non_blocking=True)
    flows = batch["flows"].to(device, non_blocking=True) if model.uses_motion else None
    with autocast(device, cfg.fast, cfg.precision):
        output = (state.net or model)(frames, flows)  # DDP averages the gradients over the ranks
    total, terms = compute_loss(output, target, state.weights, frames[:, -1, : target.shape[1]])
    if state.adversary is not None:  # FFP: the discriminator steps first, then the generator
        terms[DISCRIMINATOR] = state.adversary.update(target, output.prediction)
        terms[ADVERSARIAL] = state.adversary.generator_loss(output.prediction)
        total = total + state.weights[ADVERSARIAL] * terms[ADVERSARIAL]
    check_finite(total, terms, epoch, step, state.global_step)
    state.optimizer.zero_grad(set_to_none=True)
    total.backward()
    if cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    state.optimizer.step()
    distributed.sync_state(model)  # memory items and BatchNorm statistics: the same on every rank
    if state.scheduler is not None:
        state.scheduler.step()
    state.global_step += 1
    state.diagnostics.update(output.memory)
    values = {k: float(v.detach()) for k, v in terms.items()}
    values["total"] = float(total.detach())
    return values


def _sampler(state: TrainState, clips: Any, epoch: int) -> Any:
    """This epoch's shuffle: seeded by (seed, epoch), so a resumed run replays the same order;
    under DDP each rank takes its own 1/world of it."""
    cfg = state.cfg
    if state.dist.enabled:
        sampler: Any = DistributedSampler(
            clips, num_replicas=state.dist.world_size, rank=state.dist.rank, shuffle=True, seed=cfg.seed, drop_last=True
        )
        sampler.set_epoch(epoch)
        return sampler
    return RandomSampler(clips, generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch))


def _mean_over_ranks(state: TrainState, sums: dict[str, float]) -> dict[str, float]:
    """Per-rank sums of the loss terms averaged over the ranks (every rank runs the same steps)."""
    if not state.dist.enabled or not sums:
        return sums
    keys = sorted(sums)
    values = torch.tensor([sums[k] for k in keys], dtype=torch.float64, device=state.device)  # NCCL: on the GPU
    return dict(zip(keys, distributed.all_reduce_mean(values).tolist()))


def _checkpoint(state: TrainState, epoch: int, record: dict[str, Any] | None = None) -> None:
    """Rank 0 writes the checkpoint; the others wait for it (a resume must find it)."""
    if not state.dist.is_main:
        distributed.barrier()
        return
    ckpt = {
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "adversary": state.adversary.state_dict() if state.adversary is not None else None,
        "epoch": epoch,
        "global_step": state.global_step,
        "rng": rng_state(),
        "architecture": architecture(state.model),
        "model_recipe": state.model_table,
        "vadkit_version": __version__,
        "log_record": record or {},
    }
    atomic_save(ckpt, state.run.checkpoint)
    fault("checkpoint-renamed")
    distributed.barrier()
