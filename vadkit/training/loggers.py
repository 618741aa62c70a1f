"""Where training records go. The run's log.jsonl is always written and stays the source of
truth (resume, `vadkit report` and the tests read it); ``[train] loggers = ["jsonl",
"tensorboard"]`` also writes the same numeric scalars to TensorBoard under ``RUN/tensorboard``."""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any, Protocol

from ..errors import RecipeError
from ..run_folder import RunFolder

INDEX_KEYS = frozenset({"epoch", "step", "global_step", "epoch_end", "resumed_after_epoch"})
TENSORBOARD_HINT = "pip install 'vadkit[tensorboard]'"


class Logger(Protocol):
    """Receives every record the trainer writes to log.jsonl."""

    def log(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class JsonlLogger:
    """One JSON object per line in RUN/log.jsonl (appended, flushed per record)."""

    def __init__(self, run: RunFolder) -> None:
        self.run = run

    def log(self, record: dict[str, Any]) -> None:
        self.run.append_log(record)

    def close(self) -> None:
        pass


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts become ``outer/inner`` keys, the way diagnostics keys are written."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}/"))
        else:
            out[name] = value
    return out


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """The finite numeric leaves of a record (nested dicts joined with '/'), index keys left out."""
    return {
        name: float(value)
        for name, value in flatten(record).items()
        if isinstance(value, (int, float))
        and not isinstance(value, bool)
        and name not in INDEX_KEYS
        and math.isfinite(value)
    }


class TensorBoardLogger:
    """The same scalars as log.jsonl: per-step records against ``global_step`` under ``train/``,
    per-epoch records against the epoch under ``epoch/``; keys that already hold a '/' (e.g.
    ``memory/entropy``) keep their name."""

    def __init__(self, log_dir: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise RecipeError(
                f"[train] loggers includes 'tensorboard' but the tensorboard package is not installed: {TENSORBOARD_HINT}",
                key="train.loggers",
            ) from None
        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(log_dir=str(self.log_dir))

    def log(self, record: dict[str, Any]) -> None:
        per_step = "global_step" in record and "step" in record
        x = record.get("global_step") if per_step else record.get("epoch")
        if not isinstance(x, int):
            return  # e.g. the resume marker: nothing to plot
        group = "train" if per_step else "epoch"
        for key, value in scalars(record).items():
            self.writer.add_scalar(key if "/" in key else f"{group}/{key}", value, x)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


# Extra loggers by name; "jsonl" names the log.jsonl logger, which is always on.
EXTRA_LOGGERS: dict[str, Any] = {"jsonl": None, "tensorboard": lambda run: TensorBoardLogger(run.root / "tensorboard")}
LOGGERS = tuple(EXTRA_LOGGERS)


class Loggers:
    """log.jsonl first (always), then every extra logger the recipe names."""

    def __init__(self, loggers: list[Logger]) -> None:
        self.loggers = loggers

    def log(self, record: dict[str, Any]) -> None:
        for logger in self.loggers:
            logger.log(record)

    def close(self) -> None:
        for logger in self.loggers:
            logger.close()


def build_loggers(names: list[str], run: RunFolder, recipe_file: str | None = None) -> Loggers:
    """``[train] loggers`` -> Loggers; unknown names are errors with a suggestion."""
    loggers: list[Logger] = [JsonlLogger(run)]
    for name in dict.fromkeys(names):
        if name not in LOGGERS:
            close = difflib.get_close_matches(str(name), LOGGERS, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise RecipeError(
                f"unknown logger '{name}'.{hint} Options: {', '.join(LOGGERS)}", file=recipe_file, key="train.loggers"
            )
        factory = EXTRA_LOGGERS[name]
        if factory is not None:
            loggers.append(factory(run))
    return Loggers(loggers)
