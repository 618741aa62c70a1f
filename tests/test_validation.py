"""Validation without test labels: the pseudo-anomalies are where they say they are, and
``vadkit validate`` scores a run's held-out videos only, never the test split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _helpers import TINY_MODEL

import vadkit
from vadkit.cli import main
from vadkit.data.video import Video
from vadkit.detect.calibration import calibrate
from vadkit.errors import CheckpointError, DataError, RecipeError
from vadkit.recipe import load_recipe
from vadkit.training.trainer import train
from vadkit.validation import pseudo_videos
from vadkit.validation.validate import validate

T = 4


class ArrayFrames:
    """Frames from an array; frame k is a gradient plus k, so every frame is distinguishable."""

    def __init__(self, n: int, h: int = 48, w: int = 60, offset: int = 0) -> None:
        base = np.add.outer(np.arange(h), np.arange(w)).astype(np.int64)
        self.frames = [np.repeat(((base + 3 * k + offset) % 200).astype(np.uint8)[..., None], 3, 2) for k in range(n)]

    def __len__(self) -> int:
        return len(self.frames)

    def file_of(self, index: int) -> str:
        return f"array[{index}]"

    def read(self, index: int, video: Video) -> np.ndarray:
        return self.frames[index].copy()


def _videos(n: int = 60) -> list[Video]:
    return [Video(name, "training", n, source=ArrayFrames(n, offset=o)) for name, o in (("a", 0), ("b", 7))]


def test_speed_anomaly_runs_fast_in_a_band_only_inside_its_labelled_stretch() -> None:
    base = _videos()[0]
    [video] = pseudo_videos([base], 1, frames=T, seed=3, kinds=("speed",))
    seg = video.source.segment
    left, right = seg.band
    assert seg.stride in (2, 3) and right - left == 60 // 3 and seg.start >= T
    want = np.zeros(video.num_frames, np.uint8)
    want[seg.start : seg.start + seg.length + 1] = 1  # + the frame where the band's clock jumps back
    np.testing.assert_array_equal(video.labels, want)
    assert video.num_frames == base.num_frames
    for k in range(video.num_frames):
        frame, same = video.read(k), base.read(k)
        outside = np.ones(60, bool)
        outside[left:right] = False
        np.testing.assert_array_equal(frame[:, outside], same[:, outside])
        inside = seg.start <= k < seg.start + seg.length
        shown = base.read(seg.start - 1 + seg.stride * (k - seg.start + 1)) if inside else same
        np.testing.assert_array_equal(frame[:, left:right], shown[:, left:right])


def test_object_anomaly_is_a_flipped_donor_patch_present_only_in_its_stretch() -> None:
    videos = _videos()
    [video] = pseudo_videos(videos[:1] + videos[1:], 2, frames=T, seed=1, kinds=("object",))[:1]
    seg = video.source.segment
    h, w = seg.box
    frame_k, top, left = seg.source
    patch = videos[1].read(frame_k)[top : top + h, left : left + w][::-1]
    assert video.labels.sum() == seg.length and video.labels[seg.start] == 1 and video.labels[seg.start - 1] == 0
    for k in range(video.num_frames):
        frame, same = video.read(k), videos[0].read(k)
        changed = np.argwhere((frame != same).any(axis=2))
        if not seg.start <= k < seg.start + seg.length:
            assert changed.size == 0, f"frame {k} outside the stretch was painted"
            continue
        a = (k - seg.start) / (seg.length - 1)
        y = int(round(seg.path[0] + a * (seg.path[2] - seg.path[0])))
        x = int(round(seg.path[1] + a * (seg.path[3] - seg.path[1])))
        np.testing.assert_array_equal(frame[y : y + h, x : x + w], patch)
        assert changed[:, 0].min() >= y and changed[:, 0].max() < y + h  # nothing painted elsewhere
        assert changed[:, 1].min() >= x and changed[:, 1].max() < x + w
    first, last = seg.path[1], seg.path[3]
    assert abs(last - first) >= 0.3 * (60 - w) - 1  # it crosses at least 30 % of the width


def test_pseudo_videos_follow_the_seed() -> None:
    def segments(seed: int) -> list:
        return [v.source.segment for v in pseudo_videos(_videos(), 2, frames=T, seed=seed)]

    assert segments(0) == segments(0)
    assert segments(0) != segments(1)
    assert [s.kind for s in segments(0)] == ["speed", "object", "speed", "object"]
    with pytest.raises(ValueError, match="kinds must be some of"):
        pseudo_videos(_videos(), 1, frames=T, kinds=("teleport",))


TINY = TINY_MODEL + """[train]
epochs = 1
batch_size = 4
max_steps_per_epoch = 4
lr = 1e-3
threads = 1
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-epoch tiny run on six synthetic training videos, two of them held out (the default)."""
    from vadkit.data.synth import generate

    root = tmp_path_factory.mktemp("validate")
    data = generate(root / "data", seed=2, train_videos=6, test_videos=1, frames=30, size=32, object_size=8)
    (root / "tiny.toml").write_text(TINY)
    train(load_recipe(root / "tiny.toml"), data, root / "run", vadkit.create_registry(autoload=False))
    return root / "run"


def test_validate_scores_pseudo_copies_of_the_held_out_videos_only(run: Path, monkeypatch) -> None:
    import vadkit.data.layout as layout

    real = layout.VideoDataset.videos

    def training_only(self, split):  # validation must never read the test split
        assert split == "training", f"validate read the {split} split"
        return real(self, split)

    monkeypatch.setattr(layout.VideoDataset, "videos", training_only)
    registry = vadkit.create_registry(autoload=False)
    result = validate(run, registry, copies=2, seed=0)
    held = result["held_out_videos"]
    assert len(held) == 2
    assert sorted(result["pseudo"]["segments"]) == sorted(f"{v}~{k}" for v in held for k in ("speed0", "object1"))
    assert 0.0 <= result["auc_micro"] <= 1.0 and set(result["auc_per_category"]) == {"speed", "object"}
    assert Path(result["path"]) == run / "validation" / "copies=2.json"
    written = json.loads(Path(result["path"]).read_text())
    assert written["auc_micro"] == result["auc_micro"]
    again = validate(run, registry, copies=2, seed=0)
    assert again["auc_micro"] == result["auc_micro"]  # same seed, same frames, same number


def test_validate_rescoring_changes_only_the_scorer(run: Path) -> None:
    registry = vadkit.create_registry(autoload=False)
    result = validate(run, registry, copies=1, score_overrides=["score.patch=8"])
    assert set(result["diagnostics"]) == {"auc_micro_psnr_patch_only", "auc_micro_psnr_only",
                                              "auc_micro_contrast_only", "auc_micro_distance_only"}
    assert "worst 8x8 window" in result["scorer_protocol"]
    assert (run / "validation" / "copies=1,score.patch=8.json").is_file()
    with pytest.raises(RecipeError, match="neither a \\[score\\] key"):
        validate(run, registry, copies=1, score_overrides=["model.memory.slots=3"])


def test_validate_refuses_a_run_that_held_nothing_out(tmp_path: Path, capsys) -> None:
    from vadkit.data.synth import generate

    data = generate(tmp_path / "data", seed=2, train_videos=3, test_videos=1, frames=24, size=32, object_size=8)
    (tmp_path / "tiny.toml").write_text(TINY + "[detect]\nholdout_videos = 0\n")
    train(load_recipe(tmp_path / "tiny.toml"), data, tmp_path / "run", vadkit.create_registry(autoload=False))
    with pytest.raises(DataError, match="holdout_videos = 0 holds no whole training video"):
        validate(tmp_path / "run", vadkit.create_registry(autoload=False))
    assert main(["validate", "--run", str(tmp_path / "run")]) == 2
    assert "nothing unseen to validate on" in capsys.readouterr().err


def test_results_drawn_with_other_settings_get_their_own_file() -> None:
    from vadkit.validation.validate import result_name

    assert result_name() == "recipe"
    assert result_name(["score.patch=16"]) == "score.patch=16"
    assert result_name(copies=8, seed=1, kinds=("object",)) == "copies=8,seed=1,kinds=object"


def test_validate_rescores_with_the_eval_protocol_keys(run: Path) -> None:
    registry = vadkit.create_registry(autoload=False)
    plain = validate(run, registry, copies=1)
    smooth = validate(run, registry, copies=1, score_overrides=["eval.temporal_sigma=3"])
    assert smooth["temporal_sigma"] == 3.0 and plain["temporal_sigma"] == 0.0
    assert (run / "validation" / "copies=1,eval.temporal_sigma=3.json").is_file()
    assert smooth["pseudo"] == plain["pseudo"]  # same drawn anomalies, another protocol
    with pytest.raises(CheckpointError, match="no calibration.json"):
        validate(run, registry, copies=1, score_overrides=["eval.memory_update=true"])
    mnad = ["eval.memory_update=true", "eval.memory_update_rule=point_score"]  # MNAD's rule: no calibration
    assert validate(run, registry, copies=1, score_overrides=[*mnad, "score.patch=8"])["memory_update"]["frames_seen"] > 0
    calibrate(run, registry)
    updated = validate(run, registry, copies=1, score_overrides=["eval.memory_update=true"])
    assert updated["memory_update"]["frames_seen"] > 0
    with pytest.raises(RecipeError, match="without score.\\* overrides"):
        validate(run, registry, copies=1, score_overrides=["eval.memory_update=true", "score.patch=8"])
    with pytest.raises(RecipeError, match="neither a \\[score\\] key"):
        validate(run, registry, copies=1, score_overrides=["eval.batch_size=2"])
