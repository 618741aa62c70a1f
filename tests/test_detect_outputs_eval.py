"""`vadkit eval --detections DIR --data ROOT`: `vadkit detect` outputs scored against labels give
the detection metrics `vadkit eval --run` gives for the same videos (issue 19, item 5)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from test_detect import tiny_recipe

from vadkit import default_registry
from vadkit.cli import main
from vadkit.data.synth import generate
from vadkit.detect import calibrate
from vadkit.recipe import recipe_from_dict
from vadkit.training.trainer import train


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A tiny run on a synthetic scene, evaluated, and `vadkit detect` on its whole test split."""
    root = tmp_path_factory.mktemp("detect-outputs")
    data = generate(root / "scene", seed=0, train_videos=4, test_videos=3, size=64, object_size=10, frames=60)
    recipe = tiny_recipe(root / "cache")
    recipe["detect"] = {"holdout_videos": 1}
    registry = default_registry()
    train(recipe_from_dict(recipe, "tiny.toml"), data, root / "run", registry, console=Console(file=io.StringIO()))
    calibrate(root / "run", registry, console=Console(quiet=True))
    assert main(["eval", "--run", str(root / "run")]) == 0
    out = root / "det"
    assert main(["detect", str(data / "testing" / "frames"), "--run", str(root / "run"), "--out", str(out), "--no-video"]) == 0
    return root / "run", data, out


def _scored(capsys: pytest.CaptureFixture, *args: str) -> dict:
    capsys.readouterr()
    assert main(["eval", "--detections", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_detect_outputs_score_like_eval(capsys: pytest.CaptureFixture, detected: tuple[Path, Path, Path]) -> None:
    run, data, out = detected
    mine = _scored(capsys, str(out), "--data", str(data))
    theirs = json.loads((run / "metrics.json").read_text())["detection"]
    assert mine["videos"] == ["01", "02", "03"] and mine["complete"] and mine["at_recall_note"] is None
    for key in ("anomaly_spans", "spans_found", "events", "false_alarms", "lead_in_flags"):
        assert mine[key] == theirs[key], key
    for key in ("auc_pooled", "auc_pooled_raw", "eer", "frame_f1", "normal_frames_flagged"):
        assert mine[key] == pytest.approx(theirs[key], abs=0.02), key
    assert mine["at_recall"]["threshold"] is not None and mine["latency"]["spans"] == theirs["latency"]["spans"]
    assert json.loads((out / "detection_metrics.json").read_text())["spans_found"] == mine["spans_found"]


def test_one_source_folder_is_matched_by_its_source_name(capsys: pytest.CaptureFixture,
                                                          detected: tuple[Path, Path, Path]) -> None:
    _, data, out = detected
    one = _scored(capsys, str(out / "02"), "--data", str(data))
    assert one["videos"] == ["02"] and one["anomaly_spans"] >= 1


def _error(capsys: pytest.CaptureFixture, *args: str) -> str:
    capsys.readouterr()
    assert main(["eval", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "Traceback" not in err, err  # one message (rich wraps it at 80 columns)
    return " ".join(err.split())


def test_bad_input_is_one_line(capsys: pytest.CaptureFixture, detected: tuple[Path, Path, Path],
                               tmp_path: Path) -> None:
    _, data, out = detected
    assert "needs --data" in _error(capsys, "--detections", str(out))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no `vadkit detect` outputs" in _error(capsys, "--detections", str(empty), "--data", str(data))
    other = generate(tmp_path / "other", seed=1, train_videos=1, test_videos=1, size=32, object_size=8, frames=20)
    assert "no video '02'" in _error(capsys, "--detections", str(out / "02"), "--data", str(other))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    for name in ("events.json", "scores.csv"):
        (foreign / name).write_bytes((out / "01" / name).read_bytes())
    (foreign / "detection_metrics.json").write_text('{"mine": true}')
    assert "not written by `vadkit eval --detections`" in _error(capsys, "--detections", str(foreign), "--data", str(data))
    assert json.loads((foreign / "detection_metrics.json").read_text()) == {"mine": True}


def test_incomplete_and_refitted_outputs_are_said(capsys: pytest.CaptureFixture, detected: tuple[Path, Path, Path],
                                                  tmp_path: Path) -> None:
    """An interrupted source is scored but reported; a re-fitted one gets no at-recall figure."""
    _, data, out = detected
    copy = tmp_path / "copy" / "01"
    copy.mkdir(parents=True)
    (copy / "scores.csv").write_bytes((out / "01" / "scores.csv").read_bytes())
    status = json.loads((out / "01" / "events.json").read_text())
    (copy / "events.json").write_text(json.dumps({**status, "status": "interrupted", "refit": {"frames": 20}}))
    result = _scored(capsys, str(copy.parent), "--data", str(data))
    assert result["complete"] is False and result["incomplete"] == {"01": "interrupted"}
    assert result["at_recall"] is None and "re-fitted" in result["at_recall_note"]
