"""Recipe -> dataset / flow estimator / clips, through the registry (kinds ``dataset``, ``flow``).

Recipe keys::

    [data]
    type = "auto"          # auto (ask every registered layout) | frames | ucsd | video_files | ...
    labels = "ped2.mat"    # optional, relative to the data root; detected when absent

    [flow]
    type = "dis"           # any registered flow estimator: dis | farneback | raft | ...
    preset = "fast"        # estimator options (dis: preset; farneback: winsize, ...; raft: weights, ...)
    scale = 10.0           # pixels (at the model resolution) that map to 1.0 for the motion stream
    clip = 0.0             # clip normalised flow to +-clip; 0 = no clipping
    cache = ""             # cache folder; default $VADKIT_CACHE or ~/.cache/vadkit/flow
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from ..builder import instantiate, model_section
from ..errors import DataError, RegistryError
from ..recipe import Recipe, recipe_from_dict
from ..registry import Registry
from .clips import DEFAULT_FLOW_SCALE, ClipDataset
from .flow_cache import FlowCache

AUTO = "auto"
DEFAULT_FLOW = {"type": "dis", "preset": "fast"}
FLOW_SETTINGS = ("scale", "clip", "cache")


def _recipe(recipe: Recipe | None) -> Recipe:
    return recipe if recipe is not None else recipe_from_dict({}, "<defaults>")


def detect_layout(root: str | Path, registry: Registry) -> str:
    """The registered dataset layout that recognises ``root`` most specifically.

    Every registered ``dataset`` is asked (``recognises(root)``); none, or a tie between the
    best, is an error that lists what each layout expects."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: dataset root not found")
    scores: dict[str, int] = {}
    expects: list[str] = []
    for name in registry.names("dataset"):
        try:
            cls = registry.get("dataset", name).load()
        except RegistryError as exc:
            expects.append(f"{name}: unavailable ({exc})")
            continue
        recognises = getattr(cls, "recognises", None)
        if recognises is None:
            continue
        scores[name] = int(recognises(root))
        expects.append(f"{name}: {cls.expects() if hasattr(cls, 'expects') else cls.__name__}")
    best = max(scores.values(), default=0)
    winners = sorted(n for n, s in scores.items() if s == best and s > 0)
    if len(winners) == 1:
        return winners[0]
    if winners:
        raise DataError(f"{root}: looks like several dataset layouts ({', '.join(winners)}); "
                        f"set [data] type to one of them")
    raise DataError(f"{root}: cannot detect the dataset layout; expected one of: " + "; ".join(expects))


def open_dataset(root: str | Path, registry: Registry, recipe: Recipe | None = None) -> Any:
    """The dataset layout named by ``[data] type`` (default ``auto``) opened at ``root``."""
    recipe = _recipe(recipe)
    table = {"type": AUTO, **recipe.section("data")}
    if table["type"] == AUTO:
        table["type"] = detect_layout(root, registry)
    return instantiate(registry, "dataset", table, recipe, "data", root=Path(root))


def make_flow(registry: Registry, recipe: Recipe | None = None) -> Any:
    """The flow estimator of the ``[flow]`` table (default DIS, preset fast)."""
    recipe = _recipe(recipe)
    section = recipe.section("flow")
    table = {k: v for k, v in section.items() if k not in FLOW_SETTINGS}
    if "type" not in table:
        table = {**DEFAULT_FLOW, **table}
    return instantiate(registry, "flow", table, recipe, "flow")


def flow_settings(recipe: Recipe | None = None) -> dict[str, Any]:
    """``scale`` (float), ``clip`` (float or None) and ``cache`` (FlowCache) from ``[flow]``."""
    recipe = _recipe(recipe)
    section = recipe.section("flow")
    scale = section.get("scale", DEFAULT_FLOW_SCALE)
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale <= 0:
        raise recipe.error("flow.scale", f"must be a positive number of pixels, got {scale!r}")
    clip = section.get("clip", 0)
    if not isinstance(clip, (int, float)) or isinstance(clip, bool) or clip < 0:
        raise recipe.error("flow.clip", f"must be a number >= 0 (0 = no clipping), got {clip!r}")
    cache = section.get("cache") or None
    if cache is not None and not isinstance(cache, str):
        raise recipe.error("flow.cache", f"must be a folder path, got {cache!r}")
    return {"scale": float(scale), "clip": float(clip) or None, "cache": FlowCache(cache)}


def model_resolution(recipe: Recipe | None) -> tuple[int, int]:
    res = _recipe(recipe).get("model.resolution", [256, 256])
    if not (isinstance(res, list) and len(res) == 2 and all(isinstance(v, int) and v > 0 for v in res)):
        raise _recipe(recipe).error("model.resolution", f"must be [height, width] of positive integers, got {res!r}")
    return int(res[0]), int(res[1])


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
    videos: list[Any] | None = None,
) -> ClipDataset:
    """Clips of ``split`` at the recipe's resolution; with a motion stream, the split's flow
    is computed into the on-disk cache first (in parallel across videos) and reused after.

    ``videos`` restricts the clips to a subset of the split's videos (e.g. held-out ones)."""
    m = model_section(recipe)
    dataset = open_dataset(Path(data_root), registry, recipe)
    if videos is None:
        videos = dataset.videos(split)
    if check:  # decode every frame now: a broken file stops us before any training starts
        _check(dataset, split, sum(v.num_frames for v in videos), console)
    flow = make_flow(registry, recipe) if uses_motion else None
    settings = flow_settings(recipe)
    clips = ClipDataset(
        videos,
        frames=int(m["frames"]),
        resolution=(int(m["resolution"][0]), int(m["resolution"][1])),
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


__all__ = ["open_dataset", "detect_layout", "make_flow", "flow_settings", "model_resolution", "build_clips", "AUTO"]
