"""Normal training data held out of training, so detection calibrates on frames the model has
not fitted (``[detect] holdout_videos`` / ``holdout_tail``).

A model scores the clips it trained on better than any new footage, so a calibration on them
sees too narrow a normal spread. The hold-out is decided from the recipe alone, so training
(which skips it) and calibration (which uses only it) agree without sharing state:

- ``holdout_videos = N``: N whole training videos, evenly spaced in the split's order, but
  never more than a third of them. A split too small for that (1 or 2 videos) holds out the
  last :data:`FALLBACK_TAIL` of every video instead, so a hold-out always exists; training
  logs it and calibration.json says so. In-sample calibration happens only when asked for
  (``holdout_videos = 0`` and ``holdout_tail = 0``);
- ``holdout_tail = f``: the last fraction f of every other training video. Training keeps
  targets before the cut; calibration takes targets from ``cut + T`` on, so not even the T
  input frames of a calibration clip were seen in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import DEFAULT_HOLDOUT_TAIL as DEFAULT_TAIL
from ..config import DEFAULT_HOLDOUT_VIDEOS as DEFAULT_VIDEOS
from ..config import DetectConfig, RunConfig, read_section
from ..recipe import Recipe

FALLBACK_TAIL = 0.25  # held out of every video when the split has too few videos to hold whole ones
FALLBACK_MIN_CLIPS = 10  # ... provided some video's tail gives this many calibration clips (else in-sample)


@dataclass(frozen=True)
class Holdout:
    """Which normal training frames are kept for calibration."""

    videos: int = DEFAULT_VIDEOS
    tail: float = DEFAULT_TAIL
    fallback: bool = False  # True when ``tail`` stands in for whole videos the split could not spare

    def for_split(self, count: int) -> Holdout:
        """The hold-out actually applied to a split of ``count`` videos: whole videos asked for
        but none can be spared (fewer than 3 videos) and no tail asked for -> the last
        :data:`FALLBACK_TAIL` of every video."""
        if self.videos > 0 and self.tail == 0 and not self.held_videos(count):
            return Holdout(0, FALLBACK_TAIL, fallback=True)
        return self

    @property
    def active(self) -> bool:
        return self.videos > 0 or self.tail > 0

    def for_clips(self, clips: Any) -> Holdout:
        """:meth:`for_split` for a ClipDataset, except that a fallback whose tails are too short to
        stream (no video gives :data:`FALLBACK_MIN_CLIPS` calibration clips) is dropped: in-sample,
        as before the fallback existed."""
        holdout = self.for_split(len(clips.videos))
        if holdout.fallback:
            per_video: dict[int, int] = {}
            for i in holdout.split(clips)[1]:
                vi = clips.index[i][0]
                per_video[vi] = per_video.get(vi, 0) + 1
            if max(per_video.values(), default=0) < FALLBACK_MIN_CLIPS:
                return Holdout(0, 0.0)
        return holdout

    def active_for(self, count: int) -> bool:
        """Whether anything is held out of a split of ``count`` videos."""
        return bool(self.held_videos(count)) or self.tail > 0

    def held_videos(self, count: int) -> set[int]:
        """Indices of the whole videos held out of ``count``: ``videos`` of them, at most a
        third, evenly spaced."""
        n = min(self.videos, count // 3)
        return {int((i + 0.5) * count / n) for i in range(n)} if n > 0 else set()

    def cut(self, num_frames: int) -> int:
        """First frame of a video's held-out tail (``num_frames`` when there is none)."""
        return num_frames - int(round(self.tail * num_frames))

    def split(self, clips: Any) -> tuple[list[int], list[int]]:
        """(training, calibration) positions in ``clips.index`` (a ClipDataset)."""
        held = self.held_videos(len(clips.videos))
        gap = int(getattr(clips, "frames", 0))
        train, calib = [], []
        for i, (vi, t) in enumerate(clips.index):
            if vi in held:
                calib.append(i)
                continue
            cut = self.cut(clips.videos[vi].num_frames)
            if t < cut:
                train.append(i)
            elif t >= cut + gap:
                calib.append(i)
        return train, calib

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"videos": self.videos, "tail": self.tail}
        if self.fallback:
            out["fallback"] = (
                f"too few training videos to hold whole ones out: the last {self.tail:.0%} of every "
                "video is held out instead"
            )
        return out


def read_holdout(source: Recipe | RunConfig | DetectConfig) -> Holdout:
    """The hold-out ``[detect] holdout_videos`` / ``holdout_tail`` asks for (checked by vadkit.config)."""
    if isinstance(source, RunConfig):
        source = source.detect
    elif isinstance(source, Recipe):
        source = read_section(source, "detect", DetectConfig)
    return Holdout(source.holdout_videos, source.holdout_tail)


def keep(clips: Any, positions: list[int]) -> Any:
    """Restrict a ClipDataset to the clips at ``positions`` (in place; returns it)."""
    clips.index = [clips.index[i] for i in positions]
    return clips


def training_part(clips: Any, recipe: Recipe | RunConfig | DetectConfig) -> Any:
    """The training clips of a run: everything but the recipe's hold-out."""
    holdout = read_holdout(recipe).for_clips(clips)
    return keep(clips, holdout.split(clips)[0]) if holdout.active_for(len(clips.videos)) else clips


def holdout_note(recipe: Recipe | RunConfig | DetectConfig, clips: Any) -> str | None:
    """A line for the training log when the hold-out falls back to every video's tail (or, for
    videos too short for that, to none)."""
    asked = read_holdout(recipe)
    holdout = asked.for_clips(clips)
    if holdout.fallback:
        return f"hold-out for calibration: {holdout.describe()['fallback']}"
    if asked.active and not holdout.active_for(len(clips.videos)):
        return (
            "hold-out for calibration: the training videos are too few and too short to hold any frames out; "
            "calibration will use the frames trained on (in-sample)"
        )
    return None


def calibration_part(clips: Any, holdout: Holdout) -> Any:
    """Only the held-out clips (all clips when nothing is held out)."""
    holdout = holdout.for_clips(clips)
    return keep(clips, holdout.split(clips)[1]) if holdout.active_for(len(clips.videos)) else clips


__all__ = ["FALLBACK_TAIL", "Holdout", "holdout_note", "read_holdout", "training_part", "calibration_part", "keep"]
