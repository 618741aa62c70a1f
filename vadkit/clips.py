"""Recipe + data root -> the clip dataset a model trains or is scored on (flow precomputed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from .builder import model_section
from .recipe import Recipe
from .registry import Registry


def build_clips(
    recipe: Recipe,
    registry: Registry,
    data_root: Path,
    split: str,
    *,
    uses_motion: bool,
    console: Console | None = None,
    workers: int = 2,
) -> Any:
    """Clips of ``split`` at the recipe's resolution; flow is cached on disk first if needed."""
    from vadkit_data import ClipDataset, FlowCache, make_flow, open_dataset

    m = model_section(recipe)
    resolution = (int(m["resolution"][0]), int(m["resolution"][1]))
    dataset = open_dataset(Path(data_root), registry, recipe)
    videos = dataset.videos(split)
    flow = make_flow(registry, recipe) if uses_motion else None
    cache = None
    if flow is not None:
        cache = FlowCache()
        cache.precompute(videos, flow, resolution, workers=workers, console=console)
    return ClipDataset(
        videos,
        frames=int(m["frames"]),
        resolution=resolution,
        image_channels=int(m["image_channels"]),
        flow=flow,
        cache=cache,
        flow_scale=float(recipe.get("flow.scale", 0) or 0) or None,
        dataset_root=Path(data_root),
    )
