"""Small layouts built in tmp: UCSD original, video files (Avenue), ShanghaiTech, label formats."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
from vadkit_data.datasets import FramesDataset

import vadkit
from vadkit.data import ClipDataset, detect_layout, open_dataset
from vadkit.errors import DataError, RecipeError
from vadkit.recipe import recipe_from_dict


def frame(i: int, h: int = 24, w: int = 32, gray: bool = False) -> np.ndarray:
    """A distinct deterministic image per index (BGR, or gray)."""
    rng = np.random.default_rng(i)
    img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    img[0, 0] = (i % 256, 0, 255 - i % 256)
    return img[..., 0].copy() if gray else img


def write_images(folder: Path, n: int, ext: str = ".png", pad: int = 3, start: int = 0, gray: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        assert cv2.imwrite(str(folder / f"{i + start:0{pad}d}{ext}"), frame(i, gray=gray))


def smooth(i: int, h: int = 24, w: int = 32) -> np.ndarray:
    """A video-codec-friendly BGR frame: a gradient and a bright block at x = 3 * i."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 1] = np.linspace(20, 120, w, dtype=np.uint8)[None]
    x = (3 * i) % (w - 6)
    img[8:16, x : x + 6] = (40, 230, 250)
    return img


def write_avi(path: Path, n: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 24))
    assert vw.isOpened()
    for i in range(n):
        vw.write(smooth(i))
    vw.release()


@pytest.fixture(scope="module")
def registry():
    return vadkit.default_registry()


def test_ucsd_original_layout(tmp_path, registry):
    base = tmp_path / "UCSD_Anomaly_Dataset.v1p2" / "UCSDped2"
    for v, n in (("Train001", 10), ("Train002", 12)):
        write_images(base / "Train" / v, n, ".tif", start=1, gray=True)
    for v, n in (("Test001", 9), ("Test002", 11)):
        write_images(base / "Test" / v, n, ".tif", start=1, gray=True)
    write_images(base / "Test" / "Test001_gt", 9, ".bmp", start=1, gray=True)
    (base / "Test" / "UCSDped2.m").write_text(
        "TestVideoFile = {};\nTestVideoFile{end+1}.gt_frame = [3:5, 8:9];\nTestVideoFile{end+1}.gt_frame = [1:11];\n"
    )
    root = base.parent  # the folder that holds UCSDped2/
    assert detect_layout(root, registry) == "ucsd"
    ds = open_dataset(root, registry)
    assert (ds.layout, ds.label_format) == ("ucsd", "ucsd_m")
    assert [(v.name, v.num_frames) for v in ds.videos("training")] == [("Train001", 10), ("Train002", 12)]
    test = ds.videos("testing")
    assert [v.name for v in test] == ["Test001", "Test002"]  # the _gt folder is not a video
    assert test[0].labels.tolist() == [0, 0, 1, 1, 1, 0, 0, 1, 1] and test[1].abnormal == 11
    assert test[0].masks is not None and test[1].masks is None
    img = test[0].read(0)  # grayscale tif -> replicated RGB
    assert img.shape == (24, 32, 3) and (img[..., 0] == img[..., 1]).all()
    assert test[0].masks.read(0).shape == (24, 32)


def test_video_files_layout(tmp_path, registry):
    root = tmp_path / "avenue"
    for i, n in ((1, 14), (2, 10)):
        write_avi(root / "training_videos" / f"{i:02d}.avi", n)
    for i, n in ((1, 12), (2, 9)):
        write_avi(root / "testing_videos" / f"{i:02d}.avi", n)
    gt = np.empty((1, 2), dtype=object)
    gt[0, 0] = np.array([[2, 9], [4, 12]])  # two intervals: 2..4 and 9..12 (1-based)
    gt[0, 1] = np.array([[1], [3]])
    scipy.io.savemat(tmp_path / "avenue.mat", {"gt": gt})  # FFP keeps avenue.mat next to the root
    ds = open_dataset(root, registry)
    assert (ds.layout, ds.label_format) == ("video_files", "mat_intervals")
    train, test = ds.videos("training"), ds.videos("testing")
    assert [(v.name, v.num_frames) for v in train] == [("01", 14), ("02", 10)]
    assert test[0].labels.tolist() == [0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1] and test[1].abnormal == 3
    ds.check("training")
    # sequential and random access decode the same frames (MJPG is lossy: compare approximately)
    seq = [test[0].read(i).astype(int) for i in range(12)]
    assert np.abs(test[0].read(7).astype(int) - seq[7]).mean() < 1
    def err(k):
        return np.abs(seq[7] - cv2.cvtColor(smooth(k), cv2.COLOR_BGR2RGB).astype(int)).mean()
    assert err(7) < 6 and err(7) < err(6) / 2
    clips = ClipDataset(test, frames=4, resolution=(16, 16))
    assert len(clips) == (12 - 4) + (9 - 4) and clips[0]["frames"].shape == (4, 3, 16, 16)


def test_shanghaitech_layout(tmp_path, registry):
    root = tmp_path / "shanghaitech"
    write_avi(root / "training" / "videos" / "01_001.avi", 8)
    write_avi(root / "training" / "videos" / "02_001.avi", 7)
    write_images(root / "testing" / "frames" / "01_0014", 10, ".jpg")
    write_images(root / "testing" / "frames" / "01_0015", 6, ".jpg")
    (root / "testing" / "test_frame_mask").mkdir(parents=True)
    np.save(root / "testing" / "test_frame_mask" / "01_0014.npy", np.r_[np.zeros(6), np.ones(4)].astype(np.int64))
    np.save(root / "testing" / "test_frame_mask" / "01_0015.npy", np.zeros(6, np.int64))
    ds = open_dataset(root, registry)
    assert (ds.layout, ds.label_format) == ("shanghaitech", "npy_per_video")
    assert [(v.name, v.num_frames) for v in ds.videos("training")] == [("01_001", 8), ("02_001", 7)]
    assert [v.abnormal for v in ds.videos("testing")] == [4, 0]
    np.save(root / "testing" / "test_frame_mask" / "01_0015.npy", np.zeros(5, np.int64))
    with pytest.raises(DataError) as err:
        open_dataset(root, registry).videos("testing")
    assert "01_0015.npy" in str(err.value) and "video '01_0015'" in str(err.value) and "frame 5" in str(err.value)


def _frames_root(tmp_path: Path, counts=(8, 6)) -> Path:
    root = tmp_path / "d"
    for i, n in enumerate(counts, 1):
        write_images(root / "training" / "frames" / f"{i:02d}", n, pad=4)
        write_images(root / "testing" / "frames" / f"{i:02d}", n, pad=1)
    return root


def test_mat_per_frame_cell_and_dict(tmp_path):
    root = _frames_root(tmp_path)
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0] = np.array([[0, 0, 1, 1, 0, 0, 0, 1]])
    cell[0, 1] = np.array([0, 1, 1, 0, 0, 0])
    scipy.io.savemat(root / "labels_cell.mat", {"gt": cell})
    ds = FramesDataset(root, labels="labels_cell.mat")
    assert ds.label_format == "mat_frames" and [v.abnormal for v in ds.videos("testing")] == [3, 2]
    scipy.io.savemat(root / "labels_dict.mat", {"01": np.ones(8), "02": np.zeros((1, 6))})
    ds = FramesDataset(root, labels="labels_dict.mat")
    assert ds.label_format == "mat_frames" and [v.abnormal for v in ds.videos("testing")] == [8, 0]
    (root / "labels.json").write_text(json.dumps({"01": [1] * 8, "02": [0, 0, 0, 1, 0, 0]}))
    assert [v.abnormal for v in FramesDataset(root, labels="labels.json").videos("testing")] == [8, 1]


def test_label_errors_name_file_video_and_frame(tmp_path):
    root = _frames_root(tmp_path)
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0] = np.array([[2], [9]])  # ends past the 8-frame video
    cell[0, 1] = np.array([[1], [2]])
    scipy.io.savemat(root / "bad.mat", {"gt": cell})
    with pytest.raises(DataError, match=r"bad\.mat: video '01' \(testing\), frame 8"):
        FramesDataset(root, labels="bad.mat").videos("testing")
    np.save(root / "obj.npy", np.array([np.zeros(8), np.zeros(6)], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="never loaded"):
        FramesDataset(root, labels="obj.npy").videos("testing")
    with pytest.raises(DataError, match="label file not found|not found"):
        FramesDataset(root, labels="nope.npy").videos("testing")


def test_cheap_checks(tmp_path):
    root = _frames_root(tmp_path)
    (root / "training" / "frames" / "03").mkdir()
    with pytest.raises(DataError, match=r"video '03' \(training\), frame 0: no image frames"):
        FramesDataset(root).videos("training")
    root2 = _frames_root(tmp_path / "b")
    (root2 / "testing" / "frames" / "02" / "3.png").write_bytes(b"not an image")
    ds = FramesDataset(root2)
    assert ds.videos("testing")[1].num_frames == 6  # cheap scan does not decode
    with pytest.raises(DataError, match=r"3\.png: video '02' \(testing\), frame 3"):
        ds.check("testing")


def test_grayscale_frames_and_channels(tmp_path):
    root = tmp_path / "g"
    write_images(root / "training" / "frames" / "01", 7, gray=True)
    v = FramesDataset(root).videos("training")[0]
    assert v.read(2).shape == (24, 32, 3)
    one = ClipDataset([v], frames=2, resolution=(12, 16), image_channels=1)[0]
    three = ClipDataset([v], frames=2, resolution=(12, 16), image_channels=3)[0]
    assert one["frames"].shape == (2, 1, 12, 16) and three["target"].shape == (3, 12, 16)
    assert np.allclose(three["target"][0], three["target"][2]) and np.allclose(one["target"][0], three["target"][0], atol=1 / 127)
    assert one["label"] == -1 and one["category"] == ""


def test_auto_detection_and_recipe_errors(tmp_path, registry):
    with pytest.raises(DataError, match="cannot detect the dataset layout"):
        open_dataset(tmp_path, registry)
    root = _frames_root(tmp_path)
    with pytest.raises(RecipeError, match="data.labelz"):
        open_dataset(root, registry, recipe_from_dict({"data": {"type": "frames", "labelz": "x"}}))
    with pytest.raises(RecipeError, match="derived"):
        open_dataset(root, registry, recipe_from_dict({"data": {"type": "frames", "root": "x"}}))
    assert open_dataset(root, registry, recipe_from_dict({"data": {"type": "frames"}})).label_format is None


def test_clip_dataset_rejects_short_video(tmp_path):
    root = _frames_root(tmp_path, counts=(4, 6))
    with pytest.raises(DataError, match=r"video '01' \(training\), frame 3: only 4 frames"):
        ClipDataset(FramesDataset(root).videos("training"), frames=4, resolution=(8, 8))


def test_dataloader_workers(tmp_path):
    import signal

    import torch

    from vadkit.training.child_signals import sigchld_restored

    root = _frames_root(tmp_path, counts=(9, 7))
    clips = ClipDataset(FramesDataset(root).videos("training"), frames=3, resolution=(8, 8))
    previous = signal.getsignal(signal.SIGCHLD)
    with sigchld_restored():  # as training does: torch's SIGCHLD handler would outlive the loader
        batches = list(torch.utils.data.DataLoader(clips, batch_size=4, num_workers=2))
        # left in place, it ended the suite with SIGSEGV on an AMX Xeon once a later test had run
        # bf16 and a spawned worker exited (docs/performance.md)
    assert signal.getsignal(signal.SIGCHLD) == previous
    frames = torch.cat([b["frame"] for b in batches]).tolist()
    assert frames == [t for _, t in clips.index] == [3, 4, 5, 6, 7, 8, 3, 4, 5, 6]
    assert torch.allclose(torch.cat([b["target"] for b in batches])[5], clips[5]["target"])
