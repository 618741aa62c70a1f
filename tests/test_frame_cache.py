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


@pytest.fixture(scope="module")
def frames_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small image-folder dataset (PNG frames, the UCSD / ShanghaiTech layout)."""
    from vadkit.data.synth import generate

    return generate(tmp_path_factory.mktemp("frames"), seed=6, train_videos=2, test_videos=1, frames=20, size=32,
                    object_size=8)


def test_frame_cache_modes_choose_which_videos_are_cached(frames_root: Path, videos_root: Path, registry,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import vadkit.data.factory as factory

    images = open_dataset(frames_root, registry).videos("training")
    files = open_dataset(videos_root, registry).videos("training")
    covers = factory.frame_cache_covers
    assert [covers(m, images, (32, 32), 3) for m in ("all", "video_files", "none")] == [True, None, False]
    assert covers("auto", images, (32, 32), 3) is True  # 2 x 20 frames x 3 KB: far below the limit
    assert covers("auto", files, (32, 32), 3) is None  # video files are cached anyway
    monkeypatch.setattr(factory, "AUTO_FRAME_CACHE_BYTES", 20 * 3 * 32 * 32)  # less than the 2 videos take
    assert covers("auto", images, (32, 32), 3) is None
    with pytest.raises(ValueError, match="frame_cache must be one of"):
        covers("sometimes", images, (32, 32), 3)


def _train_tiny(root: Path, out: Path, cache: Path, frame_cache: str, registry) -> dict[str, torch.Tensor]:
    from _helpers import TINY_MODEL

    from vadkit.checkpoint import load_checkpoint
    from vadkit.recipe import load_recipe
    from vadkit.training.trainer import train

    (out.parent / f"{frame_cache}.toml").write_text(TINY_MODEL + f"""[train]
epochs = 1
batch_size = 2
max_steps_per_epoch = 3
threads = 1
frame_cache = "{frame_cache}"
[flow]
cache = "{cache}"
""")
    run = train(load_recipe(out.parent / f"{frame_cache}.toml"), root, out, registry)
    return load_checkpoint(run.checkpoint)["model"]


def test_image_folder_training_caches_frames_and_trains_the_same_model(frames_root: Path, registry,
                                                                       tmp_path: Path) -> None:
    """``[train] frame_cache = "auto"`` decodes the PNG frames once into the cache; the trained
    weights equal those of a run that reads every frame from its file ("none")."""
    cached = _train_tiny(frames_root, tmp_path / "auto", tmp_path / "c1", "auto", registry)
    assert len(list((tmp_path / "c1" / "frames").glob("*.npy"))) == 2
    plain = _train_tiny(frames_root, tmp_path / "none", tmp_path / "c2", "none", registry)
    assert not (tmp_path / "c2" / "frames").exists() or not list((tmp_path / "c2" / "frames").glob("*.npy"))
    assert cached.keys() == plain.keys()
    assert all(torch.equal(cached[k], plain[k]) for k in cached)


def test_bad_frame_cache_names_the_recipe_key(frames_root: Path, registry, tmp_path: Path) -> None:
    from vadkit.errors import RecipeError

    with pytest.raises(RecipeError, match=r"train\.frame_cache.*'auto', 'all', 'video_files', 'none'"):
        _train_tiny(frames_root, tmp_path / "sometimes", tmp_path / "c", "sometimes", registry)


def test_a_replaced_frame_image_invalidates_frame_and_flow_cache_entries(frames_root: Path, registry,
                                                                        tmp_path: Path) -> None:
    """Entries of an image-folder video depend on every frame file, not only the first: a
    re-extracted frame 7 must not be served from a stale decoded-frame or flow entry."""
    import shutil

    from vadkit.data import FlowCache, make_flow

    root = tmp_path / "data"
    shutil.copytree(frames_root, root)
    flow, frames, flows = make_flow(registry), FrameCache(tmp_path / "c" / "frames"), FlowCache(tmp_path / "c")

    def keys() -> tuple[Path, Path, Path]:
        video = open_dataset(root, registry).videos("training")[0]
        return frames.path(video, (32, 32), 3), flows.path(root, video, flow, (32, 32)), marker(tmp_path, video, "full")

    before = keys()
    assert keys() == before  # nothing changed: same entries
    video = open_dataset(root, registry).videos("training")[0]
    seventh = Path(video.file_of(7))
    img = cv2.imread(str(seventh))
    cv2.imwrite(str(seventh), 255 - img)
    os.utime(seventh, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    after = keys()
    assert all(a != b for a, b in zip(after, before))
