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

The flow cache folder also holds ``frames/`` (decoded frames of video-file sources, see
frame_cache.py) and ``checks/`` (videos that passed the frame check, see frame_check.py).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from ..builder import instantiate, model_section
from ..config import AUTO_LAYOUT, FRAME_CACHE_MODES, ModelConfig, read_flow
from ..errors import DataError, RegistryError
from ..recipe import Recipe, recipe_from_dict
from ..registry import Registry
from .clips import ClipDataset
from .flow_cache import FlowCache
from .frame_cache import FrameCache, entry_bytes, is_video_file
from .frame_check import check_videos, resolve_mode

AUTO = AUTO_LAYOUT


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
        raise DataError(
            f"{root}: looks like several dataset layouts ({', '.join(winners)}); set [data] type to one of them"
        )
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
    return instantiate(registry, "flow", read_flow(recipe).estimator, recipe, "flow")


def flow_settings(recipe: Recipe | None = None) -> dict[str, Any]:
    """``scale`` (float), ``clip`` (float or None) and ``cache`` (FlowCache) from ``[flow]``."""
    settings = read_flow(_recipe(recipe)).settings()
    return {**settings, "cache": FlowCache(settings["cache"])}


def model_resolution(recipe: Recipe | None) -> tuple[int, int]:
    """``[model] resolution`` as (height, width), checked by ``ModelConfig``'s rule; the rest of
    ``[model]`` need not be there (`vadkit flow` takes a recipe with only what flow needs)."""
    recipe = _recipe(recipe)
    probe = ModelConfig(resolution=recipe.get("model.resolution", ModelConfig().resolution))
    for key, message in probe.problems():
        raise recipe.error(f"model.{key}", message)
    return int(probe.resolution[0]), int(probe.resolution[1])


def build_clips(
    recipe: Recipe,
    registry: Registry,
    data_root: Path,
    split: str,
    *,
    uses_motion: bool,
    console: Console | None = None,
    workers: int = 2,
    check: bool | str = True,
    videos: list[Any] | None = None,
    shard: tuple[int, int] = (0, 1),
    barrier: Callable[[], None] | None = None,
    frame_cache: bool | str | None = None,
) -> ClipDataset:
    """Clips of ``split`` at the recipe's resolution. Before returning: the frame check
    (``check``: True/"full", "sample", "auto", False/"none"; frame_check.py), the decoded-frame
    cache (``frame_cache``: None or "video_files" = video-file sources only, True or "all" =
    every video, False or "none" = off, "auto" = :func:`frame_cache_covers`) and, with a motion
    stream, the flow cache are filled, in parallel across videos; under DDP ``shard=(rank,
    world)`` gives each rank its share and ``barrier`` waits for the others. The disk space the
    caches take is printed first.

    ``videos`` restricts the clips to a subset of the split's videos (e.g. held-out ones)."""
    m = model_section(recipe)
    dataset = open_dataset(Path(data_root), registry, recipe)
    if videos is None:
        videos = dataset.videos(split)
    settings = flow_settings(recipe)
    cache_dir = settings["cache"].directory
    mode = resolve_mode(check, sum(v.num_frames for v in videos))
    done = check_videos(videos, mode, cache_dir / "checks", workers, console, shard)
    if console is not None and mode == "sample" and done["checked"]:
        console.print(
            f"frame check: sampled 3 frames of each of {done['checked']} videos (pass --check for a full decode)"
        )
    flow = make_flow(registry, recipe) if uses_motion else None
    resolution = (int(m["resolution"][0]), int(m["resolution"][1]))
    store_all = frame_cache_covers(frame_cache, videos, resolution, int(m["image_channels"]))
    use_store = store_all is not False and (store_all or any(is_video_file(v) for v in videos))
    clips = ClipDataset(
        videos,
        frames=int(m["frames"]),
        target=str(m["target"]),
        resolution=resolution,
        image_channels=int(m["image_channels"]),
        flow=flow,
        cache=settings["cache"] if flow is not None else None,
        flow_scale=settings["scale"],
        flow_clip=settings["clip"],
        dataset_root=Path(data_root),
        frame_store=FrameCache(cache_dir / "frames") if use_store else None,
        store_all=bool(store_all),
    )
    report_cache_space(clips, console)
    clips.prepare_frames(workers=workers, console=console, shard=shard)
    clips.prepare_flow(workers=workers, console=console, shard=shard)
    if barrier is not None:
        barrier()  # every rank's share of the caches is written before anyone trains
    return clips


# "auto" also caches image-folder videos (one image file read and resized per frame otherwise)
# when their decoded frames take at most this much disk: UCSD Ped2's training split (0.12 GiB
# at 128x128, 0.47 GiB at 256x256) is cached, frame folders of ShanghaiTech's size (274k
# training frames, 54 GiB at 256x256) are not. Video files (Avenue) are cached in every mode
# but "none".
AUTO_FRAME_CACHE_BYTES = 4 * 2**30


def frame_cache_covers(
    mode: bool | str | None, videos: list[Any], resolution: tuple[int, int], channels: int
) -> bool | None:
    """Which videos the decoded-frame cache holds: True = every video, None = video files only,
    False = none. ``mode`` is a bool/None or one of :data:`FRAME_CACHE_MODES`."""
    if mode is None or isinstance(mode, bool):
        return mode
    if mode not in FRAME_CACHE_MODES:
        raise ValueError(f"frame_cache must be one of {', '.join(FRAME_CACHE_MODES)}, got {mode!r}")
    if mode != "auto":
        return {"all": True, "video_files": None, "none": False}[mode]
    images = [v for v in videos if not is_video_file(v)]
    if images and sum(entry_bytes(v, resolution, channels) for v in images) <= AUTO_FRAME_CACHE_BYTES:
        return True
    return None


def cache_space(clips: ClipDataset) -> dict[str, tuple[int, int]]:
    """Bytes each cache of ``clips`` takes on disk: {kind: (total, still to write)}."""
    out: dict[str, tuple[int, int]] = {}
    res, ch = clips.resolution, clips.image_channels
    if clips.frame_store is not None and clips.stored:
        stored = [clips.videos[i] for i in sorted(clips.stored)]
        todo = set(map(id, clips.frame_store.missing(stored, res, ch)))
        sizes = [(entry_bytes(v, res, ch), id(v) in todo) for v in stored]
        out["frames"] = (sum(b for b, _ in sizes), sum(b for b, t in sizes if t))
    if clips.flow is not None and clips.cache is not None:
        sizes = [
            (
                v.num_frames * 2 * res[0] * res[1] * 2 + 128,
                not clips.cache.path(clips.dataset_root, v, clips.flow, res).is_file(),
            )
            for v in clips.videos
        ]
        out["flow"] = (sum(b for b, _ in sizes), sum(b for b, t in sizes if t))
    return out


def report_cache_space(clips: ClipDataset, console: Console | None) -> None:
    """Print the caches' sizes before filling them; an error when the disk cannot hold them."""
    space = cache_space(clips)
    todo = sum(t for _, t in space.values())
    if not todo:
        return
    directory = clips.cache.directory if clips.cache is not None else clips.frame_store.directory  # type: ignore[union-attr]
    probe = next((p for p in (directory, *directory.parents) if p.exists()), Path("/"))
    free = shutil.disk_usage(probe).free
    gib = 1024**3
    parts = ", ".join(f"{k} {tot / gib:.2f} GiB ({t / gib:.2f} GiB to write)" for k, (tot, t) in space.items())
    if console is not None:
        console.print(f"caches in {directory}: {parts}; {free / gib:.1f} GiB free")
    if todo > free:
        raise DataError(
            f"{directory}: the caches need {todo / gib:.2f} GiB more but only {free / gib:.2f} GiB "
            f"is free; set [flow] cache (or $VADKIT_CACHE) to a larger disk, or clear old entries "
            f"with `vadkit cache clear`"
        )


__all__ = [
    "open_dataset",
    "detect_layout",
    "make_flow",
    "flow_settings",
    "model_resolution",
    "build_clips",
    "cache_space",
    "report_cache_space",
    "frame_cache_covers",
    "FRAME_CACHE_MODES",
    "AUTO",
]
