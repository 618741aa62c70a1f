"""The run folder: resolved recipe, environment, JSONL log, checkpoints, results."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .atomic import atomic_write_text, clean_stale_temps
from .folder_lock import LOCK_NAME

# Every entry of a run folder, by name, with the commands that write it: the one place that
# knows a run folder's names (the trainer, eval, report and the output guard read them here).
# ``detect`` matches every top-level folder whose name starts with "detect" (detect --out RUN/detect-x).
PARTS: dict[str, tuple[str, str]] = {  # part -> (name in the run folder, what it is)
    "recipe": ("recipe.toml", "the resolved recipe"),
    "info": ("run.json", "the run record"),
    "log": ("log.jsonl", "the training log"),
    "checkpoints": ("checkpoints", "the training checkpoints"),
    "lock": (LOCK_NAME, "the writer lock"),
    "metrics": ("metrics.json", "the evaluation metrics"),
    "scores": ("scores.csv", "the evaluation scores"),
    "plots": ("plots", "the evaluation pictures"),
    "calibration": ("calibration.json", "the calibration"),
    "calibration_stats": ("calibration_stats.npz", "the calibration statistics"),
    "validation": ("validation", "the validation results"),
    "export": ("export", "the exported models"),
    "detect": ("detect", "the detection outputs"),
}
# command -> the parts of its own run (--run) it writes; train and demo write every part
WRITERS: dict[str, frozenset[str]] = {
    "train": frozenset(PARTS),
    "demo": frozenset(PARTS),
    "eval": frozenset({"metrics", "scores", "plots"}),
    "calibrate": frozenset({"calibration", "calibration_stats"}),
    "validate": frozenset({"validation"}),
    "export": frozenset({"export"}),
    "detect": frozenset({"detect", "export"}),  # non-torch backends export into <run>/export
    "eval --detections": frozenset({"detect"}),  # detection_metrics.json beside the outputs it scores
    "report": frozenset(),
}
DETECT_EVENTS = "events.json"  # one per detect output folder, with the score curve picture beside it
DETECT_CURVE = "score_curve.png"


@dataclass
class RunFolder:
    """Paths inside one run folder."""

    root: Path

    @staticmethod
    def is_run(path: Path | str) -> bool:
        """A folder holding a recipe.toml: what `vadkit train` leaves from its first moment."""
        path = Path(path)
        return path.is_dir() and (path / PARTS["recipe"][0]).is_file()

    @classmethod
    def enclosing(cls, path: Path | str) -> RunFolder | None:
        """The innermost run folder holding ``path`` (or being it), if any."""
        path = Path(path).resolve()
        for folder in (path, *path.parents):
            if cls.is_run(folder):
                return cls(folder)
        return None

    def part_of(self, path: Path | str) -> str | None:
        """The part (a key of PARTS) ``path`` is or lies in; None for the folder itself and for
        any other name (a file a user put there, such as report.html)."""
        try:
            rel = Path(path).resolve().relative_to(self.root.resolve())
        except ValueError:
            return None
        if not rel.parts:
            return None
        first = rel.parts[0]
        for part, (name, _) in PARTS.items():
            if first == name or (part == "detect" and first.startswith(name)):
                return part
        return None

    def files(self) -> list[Path]:
        """Every file of the run's parts that exists (temporary files excluded)."""
        found: list[Path] = []
        for name, _ in PARTS.values():
            path = self.root / name
            if path.is_file():
                found.append(path)
        for path in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            if path.is_dir() and self.part_of(path) is not None:
                found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.endswith(".tmp"))
        return found

    def path(self, part: str) -> Path:
        """Where ``part`` (a key of PARTS) lives in this run."""
        return self.root / PARTS[part][0]

    @property
    def recipe(self) -> Path:
        return self.path("recipe")

    @property
    def info(self) -> Path:
        return self.path("info")

    @property
    def log(self) -> Path:
        return self.path("log")

    @property
    def checkpoint(self) -> Path:
        from .checkpoint import CHECKPOINT_NAME  # here: naming a run's files needs no torch

        return self.path("checkpoints") / CHECKPOINT_NAME

    @property
    def metrics(self) -> Path:
        return self.path("metrics")

    @property
    def scores(self) -> Path:
        return self.path("scores")

    @property
    def plots(self) -> Path:
        return self.path("plots")

    @property
    def calibration(self) -> Path:
        return self.path("calibration")

    @property
    def calibration_stats(self) -> Path:
        return self.path("calibration_stats")

    @property
    def validation(self) -> Path:
        return self.path("validation")

    @property
    def export(self) -> Path:
        return self.path("export")

    @property
    def detect(self) -> Path:
        return self.path("detect")

    def detections(self) -> list[Path]:
        """Every events.json of the run's detect folders (``detect*/**``), sorted."""
        return sorted(self.root.glob(f"{PARTS['detect'][0]}*/**/{DETECT_EVENTS}"))

    def read_info(self) -> dict[str, Any]:
        """run.json checked against its shape (vadkit/run_schema.py); {} when there is none."""
        from .run_schema import RUN_INFO, read_json

        return read_json(self.info, RUN_INFO) if self.info.is_file() else {}

    def write_info(self, info: dict[str, Any]) -> None:
        atomic_write_text(self.info, json.dumps(info, indent=2, default=str) + "\n")

    def clean_temps(self) -> int:
        """Remove temporary files that killed writers left in the run folder (see
        vadkit.atomic.clean_stale_temps); how many were removed."""
        return sum(clean_stale_temps(d) for d in (self.root, self.checkpoint.parent, self.plots))

    def append_log(self, record: dict[str, Any]) -> None:
        with self.log.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


def environment() -> dict[str, Any]:
    """What produced a run: versions, machine and threads."""
    import cv2
    import numpy
    import torch

    return {
        "vadkit": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "command": " ".join(sys.argv),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
