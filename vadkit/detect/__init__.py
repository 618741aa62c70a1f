"""Detection on new footage: frame sources, streaming scoring, calibration on normal data,
thresholds, events and outputs. ``vadkit detect`` and ``vadkit calibrate`` wrap this API."""

from __future__ import annotations

from ..config import DetectConfig
from .api import Detector, DetectResult, detect
from .calibration import calibrate, load_calibration
from .config import read_detect
from .events import Event, EventMerger, merge_events
from .sources import CaptureSource, FrameFolderSource, FrameSource, IterableSource, VideoFileSource, open_sources
from .stream import StreamingScorer

__all__ = [
    "detect",
    "Detector",
    "DetectResult",
    "calibrate",
    "load_calibration",
    "DetectConfig",
    "read_detect",
    "Event",
    "EventMerger",
    "merge_events",
    "FrameSource",
    "VideoFileSource",
    "FrameFolderSource",
    "IterableSource",
    "CaptureSource",
    "open_sources",
    "StreamingScorer",
]
