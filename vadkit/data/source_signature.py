"""What a cache entry derived from a video depends on: the size and mtime of every source file
(each image of a frame folder, or the one container file), so that a replaced or re-extracted
frame invalidates the frame check marker, the decoded-frame cache and the flow cache."""

from __future__ import annotations

import hashlib
import json
import os

from .video import Video


def source_files(video: Video) -> list[str]:
    """Every file ``video`` reads its frames from."""
    paths = getattr(video.source, "paths", None)
    return [str(p) for p in paths] if paths is not None else [str(video.file_of(0))]


def file_stats(video: Video) -> list[tuple[str, int | None, int | None]]:
    """(path, size, mtime_ns) of each source file; (path, None, None) for one that is missing."""
    stats: list[tuple[str, int | None, int | None]] = []
    for f in source_files(video):
        try:
            st = os.stat(f)
            stats.append((f, st.st_size, st.st_mtime_ns))
        except OSError:
            stats.append((f, None, None))
    return stats


def source_signature(video: Video) -> str:
    """A short hash of :func:`file_stats`: equal while no source file changed."""
    return hashlib.sha256(json.dumps(file_stats(video)).encode()).hexdigest()[:24]
