"""The frames validation and calibration evidence are measured on: whole training videos the
run did not train on, and pseudo-anomalous copies of them as clips."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..data.clips import ClipDataset
from ..data.factory import make_flow, open_dataset
from ..data.holdout import read_holdout
from ..errors import DataError
from ..registry import Registry
from ..trained_run import TrainedRun
from .anomalies import KINDS, pseudo_videos
from .shift import shift_all


def held_out_videos(run: TrainedRun, registry: Registry, root: Path) -> list[Any]:
    """The whole training videos the run did not train on."""
    holdout = read_holdout(run.config)
    videos = open_dataset(root, registry, run.recipe).videos("training")
    held = sorted(holdout.held_videos(len(videos)))
    if not held:
        raise DataError(
            f"{run.folder.recipe}: [detect] holdout_videos = {holdout.videos} holds no whole training video out of "
            f"{len(videos)}, so every training video was fitted and there is nothing unseen to validate on; "
            "train with holdout_videos >= 1"
        )
    return [videos[i] for i in held]


def pseudo_clips(
    run: TrainedRun,
    registry: Registry,
    root: Path,
    copies: int = 4,
    seed: int = 0,
    kinds: Sequence[str] = KINDS,
    shift: bool = False,
    videos: list[Any] | None = None,
) -> tuple[list[Any], list[Any], ClipDataset]:
    """(held-out videos, their pseudo-anomalous copies, the clips of those copies); ``shift``:
    each copy seen through its own random photometric shift (:mod:`vadkit.pseudo.shift`);
    ``videos``: draw into these normal videos (a new camera's footage) instead of the run's hold-out."""
    held = list(videos) if videos is not None else held_out_videos(run, registry, root)
    copied = pseudo_videos(held, copies, frames=run.config.model.frames, seed=seed, kinds=tuple(kinds))
    if shift:
        copied = shift_all(copied, seed)
    return held, copied, uncached_clips(run, registry, copied)


def uncached_clips(run: TrainedRun, registry: Registry, videos: list[Any]) -> ClipDataset:
    """The run's clips of ``videos`` whose frames are made on the fly (pseudo-anomalies, shifts):
    no flow cache, which is keyed by video and would mix them up with the originals."""
    m, flow = run.config.model, run.config.flow
    return ClipDataset(
        videos,
        frames=m.frames,
        target=m.target,
        resolution=m.resolution,
        image_channels=m.image_channels,
        flow=make_flow(registry, run.recipe) if run.model.uses_motion else None,
        cache=None,
        flow_scale=flow.scale,
        flow_clip=flow.clip or None,
        frame_cache=2 * m.frames + 2,
    )


__all__ = ["held_out_videos", "pseudo_clips", "uncached_clips"]
