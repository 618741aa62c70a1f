"""A run's configuration, typed: one class per recipe section, each setting declared once.

Every setting's type, default, range, choices and help live in one ``setting(...)`` call below;
the recipe reader, the command-line flags (``vadkit.cli._flags``) and the key tables of
docs/recipes.md (``vadkit.config_docs``) are all generated from these declarations, so none of
them can drift. ``read_config(recipe)`` checks the whole recipe once, at the start of a command,
and returns a :class:`RunConfig` that is handed down: nothing downstream re-reads a section.

Component tables (``[model.*]``, ``[score]``, ``[data]``, the estimator of ``[flow]``) name a
registered component and its keyword arguments; their options are checked against the
component's signature by ``vadkit.builder.check_options``, not here.

This module is a leaf: it imports nothing of vadkit but the recipe loader and the errors, so
every layer may use it (docs/architecture.md, "Layers").
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import RecipeError
from .recipe import Recipe

T = TypeVar("T")

# Choices shared with the modules that act on them (they import these; nothing restates them).
LR_SCHEDULES = ("constant", "cosine", "cosine_per_epoch")
PRECISIONS = ("auto", "bfloat16", "float16", "float32")
FRAME_CACHE_MODES = ("auto", "all", "video_files", "none")
CALIBRATIONS = ("tail", "zscore")
WEIGHTINGS = ("evidence", "scorer")
DETECT_BACKENDS = ("torch", "onnxruntime", "openvino", "auto")
MEMORY_UPDATE_RULES = ("calibrated", "point_score")
_RULE_HELP = (
    'which frames the test-time update learns from: "calibrated", those whose calibrated score is below '
    'the calibration threshold (needs calibration.json); "point_score", MNAD\'s rule, those whose '
    "error-weighted squared error (images in [0, 1]) is below memory_update_point_score"
)
_POINT_HELP = "MNAD's --th: the point score below which a frame updates the memory (memory_update_rule = point_score)"
ASSEMBLIES = ("fused", "two_branch")
JOINS = ("none", "concat")
TARGETS = ("next", "current")  # predict frame t+1 from the T frames before it | reconstruct the last input frame
DEFAULT_HOLDOUT_VIDEOS = 2
DEFAULT_HOLDOUT_TAIL = 0.0
DEFAULT_FLOW_SCALE = 10.0
DEFAULT_FLOW = {"type": "dis", "preset": "fast"}
DEFAULT_SCORER = {"type": "regularity"}
AUTO_LAYOUT = "auto"


def setting(
    default: Any = None,
    help: str = "",
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: tuple[str, ...] | None = None,
    note: str = "",
    required: bool = False,
) -> Any:
    """A dataclass field carrying its help text, range and choices (read by the validator, the
    CLI flags and the docs). ``note`` explains a special value in range errors ("0 = off")."""
    meta = {
        "help": help,
        "ge": ge,
        "gt": gt,
        "le": le,
        "lt": lt,
        "choices": choices,
        "note": note,
        "required": required,
    }
    if isinstance(default, (list, dict)):
        return field(default_factory=_factory(default), metadata=meta)
    return field(default=default, metadata=meta)


def _factory(default: Any) -> typing.Callable[[], Any]:
    """A fresh copy of a list or table default for every instance."""
    return lambda: _copy(default)


def _copy(value: Any) -> Any:
    return (
        {k: _copy(v) for k, v in value.items()}
        if isinstance(value, dict)
        else ([_copy(v) for v in value] if isinstance(value, list) else value)
    )


class Section:
    """Base of the section classes: ``problems()`` lists cross-field errors as (key, message)."""

    def problems(self) -> list[tuple[str, str]]:
        return []


@dataclass
class ModelConfig(Section):
    """[model]: how the components are assembled (the component tables are checked by their signatures)."""

    frames: int = setting(4, "past frames T fed to both streams", ge=1, le=1024)
    image_channels: int = setting(3, "channels per frame (3: grayscale data is replicated)", ge=1, le=64)
    resolution: list[int] = setting([256, 256], "`[height, width]` of the input; `vadkit build` dry-runs at this size")
    join: str = setting(
        "none",
        '"none": streams interact only through `fusion`; "concat": join the two '
        "bottlenecks once with concat + 1x1 conv (Table II model B)",
        choices=JOINS,
    )
    target: str = setting(
        "next",
        '"next": predict the frame after the T input frames (MSTI-Net, MNAD-pred, FFP); "current": reconstruct '
        "the last input frame (MNAD's reconstruction model, with frames = 1)",
        choices=TARGETS,
    )
    assembly: str = setting(
        "fused",
        '"fused": one appearance stream into which fusions feed motion; "two_branch": '
        "ablation B, two streams each with its own memory and decoder, mixed at the output",
        choices=ASSEMBLIES,
    )
    appearance: dict[str, Any] = setting({}, "encoder table for the frames", required=True)
    motion: dict[str, Any] = setting(
        {"type": "none"}, 'encoder table for the optical flow; "none" = single stream (model A)'
    )
    attention: dict[str, Any] = setting({"type": "none"}, "attention applied to the motion features inside each fusion")
    fusion: dict[str, Any] = setting({"type": "none"}, "fusion table, instantiated once per encoding level")
    memory: dict[str, Any] = setting({"type": "none"}, "memory table on the appearance bottleneck")
    decoder: dict[str, Any] = setting({}, "decoder table", required=True)

    def problems(self) -> list[tuple[str, str]]:
        res = self.resolution
        if not (
            isinstance(res, list)
            and len(res) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in res)
        ):
            return [("resolution", f"must be [height, width] of positive integers, got {res!r}")]
        return []

    @property
    def window(self) -> int:
        """Frames one sample spans: the T inputs, plus the predicted frame when it comes after them."""
        return self.frames + (1 if self.target == "next" else 0)

    def table(self) -> dict[str, Any]:
        """The section as the builder uses it: every key, defaults filled in."""
        return dataclasses.asdict(self)


@dataclass
class TrainConfig(Section):
    """[train]: optimisation and run settings (Adam, lr 2e-4 as in the paper); docs/training.md."""

    epochs: int = setting(60, "passes over the training clips", ge=1, le=1_000_000)
    time_budget: float = setting(
        0.0,
        "minutes of wall time for data preparation + training; when > 0, a step time measured before "
        "training (20 real steps, their effect undone) lowers `epochs` to what fits, never raises it; kept by "
        "`--resume`; single-process runs only",
        ge=0,
        le=525_600,
        note="0 = no budget; at most a year",
    )
    batch_size: int = setting(4, "clips per step", ge=1, le=65_536)
    lr: float = setting(2e-4, "Adam learning rate (the paper's)", gt=0, le=10)
    betas: list[float] = setting([0.9, 0.999], "Adam betas")
    weight_decay: float = setting(0.0, "Adam weight decay", ge=0, le=10)
    lr_schedule: str = setting(
        "constant",
        '"constant" (the paper); "cosine", annealed to 0 over the run, every step; "cosine_per_epoch", '
        "the same curve stepped once per epoch (MNAD's CosineAnnealingLR)",
        choices=LR_SCHEDULES,
    )
    seed: int = setting(
        0, "model init and per-epoch shuffling; CPU runs are deterministic for a seed", ge=0, le=2**32 - 1
    )
    fast: bool = setting(
        False,
        "fastest native precision + channels_last: bf16 autocast on CPUs with "
        "AVX512-BF16/AMX, float32 + channels_last on CPUs without (bf16 is emulated there and "
        "slower), AMP on CUDA",
    )
    precision: str = setting("auto", "fast mode's autocast dtype", choices=PRECISIONS)
    device: str = setting("auto", "CUDA when present, else CPU; or any torch device string")
    workers: int = setting(0, "DataLoader worker processes", ge=0, le=1024)
    frame_cache: str = setting(
        "auto",
        'decoded-frame cache (`<cache>/frames/`): "auto" = video files, and image-folder videos when '
        "their decoded frames at the model resolution take at most 4 GiB; \"all\"; \"video_files\"; \"none\". "
        "Identical weights either way (docs/training.md)",
        choices=FRAME_CACHE_MODES,
    )
    threads: int = setting(0, "torch intra-op threads", ge=0, le=4096, note="0 = torch's default")
    max_steps_per_epoch: int = setting(0, "cap on steps per epoch", ge=0, le=10**9, note="0 = all clips")
    grad_clip: float = setting(0.0, "gradient-norm clipping", ge=0, le=1e9, note="0 = off")
    loggers: list[str] = setting(
        ["jsonl"],
        'add "tensorboard" to also write the scalars to `RUN/tensorboard` '
        "(`pip install 'vadkit[tensorboard]'`); log.jsonl is always written",
    )
    sync_batchnorm: bool = setting(False, "SyncBatchNorm under DDP (CUDA only)")
    discriminator_lr: float = setting(
        1e-5,
        "Adam learning rate of the patch discriminator, used when [loss.weights] adversarial > 0 (FFP's on Ped2)",
        gt=0,
        le=10,
    )
    discriminator_widths: list[int] = setting(
        [128, 256, 512, 512], "feature widths of the patch discriminator's layers (FFP's pix2pix discriminator)"
    )

    def problems(self) -> list[tuple[str, str]]:
        if not (len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas)):
            return [("betas", f"must be two numbers in [0, 1), got {self.betas!r}")]
        widths = self.discriminator_widths
        if not widths or not all(isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= 65_536 for w in widths):
            return [("discriminator_widths", f"must be one or more whole numbers in 1..65536, got {widths!r}")]
        return []


@dataclass
class LossConfig(Section):
    """[loss]: weights of the named loss terms (eq. 6: 0.8 L_int + 3e-4 L_sep + 1e-3 L_com)."""

    weights: dict[str, float] = setting(
        {"intensity": 0.8, "separate": 3e-4, "compact": 1e-3, "gather": 0.1, "triplet": 0.1},
        "weight of each named loss term: `intensity` and one per memory loss (docs/training.md)",
        ge=0,
        le=1e9,
    )


@dataclass
class EvalConfig(Section):
    """[eval]: evaluation settings; docs/training.md. The first ``frames`` frames of each video are never scored."""

    batch_size: int = setting(8, "clips per scoring batch", ge=1, le=65_536)
    top_frames: int = setting(6, "most anomalous frames drawn in `plots/top_frames.png`", ge=0, le=1000)
    curves: bool = setting(True, "one regularity curve per test video")
    memory_update: bool = setting(
        False, "MNAD's test-time memory update, in stream order, with the frames memory_update_rule selects"
    )
    memory_update_rule: str = setting("calibrated", _RULE_HELP, choices=MEMORY_UPDATE_RULES)
    memory_update_point_score: float = setting(0.01, _POINT_HELP, gt=0, le=1)
    temporal_sigma: float = setting(
        0.0,
        "Gaussian smoothing (standard deviation in frames) of each per-frame statistic along its video before "
        "the scorer's per-video protocol; offline only (the filter is centred)",
        ge=0,
        le=100_000,
        note="0 = none, the paper's protocol",
    )


@dataclass
class DetectConfig(Section):
    """[detect]: calibration, threshold, smoothing, event merging and streaming; docs/detect.md.

    Frame counts are in frames of the source. Many keys can also be set on the command line.
    """

    calibration: str = setting(
        "tail",
        '"tail": each statistic\'s tail probability under normal frames, summed as '
        'weighted surprisals (scale-free); "zscore": the previous release\'s standardisation',
        choices=CALIBRATIONS,
    )
    calibration_weights: str = setting(
        "evidence",
        '"evidence": each statistic\'s weight from its pooled AUC on '
        'pseudo-anomalies in the held-out videos; "scorer": the scorer\'s weights()',
        choices=WEIGHTINGS,
    )
    evidence_shift: bool = setting(
        True,
        "measure the evidence on pseudo-anomalous copies each under a random photometric shift "
        "(gain, offset, sensor noise), so a statistic whose level moves with the camera earns less weight",
    )
    footage_evidence: bool = setting(
        False,
        "calibrating on footage other than the run's own hold-out (a new camera, `calibrate --data`): "
        "measure the evidence on pseudo-anomalies drawn into that footage instead of keeping the run's",
    )
    threshold_shift: bool = setting(
        True,
        "the threshold also covers the calibration frames seen through random photometric shifts "
        "(gain, offset, sensor noise), so a camera's other hours and settings stay under it",
    )
    threshold_quantile: float = setting(
        0.99, "threshold = this quantile of the smoothed score on the calibration frames", gt=0, lt=1
    )
    threshold: float = setting(
        0.0, "an absolute score threshold instead of the quantile", ge=-1e12, le=1e12, note="0 = use threshold_quantile"
    )
    smoothing: int = setting(
        5,
        "causal moving average over this many frames; nothing is flagged before it is full",
        ge=1,
        le=1_000_000,
        note="1 = none",
    )
    merge_gap: int = setting(10, "flagged frames at most this many frames apart join one event", ge=0, le=10**9)
    min_event: int = setting(3, "events shorter than this many frames are dropped", ge=1, le=10**9)
    batch: int = setting(1, "clips per forward pass (1 = lowest latency)", ge=1, le=4096)
    fps: float = setting(25.0, "time base of frame folders, and of videos that do not state one", gt=0, le=100_000)
    stall_timeout: float = setting(
        10.0, "seconds without a frame before a camera or stream counts as stalled", gt=0, le=31_536_000
    )
    calibration_max_frames: int = setting(
        0, "use about this many calibration frames", ge=0, le=10**12, note="0 = every held-out clip"
    )
    holdout_videos: int = setting(
        DEFAULT_HOLDOUT_VIDEOS,
        "whole training videos kept out of training for "
        "calibration (at most a third; with 1-2 training videos the last 25 % of every "
        "video instead)",
        ge=0,
        le=1_000_000,
    )
    holdout_tail: float = setting(
        DEFAULT_HOLDOUT_TAIL, "last fraction of every other training video kept for calibration", ge=0, lt=1
    )
    refit_frames: int = setting(
        0,
        "> 0: fit each source's own calibration on its first N scored frames (assumed normal, never flagged)",
        ge=0,
        le=10**9,
        note="0 = off",
    )
    running_norm: bool = setting(
        False,
        "re-centre each stream's score on its own running median (flagged frames never update it); off by "
        "default: a stream that starts inside an event would take it as normal (docs/detect.md)",
    )
    running_window: int = setting(
        500, "frames of unflagged scores the running statistics look back over", ge=1, le=10**9
    )
    running_warmup: int = setting(
        25, "first frames of a stream: they set its level and are never flagged", ge=1, le=10**9
    )
    overlay_width: int = setting(640, "the overlay video is at most this wide", ge=0, le=16_384, note="0 = source size")
    strip_frames: int = setting(200, "frames of score history drawn in the overlay's score strip", ge=2, le=10**7)
    memory_update: bool = setting(False, "MNAD's test-time memory update during detection (torch backend)")
    memory_update_rule: str = setting("calibrated", _RULE_HELP, choices=MEMORY_UPDATE_RULES)
    memory_update_point_score: float = setting(0.01, _POINT_HELP, gt=0, le=1)
    backend: str = setting(
        "torch",
        "inference runtime; auto = the fastest installed one, timed once on this machine (docs/detect.md)",
        choices=DETECT_BACKENDS,
    )
    drop_frames: bool = setting(False, "live sources: skip frames that arrive while scoring lags, counting them")

    def problems(self) -> list[tuple[str, str]]:
        if self.refit_frames and self.refit_frames <= self.smoothing:
            return [
                ("refit_frames", f"must be 0 (off) or more than smoothing ({self.smoothing}), got {self.refit_frames}")
            ]
        return []


@dataclass
class FlowConfig(Section):
    """[flow]: the optical-flow estimator (a component table: ``type`` and its options) plus these settings."""

    scale: float = setting(DEFAULT_FLOW_SCALE, "pixels of flow at the model resolution that map to 1.0", gt=0, le=1e6)
    clip: float = setting(0.0, "clip flow magnitudes to this many pixels", ge=0, le=1e6, note="0 = no clipping")
    cache: str = setting("", "flow cache folder", note='"" = beside the data (docs/data.md)')
    estimator: dict[str, Any] = field(
        default_factory=lambda: dict(DEFAULT_FLOW), metadata={"internal": True}
    )  # the other keys of [flow]

    def settings(self) -> dict[str, Any]:
        return {"scale": self.scale, "clip": self.clip or None, "cache": self.cache or None}


# Every top-level recipe section: the class that reads it, or None for a component table.
SECTION_CLASSES: dict[str, type[Section] | None] = {
    "model": ModelConfig,
    "score": None,
    "train": TrainConfig,
    "loss": LossConfig,
    "eval": EvalConfig,
    "detect": DetectConfig,
    "data": None,
    "flow": FlowConfig,
}
SECTIONS: dict[str, str] = {
    "model": "the model's components",
    "score": "the scorer (a component table)",
    "train": "training",
    "loss": "loss weights",
    "eval": "evaluation",
    "detect": "detection",
    "data": "the dataset layout (a component table)",
    "flow": "the optical-flow estimator",
}


@dataclass(frozen=True)
class RunConfig:
    """A whole recipe, read and checked once. ``recipe`` keeps where each key came from (for errors)."""

    recipe: Recipe
    model: ModelConfig
    train: TrainConfig
    loss: LossConfig
    eval: EvalConfig
    detect: DetectConfig
    flow: FlowConfig
    score: dict[str, Any]
    data: dict[str, Any]

    def replace(self, values: dict[str, Any], source: str = "command line") -> RunConfig:
        """This configuration with dotted ``values`` set (e.g. ``{"detect.threshold": 2.0}``), checked
        again as a whole; None values are dropped (flags the user did not give)."""
        given = {k: v for k, v in values.items() if v is not None}
        return read_config(self.recipe.with_values(given, source)) if given else self


def range_text(meta: typing.Mapping[str, Any]) -> str:
    """``>= 1 and at most 1000`` from a setting's bounds ("" when it has none)."""
    parts = []
    for key, text in (("gt", "> {}"), ("ge", ">= {}"), ("lt", "< {}"), ("le", "at most {}")):
        if meta.get(key) is not None:
            parts.append(text.format(_num(meta[key])))
    return " and ".join(parts)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _kind(hint: Any) -> tuple[Any, tuple[Any, ...]]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = tuple(a for a in typing.get_args(hint) if a is not type(None))
        return _kind(args[0])
    return (origin or hint), typing.get_args(hint)


def _scalar(recipe: Recipe, key: str, value: Any, typ: Any) -> Any:
    """``value`` as ``typ`` (bool, int, float, str), or an error naming the file and key."""
    if typ is bool:
        if not isinstance(value, bool):
            raise recipe.error(key, f"must be true or false, got {value!r}")
        return value
    if typ in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise recipe.error(key, f"must be a number, got {value!r}")
        if typ is int and not isinstance(value, int):
            raise recipe.error(key, f"must be an integer, got {value!r}")
        return typ(value)
    if typ is str and not isinstance(value, str):
        raise recipe.error(key, f"must be a string, got {value!r}")
    return value


def _value(recipe: Recipe, key: str, value: Any, hint: Any) -> Any:
    """Check one setting's type (scalars, lists of scalars, tables of numbers, component tables)."""
    kind, args = _kind(hint)
    if kind is list:
        if not isinstance(value, list):
            raise recipe.error(key, f"must be a list, got {value!r}")
        return [_scalar(recipe, key, v, args[0]) for v in value]
    if kind is dict:
        if not isinstance(value, dict):
            what = "a table of numbers" if args and args[1] is float else "a table"
            raise recipe.error(key, f"must be {what}, got {value!r}")
        if args and args[1] is float:
            if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value.values()):
                raise recipe.error(key, f"must be a table of numbers, got {value!r}")
            return {name: _scalar(recipe, key, x, float) for name, x in value.items()}
        return value
    return _scalar(recipe, key, value, kind)


def _check_range(recipe: Recipe, key: str, value: Any, meta: typing.Mapping[str, Any]) -> None:
    values = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else [value]
    checks = (
        ("gt", lambda v, b: v > b),
        ("ge", lambda v, b: v >= b),
        ("lt", lambda v, b: v < b),
        ("le", lambda v, b: v <= b),
    )
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if not math.isfinite(v) or not all(meta.get(name) is None or ok(v, meta[name]) for name, ok in checks):
            note = f" ({meta['note']})" if meta.get("note") else ""
            raise recipe.error(key, f"must be {range_text(meta) or 'a finite number'}{note}, got {value!r}")
    if meta.get("choices") and value not in meta["choices"]:
        close = difflib.get_close_matches(str(value), meta["choices"], n=1)
        hint = f". Did you mean {close[0]!r}?" if close else ""
        raise recipe.error(key, f"must be one of {', '.join(map(repr, meta['choices']))}, got {value!r}{hint}")


def unknown_key(recipe: Recipe, key: str, name: str, known: typing.Iterable[str], what: str = "option") -> RecipeError:
    """An unknown key, with the closest known one suggested."""
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return recipe.error(key, f"unknown {what}.{hint} Options: {', '.join(known)}")


def read_section(recipe: Recipe, name: str, cls: type[T], table: dict[str, Any] | None = None) -> T:
    """``[name]`` of ``recipe`` as ``cls``: unknown keys, wrong types, out-of-range values and
    cross-field problems are errors naming the recipe file and key."""
    table = recipe.section(name) if table is None else table
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            raise unknown_key(recipe, f"{name}.{key}", key, fields, f"{name} option")
        meta = fields[key].metadata
        values[key] = _value(recipe, f"{name}.{key}", value, hints[key])
        _check_range(recipe, f"{name}.{key}", values[key], meta)
    for key, f in fields.items():
        if f.metadata.get("required") and key not in values:
            raise recipe.error(f"{name}.{key}", "missing (a component table with a 'type')")
    obj = cls(**values)
    for key, message in typing.cast(Section, obj).problems():
        raise recipe.error(f"{name}.{key}", message)
    return obj


def read_flow(recipe: Recipe) -> FlowConfig:
    """``[flow]``: the settings typed; every other key belongs to the estimator's table."""
    section = recipe.section("flow")
    settings = {k: v for k, v in section.items() if k in ("scale", "clip", "cache")}
    estimator = {k: v for k, v in section.items() if k not in settings}
    if "type" not in estimator:
        estimator = {**DEFAULT_FLOW, **estimator}
    cfg = read_section(recipe, "flow", FlowConfig, settings)
    cfg.estimator = estimator
    return cfg


def check_sections(recipe: Recipe) -> None:
    """Unknown top-level keys are errors with a "did you mean"."""
    for k in recipe.data:
        if k not in SECTION_CLASSES:
            close = difflib.get_close_matches(k, list(SECTION_CLASSES), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            origin = next((o for o in recipe.origins if o.startswith(f"{k}.")), k)
            raise RecipeError(
                f"unknown recipe section.{hint} Sections: {', '.join(SECTION_CLASSES)}",
                file=recipe.where(origin),
                key=k,
            )


def _table(recipe: Recipe, name: str, default: dict[str, Any]) -> dict[str, Any]:
    table = recipe.section(name)
    return table if table else dict(default)


def read_config(recipe: Recipe) -> RunConfig:
    """Every section of ``recipe``, checked: the one place a run's settings are read."""
    check_sections(recipe)
    model = read_section(recipe, "model", ModelConfig)
    data = {"type": AUTO_LAYOUT, **recipe.section("data")}
    return RunConfig(
        recipe,
        model,
        read_section(recipe, "train", TrainConfig),
        read_section(recipe, "loss", LossConfig),
        read_section(recipe, "eval", EvalConfig),
        read_section(recipe, "detect", DetectConfig),
        read_flow(recipe),
        _table(recipe, "score", DEFAULT_SCORER),
        data,
    )


def settings_of(cls: type) -> list[tuple[str, Any, typing.Mapping[str, Any], Any]]:
    """(name, default, metadata, type hint) of every setting of a section class, in order."""
    hints = _hints(cls)
    out: list[tuple[str, Any, typing.Mapping[str, Any], Any]] = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        out.append((f.name, default, f.metadata, hints[f.name]))
    return out


__all__ = [
    "RunConfig",
    "read_config",
    "read_section",
    "read_flow",
    "check_sections",
    "setting",
    "settings_of",
    "ModelConfig",
    "TrainConfig",
    "LossConfig",
    "EvalConfig",
    "DetectConfig",
    "FlowConfig",
    "SECTIONS",
    "SECTION_CLASSES",
    "range_text",
    "unknown_key",
]
