"""A trained run opened once: everything eval, calibration and detection need from a run folder.

``TrainedRun.open(run_dir, registry)`` reads the saved recipe once into a typed
:class:`~vadkit.config.RunConfig` (command-line settings applied and the whole recipe checked),
picks the device, builds the model once and loads its last checkpoint (``weights_only=True``),
builds the recipe's scorer and reads calibration.json once. The consumers share it instead of
re-reading the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .builder import build_model, build_scorer
from .checkpoint import check_compatible, load_checkpoint
from .config import RunConfig, TrainConfig, read_config
from .errors import CheckpointError, DataError
from .recipe import Recipe, load_recipe
from .registry import Registry
from .run_folder import RunFolder
from .run_schema import CALIBRATION, RunFileError, read_json
from .runtime import describe, pick_device, prepare_model
from .scoring import Scorer

_UNREAD = object()  # calibration.json not read yet


def read_run_config(run_dir: Path | str, settings: dict[str, Any] | None = None) -> RunConfig:
    """The run's recipe.toml read once and checked whole, with dotted command-line ``settings``
    (``{"detect.threshold": 2.0}``; None values dropped) applied: a typo fails here, before any
    model or data is loaded."""
    folder = RunFolder(Path(run_dir))
    if not folder.recipe.is_file():
        raise CheckpointError(f"{folder.root} is not a run folder (no recipe.toml); train one with `vadkit train`")
    config = read_config(load_recipe(folder.recipe))
    return config.replace(settings or {})


def load_trained(
    run: RunFolder, registry: Registry, config: RunConfig, device: torch.device
) -> tuple[Any, dict[str, Any]]:
    """The model of a run with its last checkpoint loaded, in eval mode (built once)."""
    model = build_model(config.recipe, registry)
    ckpt = load_checkpoint(run.checkpoint)
    check_compatible(ckpt, model, config.model.table(), run.checkpoint)
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), ckpt


@dataclass
class TrainedRun:
    """A run folder with its model (last checkpoint, eval mode), scorer and calibration."""

    folder: RunFolder
    config: RunConfig
    device: torch.device
    model: Any
    checkpoint: dict[str, Any]
    scorer: Scorer
    registry: Registry
    _calibration: Any = field(default=_UNREAD, repr=False)

    @classmethod
    def open(
        cls,
        run_dir: Path | str,
        registry: Registry,
        *,
        device: str | None = None,
        settings: dict[str, Any] | None = None,
        config: RunConfig | None = None,
        allow_plugin_change: bool = False,
        console: Any = None,
    ) -> TrainedRun:
        """Open a run; ``config`` (from :func:`read_run_config`) when the caller read it already,
        else recipe.toml is read here with ``settings`` applied. A component name that now
        resolves to another plugin distribution than at training is refused unless
        ``allow_plugin_change`` (then a warning is printed on ``console``)."""
        from .provenance import check_provenance

        folder = RunFolder(Path(run_dir))
        config = config if config is not None else read_run_config(folder.root, settings)
        changed = check_provenance(
            folder.read_info().get("provenance"), config, registry, str(folder.root), allow=allow_plugin_change
        )
        for line in changed:
            if console is not None:
                console.print(f"[yellow]warning:[/] {line} (--allow-plugin-change)", highlight=False)
        folder.clean_temps()  # what a killed earlier process left behind
        train = config.train
        if train.threads:
            torch.set_num_threads(train.threads)
        dev = pick_device(device or train.device)
        scorer = build_scorer(config.recipe, registry)
        model, ckpt = load_trained(folder, registry, config, dev)
        model = prepare_model(model, dev, train.fast)
        return cls(folder, config, dev, model, ckpt, scorer, registry)

    def configured(self, settings: dict[str, Any]) -> RunConfig:
        """This run's configuration with dotted command-line ``settings`` applied (None dropped)."""
        return self.config.replace(settings)

    @property
    def recipe(self) -> Recipe:
        return self.config.recipe

    @property
    def train(self) -> TrainConfig:
        return self.config.train

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
        """calibration.json (read once, then kept), or None when the run has not been calibrated."""
        if self._calibration is _UNREAD:
            self._calibration = self._read_calibration()
        return self._calibration

    def forget_calibration(self) -> None:
        """calibration.json was written again: the next :meth:`calibration` reads it."""
        self._calibration = _UNREAD

    def _read_calibration(self) -> dict[str, Any] | None:
        path = self.folder.calibration
        if not path.is_file():
            return None
        try:
            return read_json(path, CALIBRATION)
        except RunFileError as exc:
            raise CheckpointError(f"{exc}; run `vadkit calibrate` again") from None


__all__ = ["TrainedRun", "read_run_config", "load_trained"]
