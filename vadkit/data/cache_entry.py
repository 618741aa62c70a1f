"""What the flow cache and the frame cache share: an entry's file name (video name + a hash of
everything that determines its content) and reading it back as a memory map, trusted only
when its shape and dtype are the ones expected."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from .video import Video


def entry_path(directory: Path, video: Video, key: dict[str, Any]) -> Path:
    """``<split>-<video>-<sha256 of key>.npy`` in ``directory`` (unsafe characters replaced)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{video.split}-{video.name}")
    return Path(directory) / f"{safe}-{digest}.npy"


def load_entry(path: Path, shape: tuple[int, ...], dtype: Any) -> np.memmap | None:
    """A valid entry as a read-only memory map, or None (missing, damaged, other shape or dtype)."""
    if not path.is_file():
        return None
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError):
        return None
    return arr if arr.shape == tuple(shape) and arr.dtype == np.dtype(dtype) else None


__all__ = ["entry_path", "load_entry"]
