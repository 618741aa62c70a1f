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

from .. import __version__
from ..atomic import atomic_write_text, clean_stale_temps
from .checkpoint import CHECKPOINT_NAME


@dataclass
class RunFolder:
    """Paths inside one run folder."""

    root: Path

    @property
    def recipe(self) -> Path:
        return self.root / "recipe.toml"

    @property
    def info(self) -> Path:
        return self.root / "run.json"

    @property
    def log(self) -> Path:
        return self.root / "log.jsonl"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoints" / CHECKPOINT_NAME

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def scores(self) -> Path:
        return self.root / "scores.csv"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def calibration(self) -> Path:
        return self.root / "calibration.json"

    def read_info(self) -> dict[str, Any]:
        return json.loads(self.info.read_text()) if self.info.is_file() else {}

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
