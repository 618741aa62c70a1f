"""The training loop: recipe + data -> a run folder with a checkpoint per epoch."""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch.utils.data import DataLoader, RandomSampler

from .. import __version__
from ..builder import build_model, model_section
from ..data.factory import build_clips
from ..errors import CheckpointError, RecipeError
from ..recipe import Recipe
from ..registry import Registry
from ..runtime import PRECISIONS, autocast, describe, pick_device, prepare_model
from ..sections import LossConfig, TrainConfig, read_section
from ..atomic import atomic_write_text
from .checkpoint import architecture, atomic_save, check_compatible, load_checkpoint, rng_state, set_rng_state
from .loss import check_finite, compute_loss
from .run_folder import RunFolder, environment

LR_SCHEDULES = ("constant", "cosine")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def validate_train(cfg: TrainConfig, recipe: Recipe) -> None:
    checks = [
        ("epochs", cfg.epochs >= 1, "must be >= 1"),
        ("batch_size", cfg.batch_size >= 1, "must be >= 1"),
        ("lr", cfg.lr > 0, "must be > 0"),
        ("lr_schedule", cfg.lr_schedule in LR_SCHEDULES, f"must be one of {', '.join(LR_SCHEDULES)}"),
        ("workers", cfg.workers >= 0, "must be >= 0"),
        ("precision", cfg.precision in PRECISIONS, f"must be one of {', '.join(PRECISIONS)}"),
        ("betas", len(cfg.betas) == 2 and all(0 <= b < 1 for b in cfg.betas), "must be two numbers in [0, 1)"),
    ]
    for key, ok, msg in checks:
        if not ok:
            raise recipe.error(f"train.{key}", f"{msg}, got {getattr(cfg, key)!r}")


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


def train(
    recipe: Recipe,
    data_root: Path,
    out: Path,
    registry: Registry,
    *,
    resume: bool = False,
    console: Console | None = None,
) -> RunFolder:
    """Train the recipe's model on the training split of ``data_root`` into run folder ``out``.

    A checkpoint (model, memory items, optimiser, epoch, RNG state) is written atomically
    after every epoch; ``resume=True`` continues from it, losing at most the epoch in progress.
    """
    console = console or Console()
    cfg = read_section(recipe, "train", TrainConfig)
    validate_train(cfg, recipe)
    weights = read_section(recipe, "loss", LossConfig).weights
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run = RunFolder(Path(out))
    if run.checkpoint.exists() and not resume:
        raise CheckpointError(
            f"{run.root} already holds a trained checkpoint; pass --resume to continue it or choose another --out"
        )
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    model = build_model(recipe, registry)
    model_table = model_section(recipe)
    model = prepare_model(model, device, cfg.fast)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)

    start_epoch, global_step = 0, 0
    if resume:
        if not run.checkpoint.exists():
            raise CheckpointError(f"--resume: no checkpoint in {run.root}; start a new run without --resume")
        ckpt = load_checkpoint(run.checkpoint)
        check_compatible(ckpt, model, model_table, run.checkpoint)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        set_rng_state(ckpt["rng"])
        start_epoch, global_step = int(ckpt["epoch"]) + 1, int(ckpt["global_step"])
        console.print(f"resuming {run.root} after epoch {start_epoch} (step {global_step})")
        # steps logged after the checkpoint belong to the lost epoch; mark where the rerun starts
        run.append_log({"resumed_after_epoch": start_epoch, "global_step": global_step})
    run.root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run.recipe, recipe.to_toml())
    info = run.read_info()
    info.update(
        {
            "vadkit_version": __version__,
            "recipe_source": str(recipe.path),
            "data_root": str(Path(data_root).resolve()),
            "train": asdict(cfg),
            "device": str(device),
        }
    )
    info.setdefault("environment", []).append(environment())
    run.write_info(info)

    clips = build_clips(recipe, registry, Path(data_root), "training", uses_motion=model.uses_motion, console=console)
    if len(clips) < cfg.batch_size:
        raise RecipeError(
            f"the training split of {data_root} yields {len(clips)} clips, fewer than one batch", file=str(recipe.path), key="train.batch_size"
        )
    steps = len(clips) // cfg.batch_size
    if cfg.max_steps_per_epoch:
        steps = min(steps, cfg.max_steps_per_epoch)
    total_steps = steps * cfg.epochs
    scheduler = None
    if cfg.lr_schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps))
        )
        for _ in range(global_step):
            scheduler.step()

    console.print(
        f"training {len(clips)} clips, {steps} steps x {cfg.epochs} epochs, batch {cfg.batch_size}, "
        f"{describe(device, cfg.fast, cfg.precision)}, {torch.get_num_threads()} threads"
    )
    with _progress(console) as progress:
        task = progress.add_task("train", total=total_steps, completed=start_epoch * steps, epoch=start_epoch + 1, losses="", fps=0.0)
        for epoch in range(start_epoch, cfg.epochs):
            model.train()
            generator = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
            loader = DataLoader(
                clips,
                batch_size=cfg.batch_size,
                sampler=RandomSampler(clips, generator=generator),
                num_workers=cfg.workers,
                drop_last=True,
                persistent_workers=False,
            )
            epoch_start, seen, sums = time.perf_counter(), 0, {}
            for step, batch in enumerate(loader):
                if step >= steps:
                    break
                tick = time.perf_counter()
                frames = batch["frames"].to(device, non_blocking=True)
                target = batch["target"].to(device, non_blocking=True)
                flows = batch["flows"].to(device, non_blocking=True) if model.uses_motion else None
                with autocast(device, cfg.fast, cfg.precision):
                    output = model(frames, flows)
                total, terms = compute_loss(output, target, weights)
                check_finite(total, terms, epoch, step, global_step)
                optimizer.zero_grad(set_to_none=True)
                total.backward()
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                global_step += 1
                seen += frames.shape[0]
                values = {k: float(v.detach()) for k, v in terms.items()}
                values["total"] = float(total.detach())
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + v
                fps = seen / (time.perf_counter() - epoch_start)
                run.append_log(
                    {"epoch": epoch + 1, "step": step + 1, "global_step": global_step, **values,
                     "lr": optimizer.param_groups[0]["lr"], "frames_per_s": round(fps, 3),
                     "step_s": round(time.perf_counter() - tick, 4)}
                )
                progress.update(
                    task, advance=1, epoch=f"{epoch + 1}/{cfg.epochs}", fps=fps,
                    losses=" ".join(f"{k} {v:.4g}" for k, v in values.items()),
                )
            ckpt = {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "epoch": epoch,
                "global_step": global_step,
                "rng": rng_state(),
                "architecture": architecture(model),
                "model_recipe": model_table,
                "vadkit_version": __version__,
            }
            atomic_save(ckpt, run.checkpoint)
            means = {k: v / max(1, step + 1) for k, v in sums.items()}
            run.append_log({"epoch": epoch + 1, "epoch_end": True, "seconds": round(time.perf_counter() - epoch_start, 2), **{f"mean_{k}": v for k, v in means.items()}})
            console.print(
                f"epoch {epoch + 1}/{cfg.epochs}: " + ", ".join(f"{k} {v:.5g}" for k, v in means.items())
                + f" ({time.perf_counter() - epoch_start:.1f} s, checkpoint saved)"
            )
    info = run.read_info()
    info["epochs_completed"] = cfg.epochs
    run.write_info(info)
    return run


def load_trained(run: RunFolder, registry: Registry, recipe: Recipe, device: torch.device) -> tuple[Any, dict[str, Any]]:
    """The model of a run with its last checkpoint loaded, in eval mode."""
    model = build_model(recipe, registry)
    ckpt = load_checkpoint(run.checkpoint)
    check_compatible(ckpt, model, model_section(recipe), run.checkpoint)
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), ckpt
