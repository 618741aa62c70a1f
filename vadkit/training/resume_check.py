"""What ``vadkit train --resume`` may change: the run's recorded recipe (recipe.toml, written
when the run started) against the recipe given now.

A resumed run continues the weights, optimiser state and data order of the run it resumes, so
every setting that shaped them must be the same: any change in ``[model]``, ``[data]``,
``[flow]`` or ``[loss]``, in the ``[train]`` keys that set the optimisation (lr, batch_size,
seed, ...), or in ``[detect] holdout_videos`` / ``holdout_tail`` (which videos are trained on) is
refused, naming the keys, unless ``--force``. What resuming can honour is allowed:

- ``[train]``: ``epochs`` (more epochs continue the run; fewer stop it), ``time_budget`` (a run
  under way keeps its planned epochs), ``threads``, ``workers``, ``device``, ``frame_cache``,
  ``loggers`` (speed and bookkeeping only; the weights do not depend on them);
- ``[score]``, ``[eval]`` and the rest of ``[detect]``: used only after training (calibration,
  evaluation, detection), which runs again with the new values.
"""

from __future__ import annotations

from typing import Any

from ..errors import CheckpointError, VadkitError
from ..recipe import Recipe, load_recipe
from ..run_folder import RunFolder

RESUMABLE_TRAIN = frozenset({"epochs", "time_budget", "threads", "workers", "device", "frame_cache", "loggers"})
AFTER_TRAINING = frozenset({"score", "eval", "detect"})  # sections read only after training
TRAINING_DETECT = frozenset({"holdout_videos", "holdout_tail"})  # [detect] keys that choose the training clips
_MISSING = object()


class ResumeMismatch(CheckpointError):
    """The recipe of a resumed run changed in a way resuming cannot honour."""


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists stay values)."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def resumable(key: str) -> bool:
    """Whether a change of ``key`` (a dotted recipe key) can be honoured by a resumed run."""
    section, _, rest = key.partition(".")
    name = rest.split(".", 1)[0]
    if section == "train":
        return name in RESUMABLE_TRAIN
    if section == "detect":
        return name not in TRAINING_DETECT
    return section in AFTER_TRAINING


def changed_keys(recorded: Recipe, current: Recipe) -> list[tuple[str, Any, Any]]:
    """``(key, recorded value, current value)`` of every change resuming cannot honour."""
    old, new = flatten(recorded.data), flatten(current.data)
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, _MISSING), new.get(key, _MISSING)
        if a != b and not resumable(key):
            out.append((key, a, b))
    return out


def _show(value: Any) -> str:
    return "(not set)" if value is _MISSING else repr(value)


def check_resume(run: RunFolder, recipe: Recipe, *, force: bool = False) -> None:
    """Refuse to resume ``run`` with ``recipe`` when a setting that shaped its training changed
    (ResumeMismatch naming the keys); nothing to compare when the run has no recipe.toml."""
    if force or not run.recipe.is_file():
        return
    try:
        recorded = load_recipe(run.recipe)
    except VadkitError as exc:
        raise ResumeMismatch(
            f"--resume: the run's recorded recipe does not load ({exc}); cannot tell what "
            "changed (pass --force to resume anyway)"
        ) from None
    changes = changed_keys(recorded, recipe)
    if not changes:
        return
    shown = ", ".join(f"{k} {_show(a)} -> {_show(b)}" for k, a, b in changes[:6])
    more = f" and {len(changes) - 6} more" if len(changes) > 6 else ""
    raise ResumeMismatch(
        f"--resume: {run.root} was trained with another recipe: {shown}{more}; resuming continues the "
        f"trained weights, so only {', '.join(f'train.{k}' for k in sorted(RESUMABLE_TRAIN))} and [score], "
        "[eval], [detect] (but its holdout) may change. Restore these keys, train into a new --out, or "
        "pass --force to resume anyway"
    )


__all__ = ["check_resume", "changed_keys", "resumable", "ResumeMismatch", "RESUMABLE_TRAIN"]
