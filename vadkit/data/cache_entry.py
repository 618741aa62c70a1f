"""What the flow cache and the frame cache share: an entry's file name (video name + a hash of
everything that determines its content), reading it back as a memory map, trusted only when
its shape and dtype are the ones expected, and filling missing entries across worker processes."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
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


def fill_entries(
    todo: Sequence[Video],
    workers: int,
    serial: Callable[[Video, Callable[[int], None]], Any],
    job: Callable[..., int],
    job_args: Callable[[Video], tuple],
    advance: Callable[[int], None],
) -> None:
    """Write the entries of ``todo``: in this process (``serial(video, advance)``) for one worker
    or one video, else ``job(*job_args(video))`` in spawned processes (``job`` a module-level
    function), advancing by each video's frames as it completes."""
    if workers <= 1 or len(todo) <= 1:
        for video in todo:
            serial(video, advance)
        return
    # spawn, not fork: forking a process that already runs OpenCV / torch threads can deadlock
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init) as pool:
        jobs = {pool.submit(job, *job_args(video)): video for video in todo}
        for done in as_completed(jobs):
            done.result()
            advance(jobs[done].num_frames)


def _worker_init() -> None:
    import cv2

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cv2.setNumThreads(1)


__all__ = ["entry_path", "load_entry", "fill_entries"]
