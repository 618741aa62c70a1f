"""Datasets and optical flow for vadkit (layouts, labels, clip sampling, flow cache, synthetic data).

Components are registered by the manifest (registry.toml, kinds ``dataset`` and ``flow``); nothing
registers at import time. See docs/data.md.
"""

from __future__ import annotations

from .cache import FlowCache, default_cache_dir
from .clips import DEFAULT_FLOW_SCALE, ClipDataset
from .datasets import (
    FramesDataset,
    ShanghaiTechDataset,
    UCSDDataset,
    VideoDataset,
    VideoFilesDataset,
    auto_dataset,
    detect_layout,
)
from .factory import flow_settings, make_flow, model_resolution, open_dataset
from .flow import DISFlow, FarnebackFlow, RAFTFlow, resize_flow
from .video import Video

__all__ = [
    "Video", "VideoDataset", "FramesDataset", "UCSDDataset", "VideoFilesDataset", "ShanghaiTechDataset",
    "auto_dataset", "detect_layout", "open_dataset", "make_flow", "flow_settings", "model_resolution",
    "DISFlow", "FarnebackFlow", "RAFTFlow", "resize_flow", "FlowCache", "default_cache_dir",
    "ClipDataset", "DEFAULT_FLOW_SCALE",
]
