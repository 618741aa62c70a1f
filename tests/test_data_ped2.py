"""Real-data tests on UCSD Ped2 (../shared/data/ped2, or $VADKIT_PED2); skipped when absent."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from vadkit_data.datasets import FramesDataset

import vadkit
from vadkit.data import ClipDataset, open_dataset
from vadkit.errors import DataError
from vadkit.recipe import recipe_from_dict

PED2 = Path(os.environ.get("VADKIT_PED2", Path(__file__).resolve().parents[2] / "shared/data/ped2"))
pytestmark = [
    pytest.mark.ped2,
    pytest.mark.skipif(not (PED2 / "testing" / "frames").is_dir(), reason=f"UCSD Ped2 not found at {PED2} (set VADKIT_PED2)"),
]
TEST_FRAMES = [180, 180, 150, 180, 150, 180, 180, 180, 120, 150, 180, 180]


@pytest.fixture(scope="module")
def registry():
    return vadkit.default_registry()


@pytest.mark.parametrize("labels, fmt", [
    (None, "mat_intervals"),
    ("ped2.mat", "mat_intervals"),
    ("frame_labels_ped2.npy", "npy_flat"),
    ("UCSDped2.m", "ucsd_m"),
])
def test_counts_from_each_label_file(registry, labels, fmt):
    recipe = recipe_from_dict({"data": {"labels": labels}} if labels else {})
    ds = open_dataset(PED2, registry, recipe)
    assert (ds.layout, ds.label_format) == ("frames", fmt)
    train, test = ds.videos("training"), ds.videos("testing")
    assert (len(train), len(test)) == (16, 12)
    assert sum(v.num_frames for v in train) == 2550 and sum(v.num_frames for v in test) == 2010
    assert [v.num_frames for v in test] == TEST_FRAMES
    assert sum(v.abnormal for v in test) == 1648
    assert all(v.labels is None for v in train)
    # video 01: frames 61..180 (1-based) abnormal
    assert test[0].labels[59] == 0 and test[0].labels[60] == 1 and test[0].labels[-1] == 1


def test_all_label_files_agree(registry):
    arrays = []
    for name in ("ped2.mat", "frame_labels_ped2.npy", "UCSDped2.m"):
        ds = FramesDataset(PED2, labels=name)
        arrays.append(np.concatenate([v.labels for v in ds.videos("testing")]))
    assert np.array_equal(arrays[0], arrays[1]) and np.array_equal(arrays[0], arrays[2])


def test_frames_are_rgb_uint8(registry):
    v = FramesDataset(PED2).videos("testing")[0]
    img = v.read(0)
    assert img.shape == (240, 360, 3) and img.dtype == np.uint8
    assert v.size == (240, 360)
    with pytest.raises(DataError, match="frame 180"):
        v.read(180)


def test_clip_boundaries(registry):
    videos = FramesDataset(PED2).videos("testing")[:2]
    ds = ClipDataset(videos, frames=4, resolution=(64, 96))
    assert len(ds) == (180 - 4) * 2
    assert ds.index[0] == (0, 4) and ds.index[175] == (0, 179) and ds.index[176] == (1, 4)
    first, last, nxt = ds[0], ds[175], ds[176]
    assert first["frames"].shape == (4, 3, 64, 96) and first["target"].shape == (3, 64, 96)
    assert first["frames"].min() >= -1 and first["frames"].max() <= 1 and first["frames"].dtype.is_floating_point
    assert (last["video"], last["frame"], last["label"]) == ("01", 179, 1)
    assert (nxt["video"], nxt["video_index"], nxt["frame"]) == ("02", 1, 4)
    assert first["label"] == 0 and ds[60 - 4 + 1]["label"] == 1  # 0-based frame 60 is the first abnormal one
    # the clip's last input frame is the previous sample's target
    assert np.allclose(ds[1]["frames"][-1].numpy(), first["target"].numpy())


def _mirror(tmp_path: Path) -> Path:
    """A copy of Ped2's layout made of symlinks (nothing copied), to damage one file in tmp."""
    root = tmp_path / "ped2"
    for split in ("training", "testing"):
        for vdir in sorted((PED2 / split / "frames").iterdir()):
            dst = root / split / "frames" / vdir.name
            dst.mkdir(parents=True)
            for f in vdir.iterdir():
                (dst / f.name).symlink_to(f)
    (root / "ped2.mat").symlink_to(PED2 / "ped2.mat")
    return root


def test_corrupted_frame_is_named(tmp_path):
    root = _mirror(tmp_path)
    bad = root / "testing" / "frames" / "03" / "017.jpg"
    data = bad.read_bytes()
    bad.unlink()
    bad.write_bytes(data[: len(data) // 2])  # a truncated JPEG
    ds = FramesDataset(root)
    ds.check("training")
    with pytest.raises(DataError) as err:
        ds.check("testing")
    msg = str(err.value)
    assert "017.jpg" in msg and "video '03'" in msg and "frame 17" in msg


def test_missing_frame_is_named(tmp_path):
    root = _mirror(tmp_path)
    (root / "training" / "frames" / "05" / "042.jpg").unlink()
    with pytest.raises(DataError, match=r"video '05' \(training\), frame 42"):
        FramesDataset(root).videos("training")


def test_truncated_label_file_is_named(tmp_path):
    labels = np.load(PED2 / "frame_labels_ped2.npy").ravel()
    short = tmp_path / "frame_labels_short.npy"
    np.save(short, labels[:-10])
    ds = FramesDataset(PED2, labels=str(short))
    with pytest.raises(DataError) as err:
        ds.videos("testing")
    msg = str(err.value)
    assert "frame_labels_short.npy" in msg and "video '12'" in msg and "frame 170" in msg


def test_inspect_json(capsys):
    from vadkit.cli import main

    assert main(["data", "inspect", str(PED2), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["layout"] == "frames" and out["labels"] == "mat_intervals"
    assert [r["frames"] for r in out["splits"]["testing"]] == TEST_FRAMES
    assert sum(r["abnormal"] for r in out["splits"]["testing"]) == 1648
    assert len(out["splits"]["training"]) == 16 and out["splits"]["training"][0] == {"video": "01", "frames": 120, "abnormal": None}
