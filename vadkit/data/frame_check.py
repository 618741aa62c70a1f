"""The frame check before training, at any dataset size: parallel, remembered, or sampled.

Modes: ``full`` decodes every frame of every video (in parallel across videos); ``sample``
decodes the first, middle and last frame of each video (and so confirms the frame count a
container header claims); ``none`` skips; ``auto`` is ``full`` up to :data:`AUTO_FULL_FRAMES`
frames and ``sample`` above (``vadkit train --check`` forces the full pass). A video that
passed is remembered by an empty marker file in ``<cache>/checks/`` whose name hashes the
dataset, video, frame count, mode and every source file's size and mtime: an unchanged video is
never decoded twice, a replaced one is checked again.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from vadkit.atomic import atomic_write_bytes
from vadkit.errors import DataError

from .cache_entry import mark_cache
from .cache_workers import stop, worker_init
from .source_signature import file_stats
from .video import Video, where

MODES = ("auto", "full", "sample", "none")
AUTO_FULL_FRAMES = 20_000
SUBDIR = "checks"


def resolve_mode(check: bool | str, total_frames: int) -> str:
    """``True`` -> full, ``False`` -> none, ``auto`` -> full or sample by dataset size."""
    mode = {True: "full", False: "none"}.get(check, check) if isinstance(check, bool) else check
    if mode not in MODES:
        raise DataError(f"frame check mode must be one of {', '.join(MODES)}, got {check!r}")
    if mode == "auto":
        return "full" if total_frames <= AUTO_FULL_FRAMES else "sample"
    return mode


def marker(directory: Path, video: Video, mode: str) -> Path:
    """The marker file of ``video`` checked in ``mode`` (depends on its files' size and mtime)."""
    key = [str(video.dataset_root), video.split, video.name, video.num_frames, mode, file_stats(video)]
    return Path(directory) / f"{hashlib.sha256(json.dumps(key).encode()).hexdigest()[:32]}.ok"


def check_video(video: Video, mode: str) -> int:
    """Decode the frames ``mode`` asks for; DataError naming file, video and frame on failure."""
    n = video.num_frames
    indices = range(n) if mode == "full" else sorted({0, n // 2, n - 1})
    shape = None
    for i in indices:
        img = video.read(i)
        shape = shape or img.shape
        if img.shape != shape:
            raise DataError(
                f"{where(video.file_of(i), video, i)}: frame size {img.shape[:2]} differs from frame 0's {shape[:2]}"
            )
    return len(indices)


def _check_job(video: Video, mode: str, directory: str) -> int:
    done = check_video(video, mode)
    atomic_write_bytes(marker(Path(directory), video, mode), b"")
    return done


def _pending(videos: list[Video], mode: str, directory: Path) -> list[Video]:
    accepted = ("full",) if mode == "full" else ("full", "sample")
    return [v for v in videos if not any(marker(directory, v, m).exists() for m in accepted)]


def check_videos(
    videos: list[Video],
    mode: str,
    directory: str | Path,
    workers: int = 2,
    console: Any = None,
    shard: tuple[int, int] = (0, 1),
) -> dict[str, Any]:
    """Check this rank's share of ``videos``; what was done: mode, checked, remembered, frames."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    directory = Path(directory)
    mine = list(videos)[shard[0] :: shard[1]]
    todo = _pending(mine, mode, directory) if mode != "none" else []
    report = {
        "mode": mode,
        "videos": len(mine),
        "checked": len(todo),
        "remembered": len(mine) - len(todo),
        "frames_decoded": 0,
    }
    if not todo:
        return report
    directory.mkdir(parents=True, exist_ok=True)
    mark_cache(directory)
    with Progress(
        TextColumn(f"[bold]checking frames ({mode})[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("videos"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("check", total=len(todo))
        for done in _run(todo, mode, str(directory), workers):
            report["frames_decoded"] += done
            bar.advance(task)
    return report


def _run(todo: list[Video], mode: str, directory: str, workers: int) -> Any:
    """Serial for one worker or one video; threads for samples (OpenCV decodes without the
    GIL); processes for full passes."""
    if workers <= 1 or len(todo) <= 1:
        return (_check_job(v, mode, directory) for v in todo)
    if mode == "sample":
        pool: Any = ThreadPoolExecutor(max_workers=workers)
    else:
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=worker_init,
            initargs=(os.getpid(),),
        )  # die with the parent
    return _drain(pool, todo, mode, directory)


def _drain(pool: Any, todo: list[Video], mode: str, directory: str) -> Any:
    try:
        for job in [pool.submit(_check_job, v, mode, directory) for v in todo]:
            yield job.result()
    except BaseException:
        if isinstance(pool, ProcessPoolExecutor):
            stop(pool)  # Ctrl-C or a failed video: queued checks cancelled, workers ended now
        raise
    pool.shutdown(wait=True)
