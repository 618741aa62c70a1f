"""Clip sampling for frame prediction: T past frames + the target, never crossing a video.

Sample ``i`` (targets are frames T..n-1 of each video, videos in order):

- ``frames``  float32 (T, C, H, W) in [-1, 1]: frames t-T .. t-1 (with ``target="current"``,
  reconstruction: frames t-T+1 .. t, targets from frame T-1 on);
- ``target``  float32 (C, H, W) in [-1, 1]: frame t;
- ``flows``   float32 (T, 2, H, W) (only with a flow estimator): ``flows[j]`` = flow from frame
  t-T+j-1 to frame t-T+j in pixels of the resized grid, divided by ``flow_scale`` (and clipped to
  +-``flow_clip`` when given); the flow into frame 0 of a video is zero;
- ``video``, ``video_index``, ``frame`` (= t), ``label`` (0/1, -1 unknown), ``category`` ("").

Frames of video-file sources come from the decoded-frame cache when one is given
(``frame_store``, :mod:`vadkit.data.frame_cache`): the same uint8 frames, without a seek and
decode per clip.

Grayscale: ``image_channels=1`` converts RGB to luma; with 3 channels grayscale sources are
replicated (decoding always yields RGB).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from vadkit.config import DEFAULT_FLOW_SCALE
from vadkit.errors import DataError

from .flow_cache import FlowCache
from .frame_cache import FrameCache, is_video_file
from .transforms import normalise_flow, resize_flow, resize_frame
from .video import Video


class ClipDataset(Dataset):
    """Clips of ``frames`` past frames plus a target, from a list of videos."""

    def __init__(
        self,
        videos: list[Video],
        *,
        frames: int = 4,
        resolution: Sequence[int],
        image_channels: int = 3,
        flow: Any = None,
        cache: FlowCache | None = None,
        flow_scale: float = DEFAULT_FLOW_SCALE,
        flow_clip: float | None = None,
        dataset_root: str | Path | None = None,
        frame_cache: int = 16,
        frame_store: FrameCache | None = None,
        store_all: bool = False,
        target: str = "next",
    ) -> None:
        if target not in ("next", "current"):
            raise ValueError(f"target must be 'next' or 'current', got {target!r}")
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        if image_channels not in (1, 3):
            raise ValueError(f"image_channels must be 1 or 3, got {image_channels}")
        if flow_scale <= 0:
            raise ValueError(f"flow_scale must be positive, got {flow_scale}")
        self.videos = list(videos)
        self.frames = int(frames)
        self.target = target
        self.ahead = 1 if target == "next" else 0  # the target frame comes after the inputs (prediction)
        self.resolution = (int(resolution[0]), int(resolution[1]))
        self.image_channels = int(image_channels)
        self.flow = flow
        self.cache = cache
        self.flow_scale = float(flow_scale)
        self.flow_clip = flow_clip
        self.dataset_root = dataset_root
        self.frame_cache = int(frame_cache)
        self.frame_store = frame_store
        self.stored = {
            vi for vi, v in enumerate(self.videos) if frame_store is not None and (store_all or is_video_file(v))
        }
        for v in self.videos:
            if v.num_frames < self.frames + self.ahead:
                raise DataError(
                    f"{v.file_of(0)}: video '{v.name}' ({v.split}), frame {v.num_frames - 1}: only {v.num_frames} "
                    f"frames, a clip needs {self.frames + self.ahead}"
                )
        self.index: list[tuple[int, int]] = [
            (vi, t) for vi, v in enumerate(self.videos) for t in range(self.frames - 1 + self.ahead, v.num_frames)
        ]
        self._lru: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._flow_lru: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._flows: dict[int, np.ndarray] = {}
        self._decoded: dict[int, np.ndarray] = {}

    def first_input(self, t: int) -> int:
        """The first of the T input frames of the clip whose target is frame ``t``."""
        return t - self.frames + 1 - self.ahead

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_lru"], state["_flow_lru"], state["_flows"], state["_decoded"] = (
            OrderedDict(),
            OrderedDict(),
            {},
            {},
        )  # memmaps stay per process
        return state

    def __len__(self) -> int:
        return len(self.index)

    # -- frames ------------------------------------------------------------------------------
    def _frame(self, vi: int, k: int, raw: dict[int, np.ndarray]) -> np.ndarray:
        """Resized (C, H, W) uint8 frame; ``raw`` keeps originals read for this sample (flow)."""
        if vi in self.stored:
            return np.array(self.video_frames(vi)[k])
        key = (vi, k)
        hit = self._lru.get(key)
        if hit is not None:
            self._lru.move_to_end(key)
            return hit
        rgb = raw.get(k)
        if rgb is None:
            rgb = raw[k] = self.videos[vi].read(k)
        out = resize_frame(rgb, self.resolution, self.image_channels)
        if self.frame_cache > 0:
            self._lru[key] = out
            if len(self._lru) > self.frame_cache:
                self._lru.popitem(last=False)
        return out

    def video_frames(self, vi: int) -> np.ndarray:
        """The cached (n, C, H, W) uint8 frames of video ``vi`` (memory-mapped, opened once)."""
        arr = self._decoded.get(vi)
        if arr is None:
            assert self.frame_store is not None
            arr = self._decoded[vi] = self.frame_store.ensure(self.videos[vi], self.resolution, self.image_channels)
        return arr

    def prepare_frames(self, workers: int = 1, console: Any = None, shard: tuple[int, int] = (0, 1)) -> None:
        """Fill the frame cache for the stored videos before training (parallel across videos)."""
        if self.frame_store is not None and self.stored:
            videos = [self.videos[vi] for vi in sorted(self.stored)]
            self.frame_store.precompute(videos, self.resolution, self.image_channels, workers, console, shard)

    # -- flow --------------------------------------------------------------------------------
    def video_flows(self, vi: int) -> np.ndarray:
        """The cached (n, 2, H, W) float16 flow of video ``vi`` (memory-mapped, opened once)."""
        arr = self._flows.get(vi)
        if arr is None:
            assert self.cache is not None and self.flow is not None
            arr = self.cache.ensure(self.dataset_root, self.videos[vi], self.flow, self.resolution)
            self._flows[vi] = arr
        return arr

    def _clip_flows(self, vi: int, t: int, raw: dict[int, np.ndarray]) -> np.ndarray:
        if self.cache is not None:
            first = self.first_input(t)
            flows = np.asarray(self.video_flows(vi)[first : first + self.frames], dtype=np.float32)
        else:
            flows = np.zeros((self.frames, 2, *self.resolution), np.float32)
            for j, k in enumerate(range(self.first_input(t), self.first_input(t) + self.frames)):
                if k > 0:
                    flows[j] = self._flow_into(vi, k, raw)
        return normalise_flow(flows, self.flow_scale, self.flow_clip)

    def _flow_into(self, vi: int, k: int, raw: dict[int, np.ndarray]) -> np.ndarray:
        """Resized flow from frame k-1 to k, computed without a cache; kept in a small LRU
        (``frame_cache`` entries) so clips read in order compute each flow once, not T times."""
        key = (vi, k)
        hit = self._flow_lru.get(key)
        if hit is not None:
            self._flow_lru.move_to_end(key)
            return hit
        for f in (k - 1, k):
            if f not in raw:
                raw[f] = self.videos[vi].read(f)
        out = resize_flow(self.flow(raw[k - 1], raw[k]), self.resolution)
        if self.frame_cache > 0:
            self._flow_lru[key] = out
            if len(self._flow_lru) > self.frame_cache:
                self._flow_lru.popitem(last=False)
        return out

    def prepare_flow(self, workers: int = 1, console: Any = None, shard: tuple[int, int] = (0, 1)) -> None:
        """Fill the flow cache for every video before training (parallel across videos; under
        DDP ``shard=(rank, world)`` fills this rank's share)."""
        if self.flow is not None and self.cache is not None:
            self.cache.precompute(
                self.videos, self.flow, self.resolution, workers, console, self.dataset_root, shard=shard
            )

    # -- samples -----------------------------------------------------------------------------
    def __getitem__(self, i: int) -> dict[str, Any]:
        vi, t = self.index[i]
        video = self.videos[vi]
        raw: dict[int, np.ndarray] = {}
        stack = np.stack([self._frame(vi, k, raw) for k in range(self.first_input(t), t + 1)])
        images = torch.from_numpy(stack).float().div_(127.5).sub_(1.0)
        sample: dict[str, Any] = {
            "frames": images[: self.frames],
            "target": images[-1],
            "video": video.name,
            "video_index": vi,
            "frame": t,
            "label": int(video.labels[t]) if video.labels is not None else -1,
            "category": video.categories[t] if video.categories is not None else "",
        }
        if self.flow is not None:
            sample["flows"] = torch.from_numpy(self._clip_flows(vi, t, raw))
        return sample
