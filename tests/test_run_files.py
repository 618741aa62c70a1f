"""Units of the never-destroy rule that need no trained run: the run folder's names, the shapes
of run files (vadkit/run_schema.py), ranges of numeric settings and what --resume may change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vadkit.cli import main
from vadkit.config import TrainConfig, read_section
from vadkit.errors import RecipeError
from vadkit.recipe import load_recipe, recipe_from_dict
from vadkit.run_folder import RunFolder
from vadkit.run_schema import METRICS, RUN_INFO, RunFileError, clean, read_json, require
from vadkit.training.budget import plan_epochs
from vadkit.training.resume_check import changed_keys, resumable


def test_the_run_folder_names_its_parts(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "plots").mkdir(parents=True)
    (run / "recipe.toml").write_text("")
    folder = RunFolder.enclosing(run / "plots" / "top_frames.png")
    assert folder is not None and folder.root == run.resolve()
    assert folder.part_of(run / "plots" / "x.png") == "plots" and folder.part_of(run / "recipe.toml") == "recipe"
    assert folder.part_of(run / "detect-night" / "a" / "events.json") == "detect"
    assert folder.part_of(run / "report.html") is None and folder.part_of(run) is None
    assert RunFolder.enclosing(tmp_path / "elsewhere.html") is None


def test_wrong_types_are_one_line_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"data_root": "/d", "train": {"epochs": "ten"}}))
    with pytest.raises(RunFileError, match=r"run\.json: key 'train\.epochs' must be an integer, got 'ten'"):
        read_json(path, RUN_INFO)
    path.write_text("[1, 2]")
    with pytest.raises(RunFileError, match=r"run\.json: must be a JSON object, got \[1, 2\]"):
        read_json(path, RUN_INFO)
    path.write_text("{")
    with pytest.raises(RunFileError, match=r"run\.json: not valid JSON"):
        read_json(path, RUN_INFO)
    assert require({"auc_micro": None, "extra": [1]}, METRICS, "metrics.json")  # unknown keys are allowed


def test_clean_drops_only_the_bad_keys() -> None:
    data, problems = clean({"auc_micro": 0.9, "auc_macro": "x", "auc_per_video": {"01": "y"}}, METRICS, "metrics.json")
    assert data == {"auc_micro": 0.9}
    assert problems == ["metrics.json: key 'auc_macro' must be a number or null, got 'x'; key ignored",
                        "metrics.json: key 'auc_per_video.01' must be a number or null, got 'y'; key ignored"]
    assert clean(True, METRICS, "metrics.json")[0] is None


def test_reading_run_json_of_the_wrong_shape_is_one_line(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    run.info.write_text(json.dumps({"data_root": 5}))
    with pytest.raises(RunFileError, match=r"run\.json: key 'data_root' must be a string, got 5"):
        run.read_info()


@pytest.mark.parametrize("setting, needle", [
    ("train.time_budget=1e308", "train.time_budget': must be >= 0 and at most 525600 (0 = no budget"),
    ("train.time_budget=inf", "train.time_budget'"),
    ("train.epochs=100000000", "train.epochs': must be >= 1 and at most 1000000"),
    ("train.seed=-1", "train.seed'"),
    ("train.lr=nan", "train.lr': must be > 0 and at most 10"),
    ("eval.top_frames=100000", "eval.top_frames'"),
    ("detect.threshold_quantile=1.5", "detect.threshold_quantile': must be > 0 and < 1"),
    ("detect.fps=1e308", "detect.fps'"),
    ("loss.weights={intensity=1e300}", "loss.weights'"),
])
def test_numeric_settings_out_of_range_are_one_line(capsys, setting: str, needle: str) -> None:
    code = main(["build", "--recipe", "mstinet", "--set", setting])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and needle in err and "Traceback" not in err, err


def test_a_huge_time_budget_does_not_overflow() -> None:
    recipe = recipe_from_dict({"train": {"time_budget": 1e308}}, "r.toml")
    with pytest.raises(RecipeError, match="train.time_budget"):
        read_section(recipe, "train", TrainConfig)
    plan = plan_epochs(float("inf"), 32, 5.0, 0.1, 100, recipe)  # the planner itself copes with any budget
    assert plan.epochs == 32


def test_resume_names_what_cannot_change_and_allows_the_rest() -> None:
    old = recipe_from_dict({"model": {"resolution": [32, 32], "memory": {"slots": 4}}, "train": {"epochs": 2, "lr": 1e-3},
                            "detect": {"holdout_videos": 2}})
    new = recipe_from_dict({"model": {"resolution": [48, 48], "memory": {"slots": 4}}, "flow": {"preset": "fast"},
                            "train": {"epochs": 9, "lr": 1e-3, "threads": 2, "workers": 1},
                            "eval": {"temporal_sigma": 3.0}, "score": {"tau": 0.5},
                            "detect": {"holdout_videos": 2, "smoothing": 9}})
    assert [k for k, _, _ in changed_keys(old, new)] == ["flow.preset", "model.resolution"]
    assert changed_keys(old, old) == []
    assert not resumable("train.lr") and not resumable("loss.weights.intensity") and not resumable("data.type")
    assert not resumable("detect.holdout_tail") and resumable("detect.smoothing") and resumable("train.epochs")


def test_recipes_of_the_repository_are_within_range() -> None:
    """The ranges refuse only values no run can use: every shipped recipe still reads."""
    from vadkit.config import EvalConfig, LossConfig

    roots = [Path(__file__).resolve().parents[1] / "vadkit" / "recipes"]
    files = [p for root in roots for p in sorted(root.rglob("*.toml"))]
    assert files
    for path in files:
        recipe = load_recipe(path)
        read_section(recipe, "train", TrainConfig)
        read_section(recipe, "loss", LossConfig)
        read_section(recipe, "eval", EvalConfig)
