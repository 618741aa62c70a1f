"""Data in the core: videos and labels, clip sampling, preprocessing, the flow cache, the
synthetic diagnostic set, and the contracts of the ``dataset`` and ``flow`` plugin kinds.

Names are imported lazily so that `vadkit list` and flow worker processes (spawned) do not pay
for importing torch. See docs/data.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "DataError": "vadkit.errors",
    "DatasetLayout": ".interfaces",
    "FlowEstimator": ".interfaces",
    "SPLITS": ".interfaces",
    "Video": ".video",
    "ImageFiles": ".video",
    "VideoFile": ".video",
    "MaskFiles": ".video",
    "MaskArray": ".video",
    "decode_image": ".video",
    "natural_key": ".video",
    "where": ".video",
    "count_video_frames": ".video",
    "IMAGE_EXTENSIONS": ".video",
    "VIDEO_EXTENSIONS": ".video",
    "VideoDataset": ".layout",
    "list_images": ".layout",
    "list_dirs": ".layout",
    "list_video_files": ".layout",
    "image_video": ".layout",
    "file_video": ".layout",
    "labels_array": ".layout",
    "load_labels": ".labels",
    "find_label_file": ".labels",
    "resolve_label_path": ".labels",
    "resize_frame": ".transforms",
    "normalise_flow": ".transforms",
    "resize_flow": ".transforms",
    "FlowCache": ".flow_cache",
    "default_cache_dir": ".flow_cache",
    "ClipDataset": ".clips",
    "DEFAULT_FLOW_SCALE": ".clips",
    "open_dataset": ".factory",
    "detect_layout": ".factory",
    "make_flow": ".factory",
    "flow_settings": ".factory",
    "model_resolution": ".factory",
    "build_clips": ".factory",
}
__all__ = list(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from ..errors import DataError
    from .clips import DEFAULT_FLOW_SCALE, ClipDataset
    from .factory import build_clips, detect_layout, flow_settings, make_flow, model_resolution, open_dataset
    from .flow_cache import FlowCache, default_cache_dir
    from .interfaces import SPLITS, DatasetLayout, FlowEstimator
    from .labels import find_label_file, load_labels, resolve_label_path
    from .layout import VideoDataset, file_video, image_video, labels_array, list_dirs, list_images, list_video_files
    from .transforms import normalise_flow, resize_flow, resize_frame
    from .video import (
        IMAGE_EXTENSIONS,
        VIDEO_EXTENSIONS,
        ImageFiles,
        MaskArray,
        MaskFiles,
        Video,
        VideoFile,
        count_video_frames,
        decode_image,
        natural_key,
        where,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vadkit.data' has no attribute '{name}'")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
