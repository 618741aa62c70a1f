"""vadkit deletes or overwrites only files it can prove it wrote (docs/architecture.md).

One tiny trained and evaluated run is shared by the module. Every writing command is pointed
at its own inputs and at every file of the run; each must refuse (exit 2, one line) and leave
every file byte for byte as it was (sha256 before and after). Also: eval on a data root without
a testing split, eval that fails half-way, resume after a recipe change, and the report on run
files holding values of the wrong type.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from _helpers import TINY_MODEL

import vadkit
from vadkit.cli import main
from vadkit.evaluation.evaluate import evaluate
from vadkit.recipe import load_recipe
from vadkit.run_folder import RunFolder
from vadkit.training.resume_check import ResumeMismatch, check_resume
from vadkit.training.trainer import train

TINY = TINY_MODEL + """[train]
epochs = 2
batch_size = 4
max_steps_per_epoch = 2
lr = 1e-3
threads = 1
seed = 0
[eval]
batch_size = 16
top_frames = 1
"""


@pytest.fixture(scope="module")
def registry() -> vadkit.registry.Registry:
    return vadkit.create_registry(autoload=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, registry) -> tuple[Path, Path, Path]:
    """(run, data root, recipe file): 2 epochs of 2 steps at 32x32, evaluated (a few seconds)."""
    from vadkit.data.synth import generate

    base = tmp_path_factory.mktemp("never-destroy")
    data = generate(base / "synth", seed=1, train_videos=2, test_videos=2, frames=20, size=32, object_size=8)
    recipe = base / "tiny.toml"
    recipe.write_text(TINY)
    run = train(load_recipe(recipe), data, base / "run", registry).root
    evaluate(run, registry)
    return run, data, recipe


def hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, by relative path."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def cli(capsys: pytest.CaptureFixture, *argv: object) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, " ".join((out + err).split())  # rich wraps long lines


def copy_run(run: Path, dst: Path) -> Path:
    shutil.copytree(run, dst)
    return dst


def run_targets(run: Path) -> list[Path]:
    """The run folder, its part folders and every file of its parts."""
    folder = RunFolder(run)
    return [run, folder.plots, folder.checkpoint.parent, *folder.files()]


def commands(run: Path, source: Path) -> dict[str, callable]:
    """Each writing command with its output pointed at ``target``."""
    return {
        "report": lambda t: ["report", run, "--out", t, "--no-build"],
        "export": lambda t: ["export", "--run", run, "--out", t],
        "detect": lambda t: ["detect", source, "--run", run, "--out", t, "--no-video"],
        "eval": lambda t: ["eval", "--run", run, "--data", t],
        "calibrate": lambda t: ["calibrate", "--run", run, "--data", t],
        "validate": lambda t: ["validate", "--run", run, "--data", t],
    }


@pytest.mark.parametrize("command", ["report", "export", "detect", "eval", "calibrate", "validate"])
def test_no_command_overwrites_its_inputs_or_the_run(capsys, trained, command: str) -> None:
    """Property: every output pointed at an input or a run file is refused and changes nothing."""
    run, data, _ = trained
    source = data / "testing" / "frames" / "01"
    argv = commands(run, source)[command]
    # eval, calibrate and validate write fixed parts of --run: their only pointable path is --data
    targets = [run] if command in ("eval", "calibrate", "validate") else run_targets(run)
    if command == "detect":
        targets += [source, *sorted(source.iterdir())[:2]]
    before_run, before_data = hashes(run), hashes(data)
    for target in targets:
        code, text = cli(capsys, *argv(target))
        assert code == 2, f"{command} -> {target}: exit {code}: {text}"
        assert text.startswith("error:") and "Traceback" not in text, text
        assert hashes(run) == before_run and hashes(data) == before_data, f"{command} -> {target} modified a file"
    assert targets


def test_report_into_the_run_refuses_its_recipe(capsys, trained) -> None:
    run = trained[0]
    recipe = (run / "recipe.toml").read_bytes()
    code, text = cli(capsys, "report", run, "--out", run / "recipe.toml", "--no-build")
    assert code == 2 and "recipe.toml" in text and "--force" in text
    assert (run / "recipe.toml").read_bytes() == recipe


def test_force_writes_where_the_guard_refuses(trained, tmp_path) -> None:
    from vadkit.output_guard import OutputRefused, check_output

    run = trained[0]
    with pytest.raises(OutputRefused, match=r"is a run folder; `vadkit detect` would write its files among the run's"):
        check_output(run, command="detect", runs=[run], own_run=run, folder=True, files=("scores.csv",))
    with pytest.raises(OutputRefused, match=r"scores\.csv\) of its run, which `vadkit detect` does not write"):
        check_output(run / "scores.csv", command="detect", own_run=run)
    assert check_output(run, command="detect", runs=[run], own_run=run, folder=True, force=True) == run
    other = copy_run(run, tmp_path / "other")  # a run export does not own
    with pytest.raises(OutputRefused, match="exported models"):
        check_output(other / "export" / "onnx", command="export", runs=[run], own_run=run, folder=True)
    check_output(run / "export" / "onnx", command="export", runs=[run], own_run=run, folder=True)  # its own


def test_eval_without_a_testing_split_is_an_error_and_keeps_the_results(capsys, trained, tmp_path) -> None:
    run, data, _ = trained
    run = copy_run(run, tmp_path / "run")
    root = tmp_path / "no-test"
    shutil.copytree(data / "training", root / "training")
    before = hashes(run)
    code, text = cli(capsys, "eval", "--run", run, "--data", root)
    assert code == 2 and str(root) in text and "no testing split" in text, text
    assert hashes(run) == before


def test_eval_that_fails_half_way_keeps_the_previous_results(capsys, trained, tmp_path) -> None:
    """The pictures are drawn before anything is renamed into place: with plots/ blocked by a
    file, eval fails after scoring and metrics.json, scores.csv are as before, no temporary left."""
    run = copy_run(trained[0], tmp_path / "run")
    shutil.rmtree(run / "plots")
    (run / "plots").write_text("a file where the pictures folder belongs")
    before = hashes(run)
    code, text = cli(capsys, "eval", "--run", run)
    assert code == 2 and "plots" in text, text
    assert hashes(run) == before and not list(run.glob(".*.tmp"))


def test_resume_refuses_a_changed_model_and_allows_more_epochs(trained, registry, tmp_path) -> None:
    run, data, recipe = trained
    run = copy_run(run, tmp_path / "run")
    before = hashes(run)
    for change in ("model.resolution=[48, 48]", 'flow.preset="fast"', "data.type=\"frames\"", "train.lr=0.01"):
        with pytest.raises(ResumeMismatch, match=change.split("=")[0].replace(".", r"\.")):
            train(load_recipe(recipe, [change]), data, run, registry, resume=True)
        assert hashes(run) == before, change  # refused before anything was written
    more = train(load_recipe(recipe, ["train.epochs=3", "train.time_budget=30"]), data, run, registry, resume=True)
    assert json.loads(more.info.read_text())["epochs_completed"] == 3
    check_resume(RunFolder(run), load_recipe(recipe, ["train.lr=0.01"]), force=True)  # --force: no check


def test_report_lists_values_of_the_wrong_type_instead_of_failing(capsys, trained, tmp_path) -> None:
    run = copy_run(trained[0], tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    metrics.update({"auc_micro": "high", "auc_per_video": [1, 2], "videos": "two"})
    (run / "metrics.json").write_text(json.dumps(metrics))
    with (run / "log.jsonl").open("a") as fh:
        fh.write(json.dumps({"epoch": "one", "step": 3, "seconds": [1.0]}) + "\n")
        fh.write(json.dumps({"epoch": 3, "epoch_end": True, "seconds": [1.0, 2.0]}) + "\n")
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "train": [1], "data_root": 5}))
    (run / "validation").mkdir()
    (run / "validation" / "v.json").write_text(json.dumps({"auc_micro": {"x": 1}, "held_out_videos": "01"}))
    code, text = cli(capsys, "report", run, "--out", run / "report.html", "--no-build")  # no part of the run
    assert code == 0 and (run / "report.html").is_file(), text
    for needle in ("metrics.json: key 'auc_micro' must be a number or null, got 'high'",
                   "metrics.json: key 'auc_per_video' must be a JSON object", "metrics.json: key 'videos'",
                   "log.jsonl line", "key 'epoch' must be an integer, got 'one'", "key 'seconds' must be a number",
                   "run.json: key 'train' must be a JSON object", "run.json: key 'data_root' must be a string",
                   "validation/v.json: key 'auc_micro'", "validation/v.json: key 'held_out_videos'"):
        assert needle in text, needle
    # a command that needs the file says which key is wrong, in one line
    code, text = cli(capsys, "eval", "--run", run)
    assert code == 2 and "run.json: key 'data_root' must be a string, got 5" in text, text
