"""Detection on footage the model has not seen, with a tiny model trained on one synthetic scene:
held-out calibration, `vadkit eval`'s detection metrics = `vadkit detect` frame by frame, and a
"new camera" (brighter, busier scene) whose normal frames are not flagged wholesale."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from rich.console import Console
from test_detect import tiny_recipe

from vadkit import default_registry
from vadkit.data.factory import build_clips
from vadkit.data.synth import generate
from vadkit.detect import calibrate, detect
from vadkit.detect.calibration import load_calibration, resolve_threshold
from vadkit.detect.detection_metrics import detection_metrics
from vadkit.detect.outputs import read_scores
from vadkit.errors import CheckpointError
from vadkit.evaluation.detection import stream_videos
from vadkit.evaluation.evaluate import evaluate
from vadkit.inference import collect_stats
from vadkit.recipe import recipe_from_dict
from vadkit.trained_run import TrainedRun
from vadkit.training.trainer import train

SCENE = {"size": 64, "object_size": 10, "frames": 60}


def brighten(root: Path, delta: int, splits: tuple[str, ...] = ("testing",)) -> None:
    for f in sorted(f for split in splits for f in (root / split / "frames").rglob("*.png")):
        img = cv2.imread(str(f)).astype(np.int16) + delta
        cv2.imwrite(str(f), np.clip(img, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def scene_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A 2-epoch 32x32 model on 4 normal videos of one scene, one of them held out for calibration."""
    root = tmp_path_factory.mktemp("new-camera")
    data = generate(root / "scene", seed=0, train_videos=4, test_videos=2, **SCENE)
    recipe = tiny_recipe(root / "cache")
    recipe["detect"] = {"holdout_videos": 1}
    registry = default_registry()
    log = io.StringIO()
    train(recipe_from_dict(recipe, "tiny.toml"), data, root / "run", registry, console=Console(file=log, width=200))
    calibrate(root / "run", registry, console=Console(quiet=True))
    return root / "run", data, log.getvalue()


def test_calibration_uses_only_the_held_out_video(scene_run: tuple[Path, Path, str]) -> None:
    run, _, log = scene_run
    cal = json.loads((run / "calibration.json").read_text())
    assert cal["holdout"]["applied"] and cal["holdout"]["held_out_videos"] == ["03"]
    assert [u["video"] for u in cal["frames_used"]] == ["03"] and cal["frames"] == 60 - 4
    assert "training 168 clips" in " ".join(log.split())  # 3 videos x 56 clips: the held-out one was skipped


def test_eval_detection_is_detect_frame_by_frame(scene_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    """metrics.json's detection part streams eval's statistics through detect's path: the same
    scores and flags as `vadkit detect` on the same video (batched vs one clip at a time, so
    equal to float tolerance; a flag may differ only where the score is at the threshold)."""
    run, data, _ = scene_run
    registry = default_registry()
    metrics = evaluate(run, registry, console=Console(quiet=True))
    d = metrics["detection"]
    for key in ("event_precision", "event_recall", "event_f1", "frame_f1", "false_alarms_per_hour", "auc_pooled"):
        assert key in d
    assert json.loads((run / "metrics.json").read_text())["detection"]["event_f1"] == d["event_f1"]
    trained = TrainedRun.open(run, registry)
    clips = build_clips(trained.recipe, registry, data, "testing", uses_motion=trained.model.uses_motion)
    streamed, used = stream_videos(trained, collect_stats(trained.model, clips, trained.scorer, trained.device))
    [result] = detect(data / "testing" / "frames" / "01", trained, tmp_path, registry, video=False)
    cols = read_scores(tmp_path / "scores.csv")
    v = streamed[0]
    assert v.name == "01" and np.array_equal(cols["frame"], v.frames)
    assert np.allclose(cols["score"], v.scores, atol=2e-3)
    clear = np.abs(v.scores - used["threshold"]) > 1e-2
    assert np.array_equal(cols["flagged"][clear].astype(bool), v.flags[clear])
    assert [(e.start_frame, e.end_frame) for e in result.events] == [(e.start_frame, e.end_frame) for e in v.events]


def test_a_new_camera_is_not_flagged_wholesale(scene_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    """The same layout filmed brighter (+30 grey levels) with about twice the normal objects:
    fewer than half of each video's normal frames are flagged, with the calibrated score alone
    and with the running normalisation (which re-centres on the stream)."""
    run, _, _ = scene_run
    other = generate(tmp_path / "camera2", seed=0, train_videos=4, test_videos=2, objects=(4, 6), **SCENE)
    brighten(other, 30)
    registry = default_registry()
    trained = TrainedRun.open(run, registry)
    clips = build_clips(trained.recipe, registry, other, "testing", uses_motion=trained.model.uses_motion)
    videos = collect_stats(trained.model, clips, trained.scorer, trained.device)
    plain, _ = stream_videos(trained, videos, {"running_norm": False})
    follow, _ = stream_videos(trained, videos, {"running_norm": True})
    normal_flagged = {name: [v.flags[v.labels == 0].mean() for v in s] for name, s in (("plain", plain),
                                                                                         ("follow", follow))}
    # since the contrast statistic and the shift-aware evidence (issue 19), the calibrated score
    # alone no longer flags this camera wholesale; the running normalisation keeps it that way
    assert all(f < 0.5 for f in normal_flagged["plain"] + normal_flagged["follow"]), normal_flagged
    assert np.mean(normal_flagged["follow"]) <= np.mean(normal_flagged["plain"]) + 0.05, normal_flagged
    assert detection_metrics(plain, 25.0)["videos_mostly_flagged"] == []
    assert detection_metrics(follow, 25.0)["videos_mostly_flagged"] == []


def test_calibration_weights_come_from_held_out_pseudo_anomalies(scene_run: tuple[Path, Path, str]) -> None:
    """The default calibration is the scale-free tail one, weighted by each statistic's pooled
    AUC on pseudo-anomalies drawn into the held-out video; calibration.json shows both."""
    run, _, _ = scene_run
    cal = json.loads((run / "calibration.json").read_text())
    state, evidence = cal["state"], cal["evidence"]
    assert state["method"] == "tail" and set(state["weights"]) == {"psnr", "contrast", "distance"}
    assert set(evidence["auc_pooled"]) == {"psnr", "contrast", "distance"} and "03" in evidence["source"]
    assert evidence["shifted"] is True and "photometric shift" in evidence["source"]  # the default
    assert evidence["abnormal_frames"] > 0 and abs(sum(state["weights"].values()) - 1) < 1e-9
    assert state["weights_source"] in ("evidence", "scorer weights (every statistic at chance)")
    assert np.isfinite(cal["threshold"])


def _new_camera(tmp_path: Path) -> Path:
    other = generate(tmp_path / "camera2", seed=0, train_videos=2, test_videos=2, objects=(4, 6), **SCENE)
    brighten(other, 30, ("training", "testing"))  # the new camera's normal footage too
    return other


def test_new_camera_fit_on_its_normal_footage(scene_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    """`vadkit calibrate --data NEW_CAMERA`: the state and threshold are fitted on the new
    camera's (unlabelled, normal) footage, the run's evidence weights are kept, and few of the new
    camera's normal test frames are flagged without any running normalisation."""
    run, _, _ = scene_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    other = _new_camera(tmp_path)
    registry = default_registry()
    trained = TrainedRun.open(copy, registry)
    clips = build_clips(trained.recipe, registry, other, "testing", uses_motion=trained.model.uses_motion)
    videos = collect_stats(trained.model, clips, trained.scorer, trained.device)
    before, _ = stream_videos(trained, videos, {"running_norm": False})
    calibrate(copy, registry, other, console=Console(quiet=True))
    cal = json.loads((copy / "calibration.json").read_text())
    assert not cal["holdout"]["applied"] and [u["video"] for u in cal["frames_used"]] == ["01", "02"]
    assert "kept from the run's previous calibration" in cal["evidence"]["note"]
    after, _ = stream_videos(TrainedRun.open(copy, registry), videos, {"running_norm": False})
    flagged = {name: float(np.mean([v.flags[v.labels == 0].mean() for v in s]))
               for name, s in (("before", before), ("after", after))}
    # before the fit the shift-robust score (issue 19) already leaves this camera's normal frames
    # mostly unflagged; after it the threshold is the camera's own and still flags few of them
    assert flagged["after"] < 0.25 and flagged["before"] < 0.5, flagged
    assert cal["threshold"] != json.loads((run / "calibration.json").read_text())["threshold"]


def test_footage_evidence_measures_the_weights_on_the_new_camera(scene_run: tuple[Path, Path, str],
                                                                 tmp_path: Path) -> None:
    """`calibrate --data NEW --footage-evidence`: the weights come from pseudo-anomalies drawn into
    the new camera's own footage (its videos named in the source), not from the run's hold-out;
    the run's own calibration (hold-out, no --data) is unaffected by the setting."""
    run, _, _ = scene_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    other = _new_camera(tmp_path)
    registry = default_registry()
    cal = calibrate(copy, registry, other, console=Console(quiet=True), overrides={"footage_evidence": True})
    evidence = cal["evidence"]
    assert "calibration footage's videos 01, 02" in evidence["source"] and "note" not in evidence
    assert set(evidence["auc_pooled"]) == {"psnr", "contrast", "distance"} and evidence["abnormal_frames"] > 0
    held_out = json.loads((run / "calibration.json").read_text())["evidence"]["auc_pooled"]
    assert evidence["auc_pooled"] != held_out  # measured on other frames
    assert abs(sum(cal["state"]["weights"].values()) - 1) < 1e-9 and np.isfinite(cal["threshold"])
    own = calibrate(copy, registry, console=Console(quiet=True), overrides={"footage_evidence": True})
    assert "03" in own["evidence"]["source"] and "calibration footage" not in own["evidence"]["source"]


def test_refit_during_detect_fits_each_source_on_its_first_frames(scene_run: tuple[Path, Path, str],
                                                                  tmp_path: Path) -> None:
    """[detect] refit_frames = 20: the first 20 scored frames are never flagged, then the source
    has its own threshold (events.json says so)."""
    run, _, _ = scene_run
    other = _new_camera(tmp_path)
    registry = default_registry()
    [result] = detect(other / "testing" / "frames" / "01", run, tmp_path / "out", registry, video=False,
                      overrides={"refit_frames": 20, "running_norm": False}, console=Console(quiet=True))
    cols = read_scores(tmp_path / "out" / "scores.csv")
    assert not cols["flagged"][:20].astype(bool).any()
    info = json.loads((tmp_path / "out" / "events.json").read_text())
    assert info["refit"]["done"] and info["refit"]["frames"] == 20
    cal = json.loads((run / "calibration.json").read_text())
    assert result.threshold == info["refit"]["threshold"] != cal["threshold"]


def test_report_shows_the_weights_and_their_evidence(scene_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    from vadkit.report import write_report

    run, _, _ = scene_run
    write_report([run], tmp_path / "r.html", build=False)
    html = (tmp_path / "r.html").read_text()
    cal = json.loads((run / "calibration.json").read_text())
    assert "Calibration: the detection score and its weights" in html and "pooled pseudo-anomaly AUC" in html
    assert cal["evidence"]["source"] in html
    recall = cal["pseudo_recall"]
    assert f"{recall['spans_caught']} of {recall['spans']} pseudo-anomalies" in html  # what the threshold catches
    assert "held-out normal flagged %" in html and "pseudo caught" in html  # the operating points


def test_shift_aware_evidence_and_the_contrast_statistic(scene_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    """`[detect] evidence_shift` (the default) measures the evidence on photometrically shifted
    pseudo-videos; `--no-evidence-shift` measures it on them as drawn, with other AUCs. `[score]
    contrast = 0` drops the contrast statistic, and a calibration fitted for other statistics is
    refused with a clear message."""
    run, _, _ = scene_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    registry = default_registry()
    shifted = json.loads((run / "calibration.json").read_text())["evidence"]
    calibrate(copy, registry, console=Console(quiet=True), overrides={"evidence_shift": False})
    plain = json.loads((copy / "calibration.json").read_text())["evidence"]
    assert plain["shifted"] is False and "photometric shift" not in plain["source"]
    assert shifted["auc_pooled"] != plain["auc_pooled"]
    without = TrainedRun.open(copy, registry, settings={"score.contrast": 0})
    with pytest.raises(CheckpointError, match="calibrate --run"):
        load_calibration(without)  # fitted with contrast, the scorer now has none
    cal = calibrate(without, registry, console=Console(quiet=True))
    assert set(cal["state"]["weights"]) == {"psnr", "distance"} and np.isfinite(cal["threshold"])


def test_threshold_shift_covers_shifted_copies_of_the_calibration_frames(scene_run: tuple[Path, Path, str],
                                                                        tmp_path: Path) -> None:
    """`[detect] threshold_shift` (the default): the calibration frames are scored again under two
    random photometric shifts each; the scorer's state comes from the plain frames alone, the
    threshold from all of them, and the stored statistics hold all of them, so a re-derived
    threshold (another quantile) covers the shifted frames too. `--no-threshold-shift` keeps
    the plain frames' threshold."""
    run, _, _ = scene_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    registry = default_registry()
    cal = json.loads((run / "calibration.json").read_text())  # the fixture's: the defaults
    plain = calibrate(copy, registry, console=Console(quiet=True), overrides={"threshold_shift": False})
    assert plain["threshold_shift"] is None
    assert cal["threshold_shift"] == {"copies": 2, "frames": 2 * plain["frames"], "shift": "vadkit.pseudo.shift ranges"}
    assert cal["state"]["statistics"] == plain["state"]["statistics"]  # the fit saw the plain frames only
    assert cal["frames"] == plain["frames"] and cal["statistics"] == plain["statistics"]
    assert cal["threshold"] != plain["threshold"]
    with np.load(run / "calibration_stats.npz") as z:
        assert z["video_index"].size == 3 * plain["frames"]
    trained = TrainedRun.open(run, registry)
    again, _ = resolve_threshold(trained, cal, trained.config.detect)
    assert again == cal["threshold"]
    lower, how = resolve_threshold(trained, cal, trained.configured({"detect.threshold_quantile": 0.9}).detect)
    assert "recomputed" in how and lower <= cal["threshold"]


def test_calibration_says_what_its_threshold_catches(scene_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    """calibration.json's pseudo_recall streams the evidence's pseudo-videos (4 copies of the
    held-out video, one abnormal stretch each) through detection's path at the calibrated
    threshold; a threshold below every score catches every stretch and flags every normal frame,
    one above every score catches none, and each of those gets its warning line."""
    from vadkit.detect.online import StreamSettings
    from vadkit.detect.pseudo_recall import pseudo_recall, recall_warnings
    from vadkit.pseudo.evidence import scored_evidence

    run, data, _ = scene_run
    cal = json.loads((run / "calibration.json").read_text())
    recall = cal["pseudo_recall"]
    assert recall["threshold"] == cal["threshold"] and recall["spans"] == 4 and recall["videos"] == 4
    assert 0 <= recall["spans_caught"] <= 4 and recall["shifted"] is True
    assert sum(k["spans"] for k in recall["by_kind"].values()) == 4 and set(recall["by_kind"]) <= {"speed", "object"}
    registry = default_registry()
    trained = TrainedRun.open(run, registry)
    summary, scored = scored_evidence(trained, registry, data, shift=True)
    assert summary["auc_pooled"] == cal["evidence"]["auc_pooled"]  # the same pseudo-videos as calibration's
    cfg, settings = trained.config.detect, StreamSettings.of(trained.config.detect, cal["reference"])
    again = pseudo_recall(scored, trained.scorer, cal["state"], settings, cal["threshold"], cfg)
    assert {k: again[k] for k in ("spans", "spans_caught", "normal_frames_flagged")} == {
        k: recall[k] for k in ("spans", "spans_caught", "normal_frames_flagged")
    }
    low = pseudo_recall(scored, trained.scorer, cal["state"], settings, -1e9, cfg)
    assert low["spans_caught"] == 4 and low["normal_frames_flagged"] == low["normal_frames"] > 0
    assert [w for w in recall_warnings(low | {"shifted": True}, "quantile") if "flags 100 %" in w]
    high = pseudo_recall(scored, trained.scorer, cal["state"], settings, 1e9, cfg)
    assert high["spans_caught"] == 0 and high["normal_frames_flagged"] == 0 and high["false_events"] == 0
    [warning] = recall_warnings(high | {"shifted": True}, "shift")
    assert "catches 0 of 4 pseudo-anomalies" in warning and "--no-threshold-shift" in warning


def test_detect_says_what_its_threshold_catches(scene_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    """Detection repeats a blind calibration's warning when it starts with the calibrated
    threshold; with another threshold it counts the calibration's pseudo-anomalies again from
    calibration_stats.npz (no model run) and says what that threshold catches, with advice that
    fits how the threshold was set."""
    from vadkit.detect.calibration import resolve_recall

    run, data, _ = scene_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    cal_path = copy / "calibration.json"
    cal = json.loads(cal_path.read_text())
    cal["pseudo_recall"] |= {"spans_caught": 0, "by_kind": {}}  # what a blind threshold records
    cal_path.write_text(json.dumps(cal))
    registry = default_registry()
    said = {}
    for name, settings in (("calibrated", {}), ("high", {"threshold": 1e9}), ("low", {"threshold": 1e-9})):
        log = io.StringIO()
        detect(data / "testing" / "frames" / "01", copy, tmp_path / name, registry, video=False,
               overrides=settings, console=Console(file=log, width=400))
        said[name] = " ".join(log.getvalue().split())
    assert "catches 0 of 4 pseudo-anomalies" in said["calibrated"] and "--no-threshold-shift" in said["calibrated"]
    assert "at this threshold 0 of 4 pseudo-anomalies" in said["high"]
    assert "catches 0 of 4" in said["high"] and "the given threshold lies above their scores" in said["high"]
    assert "at this threshold 4 of 4 pseudo-anomalies" in said["low"] and "flags 100 % of the normal frames" in said["low"]
    trained = TrainedRun.open(run, registry)
    original = json.loads((run / "calibration.json").read_text())
    same = resolve_recall(trained, original, trained.config.detect, original["threshold"])
    assert same is not None and same["spans_caught"] == original["pseudo_recall"]["spans_caught"]
    moved = trained.configured({"detect.smoothing": 1}).detect  # another stream: counted again from the npz
    recount = resolve_recall(trained, original, moved, original["threshold"])
    assert recount is not None and recount is not original["pseudo_recall"] and recount["spans"] == 4


def test_eval_puts_the_pseudo_count_beside_the_real_one(scene_run: tuple[Path, Path, str]) -> None:
    run, _, _ = scene_run
    metrics = evaluate(run, default_registry(), console=Console(quiet=True))
    d = metrics["detection"]
    assert d["pseudo_recall"]["threshold"] == d["settings"]["threshold"] and d["pseudo_recall"]["spans"] == 4
    assert "anomaly_spans" in d and "spans_found" in d


def test_operating_points_show_the_trade_off_the_quantile_sits_on(scene_run: tuple[Path, Path, str], tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """calibration.json's operating_points: one row per quantile (0.9-0.999 and the configured
    one), the configured row being the calibration's threshold; a higher quantile never lowers
    the threshold, flags no more held-out frames and catches no more pseudo-anomalies.
    `vadkit calibrate --operating-points` prints them."""
    from vadkit.cli import main

    run, _, _ = scene_run
    cal = json.loads((run / "calibration.json").read_text())
    rows = cal["operating_points"]
    assert [r["quantile"] for r in rows] == [0.9, 0.95, 0.98, 0.99, 0.995, 0.999]
    [chosen] = [r for r in rows if r["quantile"] == cal["threshold_quantile"]]
    assert chosen["threshold"] == cal["threshold"] and chosen["pseudo_caught"] == cal["pseudo_recall"]["spans_caught"]
    for low, high in zip(rows, rows[1:]):
        assert high["threshold"] >= low["threshold"] and high["plain_flagged"] <= low["plain_flagged"]
        assert high["shifted_flagged"] <= low["shifted_flagged"] and high["pseudo_caught"] <= low["pseudo_caught"]
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    assert main(["calibrate", "--run", str(copy), "--operating-points", "--no-threshold-shift"]) == 0
    out = capsys.readouterr().out
    assert "operating points" in out and "0.999" in out
    plain = json.loads((copy / "calibration.json").read_text())["operating_points"]
    assert all("shifted_flagged" not in r for r in plain)  # no shifted copies without threshold_shift
