"""The expected shape of every JSON / JSONL file vadkit reads from a run folder, in one place.

metrics.json, log.jsonl (each line), run.json, calibration.json and validation/*.json are
checked against the shapes below when read. Keys a shape does not name are allowed (files gain
keys over versions); a named key present with a value of the wrong type is a problem naming the
file and the key path. Two ways to use it:

- :func:`require` (commands that need the file): the first problem is one-line
  :class:`RunFileError` (exit 2), e.g. ``run.json: key 'data_root' must be a string, got 5``;
- :func:`clean` (``vadkit report``): the offending keys are dropped and the problems returned,
  so the report lists what it could not read instead of failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import VadkitError


class RunFileError(VadkitError):
    """A run file that is not valid JSON or does not have its expected shape."""


@dataclass(frozen=True)
class Shape:
    """A value of one of ``kinds`` ("number", "int", "str", "bool", "null", "object", "list");
    an object's ``keys`` (optional, each with its shape) or every one of its / a list's ``items``."""

    kinds: tuple[str, ...]
    keys: dict[str, Shape] = field(default_factory=dict)
    items: Shape | None = None


def of(*kinds: str, keys: dict[str, Shape] | None = None, items: Shape | None = None) -> Shape:
    return Shape(tuple(kinds), dict(keys or {}), items)


NUM, INT, STR, BOOL = of("number"), of("int"), of("str"), of("bool")
NUM_OR_NULL, STR_OR_NULL = of("number", "null"), of("str", "null")
OBJECT = of("object")
AUCS = of("object", items=NUM_OR_NULL)  # name -> AUC (None where it cannot be computed)
SCALAR_OR_VECTOR = of("number", "bool", "str", "null", "list", items=of("number", "null"))  # flattened records

METRICS = of(
    "object",
    keys={
        "auc_micro": NUM_OR_NULL,
        "auc_macro": NUM_OR_NULL,
        "auc_per_video": AUCS,
        "auc_per_category": AUCS,
        "macro_skipped_videos": of("list", items=STR),
        "frames_scored": INT,
        "abnormal_frames_scored": INT,
        "diagnostics": AUCS,
        "protocol": STR,
        "scorer": STR,
        "scorer_protocol": STR,
        "statistics": OBJECT,
        "score": OBJECT,
        "frames_excluded_per_video": INT,
        "checkpoint": STR,
        "checkpoint_epoch": INT,
        "data_root": STR,
        "videos": INT,
        "detection": OBJECT,
        "temporal_sigma": NUM,
        "eval_overrides": of("list", items=STR),
        "note": STR,
        "memory_update": of("object", "null"),
        "unsmoothed": of(
            "object",
            keys={
                "auc_micro": NUM_OR_NULL,
                "auc_macro": NUM_OR_NULL,
                "auc_per_video": of("object", "null", items=NUM_OR_NULL),
            },
        ),
    },
)
LOG_RECORD = of(
    "object",
    keys={  # one line of log.jsonl, nested tables flattened to "a/b" keys
        "epoch": INT,
        "step": INT,
        "global_step": INT,
        "epoch_end": BOOL,
        "seconds": NUM,
        "lr": NUM,
        "frames_per_s": NUM,
        "step_s": NUM,
        "resumed_after_epoch": INT,
    },
    items=SCALAR_OR_VECTOR,
)
RUN_INFO = of(
    "object",
    keys={
        "vadkit_version": STR,
        "recipe_source": STR,
        "data_root": STR,
        "device": STR,
        "epochs_completed": INT,
        "train": of("object", keys={"epochs": INT, "seed": INT, "threads": INT, "batch_size": INT}),
        "environment": of("list", items=OBJECT),
        "time_budget": OBJECT,
    },
)
CALIBRATION = of(
    "object",
    keys={
        "version": INT,
        "run": STR,
        "checkpoint_epoch": INT,
        "data_root": STR,
        "split": STR,
        "videos": INT,
        "frames": INT,
        "frames_used": of("list", items=OBJECT),
        "holdout": OBJECT,
        "scorer": STR,
        "statistics": OBJECT,
        "state": OBJECT,
        "score_raw": OBJECT,
        "reference": OBJECT,
        "score": OBJECT,
        "smoothing": INT,
        "stream": OBJECT,
        "threshold_quantile": NUM,
        "threshold": NUM,
        "overlay_error_scale": NUM,
        "detect": OBJECT,
        "seconds": NUM,
        "evidence": OBJECT,
    },
)
VALIDATION = of(
    "object",
    keys={
        "auc_micro": NUM_OR_NULL,
        "auc_macro": NUM_OR_NULL,
        "auc_per_category": AUCS,
        "diagnostics": AUCS,
        "held_out_videos": of("list", items=STR),
        "score_overrides": of("list", items=STR),
        "temporal_sigma": NUM,
        "checkpoint_epoch": INT,
        "pseudo": OBJECT,
    },
)

_TYPES: dict[str, Any] = {"str": str, "bool": bool, "object": dict, "list": list}
_NAMES = {
    "number": "a number",
    "int": "an integer",
    "str": "a string",
    "bool": "true or false",
    "null": "null",
    "object": "a JSON object",
    "list": "a list",
}


def _is(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, _TYPES[kind])


def problems(value: Any, shape: Shape, where: str = "") -> list[tuple[str, str]]:
    """``(key path, message)`` for every value of ``value`` that does not fit ``shape``."""
    if not any(_is(value, k) for k in shape.kinds):
        wanted = " or ".join(_NAMES[k] for k in shape.kinds)
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        return [(where, f"must be {wanted}, got {shown}")]
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            sub = shape.keys.get(k, shape.items)
            if sub is not None:
                found += problems(v, sub, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list) and shape.items is not None:
        for i, v in enumerate(value):
            found += problems(v, shape.items, f"{where}[{i}]")
    return found


def describe(name: str, where: str, message: str) -> str:
    return f"{name}: {'key ' + repr(where) + ' ' if where else ''}{message}"


def require(value: Any, shape: Shape, name: str) -> Any:
    """``value`` when it fits ``shape``; else RunFileError naming ``name`` (the file) and the key."""
    found = problems(value, shape)
    if found:
        raise RunFileError(describe(name, *found[0]))
    return value


def clean(value: Any, shape: Shape, name: str) -> tuple[Any, list[str]]:
    """``value`` without the top-level keys that do not fit ``shape`` (None when the value itself
    does not), and one message per dropped key naming ``name`` and the key."""
    found = problems(value, shape)
    if not found:
        return value, []
    if not isinstance(value, dict) or any(not where for where, _ in found):
        return None, [describe(name, *found[0]) + "; ignored"]
    bad = {where.split(".", 1)[0].split("[", 1)[0] for where, _ in found}
    return {k: v for k, v in value.items() if k not in bad}, [describe(name, w, m) + "; key ignored" for w, m in found]


def read_json(path: Path, shape: Shape, name: str | None = None) -> Any:
    """A run's JSON file, checked: RunFileError (one line naming the file and key) when it is not
    JSON or does not fit ``shape``."""
    name = name or str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise RunFileError(f"{name}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise RunFileError(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    return require(data, shape, name)


__all__ = [
    "Shape",
    "RunFileError",
    "METRICS",
    "LOG_RECORD",
    "RUN_INFO",
    "CALIBRATION",
    "VALIDATION",
    "problems",
    "require",
    "clean",
    "read_json",
]
