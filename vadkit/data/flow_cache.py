"""On-disk optical-flow cache: one float16 ``.npy`` per video, memory-mapped when read.

Layout of an entry: shape (num_frames, 2, H, W) at the recipe resolution, ``flows[k]`` = flow
from frame k-1 to frame k in pixels of the resized grid (x, y), ``flows[0]`` = zeros. The key
hashes the dataset path, split, video, frame count, the estimator's ``cache_key()``, the
resolution and the size and mtime of every source file (a replaced frame is never served stale
flow). Entries are written to a temporary name and renamed into place (``os.replace``), so a
killed run never leaves a file that a later run reads as valid; the metadata holds a CRC32 of
the data, checked on the first read in a process (bit-rot: the entry is reported and
recomputed, vadkit/data/cache_entry.py); the temporary files of a
killed writer are deleted by the next :meth:`FlowCache.precompute` (writer dead, or older than
an hour). Under DDP each rank fills its share of the videos (``shard``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vadkit.atomic import clean_stale_temps, temp_name
from vadkit.errors import DataError
from vadkit.faults import fault

from .cache_entry import entry_path, fill_entries, fsync_file, load_entry, mark_cache, remove_entry, write_meta
from .source_signature import source_signature
from .transforms import resize_flow
from .video import Video

CACHE_VERSION = 2  # 2: keyed by the source files' size and mtime too


def default_cache_dir() -> Path:
    env = os.environ.get("VADKIT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vadkit" / "flow"


def _root_of(video: Video, dataset_root: str | Path | None) -> str:
    root = dataset_root if dataset_root is not None else video.dataset_root
    if root is None:
        raise DataError(f"video '{video.name}' ({video.split}): the flow cache needs the dataset root")
    return str(Path(root).expanduser().resolve())


class FlowCache:
    """Float16, memory-mapped, atomically written flow per (dataset, video, method, resolution)."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory).expanduser() if directory else default_cache_dir()

    def key(self, dataset_root: str | Path | None, video: Video, estimator: Any, resolution: Sequence[int]) -> dict:
        return {
            "version": CACHE_VERSION,
            "dataset": _root_of(video, dataset_root),
            "split": video.split,
            "video": video.name,
            "frames": video.num_frames,
            "flow": estimator.cache_key(),
            "resolution": [int(resolution[0]), int(resolution[1])],
            "source": source_signature(video),
        }

    def path(self, dataset_root: str | Path | None, video: Video, estimator: Any, resolution: Sequence[int]) -> Path:
        return entry_path(self.directory, video, self.key(dataset_root, video, estimator, resolution))

    def load(self, path: Path, shape: tuple[int, ...]) -> np.memmap | None:
        """A valid cached entry, or None (missing, damaged or of another shape)."""
        return load_entry(path, shape, np.float16)

    def ensure(
        self,
        dataset_root: str | Path | None,
        video: Video,
        estimator: Any,
        resolution: Sequence[int],
        progress: Callable[[int], None] | None = None,
    ) -> np.memmap:
        """The (num_frames, 2, H, W) flow of ``video``, computed and stored on first use."""
        h, w = int(resolution[0]), int(resolution[1])
        shape = (video.num_frames, 2, h, w)
        path = self.path(dataset_root, video, estimator, (h, w))
        cached = self.load(path, shape)
        if cached is not None:
            if progress:
                progress(video.num_frames)
            return cached
        self.directory.mkdir(parents=True, exist_ok=True)
        mark_cache(self.directory)
        remove_entry(path)  # a damaged entry: gone before its replacement is written
        tmp, meta_tmp = temp_name(path), temp_name(path.with_suffix(".json"))
        try:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=shape)
            out[0] = 0
            prev = video.read(0)
            if progress:
                progress(1)
            for k in range(1, video.num_frames):
                nxt = video.read(k)
                out[k] = resize_flow(estimator(prev, nxt), (h, w))
                prev = nxt
                if progress:
                    progress(1)
                fault("cache-fill")
            out.flush()
            del out
            fsync_file(tmp)
            write_meta(tmp, meta_tmp, self.key(dataset_root, video, estimator, (h, w)))
            os.replace(meta_tmp, path.with_suffix(".json"))
            os.replace(tmp, path)
        finally:
            for leftover in (tmp, meta_tmp):
                if leftover.exists():
                    leftover.unlink()
        arr = self.load(path, shape)
        if arr is None:
            raise DataError(f"{path}: flow cache entry for video '{video.name}' unreadable right after writing")
        return arr

    def precompute(
        self,
        videos: list[Video],
        estimator: Any,
        resolution: Sequence[int],
        workers: int = 1,
        console: Any = None,
        dataset_root: str | Path | None = None,
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        """Fill the cache for ``videos``, in parallel across videos (processes), with a progress
        bar; ``shard=(rank, world)`` fills only every world-th video from the rank-th."""
        clean_stale_temps(self.directory)
        videos = list(videos)[shard[0] :: shard[1]]
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        total = sum(v.num_frames for v in videos)
        columns = (
            TextColumn("[bold]flow[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("frames"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as bar:
            task = bar.add_task(f"{len(videos)} videos", total=total)
            todo = []
            for v in videos:
                shape = (v.num_frames, 2, int(resolution[0]), int(resolution[1]))
                if self.load(self.path(dataset_root, v, estimator, resolution), shape) is not None:
                    bar.advance(task, v.num_frames)
                else:
                    todo.append(v)
            fill_entries(
                todo,
                workers,
                serial=lambda v, advance: self.ensure(dataset_root, v, estimator, resolution, progress=advance),
                job=_ensure_job,
                job_args=lambda v: (str(self.directory), dataset_root, v, estimator, tuple(resolution)),
                advance=lambda n: bar.advance(task, n),
            )


def _ensure_job(directory: str, dataset_root: Any, video: Video, estimator: Any, resolution: tuple) -> int:
    FlowCache(directory).ensure(dataset_root, video, estimator, resolution)
    return video.num_frames
