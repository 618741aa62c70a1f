"""On-disk decoded-frame cache: one uint8 ``.npy`` per video at the model resolution,
memory-mapped when read, so a clip costs a page read instead of a seek+decode (video files) or
five image reads and resizes (frame folders, ``[train] frame_cache``).

Layout of an entry: shape (num_frames, C, H, W), ``frames[k]`` = ``resize_frame(video.read(k))``
(exactly what :class:`~vadkit.data.clips.ClipDataset` computes without the cache). The key hashes
the dataset path, split, video, frame count, resolution, channels and the size and mtime of every
source file (:mod:`~vadkit.data.source_signature`: a replaced video or frame image is never
served stale). Filled by one sequential decode per video (no seeks), in parallel across videos
(processes) and ranks (``shard``); that decode also checks every frame. Written to a temporary
name and renamed into place with a CRC32 in its metadata, like the flow cache; stale temporary files of killed writers are
removed by the next fill.
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
from .transforms import resize_frame
from .video import Video, VideoFile, where

CACHE_VERSION = 2  # 2: the source signature covers every file of a frame folder
SUBDIR = "frames"


def is_video_file(video: Video) -> bool:
    """True for videos decoded from a container (.avi, .mp4...): cached in every mode but "none"."""
    return isinstance(video.source, VideoFile)


def entry_bytes(video: Video, resolution: Sequence[int], channels: int) -> int:
    return video.num_frames * channels * int(resolution[0]) * int(resolution[1]) + 128


class FrameCache:
    """uint8, memory-mapped, atomically written frames per (dataset, video, resolution, channels)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).expanduser()

    def key(self, video: Video, resolution: Sequence[int], channels: int) -> dict:
        root = video.dataset_root
        return {
            "version": CACHE_VERSION,
            "dataset": str(Path(root).resolve()) if root else None,
            "split": video.split,
            "video": video.name,
            "frames": video.num_frames,
            "resolution": [int(resolution[0]), int(resolution[1])],
            "channels": int(channels),
            "source": source_signature(video),
        }

    def path(self, video: Video, resolution: Sequence[int], channels: int) -> Path:
        return entry_path(self.directory, video, self.key(video, resolution, channels))

    def load(self, path: Path, shape: tuple[int, ...]) -> np.memmap | None:
        """A valid entry, or None (missing, damaged or of another shape)."""
        return load_entry(path, shape, np.uint8)

    def ensure(
        self, video: Video, resolution: Sequence[int], channels: int, progress: Callable[[int], None] | None = None
    ) -> np.memmap:
        """The (num_frames, C, H, W) uint8 frames of ``video``, decoded and stored on first use."""
        h, w = int(resolution[0]), int(resolution[1])
        shape = (video.num_frames, channels, h, w)
        path = self.path(video, (h, w), channels)
        cached = self.load(path, shape)
        if cached is None:
            self._write(video, path, shape, progress)
            cached = self.load(path, shape)
            if cached is None:
                raise DataError(f"{path}: frame cache entry for video '{video.name}' unreadable right after writing")
        elif progress:
            progress(video.num_frames)
        return cached

    def _write(self, video: Video, path: Path, shape: tuple[int, ...], progress: Callable[[int], None] | None) -> None:
        """One sequential decode of every frame into a temporary memmap, then rename."""
        self.directory.mkdir(parents=True, exist_ok=True)
        mark_cache(self.directory)
        remove_entry(path)  # a damaged entry: gone before its replacement is written
        tmp, meta_tmp = temp_name(path), temp_name(path.with_suffix(".json"))
        try:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
            first = None
            for k in range(video.num_frames):
                rgb = video.read(k)
                first = first or rgb.shape
                if rgb.shape != first:
                    raise DataError(
                        f"{where(video.file_of(k), video, k)}: frame size {rgb.shape[:2]} differs "
                        f"from frame 0's {first[:2]}"
                    )
                out[k] = resize_frame(rgb, (int(shape[2]), int(shape[3])), shape[1])
                if progress:
                    progress(1)
                fault("cache-fill")
            out.flush()
            del out
            fsync_file(tmp)
            write_meta(tmp, meta_tmp, self.key(video, shape[2:], shape[1]))
            os.replace(meta_tmp, path.with_suffix(".json"))
            os.replace(tmp, path)
        finally:
            for leftover in (tmp, meta_tmp):
                leftover.unlink(missing_ok=True)

    def missing(self, videos: list[Video], resolution: Sequence[int], channels: int) -> list[Video]:
        """The videos without a valid entry."""
        res = (int(resolution[0]), int(resolution[1]))
        return [v for v in videos if self.load(self.path(v, res, channels), (v.num_frames, channels, *res)) is None]

    def precompute(
        self,
        videos: list[Video],
        resolution: Sequence[int],
        channels: int,
        workers: int = 1,
        console: Any = None,
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        """Fill the cache for this rank's share of ``videos`` (parallel across videos)."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        clean_stale_temps(self.directory)
        todo = self.missing(list(videos)[shard[0] :: shard[1]], resolution, channels)
        if not todo:
            return
        with Progress(
            TextColumn("[bold]decoding frames[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task(f"{len(todo)} videos", total=sum(v.num_frames for v in todo))
            fill_entries(
                todo,
                workers,
                serial=lambda v, advance: self.ensure(v, resolution, channels, progress=advance),
                job=_ensure_job,
                job_args=lambda v: (str(self.directory), v, tuple(resolution), channels),
                advance=lambda n: bar.advance(task, n),
            )


def _ensure_job(directory: str, video: Video, resolution: tuple, channels: int) -> int:
    FrameCache(directory).ensure(video, resolution, channels)
    return video.num_frames
