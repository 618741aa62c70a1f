"""Run a trained model over a clip dataset in order and collect per-frame statistics."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from rich.progress import Progress
from torch.utils.data import DataLoader

from .interfaces import ModelOutput
from .postprocess.temporal import smooth_stats
from .runtime import autocast
from .scoring import Scorer


@dataclass
class VideoScores:
    """Everything scored for one video, in frame order."""

    name: str
    frames: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    stats: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    regularity: np.ndarray | None = None
    smoothed: dict[str, np.ndarray] | None = None  # the statistics after [eval] temporal_sigma, when set

    def arrays(self) -> dict[str, np.ndarray]:
        """The raw per-frame statistics (what scores.csv records)."""
        return {k: np.asarray(v, dtype=np.float64) for k, v in self.stats.items()}

    def protocol_arrays(self) -> dict[str, np.ndarray]:
        """The statistics the benchmark protocol scores: smoothed in time when asked, else raw."""
        return self.smoothed if self.smoothed is not None else self.arrays()


@torch.no_grad()
def collect_stats(
    model: Any,
    clips: Any,
    scorer: Scorer,
    device: torch.device,
    *,
    fast: bool = False,
    precision: str = "auto",
    batch_size: int = 8,
    progress: Progress | None = None,
    on_batch: Callable[[ModelOutput, torch.Tensor, dict[str, np.ndarray]], Any] | None = None,
    temporal_sigma: float = 0.0,
) -> list[VideoScores]:
    """Per-frame scorer statistics for every clip, grouped by video in order, and each video's
    regularity (``temporal_sigma`` > 0: from statistics smoothed in time, see :mod:`.temporal`).

    ``on_batch(output, target, stats)`` runs after each forward pass, in order (test-time memory update)."""
    loader = DataLoader(clips, batch_size=batch_size, shuffle=False, num_workers=0)
    task = progress.add_task("scoring", total=len(clips)) if progress else None
    videos: dict[str, VideoScores] = {}
    for batch in loader:
        frames = batch["frames"].to(device)
        target = batch["target"].to(device)
        flows = batch["flows"].to(device) if model.uses_motion else None
        with autocast(device, fast, precision):
            output = model(frames, flows)
        stats = {k: v.float().cpu().numpy() for k, v in scorer.stats(output, target).items()}
        if on_batch is not None:
            on_batch(output, target, {k: v.astype(np.float64) for k, v in stats.items()})
        for i, name in enumerate(batch["video"]):
            vs = videos.setdefault(name, VideoScores(name))
            vs.frames.append(int(batch["frame"][i]))
            vs.labels.append(int(batch["label"][i]))
            vs.categories.append(str(batch["category"][i]))
            for k, v in stats.items():
                vs.stats[k].append(float(v[i]))
        if progress is not None and task is not None:
            progress.update(task, advance=frames.shape[0])
    return score_videos(list(videos.values()), scorer, temporal_sigma)


def score_videos(videos: list[VideoScores], scorer: Scorer, temporal_sigma: float = 0.0) -> list[VideoScores]:
    """Set each whole video's regularity by the scorer's protocol, from its statistics smoothed
    in time first when ``temporal_sigma`` > 0."""
    for vs in videos:
        vs.smoothed = smooth_stats(vs.arrays(), temporal_sigma) if temporal_sigma > 0 else None
        vs.regularity = np.asarray(scorer.regularity(vs.protocol_arrays()), dtype=np.float64)
    return videos
