"""The decoded-frame cache for video-file datasets, the remembered frame check, stale temps."""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import vadkit
from vadkit.atomic import clean_stale_temps, stale_temps
from vadkit.data import ClipDataset, open_dataset
from vadkit.data.frame_cache import FrameCache
from vadkit.data.frame_check import check_videos, marker, resolve_mode
from vadkit.errors import DataError


def write_video_dataset(frames_root: Path, out: Path) -> Path:
    """The synthetic frame folders re-encoded as an Avenue-style set of MJPG .avi files."""
    for split in ("training", "testing"):
        (out / f"{split}_videos").mkdir(parents=True, exist_ok=True)
        for d in sorted((frames_root / split / "frames").iterdir()):
            files = sorted(d.glob("*.png"))
            first = cv2.imread(str(files[0]))
            h, w = first.shape[:2]
            vw = cv2.VideoWriter(str(out / f"{split}_videos" / f"{d.name}.avi"), cv2.VideoWriter_fourcc(*"MJPG"),
                                 25, (w, h))
            for f in files:
                vw.write(cv2.imread(str(f)))
            vw.release()
    return out


@pytest.fixture(scope="module")
def videos_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vadkit.data.synth import generate

    frames = generate(tmp_path_factory.mktemp("synth"), seed=5, train_videos=2, test_videos=1, frames=20, size=32,
                      object_size=8)
    return write_video_dataset(frames, tmp_path_factory.mktemp("avenue"))


@pytest.fixture(scope="module")
def registry():
    return vadkit.create_registry(autoload=False)


def test_cached_clips_equal_decoded_clips(videos_root: Path, registry, tmp_path: Path) -> None:
    ds = open_dataset(videos_root, registry)
    assert ds.layout == "video_files"
    videos = ds.videos("training")
    store = FrameCache(tmp_path / "frames")
    for channels in (3, 1):
        plain = ClipDataset(videos, frames=4, resolution=(24, 28), image_channels=channels)
        cached = ClipDataset(videos, frames=4, resolution=(24, 28), image_channels=channels, frame_store=store)
        assert cached.stored == {0, 1}
        cached.prepare_frames(workers=1)
        for i in range(len(plain)):
            a, b = plain[i], cached[i]
            assert torch.equal(a["frames"], b["frames"]) and torch.equal(a["target"], b["target"])
        arr = cached.video_frames(0)
        assert arr.dtype == np.uint8 and isinstance(arr, np.memmap) and arr.shape == (20, channels, 24, 28)
    assert len(list((tmp_path / "frames").glob("*.npy"))) == 4  # 2 videos x 2 channel settings
    assert not list((tmp_path / "frames").glob(".*.tmp"))


def test_video_file_dataset_trains_with_frame_cache(videos_root: Path, registry, tmp_path: Path) -> None:
    from _helpers import TINY_MODEL
    from vadkit.recipe import load_recipe
    from vadkit.training.trainer import train

    cache = tmp_path / "cache"
    (tmp_path / "r.toml").write_text(TINY_MODEL + f"""[train]
epochs = 1
batch_size = 2
max_steps_per_epoch = 2
threads = 1
[flow]
cache = "{cache}"
""")
    recipe = load_recipe(tmp_path / "r.toml")
    run = train(recipe, videos_root, tmp_path / "run", registry)
    assert run.checkpoint.is_file()
    assert len(list((cache / "frames").glob("*.npy"))) == 2
    assert len(list((cache / "checks").glob("*.ok"))) == 2  # 40 frames: auto = full check, remembered


def test_frame_check_is_remembered_until_the_file_changes(videos_root: Path, registry, tmp_path: Path) -> None:
    videos = open_dataset(videos_root, registry).videos("testing")
    first = check_videos(videos, "full", tmp_path, workers=1)
    assert (first["checked"], first["frames_decoded"]) == (1, 20)
    again = check_videos(videos, "sample", tmp_path, workers=1)
    assert (again["checked"], again["remembered"]) == (0, 1)  # a full pass also counts for a sample
    path = Path(videos[0].file_of(0))
    old = marker(tmp_path, videos[0], "full")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert marker(tmp_path, videos[0], "full") != old
    assert check_videos(videos, "full", tmp_path, workers=1)["checked"] == 1
    assert resolve_mode("auto", 10) == "full" and resolve_mode("auto", 10**6) == "sample"
    with pytest.raises(DataError, match="check mode"):
        resolve_mode("everything", 1)


def test_truncated_video_fails_the_sample_check(videos_root: Path, registry, tmp_path: Path) -> None:
    src = videos_root / "training_videos" / "01.avi"
    broken = tmp_path / "bad"
    (broken / "training_videos").mkdir(parents=True)
    data = src.read_bytes()
    (broken / "training_videos" / "01.avi").write_bytes(data[: len(data) * 2 // 3])
    videos = open_dataset(broken, registry).videos("training")
    if videos[0].num_frames < 20:
        pytest.skip("this OpenCV build re-counts frames of a truncated file; nothing missing to detect")
    with pytest.raises(DataError, match="01.avi: video '01'"):
        check_videos(videos, "sample", tmp_path / "checks", workers=1)


def test_stale_temps_of_dead_writers_are_cleaned(tmp_path: Path) -> None:
    from vadkit.atomic import writer_tag

    host = writer_tag().rsplit("-", 1)[0]
    dead = tmp_path / f".x.npy.{host}-999999999-abcd.tmp"  # no such pid
    alive = tmp_path / f".y.npy.{writer_tag()}-abcd.tmp"  # this process
    other_host_old = tmp_path / ".z.npy.elsewhere-12-abcd.tmp"
    for p in (dead, alive, other_host_old):
        p.write_bytes(b"partial")
    os.utime(other_host_old, (time.time() - 7200, time.time() - 7200))
    assert set(stale_temps(tmp_path)) == {dead, other_host_old}
    assert clean_stale_temps(tmp_path) == 2
    assert alive.exists() and not dead.exists()
