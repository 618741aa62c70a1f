"""A third-party scorer, installed as its own distribution (examples/plugins/vadkit-patch-scorer),
drives eval, calibration and detect: the scores they write are the scorer's own."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from test_detect import T, scene, tiny_recipe

from vadkit.data import build_clips
from vadkit.detect import calibrate, detect
from vadkit.detect.outputs import read_scores
from vadkit.evaluation.evaluate import evaluate
from vadkit.plugins import create_registry
from vadkit.recipe import recipe_from_dict
from vadkit.trained_run import TrainedRun
from vadkit.training.trainer import train

ANOMALY = (20, 30)
INSTALL = "pip install -e examples/plugins/vadkit-patch-scorer (the README's test command does)"


def _write_video(folder: Path, frames) -> None:
    folder.mkdir(parents=True)
    for k, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{k:03d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))


@pytest.fixture(scope="module")
def patch_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 1-epoch run scored by the entry-point scorer ``patch_error``, calibrated and evaluated."""
    registry = create_registry()
    assert "patch_error" in registry.names("scorer"), f"the example scorer plugin is not installed: {INSTALL}"
    root = tmp_path_factory.mktemp("patch-run")
    rng = np.random.default_rng(1)
    for v in range(2):
        _write_video(root / "data" / "training" / "frames" / f"{v:02d}", scene(rng, 40))
    _write_video(root / "data" / "testing" / "frames" / "00", scene(np.random.default_rng(9), 44, ANOMALY))
    labels = np.zeros(44, np.uint8)
    labels[ANOMALY[0] : ANOMALY[1] + 1] = 1
    np.save(root / "data" / "frame_labels_toy.npy", labels)
    table = tiny_recipe(root / "cache")
    table["score"] = {"type": "patch_error", "patch": 8, "alpha": 0.8}
    table["train"]["epochs"] = 1
    recipe = recipe_from_dict(table, "patch.toml")
    train(recipe, root / "data", root / "run", registry)
    calibrate(root / "run", registry)
    evaluate(root / "run", registry)
    return root / "run", root / "data"


def _direct_stats(run: TrainedRun, data: Path) -> dict[str, np.ndarray]:
    """The scorer called by hand on the model's outputs for every test clip, in order."""
    clips = build_clips(run.recipe, run.registry, data, "testing", uses_motion=run.model.uses_motion)
    out: dict[str, list[float]] = {}
    with torch.no_grad():
        for i in range(len(clips)):
            s = clips[i]
            output = run.model(s["frames"][None], s["flows"][None])
            for k, v in run.scorer.stats(output, s["target"][None]).items():
                out.setdefault(k, []).append(float(v[0]))
    return {k: np.asarray(v) for k, v in out.items()}


def test_eval_writes_the_scorers_own_statistics_and_protocol(patch_run: tuple[Path, Path]) -> None:
    run_dir, data = patch_run
    run = TrainedRun.open(run_dir, create_registry())
    with (run_dir / "scores.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:7] == ["video", "frame", "label", "patch_error", "mean_error", "regularity", "score"]
    assert "psnr" not in rows[0] and "distance" not in rows[0]
    direct = _direct_stats(run, data)
    for name in ("patch_error", "mean_error"):
        np.testing.assert_allclose([float(r[name]) for r in rows], direct[name], rtol=1e-4, atol=1e-7)
    stats = {k: np.asarray([float(r[k]) for r in rows]) for k in ("patch_error", "mean_error")}
    np.testing.assert_allclose([float(r["regularity"]) for r in rows], run.scorer.regularity(stats), atol=2e-6)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["scorer"] == "PatchErrorScorer" and metrics["scorer_protocol"] == run.scorer.protocol()
    assert set(metrics["statistics"]) == {"patch_error", "mean_error"}
    assert set(metrics["diagnostics"]) == {"auc_micro_patch_error_only", "auc_micro_mean_error_only"}


def test_calibration_and_detect_use_the_scorer(patch_run: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, data = patch_run
    registry = create_registry()
    cal = json.loads((run_dir / "calibration.json").read_text())
    assert cal["scorer"] == "PatchErrorScorer" and set(cal["statistics"]) == {"patch_error", "mean_error"}
    assert cal["state"]["weights"] == pytest.approx({"patch_error": 0.8, "mean_error": 0.2})
    [result] = detect(data / "testing" / "frames" / "00", run_dir, tmp_path / "out", registry, video=False)
    assert result.status == "complete" and result.frames_scored == 44 - T
    cols = read_scores(tmp_path / "out" / "scores.csv")
    assert "psnr" not in cols and "distance" not in cols
    with (run_dir / "scores.csv").open() as fh:
        evaluated = list(csv.DictReader(fh))
    for name in ("patch_error", "mean_error"):  # streaming detection sees what eval saw
        np.testing.assert_allclose(cols[name], [float(r[name]) for r in evaluated], rtol=1e-3, atol=1e-6)
    run = TrainedRun.open(run_dir, registry)
    expected = run.scorer.anomaly({k: cols[k] for k in ("patch_error", "mean_error")}, cal["state"])
    np.testing.assert_allclose(cols["score_raw"], expected, atol=1e-3)  # scores.csv rounds to 4 decimals
    offline = 1.0 - run.scorer.regularity({k: cols[k] for k in ("patch_error", "mean_error")})
    np.testing.assert_allclose(cols["offline_minmax_score"], offline, atol=1e-3)
