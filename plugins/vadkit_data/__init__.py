"""Datasets and optical flow for vadkit (layouts, labels, clip sampling, flow cache, synthetic data).

Components are registered by the manifest (registry.toml, kinds ``dataset`` and ``flow``); nothing
registers at import time. Names are imported lazily so that flow worker processes (spawned) do not
pay for importing torch. See docs/data.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Video": "video",
    "VideoDataset": "datasets", "FramesDataset": "datasets", "UCSDDataset": "datasets",
    "VideoFilesDataset": "datasets", "ShanghaiTechDataset": "datasets", "auto_dataset": "datasets",
    "detect_layout": "datasets",
    "open_dataset": "factory", "make_flow": "factory", "flow_settings": "factory", "model_resolution": "factory",
    "DISFlow": "flow", "FarnebackFlow": "flow", "RAFTFlow": "flow", "resize_flow": "flow",
    "FlowCache": "cache", "default_cache_dir": "cache",
    "ClipDataset": "clips", "DEFAULT_FLOW_SCALE": "clips",
}
__all__ = list(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from .cache import FlowCache, default_cache_dir
    from .clips import DEFAULT_FLOW_SCALE, ClipDataset
    from .datasets import (FramesDataset, ShanghaiTechDataset, UCSDDataset, VideoDataset, VideoFilesDataset,
                           auto_dataset, detect_layout)
    from .factory import flow_settings, make_flow, model_resolution, open_dataset
    from .flow import DISFlow, FarnebackFlow, RAFTFlow, resize_flow
    from .video import Video


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vadkit_data' has no attribute '{name}'")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
