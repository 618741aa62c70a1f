"""Recipe -> dataset / flow estimator / cache, through the registry (kinds ``dataset``, ``flow``).

Recipe keys::

    [data]
    type = "auto"          # auto | frames | ucsd | video_files | shanghaitech
    labels = "ped2.mat"    # optional, relative to the data root; detected when absent

    [flow]
    type = "dis"           # dis | farneback | raft
    preset = "fast"        # estimator options (dis: preset; farneback: winsize, ...; raft: weights, ...)
    scale = 10.0           # pixels (at the model resolution) that map to 1.0 for the motion stream
    clip = 0.0             # clip normalised flow to +-clip; 0 = no clipping
    cache = ""             # cache folder; default $VADKIT_CACHE or ~/.cache/vadkit/flow
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vadkit.builder import instantiate
from vadkit.recipe import Recipe, recipe_from_dict
from vadkit.registry import Registry

from .cache import FlowCache
from .clips import DEFAULT_FLOW_SCALE

DEFAULT_DATA = {"type": "auto"}
DEFAULT_FLOW = {"type": "dis", "preset": "fast"}
FLOW_SETTINGS = ("scale", "clip", "cache")


def _recipe(recipe: Recipe | None) -> Recipe:
    return recipe if recipe is not None else recipe_from_dict({}, "<defaults>")


def open_dataset(root: str | Path, registry: Registry, recipe: Recipe | None = None) -> Any:
    """The dataset plugin named by ``[data] type`` (default ``auto``) opened at ``root``."""
    recipe = _recipe(recipe)
    table = {**DEFAULT_DATA, **recipe.section("data")}
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
