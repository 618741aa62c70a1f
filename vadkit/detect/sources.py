"""Frame sources for detection: a video file, a folder of frames, a folder of videos, a camera
index or a stream URL. Each yields ``(index, time_s, rgb_uint8)`` in order and raises
``DataError`` naming the source and the frame index when a frame cannot be had."""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import DataError

Frame = tuple[int, float, np.ndarray]
STALL_FRACTION = 0.8  # a failed read that waited this share of the stall timeout was a stall
URL_SCHEMES = ("rtsp://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://", "file://")


class FrameSource:
    """An iterable of ``(index, time_s, rgb)``; every frame has the size of the first one.

    ``live`` sources (cameras, streams) have no end known in advance, so per-video min-max
    scores are not available for them. ``note`` says how the source ended when it ended
    early without an error (a stream that closed).
    """

    name: str = "source"
    path: str = "?"
    live: bool = False
    fps: float = 25.0
    total: int | None = None
    note: str | None = None

    def _frames(self) -> Iterator[tuple[float, np.ndarray]]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Frame]:
        first: tuple[int, ...] | None = None
        for index, (time_s, rgb) in enumerate(self._frames()):
            if rgb is None or rgb.ndim not in (2, 3) or rgb.size == 0:
                raise DataError(f"{self.path}: frame {index}: empty or unreadable frame")
            if rgb.ndim == 2:
                rgb = cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB)
            if first is None:
                first = rgb.shape
            elif rgb.shape != first:
                raise DataError(
                    f"{self.path}: frame {index}: size {rgb.shape[1]}x{rgb.shape[0]} differs from the first "
                    f"frame's {first[1]}x{first[0]}; detection needs frames of one size"
                )
            yield index, time_s, rgb

    def close(self) -> None:
        """Release devices and files; safe to call twice."""

    def describe(self) -> str:
        total = f", {self.total} frames" if self.total else ""
        return f"{self.path} ({type(self).__name__.removesuffix('Source').lower()}{total}, {self.fps:g} fps)"


class VideoFileSource(FrameSource):
    """A video file OpenCV can decode. A file that stops before the frame count in its header
    is reported as truncated or damaged, after the frames that could be read."""

    def __init__(self, path: str | Path, fps: float = 25.0) -> None:
        self.path = str(path)
        self.name = Path(path).stem
        self._cap: cv2.VideoCapture | None = None
        self._default_fps = fps
        cap = self._open()
        self.total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        if self.total is not None and self.total < 0:
            self.total = None
        rate = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(rate) if rate and 0 < rate < 1000 else fps
        self.close()

    def _open(self) -> cv2.VideoCapture:
        if not Path(self.path).is_file():
            raise DataError(f"{self.path}: no such video file")
        cap = cv2.VideoCapture(self.path)
        if not cap.isOpened():
            raise DataError(f"{self.path}: cannot open video file (not a video, or a codec OpenCV lacks)")
        self._cap = cap
        return cap

    def _frames(self) -> Iterator[tuple[float, np.ndarray]]:
        cap = self._open()
        index = 0
        try:
            while True:
                ok, bgr = cap.read()
                if not ok or bgr is None:
                    break
                yield index / self.fps, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                index += 1
        finally:
            self.close()
        if index == 0:
            raise DataError(f"{self.path}: frame 0: cannot decode any frame (empty or damaged video file)")
        if self.total is not None and index < self.total - max(1, self.total // 100):
            raise DataError(
                f"{self.path}: frame {index}: cannot decode; the file ends after {index} of the {self.total} "
                "frames its header states (truncated or damaged)"
            )

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class FrameFolderSource(FrameSource):
    """A folder of image frames in natural order (000.jpg, 1.png, ...), read with vadkit.data's
    image reader: a missing, truncated or unreadable frame is an error naming its file."""

    def __init__(self, directory: str | Path, fps: float = 25.0) -> None:
        from ..data.layout import image_video

        directory = Path(directory)
        self.path = str(directory)
        self.name = directory.name
        self.fps = fps
        self._video = image_video(directory, directory.name, "detect")
        self.total = self._video.num_frames

    def _frames(self) -> Iterator[tuple[float, np.ndarray]]:
        for index in range(self._video.num_frames):
            yield index / self.fps, self._video.read(index)


class IterableSource(FrameSource):
    """Frames from Python: any iterable of HxWx3 uint8 RGB arrays (tests, custom readers)."""

    def __init__(
        self,
        frames: Iterable[np.ndarray],
        name: str = "frames",
        fps: float = 25.0,
        live: bool = False,
        total: int | None = None,
    ) -> None:
        self._iterable, self.name, self.path, self.fps, self.live, self.total = frames, name, name, fps, live, total

    def _frames(self) -> Iterator[tuple[float, np.ndarray]]:
        for index, rgb in enumerate(self._iterable):
            yield index / self.fps, np.asarray(rgb)


class CaptureSource(FrameSource):
    """A camera or a network stream, read by a background thread into a small queue.

    Opening fails at once with a clear message. No frame for ``stall_timeout`` seconds is a
    stall (an error); the stream closing is noted in ``note``. The queue holds at most
    ``queue_size`` frames, so memory stays bounded however long the stream runs.
    """

    live = True

    def __init__(
        self,
        target: int | str,
        *,
        stall_timeout: float = 10.0,
        fps: float = 25.0,
        queue_size: int = 4,
        capture: Callable[[], Any] | None = None,
    ) -> None:
        self.target = target
        self.path = f"camera {target}" if isinstance(target, int) else str(target)
        self.name = f"camera{target}" if isinstance(target, int) else _url_name(str(target))
        self.stall_timeout = float(stall_timeout)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cap = (capture or self._default_capture)()
        if self._cap is None or not self._cap.isOpened():
            what = (
                "no such camera, or it is in use"
                if isinstance(target, int)
                else "unreachable, or not a stream OpenCV reads"
            )
            self.close()
            raise DataError(f"{self.path}: cannot open ({what})")
        rate = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(rate) if rate and 0 < rate < 1000 else fps

    def _default_capture(self) -> cv2.VideoCapture:
        """OpenCV's capture; its read timeout is the stall timeout, so a stalled network stream
        returns (no frame) after it, which :meth:`_read_loop` reports as a stall."""
        ms = int(self.stall_timeout * 1000)
        if isinstance(self.target, int):
            return cv2.VideoCapture(self.target)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        return cv2.VideoCapture(self.target, cv2.CAP_ANY, params)

    def _read_loop(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            asked = time.monotonic()
            try:
                ok, bgr = self._cap.read()
            except Exception as exc:  # a capture backend may raise on a broken device
                ok, bgr = False, exc
            # a read that gave up after about the stall timeout is the backend's read timeout
            # (FFmpeg's on HTTP/RTSP), not the end of the stream
            waited = time.monotonic() - asked
            item = (
                time.monotonic() - start,
                bgr if ok else None,
                ok,
                not ok and waited >= STALL_FRACTION * self.stall_timeout,
            )
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if not ok:
                return

    def _frames(self) -> Iterator[tuple[float, np.ndarray]]:
        if self._cap is None:
            raise DataError(f"{self.path}: already closed")
        self._thread = threading.Thread(target=self._read_loop, name=f"vadkit-capture-{self.name}", daemon=True)
        self._thread.start()
        index = 0
        try:
            while True:
                try:
                    time_s, bgr, ok, stalled = self._queue.get(timeout=self.stall_timeout)
                except queue.Empty:
                    stalled = True
                if stalled:
                    after = f"after frame {index - 1}" if index else "before the first frame"
                    raise DataError(
                        f"{self.path}: frame {index}: stream stalled, no frame for {self.stall_timeout:g} s {after}"
                    ) from None
                if not ok:
                    if index == 0:
                        raise DataError(f"{self.path}: frame 0: opened, but no frame could be read")
                    self.note = f"{self.path}: the stream ended after {index} frames"
                    return
                yield time_s, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                index += 1
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)
        if self._cap is not None and (self._thread is None or not self._thread.is_alive()):
            self._cap.release()
            self._cap = None


class FailedSource(FrameSource):
    """A source of a folder that could not be opened: reported when its turn comes, so the
    other videos of the folder are still scored."""

    def __init__(self, path: Path, error: DataError) -> None:
        self.path, self.name, self.error = str(path), path.stem, error

    def _frames(self) -> Iterator[tuple[float, np.ndarray]]:
        raise self.error
        yield  # pragma: no cover


def _guarded(make: Callable[[Path], FrameSource], paths: list[Path]) -> list[FrameSource]:
    out: list[FrameSource] = []
    for p in paths:
        try:
            out.append(make(p))
        except DataError as exc:
            out.append(FailedSource(p, exc))
    return out


def _url_name(url: str) -> str:
    tail = url.split("://", 1)[-1].rstrip("/").replace(":", "_")
    name = Path(tail).stem or tail
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "stream"


def _has_images(directory: Path) -> bool:
    from ..data.layout import list_images

    return bool(list_images(directory))


def open_sources(spec: str | int | Path, *, fps: float = 25.0, stall_timeout: float = 10.0) -> list[FrameSource]:
    """The frame sources ``spec`` names (cameras and streams are opened here, at once)."""
    from ..data.layout import list_dirs, list_video_files

    text = str(spec)
    if isinstance(spec, int) or text.isdigit():
        return [CaptureSource(int(text), stall_timeout=stall_timeout, fps=fps)]
    if text.lower().startswith(URL_SCHEMES):
        return [CaptureSource(text, stall_timeout=stall_timeout, fps=fps)]
    path = Path(text).expanduser()
    if path.is_file():
        return [VideoFileSource(path, fps=fps)]
    if not path.is_dir():
        raise DataError(
            f"{path}: no such file or folder (SOURCE is a video file, a folder of frames, a folder of videos, "
            "a camera index or a stream URL)"
        )
    if _has_images(path):
        return [FrameFolderSource(path, fps=fps)]
    videos = list_video_files(path)
    if videos:
        return _guarded(lambda p: VideoFileSource(p, fps=fps), videos)
    folders = [d for d in list_dirs(path) if _has_images(d)]
    if folders:
        return _guarded(lambda d: FrameFolderSource(d, fps=fps), folders)
    raise DataError(f"{path}: holds no image frames, no video files and no folders of frames")


class BufferedReader:
    """Reads a source in a background thread into a queue of at most ``size`` frames.

    Without ``drop`` the thread waits while the queue is full, so no frame is lost (files).
    With ``drop`` (live sources slower to score than they produce) the oldest waiting frame
    is discarded instead and counted in ``dropped``, so scoring stays close to real time and
    memory stays bounded. Items: ("frame", (index, time_s, rgb)), then ("end", None) or
    ("error", exception). ``cond`` may be shared by several readers, so one consumer can wait
    for whichever has a frame first.
    """

    def __init__(
        self, source: FrameSource, *, size: int = 4, drop: bool = False, cond: threading.Condition | None = None
    ) -> None:
        self.source, self.size, self.drop = source, max(1, int(size)), drop
        self.cond = cond or threading.Condition()
        self.dropped = 0
        self._items: deque[tuple[str, Any]] = deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"vadkit-read-{source.name}", daemon=True)

    def start(self) -> BufferedReader:
        self._thread.start()
        return self

    def _put(self, item: tuple[str, Any], final: bool = False) -> bool:
        with self.cond:
            while not final and not self.drop and len(self._items) >= self.size and not self._stop.is_set():
                self.cond.wait(0.1)
            if self._stop.is_set() and not final:
                return False
            if not final and self.drop and len(self._items) >= self.size:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self.cond.notify_all()
        return True

    def _loop(self) -> None:
        frames = iter(self.source)
        try:
            for frame in frames:
                if not self._put(("frame", frame)):
                    break
            else:
                self._put(("end", None), final=True)
        except Exception as exc:  # a broken source ends this stream only; the consumer reports it
            self._put(("error", exc), final=True)
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()
            self.source.close()

    @property
    def waiting(self) -> int:
        """Items waiting to be taken (read under ``cond``)."""
        return len(self._items)

    def poll(self) -> tuple[str, Any] | None:
        """The oldest waiting item, or None when none is waiting (never blocks)."""
        with self.cond:
            item = self._items.popleft() if self._items else None
            if item is not None:
                self.cond.notify_all()
            return item

    def close(self, wait: float = 2.0) -> None:
        """Stop reading (the source is closed by the reading thread)."""
        self._stop.set()
        with self.cond:
            self.cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=wait)
