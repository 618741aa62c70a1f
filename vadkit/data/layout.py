"""Building blocks for dataset layouts: folder listing, videos from image folders or files, and
:class:`VideoDataset`, a :class:`~vadkit.data.interfaces.DatasetLayout` that does everything but
scanning (labels, caching, checks, summary), so a layout plugin only writes ``scan(split)``.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import DataError
from .frame_check import check_video
from .interfaces import SPLITS, DatasetLayout
from .labels import find_label_file, load_labels, resolve_label_path
from .video import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    ImageFiles,
    Video,
    VideoFile,
    count_video_frames,
    natural_key,
)


def _visible(p: Path) -> bool:
    return not p.name.startswith((".", "_"))


def list_images(directory: Path) -> list[Path]:
    """Image files of one frame folder in frame order (any zero-padding)."""
    files = [p for p in directory.iterdir() if p.is_file() and _visible(p) and p.suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(files, key=lambda p: natural_key(p.name))


def list_dirs(directory: Path, skip: Callable[[Path], bool] = lambda p: False) -> list[Path]:
    if not directory.is_dir():
        return []
    dirs = [p for p in directory.iterdir() if p.is_dir() and _visible(p) and not skip(p)]
    return sorted(dirs, key=lambda p: natural_key(p.name))


def list_video_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    files = [p for p in directory.iterdir() if p.is_file() and _visible(p) and p.suffix.lower() in VIDEO_EXTENSIONS]
    return sorted(files, key=lambda p: natural_key(p.name))


def image_video(directory: Path, name: str, split: str) -> Video:
    """A video stored as a folder of images; a gap in numeric file names is a missing frame."""
    files = list_images(directory)
    if not files:
        raise DataError(f"{directory}: video '{name}' ({split}), frame 0: no image frames (empty video)")
    numbers = [re.fullmatch(r"\D*(\d+)", p.stem) for p in files]
    if all(numbers):
        values = [int(m.group(1)) for m in numbers]  # type: ignore[union-attr]
        for i in range(1, len(values)):
            if values[i] != values[i - 1] + 1:
                raise DataError(
                    f"{directory}: video '{name}' ({split}), frame {i}: missing or duplicated frame file between "
                    f"'{files[i - 1].name}' and '{files[i].name}'"
                )
    return Video(name=name, split=split, num_frames=len(files), source=ImageFiles([str(p) for p in files]))


def file_video(path: Path, name: str, split: str) -> Video:
    n = count_video_frames(str(path))
    if n <= 0:
        raise DataError(f"{path}: video '{name}' ({split}), frame 0: unreadable or empty video file")
    return Video(name=name, split=split, num_frames=n, source=VideoFile(str(path), n))


class VideoDataset(DatasetLayout):
    """Common behaviour: per-split video lists (cached), labels for the testing split, checks."""

    layout = "?"

    def __init__(self, root: Path, labels: str | None = None) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise DataError(f"{self.root}: dataset root not found")
        self._labels_arg = labels
        self._videos: dict[str, list[Video]] = {}
        self._label_format: str | None = None
        self.label_path: Path | None = None

    # -- per layout --------------------------------------------------------------------------
    @abstractmethod
    def scan(self, split: str) -> list[Video]:
        """The videos of ``split`` as found on disk (labels are attached afterwards)."""

    def label_dirs(self) -> tuple[Path, ...]:
        return ()

    def attach_extras(self, videos: list[Video]) -> None:
        """Masks / categories of the testing split, where the layout has them."""

    # -- public ------------------------------------------------------------------------------
    def videos(self, split: str) -> list[Video]:
        """The videos of ``split`` ('training' or 'testing') with labels; cheap checks run here."""
        if split not in SPLITS:
            raise DataError(f"{self.root}: unknown split '{split}' (use {' or '.join(SPLITS)})")
        if split not in self._videos:
            videos = self.scan(split)
            if split == "testing" and videos:
                path = self._find_labels()
                if path is not None:
                    self._label_format = load_labels(path, videos)
                    self.label_path = path
                self.attach_extras(videos)
            for v in videos:
                v.dataset_root = str(self.root)
            self._videos[split] = videos
        return self._videos[split]

    def _find_labels(self) -> Path | None:
        if self._labels_arg:
            path = resolve_label_path(self.root, self._labels_arg)
            if not path.exists():
                raise DataError(f"{path}: label file named in [data] labels not found")
            return path
        return find_label_file(self.root, self.label_dirs())

    @property
    def label_format(self) -> str | None:
        self.videos("testing")
        return self._label_format

    def check(self, split: str, progress: Callable[[int], None] | None = None) -> None:
        """Decode every frame of ``split``: unreadable, truncated or wrongly sized frames are errors."""
        for video in self.videos(split):
            check_video(video, "full")
            if progress:
                progress(video.num_frames)

    def summary(self) -> dict:
        """What ``vadkit data inspect --json`` prints."""
        splits = {
            s: [{"video": v.name, "frames": v.num_frames, "abnormal": v.abnormal} for v in self.videos(s)]
            for s in SPLITS
        }
        return {
            "root": str(self.root),
            "layout": self.layout,
            "labels": self.label_format,
            "label_file": str(self.label_path) if self.label_path else None,
            "splits": splits,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r})"


def labels_array(videos: list[Video]) -> np.ndarray | None:
    """All frame labels concatenated (None if any video is unlabelled)."""
    if not videos or any(v.labels is None for v in videos):
        return None
    return np.concatenate([v.labels for v in videos])  # type: ignore[misc]
