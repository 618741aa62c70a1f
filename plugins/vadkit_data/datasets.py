"""Dataset plugins: one class per on-disk layout, plus ``auto`` which detects the layout.

Every class is built as ``cls(root, **recipe_kwargs)`` and offers ``videos(split)`` (cheap checks
always run: empty videos, gaps in frame numbering, label length) and ``check(split)`` (decodes
every frame; used by ``vadkit data inspect --check`` and before training).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

import numpy as np

from vadkit.errors import DataError

from .labels import find_label_file, load_labels, resolve_label_path
from .video import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    ImageFiles,
    MaskArray,
    MaskFiles,
    Video,
    VideoFile,
    count_video_frames,
    natural_key,
    where,
)

SPLITS = ("training", "testing")


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


class VideoDataset:
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
    def scan(self, split: str) -> list[Video]:
        raise NotImplementedError

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
            shape = None
            for i in range(video.num_frames):
                img = video.read(i)
                if shape is None:
                    shape = img.shape
                elif img.shape != shape:
                    raise DataError(
                        f"{where(video.file_of(i), video, i)}: frame size {img.shape[:2]} differs from "
                        f"frame 0's {shape[:2]}"
                    )
                if progress:
                    progress(1)

    def summary(self) -> dict:
        """What ``vadkit data inspect --json`` prints."""
        splits = {
            s: [{"video": v.name, "frames": v.num_frames, "abnormal": v.abnormal} for v in self.videos(s)]
            for s in SPLITS
        }
        return {"root": str(self.root), "layout": self.layout, "labels": self.label_format,
                "label_file": str(self.label_path) if self.label_path else None, "splits": splits}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r})"


class FramesDataset(VideoDataset):
    """MNAD / FFP / HF2-VAD layout: ``<root>/{training,testing}/frames/<video>/<n>.jpg``.

    Labels: ``labels`` (path, relative to root) or detected (``*.mat``, ``frame_labels_*.npy``,
    ``*.m``, ``test_frame_mask/``). Synthetic extras: ``categories.json`` and
    ``testing/masks/<video>/``."""

    layout = "frames"

    def scan(self, split: str) -> list[Video]:
        return [image_video(d, d.name, split) for d in list_dirs(self.root / split / "frames")]

    def label_dirs(self) -> tuple[Path, ...]:
        return (self.root / "testing",)

    def attach_extras(self, videos: list[Video]) -> None:
        cats_file = self.root / "categories.json"
        if cats_file.is_file():
            try:
                cats = json.loads(cats_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise DataError(f"{cats_file}: cannot read categories: {exc}") from None
            for v in videos:
                c = cats.get(v.name)
                if c is not None:
                    if len(c) != v.num_frames:
                        raise DataError(
                            f"{cats_file}: video '{v.name}' (testing), frame {min(len(c), v.num_frames)}: "
                            f"{len(c)} categories for {v.num_frames} frames"
                        )
                    v.categories = [str(x) for x in c]
        for v in videos:
            mdir = self.root / "testing" / "masks" / v.name
            if mdir.is_dir():
                files = list_images(mdir)
                if len(files) != v.num_frames:
                    raise DataError(f"{mdir}: video '{v.name}' (testing), frame {len(files)}: "
                                    f"{len(files)} masks for {v.num_frames} frames")
                v.masks = MaskFiles([str(p) for p in files])


def ucsd_root(root: Path) -> Path | None:
    """``root`` itself or its single ``UCSDped*`` child, when it holds ``Train``/``Test``."""
    if (root / "Train").is_dir() or (root / "Test").is_dir():
        return root
    kids = [p for p in root.glob("UCSDped*") if p.is_dir()] if root.is_dir() else []
    if len(kids) == 1 and ((kids[0] / "Train").is_dir() or (kids[0] / "Test").is_dir()):
        return kids[0]
    return None


class UCSDDataset(VideoDataset):
    """Original UCSD layout: ``UCSDped2/Train/Train001/001.tif``, ``Test/Test001/``, pixel masks
    in ``Test/TestNNN_gt/``, labels in ``Test/UCSDped2.m``."""

    layout = "ucsd"

    def __init__(self, root: Path, labels: str | None = None) -> None:
        super().__init__(root, labels)
        base = ucsd_root(self.root)
        if base is None:
            raise DataError(f"{self.root}: not a UCSD layout (no Train/ or Test/ folder)")
        self.base = base

    def scan(self, split: str) -> list[Video]:
        folder = self.base / ("Train" if split == "training" else "Test")
        dirs = list_dirs(folder, skip=lambda p: p.name.endswith("_gt"))
        return [image_video(d, d.name, split) for d in dirs]

    def label_dirs(self) -> tuple[Path, ...]:
        return (self.base / "Test", self.base)

    def attach_extras(self, videos: list[Video]) -> None:
        for v in videos:
            gt = self.base / "Test" / f"{v.name}_gt"
            if gt.is_dir():
                files = list_images(gt)
                if len(files) == v.num_frames:
                    v.masks = MaskFiles([str(p) for p in files])


class VideoFilesDataset(VideoDataset):
    """Avenue layout: ``<root>/training_videos/01.avi``, ``testing_videos/01.avi``; labels in a
    ``.mat`` at the root (FFP's avenue.mat) or next to it (``<root>.mat``)."""

    layout = "video_files"

    def scan(self, split: str) -> list[Video]:
        return [file_video(p, p.stem, split) for p in list_video_files(self.root / f"{split}_videos")]


class ShanghaiTechDataset(VideoDataset):
    """ShanghaiTech: ``training/videos/01_001.avi``, ``testing/frames/01_0014/``, labels in
    ``testing/test_frame_mask/01_0014.npy`` (or at the root), pixel masks in ``test_pixel_mask``."""

    layout = "shanghaitech"

    def scan(self, split: str) -> list[Video]:
        if split == "training":
            files = list_video_files(self.root / "training" / "videos")
            if files:
                return [file_video(p, p.stem, split) for p in files]
        return [image_video(d, d.name, split) for d in list_dirs(self.root / split / "frames")]

    def label_dirs(self) -> tuple[Path, ...]:
        return (self.root / "testing",)

    def attach_extras(self, videos: list[Video]) -> None:
        for d in (self.root / "testing" / "test_pixel_mask", self.root / "test_pixel_mask"):
            for v in videos:
                f = d / f"{v.name}.npy"
                if v.masks is None and f.is_file():
                    v.masks = MaskArray(str(f))


LAYOUTS: dict[str, type[VideoDataset]] = {
    "frames": FramesDataset,
    "ucsd": UCSDDataset,
    "video_files": VideoFilesDataset,
    "shanghaitech": ShanghaiTechDataset,
}


def detect_layout(root: Path) -> str:
    """The layout name of ``root``; an error lists what was looked for."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: dataset root not found")
    if (root / "training" / "videos").is_dir():
        return "shanghaitech"
    if (root / "training" / "frames").is_dir() or (root / "testing" / "frames").is_dir():
        if (root / "testing" / "test_frame_mask").is_dir() and not (root / "training" / "frames").is_dir():
            return "shanghaitech"
        return "frames"
    if (root / "training_videos").is_dir() or (root / "testing_videos").is_dir():
        return "video_files"
    if ucsd_root(root) is not None:
        return "ucsd"
    raise DataError(
        f"{root}: cannot detect the dataset layout; expected one of: training/frames/<video>/ (frames), "
        "Train/Train001/ or UCSDped*/Train (ucsd), training_videos/*.avi (video_files), "
        "training/videos/*.avi + testing/frames/ (shanghaitech)"
    )


def auto_dataset(root: Path, labels: str | None = None) -> VideoDataset:
    """Detect the layout of ``root`` and open it with the matching dataset class."""
    return LAYOUTS[detect_layout(root)](root, labels=labels)


def labels_array(videos: list[Video]) -> np.ndarray | None:
    """All frame labels concatenated (None if any video is unlabelled)."""
    if not videos or any(v.labels is None for v in videos):
        return None
    return np.concatenate([v.labels for v in videos])  # type: ignore[misc]
