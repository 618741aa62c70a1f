"""The normal clips a run calibrates on: its held-out training frames when it calibrates on its
own training split, else the whole split. Shared by calibration (`vadkit calibrate`) and the
int8 export's quantization ranges, so neither job imports the other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from .config import DetectConfig
from .data.factory import build_clips
from .data.holdout import Holdout, calibration_part
from .errors import DataError
from .registry import Registry
from .trained_run import TrainedRun


def calibration_clips(
    run: TrainedRun, registry: Registry, root: Path, split: str, cfg: DetectConfig, console: Console
) -> tuple[Any, dict[str, Any]]:
    """The normal clips to calibrate on, and how they were chosen (the run's hold-out when it
    calibrates on its own training split, else the whole split)."""
    clips = build_clips(run.recipe, registry, root, split, uses_motion=run.model.uses_motion, console=console)
    trained_on = Path(run.folder.read_info().get("data_root", "") or "/nonexistent")
    own = split == "training" and trained_on.exists() and root.resolve() == trained_on.resolve()
    holdout = Holdout(cfg.holdout_videos, cfg.holdout_tail).for_clips(clips)
    applies = own and holdout.active_for(len(clips.videos))
    if applies and holdout.fallback:
        console.print(f"calibration hold-out: {holdout.describe()['fallback']}")
    info = {**holdout.describe(), "applied": bool(applies), "own_training_split": bool(own)}
    if applies:
        held = holdout.held_videos(len(clips.videos))
        info["held_out_videos"] = [clips.videos[i].name for i in sorted(held)]
        calibration_part(clips, holdout)
        if len(clips) == 0:
            raise DataError(
                f"{root}: [detect] holdout_videos = {holdout.videos}, holdout_tail = {holdout.tail:g} "
                f"leave no {split} clip for calibration; hold out more"
            )
    elif own:
        info["note"] = "in-sample: calibrated on the frames the model trained on (no hold-out configured)"
    return clips, info


__all__ = ["calibration_clips"]
