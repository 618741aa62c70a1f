"""``[train] time_budget``: fit a run into a wall-time budget on whatever machine runs it.

The same recipe takes 0.09 s a step on a CPU with native bf16 and 0.13-0.26 s on one without
(docs/results.md), so a fixed epoch count overshoots a time budget on slower machines. With a
budget, training times a few real steps before it starts (on the real data, model and
optimiser, whose state and the RNGs are put back afterwards, so the trained weights do not
depend on the probe) and lowers ``epochs`` to what fits. ``epochs`` stays the maximum: a faster
machine does not train longer. The plan is written to run.json and reused by ``--resume``, so
the learning-rate schedule of a resumed run is the one it started with.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, RandomSampler

from ..checkpoint import rng_state, set_rng_state
from ..errors import RecipeError
from ..recipe import Recipe

PROBE_WARMUP = 3  # first steps: allocation, oneDNN kernel selection, worker start-up
PROBE_STEPS = 20
EPOCH_OVERHEAD = 1.08  # Ped2, 2-core EPYC: 32 epochs took a median 1.07x 533 probed steps (logging, checkpoints, drift)


@dataclass
class BudgetPlan:
    """What the probe measured and the epoch count it chose."""

    budget_s: float
    elapsed_s: float  # data preparation and probe, before the first epoch
    step_s: float  # median over PROBE_STEPS steps, data loading included
    steps_per_epoch: int
    epoch_s: float
    max_epochs: int
    epochs: int

    def describe(self) -> str:
        fit = "all fit" if self.epochs == self.max_epochs else f"lowered from {self.max_epochs}"
        return (
            f"time budget {self.budget_s / 60:.1f} min: step {self.step_s:.3f} s measured "
            f"({PROBE_STEPS} steps), epoch ~{self.epoch_s:.0f} s, {self.elapsed_s:.0f} s spent before "
            f"training -> {self.epochs} epoch{'s' if self.epochs > 1 else ''} ({fit})"
        )


def plan_epochs(
    budget_min: float, max_epochs: int, elapsed_s: float, step_s: float, steps_per_epoch: int, recipe: Recipe
) -> BudgetPlan:
    """The most epochs (at most ``max_epochs``) that fit what is left of the budget."""
    budget_s = 60.0 * budget_min
    epoch_s = steps_per_epoch * step_s * EPOCH_OVERHEAD
    room = max(0.0, budget_s - elapsed_s) / epoch_s if epoch_s > 0 else math.inf  # compare before int()
    fit = max_epochs if not room < max_epochs else math.floor(room)
    if fit < 1:
        raise RecipeError(
            f"one epoch takes ~{epoch_s:.0f} s on this machine ({steps_per_epoch} steps of {step_s:.3f} s) and "
            f"{elapsed_s:.0f} s went to preparing the data: nothing fits {budget_min:g} min; raise the budget "
            f"or lower train.max_steps_per_epoch",
            file=str(recipe.path),
            key="train.time_budget",
        )
    return BudgetPlan(budget_s, elapsed_s, step_s, steps_per_epoch, epoch_s, max_epochs, min(max_epochs, fit))


def probe_step_seconds(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    clips: Any,
    batch_size: int,
    workers: int,
    step: Callable[[dict[str, Any]], Any],
    extra: Sequence[Any] = (),
) -> float:
    """Median wall seconds of ``step`` over PROBE_STEPS batches (after PROBE_WARMUP), loading
    included; the model, the optimiser, every RNG and each of ``extra`` (objects with
    ``state_dict`` / ``load_state_dict``, e.g. a discriminator) are exactly as before when it returns."""
    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    saved_extra = [copy.deepcopy(e.state_dict()) for e in extra]
    saved_rng = rng_state()
    try:
        sampler = RandomSampler(
            clips,
            replacement=True,
            num_samples=(PROBE_WARMUP + PROBE_STEPS) * batch_size,
            generator=torch.Generator().manual_seed(0),
        )
        loader = DataLoader(clips, batch_size=batch_size, sampler=sampler, num_workers=workers, drop_last=True)
        times: list[float] = []
        tick = time.perf_counter()
        for batch in loader:
            step(batch)
            now = time.perf_counter()
            times.append(now - tick)
            tick = now
        return statistics.median(times[PROBE_WARMUP:])
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        for e, saved in zip(extra, saved_extra):
            e.load_state_dict(saved)
        set_rng_state(saved_rng)
