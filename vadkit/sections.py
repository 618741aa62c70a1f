"""Typed views of the non-component recipe sections: [train], [loss], [eval]; and
``validate_recipe``, which checks every section of a recipe (what ``vadkit build`` runs).

Each section is a dataclass; unknown keys are errors that name the recipe file and key.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import RecipeError
from .recipe import Recipe

T = TypeVar("T")


@dataclass
class TrainConfig:
    """[train]: optimisation and run settings (Adam, lr 2e-4 as in the paper)."""

    epochs: int = 60
    time_budget: float = 0.0  # minutes for data preparation + training; lowers epochs to fit (0 = off)
    batch_size: int = 4
    lr: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_decay: float = 0.0
    lr_schedule: str = "constant"  # "constant" (the paper) or "cosine" (MNAD's code)
    seed: int = 0
    fast: bool = False  # fastest native precision + channels_last (see vadkit/runtime.py)
    precision: str = "auto"  # fast mode's autocast dtype: auto | bfloat16 | float16 | float32
    device: str = "auto"
    workers: int = 0  # DataLoader worker processes
    frame_cache: str = "auto"  # decoded-frame cache: auto | all | video_files | none (docs/training.md)
    threads: int = 0  # torch intra-op threads; 0 = torch's default
    max_steps_per_epoch: int = 0  # 0 = the whole training set each epoch
    grad_clip: float = 0.0  # 0 = no clipping
    loggers: list[str] = field(default_factory=lambda: ["jsonl"])  # + "tensorboard": pip install 'vadkit[tensorboard]'
    sync_batchnorm: bool = False  # distributed runs on CUDA: BatchNorm statistics over all ranks


@dataclass
class LossConfig:
    """[loss]: weights of the named loss terms (eq. 6: 0.8 L_int + 3e-4 L_sep + 1e-3 L_com)."""

    weights: dict[str, float] = field(
        default_factory=lambda: {"intensity": 0.8, "separate": 3e-4, "compact": 1e-3, "gather": 0.1, "triplet": 0.1}
    )


@dataclass
class EvalConfig:
    """[eval]: evaluation settings. The first ``frames`` frames of each video are never scored."""

    batch_size: int = 8
    top_frames: int = 6  # most anomalous frames drawn as input/prediction/error panels
    curves: bool = True  # one regularity curve per test video
    memory_update: bool = False  # MNAD's test-time memory update on frames judged normal (needs calibration)
    temporal_sigma: float = 0.0  # Gaussian smoothing (frames) of each statistic along the video; 0 = none (paper)


# Ranges of the numeric settings (inclusive; checked by read_section for every recipe, so an
# out-of-range value is one line naming the file and key, never an overflow deep inside):
# key -> (lowest, highest, what "in range" means). Bounds are generous: they exclude only values
# no run can use (a time budget of 1e308 minutes, a batch of 2^40 clips, a seed torch rejects).
LIMITS: dict[str, tuple[float, float, str]] = {
    "train.epochs": (1, 1_000_000, ">= 1 and at most 1000000"),
    "train.time_budget": (0, 525_600, "minutes >= 0 (0 = no budget) and at most 525600 (a year)"),
    "train.batch_size": (1, 65_536, ">= 1 and at most 65536"),
    "train.lr": (0, 10, "> 0 and at most 10"),
    "train.weight_decay": (0, 10, ">= 0 and at most 10"),
    "train.seed": (0, 2**32 - 1, ">= 0 and at most 4294967295"),
    "train.workers": (0, 1024, ">= 0 and at most 1024"),
    "train.threads": (0, 4096, ">= 0 (0 = torch's default) and at most 4096"),
    "train.max_steps_per_epoch": (0, 10**9, ">= 0 (0 = the whole set) and at most 1000000000"),
    "train.grad_clip": (0, 1e9, ">= 0 (0 = no clipping) and at most 1e9"),
    "loss.weights": (0, 1e9, "a table of weights >= 0 and at most 1e9"),
    "eval.batch_size": (1, 65_536, ">= 1 and at most 65536"),
    "eval.top_frames": (0, 1000, ">= 0 and at most 1000"),
    "eval.temporal_sigma": (0, 100_000, "a number of frames >= 0 (0 = no smoothing) and at most 100000"),
    "detect.threshold_quantile": (0, 1, "in (0, 1)"),
    "detect.threshold": (-1e12, 1e12, "a finite score (0 = use threshold_quantile)"),
    "detect.smoothing": (1, 1_000_000, ">= 1 and at most 1000000"),
    "detect.merge_gap": (0, 10**9, ">= 0 and at most 1000000000"),
    "detect.min_event": (1, 10**9, ">= 1 and at most 1000000000"),
    "detect.batch": (1, 4096, ">= 1 and at most 4096"),
    "detect.fps": (0, 100_000, "> 0 and at most 100000"),
    "detect.stall_timeout": (0, 31_536_000, "> 0 and at most 31536000 seconds (a year)"),
    "detect.calibration_max_frames": (0, 10**12, ">= 0 and at most 1e12"),
    "detect.holdout_videos": (0, 1_000_000, ">= 0 and at most 1000000"),
    "detect.holdout_tail": (0, 1, "a fraction in [0, 1)"),
    "detect.running_window": (1, 10**9, ">= 1 and at most 1000000000"),
    "detect.running_warmup": (1, 10**9, ">= 1 and at most 1000000000"),
    "detect.overlay_width": (0, 16_384, ">= 0 (0 = source size) and at most 16384"),
    "detect.strip_frames": (2, 10**7, ">= 2 and at most 10000000"),
}


def check_range(recipe: Recipe, key: str, value: Any) -> None:
    """A number (or a table of numbers) of ``key`` is finite and within LIMITS[key]; an error
    naming the recipe file and key otherwise. Keys without limits need only be finite."""
    values = list(value.values()) if isinstance(value, dict) else [value]
    lo, hi, what = LIMITS.get(key, (-math.inf, math.inf, "a finite number"))
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if not (math.isfinite(v) and lo <= v <= hi):
            raise recipe.error(key, f"must be {what}, got {value!r}")


def read_section(recipe: Recipe, key: str, cls: type[T]) -> T:
    """``recipe[key]`` as ``cls``, with unknown keys and wrong types reported by file and key."""
    table = recipe.section(key)
    names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for k, v in table.items():
        if k not in names:
            close = difflib.get_close_matches(k, list(names), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise recipe.error(f"{key}.{k}", f"unknown option.{hint} Options: {', '.join(names)}")
        default = getattr(cls(), k)
        if isinstance(default, bool) and not isinstance(v, bool):
            raise recipe.error(f"{key}.{k}", f"must be true or false, got {v!r}")
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise recipe.error(f"{key}.{k}", f"must be a number, got {v!r}")
            if isinstance(default, int) and not isinstance(v, int):
                raise recipe.error(f"{key}.{k}", f"must be an integer, got {v!r}")
            v = type(default)(v)
        if isinstance(default, str) and not isinstance(v, str):
            raise recipe.error(f"{key}.{k}", f"must be a string, got {v!r}")
        if isinstance(default, list) and not isinstance(v, list):
            raise recipe.error(f"{key}.{k}", f"must be a list, got {v!r}")
        if isinstance(default, dict):
            if not isinstance(v, dict) or not all(isinstance(x, (int, float)) for x in v.values()):
                raise recipe.error(f"{key}.{k}", f"must be a table of numbers, got {v!r}")
            v = {name: float(x) for name, x in v.items()}
        check_range(recipe, f"{key}.{k}", v)
        values[k] = v
    return cls(**values)


def read_eval(recipe: Recipe) -> EvalConfig:
    """``[eval]`` with its ranges checked (file and key named)."""
    cfg = read_section(recipe, "eval", EvalConfig)
    if not math.isfinite(cfg.temporal_sigma) or cfg.temporal_sigma < 0:
        raise recipe.error("eval.temporal_sigma", f"must be a number of frames >= 0 (0 = no smoothing), got {cfg.temporal_sigma!r}")
    if cfg.batch_size < 1:
        raise recipe.error("eval.batch_size", f"must be >= 1, got {cfg.batch_size}")
    return cfg


# Every top-level recipe section and what it configures (``extends`` is consumed while loading).
SECTIONS: dict[str, str] = {
    "model": "the model's components",
    "score": "the scorer",
    "train": "training (TrainConfig)",
    "loss": "loss weights (LossConfig)",
    "eval": "evaluation (EvalConfig)",
    "detect": "detection (DetectConfig)",
    "data": "the dataset layout",
    "flow": "the optical-flow estimator",
}


def check_sections(recipe: Recipe) -> None:
    """Unknown top-level keys are errors with a "did you mean"."""
    for k in recipe.data:
        if k not in SECTIONS:
            close = difflib.get_close_matches(k, list(SECTIONS), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            origin = next((o for o in recipe.origins if o.startswith(f"{k}.")), k)
            raise RecipeError(f"unknown recipe section.{hint} Sections: {', '.join(SECTIONS)}",
                              file=recipe.where(origin), key=k)


def check_data(recipe: Recipe, registry: Any) -> None:
    """``[data]``: ``type`` is ``auto`` or a registered dataset layout, and its options are the
    layout's (checked without opening a dataset: the root is only known at run time)."""
    from .builder import check_options
    from .data.factory import AUTO

    table = {"type": AUTO, **recipe.section("data")}
    if table["type"] == AUTO:  # the options must suit at least one layout that auto may pick
        errors = []
        for name in registry.names("dataset"):
            try:
                check_options(registry, "dataset", {**table, "type": name}, recipe, "data", ("root",))
                return
            except RecipeError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
        return
    names = registry.names("dataset")
    if table["type"] not in names:
        close = difflib.get_close_matches(str(table["type"]), [AUTO, *names], n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise recipe.error("data.type", f"no dataset layout named '{table['type']}'.{hint} "
                           f"Available: {AUTO} (detect it), {', '.join(names)}")
    check_options(registry, "dataset", table, recipe, "data", ("root",))


def validate_recipe(recipe: Recipe, registry: Any) -> None:
    """Check every section of a recipe the way ``[model]`` is checked: unknown sections, keys,
    component names and out-of-range values are errors naming the file and key."""
    from .data.factory import flow_settings, make_flow
    from .detect.config import read_detect
    from .training.trainer import validate_train

    check_sections(recipe)
    validate_train(read_section(recipe, "train", TrainConfig), recipe)
    read_section(recipe, "loss", LossConfig)
    read_eval(recipe)
    read_detect(recipe)
    check_data(recipe, registry)
    make_flow(registry, recipe)
    flow_settings(recipe)
