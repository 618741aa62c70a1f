"""End to end on a tiny synthetic set: train, resume, evaluate, and what the run folder holds."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from _helpers import TINY_MODEL
from sklearn.metrics import roc_auc_score

import vadkit
from vadkit.checkpoint import load_checkpoint
from vadkit.errors import CheckpointError
from vadkit.evaluation.evaluate import evaluate
from vadkit.recipe import load_recipe
from vadkit.training.loss import NonFiniteLossError
from vadkit.training.trainer import train

TINY = TINY_MODEL + """[train]
epochs = 2
batch_size = 4
max_steps_per_epoch = 3
lr = 1e-3
threads = 1
[eval]
batch_size = 16
top_frames = 2
"""


@pytest.fixture(scope="module")
def registry() -> vadkit.registry.Registry:
    return vadkit.create_registry(autoload=False)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vadkit.data.synth import generate

    return generate(tmp_path_factory.mktemp("synth"), seed=1, train_videos=2, test_videos=3, frames=24, size=32, object_size=8)


@pytest.fixture()
def recipe_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def _losses(run: Path) -> list[float]:
    return [json.loads(line)["total"] for line in (run / "log.jsonl").read_text().splitlines() if '"total"' in line]


def test_train_writes_run_folder_and_is_deterministic(recipe_file: Path, synth: Path, registry, tmp_path: Path) -> None:
    recipe = load_recipe(recipe_file)
    a = train(recipe, synth, tmp_path / "a", registry).root
    b = train(recipe, synth, tmp_path / "b", registry).root
    for name in ("recipe.toml", "run.json", "log.jsonl", "checkpoints/last.pt"):
        assert (a / name).is_file(), name
    assert len(_losses(a)) == 6 and _losses(a) == _losses(b)
    ck = load_checkpoint(a / "checkpoints" / "last.pt")
    assert ck["epoch"] == 1 and ck["global_step"] == 6
    assert "memory.items" in ck["model"]
    info = json.loads((a / "run.json").read_text())
    assert info["vadkit_version"] == vadkit.__version__ and info["environment"][0]["torch"] == torch.__version__
    with pytest.raises(CheckpointError, match="already holds a trained checkpoint"):
        train(recipe, synth, a, registry)


def test_resume_after_a_kill_matches_an_uninterrupted_run(recipe_file: Path, synth: Path, registry, tmp_path: Path) -> None:
    full = train(load_recipe(recipe_file), synth, tmp_path / "full", registry).root
    cut = train(load_recipe(recipe_file, ["train.epochs=1"]), synth, tmp_path / "cut", registry).root
    resumed = train(load_recipe(recipe_file), synth, cut, registry, resume=True).root
    assert _losses(resumed) == _losses(full)
    wa = load_checkpoint(full / "checkpoints" / "last.pt")["model"]
    wb = load_checkpoint(resumed / "checkpoints" / "last.pt")["model"]
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], msg=k)


def test_resume_refuses_a_different_architecture(recipe_file: Path, synth: Path, registry, tmp_path: Path) -> None:
    run = train(load_recipe(recipe_file, ["train.epochs=1"]), synth, tmp_path / "r", registry).root
    with pytest.raises(CheckpointError, match=r"model\.memory\.slots 4 -> 6"):
        train(load_recipe(recipe_file, ["model.memory.slots=6"]), synth, run, registry, resume=True)


def test_non_finite_loss_stops_training(recipe_file: Path, synth: Path, registry, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A loss term that overflows (a recipe can no longer ask for an infinite weight, so the
    intensity term is made to overflow) stops training at that step, naming the term."""
    import vadkit.training.loss as loss

    monkeypatch.setattr(loss, "intensity_loss", lambda prediction, target: (prediction.float() * 0).mean() + float("inf"))
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step 1 .*intensity=inf"):
        train(load_recipe(recipe_file), synth, tmp_path / "nan", registry)


def test_evaluate_writes_consistent_metrics_scores_and_pictures(recipe_file: Path, synth: Path, registry, tmp_path: Path) -> None:
    run = train(load_recipe(recipe_file), synth, tmp_path / "e", registry).root
    metrics = evaluate(run, registry)
    on_disk = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= on_disk["auc_micro"] <= 1.0 and 0.0 <= on_disk["auc_macro"] <= 1.0
    assert set(on_disk["auc_per_category"]) == {"appearance", "motion", "joint"}
    with (run / "scores.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:8] == ["video", "frame", "label", "psnr", "contrast", "distance", "regularity", "score"]
    assert len(rows) == 3 * (24 - 4) and min(int(r["frame"]) for r in rows) == 4  # first T frames left out
    labels = np.array([int(r["label"]) for r in rows])
    scores = np.array([float(r["score"]) for r in rows])
    np.testing.assert_allclose(scores, 1 - np.array([float(r["regularity"]) for r in rows]), atol=2e-6)
    assert on_disk["auc_micro"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-5)
    per_video = {}
    for v in sorted({r["video"] for r in rows}):
        sel = np.array([r["video"] == v for r in rows])
        per_video[v] = roc_auc_score(labels[sel], scores[sel])
        reg = np.array([float(r["regularity"]) for r in rows])[sel]
        assert reg.min() >= -1e-6 and reg.max() <= 1 + 1e-6  # min-max per video
    assert on_disk["auc_macro"] == pytest.approx(np.mean(list(per_video.values())), abs=1e-5)
    for p in metrics["pictures"]:
        assert Path(p).stat().st_size > 1000
    assert (run / "plots" / "top_frames.png").is_file()
    assert len(list((run / "plots").glob("regularity_*.png"))) == 3


def test_resume_after_sigkill_mid_epoch(recipe_file: Path, synth: Path, registry, tmp_path: Path) -> None:
    """`vadkit train` killed with SIGKILL while in epoch 2 resumes to the uninterrupted result."""
    import os
    import signal
    import subprocess
    import sys
    import time

    slow = ["--set", "train.epochs=3", "--set", "train.max_steps_per_epoch=40"]
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "vadkit.cli", "train", "--recipe", str(recipe_file), "--data", str(synth),
           "--out", str(run), *slow]
    env = {**os.environ, "VADKIT_DISABLE_PLUGIN_AUTOLOAD": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            lines = (run / "log.jsonl").read_text().splitlines() if (run / "log.jsonl").exists() else []
            if any('"epoch": 2, "step": 5,' in line for line in lines):
                break
            time.sleep(0.05)
        assert proc.poll() is None, "training ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 0  # epoch 1 done, epoch 2 lost
    assert not [p for p in (run / "checkpoints").iterdir() if p.name != "last.pt"]  # no half-written file
    recipe = load_recipe(recipe_file, ["train.epochs=3", "train.max_steps_per_epoch=40"])
    train(recipe, synth, run, registry, resume=True)
    full = train(recipe, synth, tmp_path / "full", registry).root
    wa = load_checkpoint(full / "checkpoints" / "last.pt")["model"]
    wb = load_checkpoint(run / "checkpoints" / "last.pt")["model"]
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], msg=k)


def test_eval_with_test_time_memory_update(recipe_file: Path, synth: Path, registry, tmp_path: Path) -> None:
    """[eval] memory_update: the memory items move during eval, only through frames judged normal,
    and metrics.json says how many were used; without calibration it is a clear error."""
    from vadkit.detect import calibrate

    recipe_file.write_text(TINY + "memory_update = true\n")  # appended to the [eval] table
    run = train(load_recipe(recipe_file), synth, tmp_path / "run", registry).root
    before = load_checkpoint(run / "checkpoints" / "last.pt")["model"]["memory.items"].clone()
    with pytest.raises(CheckpointError, match="no calibration.json"):
        evaluate(run, registry, data_root=synth)
    # MNAD's own rule needs no calibration: a frame updates when its point score is below --th
    mnad = evaluate(run, registry, data_root=synth, eval_overrides=["eval.memory_update_rule=point_score"])
    assert mnad["memory_update"]["rule"].startswith("point_score") and mnad["memory_update"]["threshold"] == 0.01
    assert mnad["memory_update"]["frames_seen"] == mnad["frames_scored"]
    sets = ["eval.memory_update_rule=point_score", "eval.memory_update_point_score=1e-12"]
    none = evaluate(run, registry, data_root=synth, eval_overrides=sets)
    off = evaluate(run, registry, data_root=synth, eval_overrides=["eval.memory_update=false"])
    assert none["memory_update"]["frames_used"] == 0 and none["auc_micro"] == off["auc_micro"]  # nothing moved
    calibrate(run, registry, data_root=synth)
    from vadkit.trained_run import TrainedRun

    trained = TrainedRun.open(run, registry)
    metrics = evaluate(trained, registry, data_root=synth)
    update = metrics["memory_update"]
    assert 0 < update["frames_used"] <= update["frames_seen"] == metrics["frames_scored"]
    after = trained.model.memory.items.detach().cpu()
    assert not torch.equal(before, after)  # items learned from normal test frames
    assert torch.allclose(after.norm(dim=1), torch.ones(after.shape[0]), atol=1e-5)  # still l2-normalised


def test_tensorboard_logger_gets_the_same_scalars(recipe_file: Path, synth: Path, registry, tmp_path: Path) -> None:
    """[train] loggers = ["jsonl", "tensorboard"]: log.jsonl is still written, and the event file
    holds the per-step loss of every step."""
    pytest.importorskip("tensorboard", reason="tensorboard not installed (pip install 'vadkit[tensorboard]')")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    recipe = load_recipe(recipe_file, ['train.loggers=["jsonl", "tensorboard"]'])
    run = train(recipe, synth, tmp_path / "run", registry).root
    assert len(_losses(run)) == 6
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    totals = [e.value for e in events.Scalars("train/total")]
    np.testing.assert_allclose(totals, _losses(run), rtol=1e-5)


def test_eval_with_temporal_smoothing_reports_the_unsmoothed_protocol_beside(recipe_file: Path, synth: Path, registry,
                                                                            tmp_path: Path) -> None:
    """[eval] temporal_sigma: scores.csv keeps the raw statistics, its regularity is eq. 10 on the
    smoothed ones, and metrics.json also holds the paper's unsmoothed AUC of the same run."""
    from vadkit.cli import main
    from vadkit.postprocess.temporal import smooth_series
    from vadkit.scoring import minmax

    run = train(load_recipe(recipe_file), synth, tmp_path / "run", registry).root
    assert main(["eval", "--run", str(run), "--set", "model.frames=2"]) == 2  # only [eval] keys
    metrics = evaluate(run, registry, data_root=synth, eval_overrides=["eval.temporal_sigma=2.0"])
    assert metrics["temporal_sigma"] == 2.0 and metrics["eval_overrides"] == ["eval.temporal_sigma=2.0"]
    with (run / "scores.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    labels = np.array([int(r["label"]) for r in rows])
    raw, smoothed = [], []
    for v in sorted({r["video"] for r in rows}, key=[r["video"] for r in rows].index):
        sel = [r for r in rows if r["video"] == v]
        psnr, dist = (np.array([float(r[k]) for r in sel]) for k in ("psnr", "distance"))
        reg = np.array([float(r["regularity"]) for r in sel])
        expected = 1 - 0.7 * (1 - minmax(smooth_series(psnr, 2.0))) - 0.3 * minmax(smooth_series(dist, 2.0))
        np.testing.assert_allclose(reg, expected, atol=1e-4)  # stats are written to 8 digits
        raw.append(1 - (1 - 0.7 * (1 - minmax(psnr)) - 0.3 * minmax(dist)))
        smoothed.append(1 - reg)
    assert metrics["auc_micro"] == pytest.approx(roc_auc_score(labels, np.concatenate(smoothed)), abs=1e-5)
    assert metrics["unsmoothed"]["auc_micro"] == pytest.approx(roc_auc_score(labels, np.concatenate(raw)), abs=1e-5)


def test_train_loads_its_after_training_steps_before_training(tmp_path: Path) -> None:
    """Calibration and evaluation are imported before a long training starts, so a checkout edited
    or upgraded meanwhile cannot break them (seen: an ImportError after 20 minutes of training)."""
    import subprocess
    import sys

    probe = (
        "import sys, vadkit.training.trainer as t\n"
        "from vadkit.cli import main\n"
        "def fake_train(*a, **k):\n"
        "    needed = ['vadkit.evaluation.evaluate', 'vadkit.detect.calibration', 'vadkit.trained_run']\n"
        "    print('MISSING', [m for m in needed if m not in sys.modules])\n"
        "    raise SystemExit(0)\n"
        "t.train = fake_train\n"
        f"main(['train', '--recipe', 'demo', '--data', {str(tmp_path)!r}])\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert "MISSING []" in out.stdout, out.stdout + out.stderr
