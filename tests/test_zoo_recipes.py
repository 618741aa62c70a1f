"""Every zoo recipe builds through `vadkit build`, trains one step on tiny synthetic data, and
meets bad input with the same one-line errors as today's recipes (ped2-cpu)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _helpers import REPO

from vadkit.cli import main
from vadkit.config import read_config
from vadkit.recipe import load_recipe
from vadkit.run_folder import RunFolder

ZOO_RECIPES = sorted((REPO / "recipes" / "zoo").glob("*.toml"))
IDS = [p.name for p in ZOO_RECIPES]
# 32x32 and small widths: the architecture of each recipe, shrunk
SMALL = ["--set", "model.resolution=[32, 32]", "--set", "model.appearance.widths=[8, 16, 32, 64]"]
ONE_STEP = ["--set", "train.epochs=1", "--set", "train.max_steps_per_epoch=1", "--set", "train.time_budget=0",
            "--set", "train.batch_size=2", "--set", "train.threads=1", "--set", "detect.holdout_videos=1"]


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vadkit.data.synth import generate

    return generate(tmp_path_factory.mktemp("synth"), seed=1, train_videos=3, test_videos=1, frames=20, size=32, object_size=8)


@pytest.mark.parametrize("recipe", ZOO_RECIPES, ids=IDS)
def test_zoo_recipe_builds(capsys: pytest.CaptureFixture, recipe: Path) -> None:
    assert main(["build", "--recipe", str(recipe), *SMALL, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["total_params"] > 0 and info["gflops_per_frame"] > 0


@pytest.mark.parametrize("recipe", ZOO_RECIPES, ids=IDS)
def test_zoo_recipe_trains_one_step(capsys: pytest.CaptureFixture, recipe: Path, synth: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["train", "--recipe", str(recipe), "--data", str(synth), "--out", str(out), *SMALL, *ONE_STEP]) == 0
    steps = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if '"step"' in line]
    assert len(steps) == 1 and steps[0]["total"] > 0
    recipe_text = recipe.read_text()
    if "gradient =" in recipe_text:
        assert steps[0]["gradient"] > 0  # FFP's gradient loss is optimised
    if "flow =" in recipe_text:
        assert steps[0]["flow"] >= 0  # FFP's flow loss is computed (Horn-Schunck flows)
    if "memory_bank" in recipe_text:
        assert {"gather", "triplet"} <= set(steps[0])
    assert RunFolder(out).checkpoint.is_file() and (out / "calibration.json").is_file()
    # the ONNX export of the trained run matches PyTorch (vadkit export checks it with onnxruntime)
    assert main(["export", "--run", str(out), "--out", str(tmp_path / "onnx")]) == 0
    check = json.loads((tmp_path / "onnx" / "manifest.json").read_text())["check"]
    if "max_abs_diff" in check:
        assert max(check["max_abs_diff"].values()) < 1e-4


def _error(capsys: pytest.CaptureFixture, recipe: Path, synth: Path, out: Path, *overrides: str) -> str:
    sets = [a for o in overrides for a in ("--set", o)]
    assert main(["train", "--recipe", str(recipe), "--data", str(synth), "--out", str(out), *SMALL, *ONE_STEP, *sets]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "Traceback" not in err
    return " ".join(err.split())


@pytest.mark.parametrize("overrides", [("model.image_channels=2",), ("model.frames=20",)], ids=["channels", "clip-length"])
def test_zoo_bad_input_errors_match_todays_recipes(capsys: pytest.CaptureFixture, synth: Path, tmp_path: Path,
                                                   overrides: tuple[str, ...]) -> None:
    """Wrong image channels, and a clip longer than every video (20 frames: a clip needs 21)."""
    reference = _error(capsys, REPO / "recipes" / "ped2-cpu.toml", synth, tmp_path / "ref", *overrides)
    assert "image_channels must be 1 or 3" in reference or "a clip needs 21" in reference
    for recipe in ZOO_RECIPES:
        mine = overrides
        if read_config(load_recipe(recipe)).model.target == "current" and overrides == ("model.frames=20",):
            mine = ("model.frames=21",)  # a reconstruction clip is T frames long: 21 frames need 21
        assert _error(capsys, recipe, synth, tmp_path / recipe.stem, *mine) == reference, recipe.name



# One CPU recipe per zoo model (each paper-scale recipe builds the same parts at other sizes).
ZOO_CPU_RECIPES = sorted((REPO / "recipes" / "zoo").glob("*-ped2-cpu.toml"))


@pytest.mark.parametrize("recipe", ZOO_CPU_RECIPES, ids=[p.name for p in ZOO_CPU_RECIPES])
def test_every_job_runs_on_every_zoo_model(capsys: pytest.CaptureFixture, recipe: Path, synth: Path,
                                           tmp_path: Path) -> None:
    """Issue 22, item 5: eval, validate, calibrate, detect and report on each trained zoo model."""
    run = tmp_path / "run"
    assert main(["train", "--recipe", str(recipe), "--data", str(synth), "--out", str(run), *SMALL, *ONE_STEP]) == 0
    capsys.readouterr()
    assert main(["eval", "--run", str(run), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert 0.0 <= metrics["auc_micro"] <= 1.0 and metrics["frames_scored"] > 0
    assert "detection" in metrics  # scored at the calibrated threshold that training wrote
    assert main(["validate", "--run", str(run), "--copies", "1", "--json"]) == 0
    validation = json.loads(capsys.readouterr().out)
    assert validation["frames_scored"] > 0 and 0.0 <= validation["auc_micro"] <= 1.0
    assert main(["calibrate", "--run", str(run)]) == 0
    video = next(p for p in sorted((synth / "testing" / "frames").iterdir()) if p.is_dir())
    out = tmp_path / "detect"
    assert main(["detect", str(video), "--run", str(run), "--out", str(out), "--no-video"]) == 0
    events = json.loads((out / "events.json").read_text())
    assert events["status"] == "complete" and events["frames_scored"] > 0
    assert len((out / "scores.csv").read_text().splitlines()) == events["frames_scored"] + 1
    html = tmp_path / "report.html"
    assert main(["report", str(run), "--out", str(html)]) == 0
    assert html.stat().st_size > 0 and recipe.stem.removesuffix("-ped2-cpu") in html.read_text()


def test_seeds_job_runs_every_zoo_model(capsys: pytest.CaptureFixture, synth: Path, tmp_path: Path) -> None:
    """`vadkit ablate --seeds` trains, calibrates and evaluates each zoo model per seed (MNAD's
    test-time memory update needs the calibration before evaluation) and writes the table."""
    recipes = ",".join(str(p) for p in ZOO_CPU_RECIPES)
    out = tmp_path / "seeds"
    assert main(["ablate", "--recipes", recipes, "--seeds", "0,1", "--data", str(synth), "--out", str(out),
                 *SMALL, *ONE_STEP]) == 0
    variants = {v["recipe"]: v for v in json.loads((out / "table.json").read_text())["variants"]}
    assert set(variants) == {recipe.stem for recipe in ZOO_CPU_RECIPES}
    assert all(v["model"] == name for name, v in variants.items())  # mnad-pred and mnad-recon stay apart
    for name, variant in variants.items():
        assert variant["seeds"] == [0, 1] and len(variant["values"]["auc_micro"]) == 2, name
        assert all((out / name / f"seed{seed}" / "calibration.json").is_file() for seed in (0, 1))
