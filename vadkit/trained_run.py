"""A trained run opened once: everything eval, calibration and detection need from a run folder.

``TrainedRun.open(run_dir, registry)`` reads the saved recipe, picks the device, builds the model
once and loads its last checkpoint (``weights_only=True``), builds the recipe's scorer and, when
present, reads the calibration. The three consumers share it instead of each re-reading the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .builder import build_scorer
from .errors import CheckpointError, DataError
from .recipe import Recipe, load_recipe
from .registry import Registry
from .run_schema import CALIBRATION, RunFileError, read_json
from .runtime import describe, pick_device, prepare_model
from .scoring import Scorer
from .sections import TrainConfig, read_section
from .training.run_folder import RunFolder


@dataclass
class TrainedRun:
    """A run folder with its model (last checkpoint, eval mode), scorer and calibration."""

    folder: RunFolder
    recipe: Recipe
    train: TrainConfig
    device: torch.device
    model: Any
    checkpoint: dict[str, Any]
    scorer: Scorer
    registry: Registry

    @classmethod
    def open(cls, run_dir: Path | str, registry: Registry, *, device: str | None = None) -> TrainedRun:
        from .training.trainer import load_trained

        folder = RunFolder(Path(run_dir))
        if not folder.recipe.is_file():
            raise CheckpointError(f"{folder.root} is not a run folder (no recipe.toml); train one with `vadkit train`")
        folder.clean_temps()  # what a killed earlier process left behind
        recipe = load_recipe(folder.recipe)
        train = read_section(recipe, "train", TrainConfig)
        if train.threads:
            torch.set_num_threads(train.threads)
        dev = pick_device(device or train.device)
        scorer = build_scorer(recipe, registry)
        model, ckpt = load_trained(folder, registry, recipe, dev)
        model = prepare_model(model, dev, train.fast)
        return cls(folder, recipe, train, dev, model, ckpt, scorer, registry)

    @property
    def root(self) -> Path:
        return self.folder.root

    @property
    def epoch(self) -> int:
        """Epochs completed by the loaded checkpoint."""
        return int(self.checkpoint.get("epoch", -1)) + 1

    @property
    def fast(self) -> bool:
        return self.train.fast

    @property
    def precision(self) -> str:
        return self.train.precision

    def describe_compute(self) -> str:
        return describe(self.device, self.fast, self.precision)

    def data_root(self, override: Path | str | None = None, *, purpose: str = "the data") -> Path:
        """``override``, else the dataset root the run was trained on; an error when it is gone."""
        root = Path(override) if override else Path(self.folder.read_info().get("data_root", ""))
        if not str(root) or not root.is_dir():
            raise DataError(f"{root or '(none)'}: {purpose} not found; pass the dataset root (--data)")
        return root

    def calibration(self) -> dict[str, Any] | None:
        """calibration.json, or None when the run has not been calibrated."""
        path = self.folder.calibration
        if not path.is_file():
            return None
        try:
            return read_json(path, CALIBRATION)
        except RunFileError as exc:
            raise CheckpointError(f"{exc}; run `vadkit calibrate` again") from None


__all__ = ["TrainedRun"]
