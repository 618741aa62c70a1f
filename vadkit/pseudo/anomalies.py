"""Pseudo-anomalies made from normal footage, to validate a run without test labels.

A VAD benchmark's test labels must not choose a model's settings. What can is normal video the
model never trained on (the ``[detect]`` hold-out) with anomalies of known extent drawn into it.
Two kinds, after the pseudo-anomalies of Astrid et al. ("Learning Not to Reconstruct
Anomalies", BMVC 2021) and the patch pasting of Georgescu et al. (2021):

- ``speed``: inside a vertical band of the frame (a third of its width) a stretch of the video
  plays ``stride`` times faster, so whoever walks there suddenly moves like a cyclist while the
  rest of the scene keeps its pace: a local motion anomaly with normal appearance (the static
  background is the same in both clocks, so the band has no visible seam);
- ``object``: a patch of another frame, flipped upside down, crosses the scene in a straight
  line faster than people walk: a foreign object with foreign motion.

Every pseudo-video is one held-out video with one anomalous stretch; ``labels`` mark the frames
whose prediction target lies in it. Everything follows from a seed, so two runs validate on the
same frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.video import Video

KINDS = ("speed", "object")


@dataclass(frozen=True)
class Segment:
    """The anomalous stretch ``[start, start + length)`` of a pseudo-video (output frame indices)."""

    kind: str
    start: int
    length: int
    stride: int = 1  # speed: base frames advanced per output frame
    box: tuple[int, int] = (0, 0)  # object: (height, width) in source pixels
    band: tuple[int, int] = (0, 0)  # speed: columns [left, right) that run fast
    source: tuple[int, int, int] = (0, 0, 0)  # object: (base frame, top, left) the patch is cut from
    path: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # object: top/left at start, end


@dataclass
class PseudoFrames:
    """Frame source of a pseudo-video: base frames re-indexed and, for ``object``, painted over.

    Implements :class:`vadkit.data.video.FrameReader`, so clips and flow are computed from these
    frames exactly as from a real video."""

    base: Video
    index: list[int]
    segment: Segment
    donor: Video | None = None
    _patch: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.index)

    def file_of(self, index: int) -> str:
        return f"{self.base.file_of(self.index[index])} (pseudo-anomaly '{self.segment.kind}')"

    def patch(self) -> np.ndarray:
        if self._patch is None:
            frame, top, left = self.segment.source
            h, w = self.segment.box
            image = (self.donor or self.base).read(frame)
            self._patch = np.ascontiguousarray(image[top : top + h, left : left + w][::-1])
        return self._patch

    def read(self, index: int, video: Video) -> np.ndarray:
        seg = self.segment
        inside = seg.start <= index < seg.start + seg.length
        if seg.kind == "speed":
            image = self.base.read(index)
            if inside:
                left, right = seg.band
                image[:, left:right] = self.base.read(self.index[index])[:, left:right]
            return image
        image = self.base.read(self.index[index])
        if not inside:
            return image
        a = (index - seg.start) / max(seg.length - 1, 1)
        top = int(round(seg.path[0] + a * (seg.path[2] - seg.path[0])))
        left = int(round(seg.path[1] + a * (seg.path[3] - seg.path[1])))
        out = image.copy()
        h, w = seg.box
        out[top : top + h, left : left + w] = self.patch()
        return out


def _speed(n: int, frames: int, width: int, rng: np.random.Generator) -> tuple[list[int], Segment]:
    """In the band, output frames ``start .. start + length - 1`` each jump ``stride`` base
    frames ahead; ``index`` maps every output frame to the base frame the band shows."""
    stride = int(rng.integers(2, 4))
    length = max(frames + 4, n // 5)
    while length > frames and n - stride * length - frames < 1:
        length -= 1
    start = frames + int(rng.integers(0, max(n - stride * length - frames, 1)))
    index = list(range(start)) + [start - 1 + stride * (j + 1) for j in range(length)]
    index += list(range(start + length, n))  # the band's clock jumps back: one more abnormal frame
    band = width // 3
    left = int(rng.integers(0, width - band + 1))
    return index, Segment("speed", start, length, stride=stride, band=(left, left + band))


def _object(
    n: int, frames: int, size: tuple[int, int], donor_frames: int, rng: np.random.Generator
) -> tuple[list[int], Segment]:
    """A flipped patch crosses 30-100 % of the frame's width during ``length`` frames."""
    height, width = size
    box = (max(8, height // 6), max(8, width // 10))
    length = max(frames + 4, n // 5)
    start = frames + int(rng.integers(0, max(n - length - frames, 1)))
    src = (
        int(rng.integers(0, donor_frames)),
        int(rng.integers(0, height - box[0])),
        int(rng.integers(0, width - box[1])),
    )
    top0, top1 = (float(v) for v in rng.uniform(0, height - box[0], 2))
    span = float(rng.uniform(0.3, 1.0)) * (width - box[1])
    left0 = float(rng.uniform(0, width - box[1] - span))
    left1 = left0 + span
    if rng.random() < 0.5:
        left0, left1 = left1, left0
    return list(range(n)), Segment("object", start, length, box=box, source=src, path=(top0, left0, top1, left1))


def pseudo_videos(
    videos: list[Video], copies: int, *, frames: int, seed: int = 0, kinds: tuple[str, ...] = KINDS
) -> list[Video]:
    """``copies`` pseudo-videos of each normal video, kinds taken in turn, each with its labels
    (1 = the target frame lies in the anomalous stretch) and per-frame ``categories``."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"pseudo-anomaly kinds must be some of {', '.join(KINDS)}, got {list(kinds)}")
    out: list[Video] = []
    for vi, video in enumerate(videos):
        size = video.size
        for c in range(copies):
            rng = np.random.default_rng([seed, vi, c])
            kind = kinds[c % len(kinds)]
            donor = videos[(vi + 1) % len(videos)]
            if kind == "speed":
                index, seg = _speed(video.num_frames, frames, size[1], rng)
            else:
                index, seg = _object(video.num_frames, frames, size, donor.num_frames, rng)
            labels = np.zeros(len(index), np.uint8)
            labels[seg.start : seg.start + seg.length + (kind == "speed")] = 1
            source = PseudoFrames(video, index, seg, donor if kind == "object" else None)
            out.append(
                Video(
                    name=f"{video.name}~{kind}{c}",
                    split="validation",
                    num_frames=len(index),
                    labels=labels,
                    categories=[kind if x else "" for x in labels],
                    source=source,
                    dataset_root=video.dataset_root,
                )
            )
    return out


__all__ = ["KINDS", "Segment", "PseudoFrames", "pseudo_videos"]
