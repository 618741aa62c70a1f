"""[model] target = "current": reconstruct the last input frame (MNAD's reconstruction model)
instead of predicting the next one, through training, evaluation and streaming detection."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from test_bad_input import make_dataset, tiny_recipe

from vadkit.cli import main
from vadkit.config import read_config
from vadkit.data.clips import ClipDataset
from vadkit.data.video import Video
from vadkit.errors import RecipeError
from vadkit.recipe import dumps_toml, recipe_from_dict


class ArrayVideo(Video):
    """A video held in memory: frame k is filled with the value k."""

    def __init__(self, name: str, n: int) -> None:
        super().__init__(name=name, split="training", num_frames=n)

    def read(self, index: int) -> np.ndarray:
        return np.full((8, 8, 3), index * 10, np.uint8)

    def file_of(self, index: int) -> str:
        return f"{self.name}/{index}"


def _value(t) -> int:  # frame value back from [-1, 1]
    return round((float(t.mean()) + 1) * 127.5 / 10)


@pytest.mark.parametrize("target, first, inputs", [("next", 2, [0, 1]), ("current", 1, [0, 1])])
def test_clips_take_the_target_after_or_at_the_last_input(target: str, first: int, inputs: list[int]) -> None:
    clips = ClipDataset([ArrayVideo("a", 5)], frames=2, resolution=(8, 8), target=target)
    assert clips.index[0] == (0, first) and len(clips) == 5 - first
    sample = clips[0]
    assert [_value(f) for f in sample["frames"]] == inputs
    assert _value(sample["target"]) == first and sample["frame"] == first


def test_reconstruction_needs_only_t_frames_per_video() -> None:
    assert len(ClipDataset([ArrayVideo("a", 1)], frames=1, resolution=(8, 8), target="current")) == 1
    with pytest.raises(Exception, match="a clip needs 2"):
        ClipDataset([ArrayVideo("a", 1)], frames=1, resolution=(8, 8), target="next")


def test_target_is_a_checked_choice() -> None:
    with pytest.raises(RecipeError, match=r"model\.target.*'next', 'current'.*Did you mean 'current'"):
        read_config(recipe_from_dict({**tiny_recipe(), "model": {**tiny_recipe()["model"], "target": "curent"}}))


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_reconstruction_model_trains_evaluates_and_detects_every_frame(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", frames=12)
    recipe = tiny_recipe()
    recipe["model"] = {**recipe["model"], "frames": 1, "target": "current"}
    (tmp_path / "r.toml").write_text(dumps_toml({**recipe, "detect": {"holdout_videos": 0}}))
    run = tmp_path / "run"
    assert main(["train", "--recipe", str(tmp_path / "r.toml"), "--data", str(data), "--out", str(run), "--eval"]) == 0
    scored = _rows(run / "scores.csv")
    assert len(scored) == 12 and scored[0]["frame"] == "0"  # no frame is lost to the clip: all 12 scored
    out = tmp_path / "det"
    assert main(["detect", str(data / "testing" / "frames" / "01"), "--run", str(run), "--no-video", "--out", str(out)]) == 0
    streamed = _rows(out / "scores.csv")
    assert len(streamed) == 12 and streamed[0]["frame"] == "0"
    offline = {r["frame"]: float(r["psnr"]) for r in scored}
    for row in streamed:  # streaming scores the same clips as evaluation
        assert float(row["psnr"]) == pytest.approx(offline[row["frame"]], abs=1e-3)
