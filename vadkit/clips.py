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
    check: bool = True,
) -> Any:
    """Clips of ``split`` at the recipe's resolution; with a motion stream, the split's flow
    is computed into the on-disk cache first (in parallel across videos) and reused after."""
    from vadkit_data import ClipDataset, flow_settings, make_flow, open_dataset

    m = model_section(recipe)
    resolution = (int(m["resolution"][0]), int(m["resolution"][1]))
    dataset = open_dataset(Path(data_root), registry, recipe)
    videos = dataset.videos(split)
    if check:  # decode every frame now: a broken file stops us before any training starts
        _check(dataset, split, sum(v.num_frames for v in videos), console)
    flow = make_flow(registry, recipe) if uses_motion else None
    settings = flow_settings(recipe)
    clips = ClipDataset(
        videos,
        frames=int(m["frames"]),
        resolution=resolution,
        image_channels=int(m["image_channels"]),
        flow=flow,
        cache=settings["cache"] if flow is not None else None,
        flow_scale=settings["scale"],
        flow_clip=settings["clip"],
        dataset_root=Path(data_root),
    )
    clips.prepare_flow(workers=workers, console=console)
    return clips


def _check(dataset: Any, split: str, frames: int, console: Console | None) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn(f"[bold]checking[/] {split} frames"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(split, total=frames)
        dataset.check(split, progress=lambda n: bar.advance(task, n))
