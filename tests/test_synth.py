"""Synthetic diagnostic data: deterministic, all three anomaly categories, read by the frames loader."""

from __future__ import annotations

import json

import numpy as np
import pytest

import vadkit
from vadkit.data import ClipDataset, open_dataset
from vadkit.data.synth import generate

SMALL = dict(train_videos=2, test_videos=3, frames=40, size=64, object_size=12)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("synth") / "s", seed=3, **SMALL)


def test_loads_through_the_frames_loader(synth):
    ds = open_dataset(synth, vadkit.default_registry())
    assert (ds.layout, ds.label_format) == ("frames", "npy_flat")
    train, test = ds.videos("training"), ds.videos("testing")
    assert [v.num_frames for v in train] == [40, 40] and len(test) == 3
    assert train[0].read(0).shape == (64, 64, 3)
    seen = set()
    for v in test:
        assert 0 < v.abnormal < v.num_frames  # each test video has normal and abnormal frames
        assert [bool(c) for c in v.categories] == v.labels.astype(bool).tolist()
        seen |= set(v.categories) - {""}
        for t in (0, int(np.argmax(v.labels))):
            assert v.masks.read(t).any() == bool(v.labels[t])  # masks agree with frame labels
        assert not v.labels[:4].any()  # the first clip's context is normal
    assert seen == {"appearance", "motion", "joint"}
    ds.check("testing")
    sample = ClipDataset(test, frames=4, resolution=(32, 32))[int(np.argmax(test[0].labels)) - 4]
    assert sample["label"] == 1 and sample["category"] == test[0].categories[sample["frame"]] != ""


def test_deterministic_for_a_seed(synth, tmp_path):
    again = generate(tmp_path / "again", seed=3, **SMALL)
    other = generate(tmp_path / "other", seed=4, **SMALL)
    for rel in ("training/frames/01/017.png", "testing/frames/02/030.png", "frame_labels_synth.npy", "categories.json"):
        assert (synth / rel).read_bytes() == (again / rel).read_bytes()
    assert (synth / "training/frames/01/017.png").read_bytes() != (other / "training/frames/01/017.png").read_bytes()
    meta = json.loads((synth / "synth.json").read_text())
    assert meta["seed"] == 3 and meta["size"] == 64


def test_anomalies_are_distinct_from_training(synth):
    """Training frames contain only circle and square colours; the appearance anomaly adds stripes."""
    ds = open_dataset(synth, vadkit.default_registry())
    app = next(v for v in ds.videos("testing") if "appearance" in v.categories)
    t = int(np.argmax(app.labels)) + 2
    pixels = app.read(t)[app.masks.read(t)]
    assert (pixels.max(axis=1) > 200).any() and (pixels.max(axis=1) < 60).any()  # yellow and black stripes


def test_cli(tmp_path):
    from vadkit.cli import main

    out = tmp_path / "cli"
    assert main(["synth", str(out), "--seed", "1", "--train-videos", "1", "--test-videos", "1",
                 "--frames", "24", "--size", "48"]) == 0
    assert len(list((out / "testing" / "frames" / "01").glob("*.png"))) == 24
    assert main(["synth", str(tmp_path / "bad"), "--frames", "5"]) == 2
