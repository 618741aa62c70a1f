"""One video: where its frames come from, its labels, and RGB frame reading with errors that
name the file, the video and the frame index."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from vadkit.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mov", ".mkv", ".mpg", ".mpeg")


def natural_key(name: str) -> list:
    """Sort key so that '2' < '10' and '01_0014' orders numerically."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def where(file: str | Path, video: Video | str, index: int) -> str:
    """The standard location prefix of a data error."""
    name = video.name if isinstance(video, Video) else video
    split = f" ({video.split})" if isinstance(video, Video) else ""
    return f"{file}: video '{name}'{split}, frame {index}"


class FrameReader(Protocol):
    """Decodes frame ``index`` of one video as HxWx3 uint8 RGB."""

    def __len__(self) -> int: ...
    def file_of(self, index: int) -> str: ...
    def read(self, index: int, video: Video) -> np.ndarray: ...


def _jpeg_complete(data: bytes) -> bool:
    """A JPEG must end with the EOI marker; libjpeg silently grey-fills truncated files."""
    return data.rstrip(b"\x00\r\n ")[-2:] == b"\xff\xd9"


def decode_image(path: str, flags: int = cv2.IMREAD_COLOR) -> np.ndarray | None:
    """Decode an image file, or None when it is missing, truncated or not an image."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if path.lower().endswith((".jpg", ".jpeg")) and not _jpeg_complete(data):
        return None
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    return img if img is not None and img.size else None


@dataclass
class ImageFiles:
    """Frames stored as one image per file (.jpg/.png/.tif, grayscale or colour)."""

    paths: list[str]

    def __len__(self) -> int:
        return len(self.paths)

    def file_of(self, index: int) -> str:
        return self.paths[index]

    def read(self, index: int, video: Video) -> np.ndarray:
        path = self.paths[index]
        img = decode_image(path)
        if img is None:
            what = "missing" if not Path(path).exists() else "unreadable or truncated image"
            raise DataError(f"{where(path, video, index)}: {what}")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class VideoFile:
    """Frames decoded from a video file. Sequential reads reuse one open capture (per process);
    other reads seek. The capture is never pickled, so DataLoader workers each open their own."""

    def __init__(self, path: str, num_frames: int) -> None:
        self.path = path
        self.num_frames = num_frames
        self._cap: cv2.VideoCapture | None = None
        self._next = 0

    def __len__(self) -> int:
        return self.num_frames

    def __getstate__(self) -> dict:
        return {"path": self.path, "num_frames": self.num_frames}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], state["num_frames"])  # type: ignore[misc]  # rebuilt from its own arguments

    def file_of(self, index: int) -> str:
        return self.path

    def read(self, index: int, video: Video) -> np.ndarray:
        if self._cap is None:
            self._cap = cv2.VideoCapture(self.path)
            self._next = 0
            if not self._cap.isOpened():
                self._cap = None
                raise DataError(f"{where(self.path, video, index)}: cannot open video file")
        if index != self._next:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, img = self._cap.read()
        self._next = index + 1
        if not ok or img is None:
            self._next = -1
            raise DataError(
                f"{where(self.path, video, index)}: cannot decode frame (file has fewer frames or is damaged)"
            )
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def count_video_frames(path: str) -> int:
    """Frame count from the container header (cheap); ``check`` decodes to confirm it."""
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            return 0
        return max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
    finally:
        cap.release()


class MaskSource(Protocol):
    """Pixel masks: ``read(index)`` -> HxW bool, True = abnormal pixel."""

    def read(self, index: int) -> np.ndarray: ...


@dataclass
class MaskFiles:
    """One mask image per frame (UCSD ``TestNNN_gt/*.bmp``, synthetic ``testing/masks``)."""

    paths: list[str]

    def read(self, index: int) -> np.ndarray:
        img = decode_image(self.paths[index], cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise DataError(f"{self.paths[index]}: mask of frame {index} is unreadable")
        return img > 127


@dataclass
class MaskArray:
    """A (frames, H, W) ``.npy`` mask volume (ShanghaiTech ``test_pixel_mask``), memory-mapped."""

    path: str

    def read(self, index: int) -> np.ndarray:
        return np.asarray(np.load(self.path, mmap_mode="r", allow_pickle=False)[index]) > 0


@dataclass
class Video:
    """One video of a split. ``labels``: (num_frames,) uint8 0/1, None when unknown (training);
    ``categories``: per-frame anomaly category ("" = normal), synthetic data only."""

    name: str
    split: str
    num_frames: int
    labels: np.ndarray | None = field(default=None, repr=False)
    categories: list[str] | None = field(default=None, repr=False)
    masks: MaskSource | None = field(default=None, repr=False)
    source: FrameReader | None = field(default=None, repr=False)
    dataset_root: str | None = field(default=None, repr=False)

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as HxWx3 uint8 RGB (grayscale files are replicated to 3 channels)."""
        if not 0 <= index < self.num_frames:
            raise DataError(f"video '{self.name}' ({self.split}): frame {index} out of range 0..{self.num_frames - 1}")
        if self.source is None:
            raise DataError(f"video '{self.name}' ({self.split}), frame {index}: no frame source")
        return self.source.read(index, self)

    def file_of(self, index: int) -> str:
        return self.source.file_of(index) if self.source is not None else "?"

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the original frames (decodes frame 0)."""
        h, w = self.read(0).shape[:2]
        return h, w

    @property
    def abnormal(self) -> int | None:
        return None if self.labels is None else int(self.labels.sum())
