"""First-party dataset layouts (kind ``dataset``): MNAD/FFP frame folders, original UCSD,
Avenue-style video files and ShanghaiTech. Each is a :class:`vadkit.data.VideoDataset` that scans
its folders and says, through ``recognises``, whether a root looks like its layout, so
``[data] type = "auto"`` can pick it among every registered layout (third-party ones included).
"""

from __future__ import annotations

import json
from pathlib import Path

from vadkit.data import (
    DataError,
    MaskArray,
    MaskFiles,
    Video,
    VideoDataset,
    file_video,
    image_video,
    list_dirs,
    list_images,
    list_video_files,
)


class FramesDataset(VideoDataset):
    """MNAD / FFP / HF2-VAD layout: ``<root>/{training,testing}/frames/<video>/<n>.jpg``.

    Labels: ``labels`` (path, relative to root) or detected (``*.mat``, ``frame_labels_*.npy``,
    ``*.m``, ``test_frame_mask/``). Synthetic extras: ``categories.json`` and
    ``testing/masks/<video>/``."""

    layout = "frames"

    @classmethod
    def recognises(cls, root: Path) -> int:
        return int((root / "training" / "frames").is_dir() or (root / "testing" / "frames").is_dir())

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
                    raise DataError(
                        f"{mdir}: video '{v.name}' (testing), frame {len(files)}: "
                        f"{len(files)} masks for {v.num_frames} frames"
                    )
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

    @classmethod
    def recognises(cls, root: Path) -> int:
        return int(ucsd_root(root) is not None)

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

    @classmethod
    def recognises(cls, root: Path) -> int:
        return int((root / "training_videos").is_dir() or (root / "testing_videos").is_dir())

    def scan(self, split: str) -> list[Video]:
        return [file_video(p, p.stem, split) for p in list_video_files(self.root / f"{split}_videos")]


class ShanghaiTechDataset(VideoDataset):
    """ShanghaiTech: ``training/videos/01_001.avi``, ``testing/frames/01_0014/``, labels in
    ``testing/test_frame_mask/01_0014.npy`` (or at the root), pixel masks in ``test_pixel_mask``."""

    layout = "shanghaitech"

    @classmethod
    def recognises(cls, root: Path) -> int:
        """More specific than ``frames``: training videos, or test frames with frame masks only."""
        if (root / "training" / "videos").is_dir():
            return 3
        masks_only = (root / "testing" / "test_frame_mask").is_dir() and not (root / "training" / "frames").is_dir()
        return 2 if masks_only and (root / "testing" / "frames").is_dir() else 0

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
