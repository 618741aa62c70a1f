"""Filling cache entries across worker processes without orphans or worker tracebacks.

Workers are spawned (not forked: forking a process that already runs OpenCV / torch threads
can deadlock) and die with their parent: a parent-death signal (Linux ``prctl``) plus a thread
that watches the parent's PID, so kill -9 of the parent leaves no worker behind (and with the
workers gone, multiprocessing's resource tracker sees its pipe close and exits too). Workers
ignore SIGINT: a Ctrl-C to the whole process group is handled by the parent alone, which
cancels the queued videos, stops the running workers and re-raises (no worker traceback). A
killed worker leaves only a temporary file, removed by the next fill."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from vadkit.errors import DataError

PR_SET_PDEATHSIG = 1


def fill_entries(
    todo: Sequence[Any],
    workers: int,
    serial: Callable[[Any, Callable[[int], None]], Any],
    job: Callable[..., Any],
    job_args: Callable[[Any], tuple],
    advance: Callable[[int], None],
) -> None:
    """Write the entries of ``todo`` (videos): in this process (``serial(video, advance)``) for
    one worker or one video, else ``job(*job_args(video))`` in spawned processes (``job`` a
    module-level function), advancing by each video's frames as it completes."""
    if workers <= 1 or len(todo) <= 1:
        for video in todo:
            serial(video, advance)
        return
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=worker_init, initargs=(os.getpid(),))
    jobs: dict[Future, Any] = {}
    try:
        jobs = {pool.submit(job, *job_args(video)): video for video in todo}
        for done in as_completed(jobs):
            done.result()
            advance(jobs[done].num_frames)
    except BrokenProcessPool:
        names = ", ".join(
            str(getattr(v, "name", v))
            for f, v in jobs.items()
            if not f.done() or (not f.cancelled() and f.exception() is not None)
        )
        stop(pool)
        raise DataError(
            f"a cache worker died while filling the entries of: {names[:300]} (killed, e.g. by the "
            "out-of-memory killer; try fewer workers); finished entries are kept, run again"
        ) from None
    except BaseException:
        stop(pool)  # Ctrl-C, SIGTERM turned into an exception, or a failed video: stop at once
        raise
    pool.shutdown(wait=True)


def stop(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued jobs and end the running workers now (their temporary files are
    removed by the next fill)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + 5.0
    for p in processes:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()


def _die_with(parent: int) -> None:
    """End this worker when ``parent`` dies: the kernel's parent-death signal where there is
    one, and a watcher thread everywhere (also covers a parent that died before prctl)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(0.5)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="vadkit-parent-watch", daemon=True).start()


def worker_init(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C for the whole group
    _die_with(parent)
    import cv2

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cv2.setNumThreads(1)


__all__ = ["fill_entries", "stop", "worker_init"]
