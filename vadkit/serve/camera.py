"""One supervised camera: a thread that opens the source, reads frames into a small queue and,
after a read failure, a stall or the stream ending, reconnects with exponential backoff and
jitter. After ``fail_after`` failures in a row the camera is reported as ``failing`` (and still
retried); the other cameras are not affected. States: starting, up, reconnecting, failing,
ended (a video file that is not looped), stopped."""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..detect.sources import CaptureSource, FrameSource, VideoFileSource
from ..errors import DataError
from .config import CameraConfig, ServeSettings

RESET = "reset"  # queue marker: a new connection starts (the frames before it are not its past)


@dataclass
class Frame:
    """A frame as read: camera-wide index, wall-clock time, monotonic read time, RGB."""

    index: int
    wall: float
    read_at: float
    rgb: np.ndarray


def backoff(failures: int, low: float, high: float, rng: random.Random) -> float:
    """Seconds to wait after ``failures`` failures in a row: low * 2^(n-1), capped, times a
    jitter in [0.5, 1) so that cameras that failed together do not retry in lock-step."""
    return min(high, low * 2 ** max(0, failures - 1)) * rng.uniform(0.5, 1.0)


class LoopedFile(FrameSource):
    """A video file replayed forever (simulated cameras, demos): at its frame rate, as a live
    camera (``realtime``), or as fast as it is scored, never dropping a frame (tests)."""

    def __init__(self, path: str, fps: float = 25.0, realtime: bool = True) -> None:
        self._file = VideoFileSource(path, fps)
        self.path, self.name, self.fps = self._file.path, self._file.name, self._file.fps
        self.live = realtime

    def _frames(self):  # type: ignore[override]
        start, n = time.monotonic(), 0
        while True:
            for _, _, rgb in self._file:
                delay = start + n / self.fps - time.monotonic()
                if delay > 0 and self.live:
                    time.sleep(delay)
                n += 1
                yield n / self.fps, rgb

    def close(self) -> None:
        self._file.close()


class CameraWorker:
    """Reads one camera forever (until :meth:`stop`), reconnecting as needed."""

    def __init__(
        self,
        cam: CameraConfig,
        settings: ServeSettings,
        cond: threading.Condition,
        on_state: Callable[[str, str, str | None], None],
        seed: int = 0,
    ) -> None:
        self.cam, self.settings, self.cond, self.on_state = cam, settings, cond, on_state
        self.items: deque[Frame | str] = deque()
        self.state, self.since = "starting", time.time()
        self.message: str | None = None
        self.failures = self.reconnects = self.read = self.dropped = 0
        self.last_frame: float | None = None
        self.fps = 25.0
        self._stop = threading.Event()
        self._rng = random.Random(seed)
        self._source: FrameSource | None = None
        self._thread = threading.Thread(target=self._loop, name=f"vadkit-serve-{cam.name}", daemon=True)

    def start(self) -> CameraWorker:
        self._thread.start()
        return self

    def _open(self) -> FrameSource:
        t, s = self.cam.target, self.settings
        if isinstance(t, int) or self.cam.url:
            return CaptureSource(t, stall_timeout=s.stall_timeout)
        return LoopedFile(t, realtime=self.cam.realtime) if self.cam.loop else VideoFileSource(t)

    def _set(self, state: str, message: str | None = None) -> None:
        if state != self.state or message != self.message:
            self.state, self.message, self.since = state, message, time.time()
            self.on_state(self.cam.name, state, message)

    def _loop(self) -> None:
        while not self._stop.is_set():
            message = self._connect_and_read()
            if self._stop.is_set():
                break
            if message is None:  # a video file (not looped) played to its end
                self._set("ended", f"{self.cam.file}: played to the end")
                return
            self.failures += 1
            failing = self.failures >= self.settings.fail_after
            self._set("failing" if failing else "reconnecting", message)
            self._stop.wait(backoff(self.failures, self.settings.reconnect_min, self.settings.reconnect_max, self._rng))
            self.reconnects += 1
        self._set("stopped")

    def _connect_and_read(self) -> str | None:
        """Read one connection until it breaks; why it ended (None: a file reached its end)."""
        try:
            self._source = source = self._open()
        except DataError as exc:
            return str(exc)
        self.fps = source.fps
        first = True
        try:
            for _, _, rgb in source:
                if self._stop.is_set():
                    return "stopped"
                if first:
                    self._push(RESET)
                    self.failures, first = 0, False
                    self._set("up")
                self._push(Frame(self.read, time.time(), time.monotonic(), rgb))
                self.read += 1
                self.last_frame = time.monotonic()
        except DataError as exc:
            return str(exc)
        except Exception as exc:  # a capture backend breaking: this camera only
            return f"{self.cam.name}: {exc!r}"
        finally:
            source.close()
        if isinstance(source, VideoFileSource):
            return None
        return source.note or f"{source.path}: the stream ended"

    def _push(self, item: Frame | str) -> None:
        """Queue ``item``; a live source drops its oldest frame when the queue is full, a video
        file (not looped) waits instead, so that none of its frames is lost."""
        with self.cond:
            wait = self._source is not None and not self._source.live
            while wait and len(self.items) >= self.settings.queue and not self._stop.is_set():
                self.cond.wait(0.1)
            if len(self.items) >= self.settings.queue and item is not RESET:
                for k, old in enumerate(self.items):  # drop the oldest frame, never a marker
                    if old is not RESET:
                        del self.items[k]
                        self.dropped += 1
                        break
            self.items.append(item)
            self.cond.notify_all()

    def take(self, limit: int) -> list[Frame | str]:
        """Up to ``limit`` waiting items (frames and markers), oldest first; never blocks."""
        with self.cond:
            out: list[Frame | str] = []
            while self.items and len(out) < limit:
                out.append(self.items.popleft())
            if out:
                self.cond.notify_all()
            return out

    def stop(self, wait: float = 2.0) -> None:
        self._stop.set()
        src = self._source
        if isinstance(src, CaptureSource):  # built to be closed from another thread; a file's
            src.close()  # reader stops at its next frame (releasing it here could hang)
        with self.cond:
            self.cond.notify_all()
        self._thread.join(timeout=wait)

    def health(self) -> dict[str, Any]:
        age = None if self.last_frame is None else round(time.monotonic() - self.last_frame, 3)
        return {
            "state": self.state,
            "since": self.since,
            "message": self.message,
            "frames_read": self.read,
            "frames_dropped": self.dropped,
            "reconnects": self.reconnects,
            "failures_in_a_row": self.failures,
            "last_frame_age_s": age,
        }


__all__ = ["CameraWorker", "Frame", "LoopedFile", "RESET", "backoff"]
