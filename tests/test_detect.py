"""Detection end to end on a tiny trained run: an OpenCV-written video with an injected
anomaly, a truncated file, a long stream in bounded memory, cameras and streams that fail."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vadkit import default_registry
from vadkit.cli import main
from vadkit.detect import Detector, IterableSource, calibrate, detect, merge_events, open_sources
from vadkit.detect.outputs import read_scores
from vadkit.detect.sources import CaptureSource
from vadkit.errors import DataError, RecipeError
from vadkit.recipe import recipe_from_dict
from vadkit.training.trainer import train

SIZE, T = 96, 4
ANOMALY = (40, 55)  # inclusive frames of the injected anomaly


def scene(rng: np.random.Generator, n: int, anomaly: tuple[int, int] | None = None, size: int = SIZE):
    """Dark walkers drifting slowly over a grid; the anomaly is a big bright square that jumps
    to a random place every frame (unpredictable from any past frames)."""
    bg = np.full((size, size, 3), 110, np.uint8)
    bg[::8] = 95
    bg[:, ::8] = 95
    walkers = [[rng.uniform(10, size - 20), rng.uniform(10, size - 20), rng.uniform(-1, 1), rng.uniform(-1, 1)]
               for _ in range(3)]
    for k in range(n):
        img = bg.copy()
        for w in walkers:
            w[0], w[1] = (w[0] + w[2]) % (size - 12), (w[1] + w[3]) % (size - 12)
            img[int(w[1]) : int(w[1]) + 10, int(w[0]) : int(w[0]) + 6] = 40
        if anomaly and anomaly[0] <= k <= anomaly[1]:
            x, y = rng.integers(0, size - 40, 2)
            img[y : y + 40, x : x + 40] = 250
        yield img


def write_avi(path: Path, frames, fps: float = 25.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (SIZE, SIZE))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def tiny_recipe(cache: Path) -> dict:
    return {
        "model": {"frames": T, "resolution": [32, 32],
                  "appearance": {"type": "conv_encoder", "widths": [8, 16, 32, 64]},
                  "motion": {"type": "conv_encoder", "widths": [8, 16, 32, 64]},
                  "attention": {"type": "channel_attention", "reduction": 4},
                  "fusion": {"type": "astfm"},
                  "memory": {"type": "memory_bank", "slots": 4},
                  "decoder": {"type": "unet_decoder"}},
        "score": {"type": "regularity", "tau": 0.7},
        "train": {"epochs": 2, "batch_size": 4, "lr": 2e-3, "threads": 1, "device": "cpu"},
        "flow": {"type": "dis", "preset": "ultrafast", "scale": 2.0, "cache": str(cache)},
    }


def train_calibrated(root: Path, *, videos: int, frames: int, seed: int, epochs: int | None = None,
                     console: object = None) -> Path:
    """``tiny_recipe`` trained on ``videos`` normal videos of ``frames`` frames (``scene``, drawn
    with ``seed``) under ``root``, then calibrated; the run folder."""
    rng = np.random.default_rng(seed)
    for v in range(videos):
        d = root / "data" / "training" / "frames" / f"{v:02d}"
        d.mkdir(parents=True)
        for k, f in enumerate(scene(rng, frames)):
            cv2.imwrite(str(d / f"{k:03d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    spec = tiny_recipe(root / "cache")
    if epochs is not None:
        spec["train"]["epochs"] = epochs
    registry = default_registry()
    train(recipe_from_dict(spec, "tiny.toml"), root / "data", root / "run", registry)
    calibrate(root / "run", registry, console=console)
    return root / "run"


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-epoch run at 32x32 on six normal videos, two of them held out of training for the
    calibration (the [detect] holdout_videos default), calibrated (about 15 s on one core)."""
    return train_calibrated(tmp_path_factory.mktemp("detect-run"), videos=6, frames=48, seed=0)


def test_calibration_stores_normal_statistics_and_threshold(tiny_run: Path) -> None:
    cal = json.loads((tiny_run / "calibration.json").read_text())
    assert cal["holdout"]["applied"] and cal["holdout"]["held_out_videos"] == ["01", "04"]  # 2 of 6, spread
    assert cal["frames"] == 2 * (48 - T) and [u["video"] for u in cal["frames_used"]] == ["01", "04"]
    assert cal["statistics"]["psnr"]["mean"] > 20  # a trained model predicts normal frames well
    assert cal["threshold_quantile"] == 0.99
    assert cal["score"]["quantiles"]["0.5"] < cal["threshold"] <= cal["score"]["max"] + 1e-9
    assert (tiny_run / "calibration_stats.npz").is_file()


def test_detect_flags_the_injected_anomaly(tiny_run: Path, tmp_path: Path) -> None:
    video = write_avi(tmp_path / "walkway.avi", scene(np.random.default_rng(7), 80, ANOMALY))
    # With the running normalisation: the default since issue 19 (off) also flags 4 of this
    # lead-in's 36 scored normal frames (27-30), the trade-off docs/detect.md measures on Ped2.
    [result] = detect(video, tiny_run, tmp_path / "out", default_registry(), overrides={"running_norm": True})
    assert result.status == "complete" and result.frames_read == 80 and result.frames_scored == 80 - T
    cols = read_scores(tmp_path / "out" / "scores.csv")
    assert cols["frame"][0] == T and cols["frame"][-1] == 79  # the first score needs T past frames
    flagged = cols["frame"][cols["flagged"] == 1]
    inside = (flagged >= ANOMALY[0]) & (flagged <= ANOMALY[1])
    assert inside.sum() >= 0.8 * (ANOMALY[1] - ANOMALY[0] + 1)
    assert flagged.min() >= ANOMALY[0]  # nothing flagged in the normal part before it
    assert result.events and all(e.start_frame <= ANOMALY[1] and e.end_frame >= ANOMALY[0] for e in result.events)
    events = json.loads((tmp_path / "out" / "events.json").read_text())
    assert ANOMALY[0] <= events["events"][0]["peak_frame"] <= ANOMALY[1]
    assert events["events"][0]["start_time"] == pytest.approx(events["events"][0]["start_frame"] / 25.0)
    assert "offline_minmax_score" in cols  # offline source: the labelled per-video min-max column
    cap = cv2.VideoCapture(str(tmp_path / "out" / "overlay.avi"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 80
    cap.release()
    assert (tmp_path / "out" / "score_curve.png").stat().st_size > 1000


@pytest.mark.parametrize("rule", ["calibrated", "point_score"])
def test_detect_memory_update_moves_the_items_by_either_rule(rule: str, tiny_run: Path, tmp_path: Path) -> None:
    """[detect] memory_update with each rule: the streaming path hands the target frames to the
    updater, the items move and stay unit vectors, and events.json names the rule."""
    from vadkit.trained_run import TrainedRun

    video = write_avi(tmp_path / "walk.avi", scene(np.random.default_rng(11), 30))
    run = TrainedRun.open(tiny_run, default_registry())
    before = run.model.memory.items.detach().clone()
    overrides = {"memory_update": True, "memory_update_rule": rule}
    [result] = detect(video, run, tmp_path / "out", default_registry(), overrides=overrides, video=False)
    assert result.status == "complete"
    after = run.model.memory.items.detach()
    assert not torch.equal(before, after)
    assert torch.allclose(after.norm(dim=1), torch.ones(after.shape[0]), atol=1e-5)
    assert json.loads((tmp_path / "out" / "events.json").read_text())["memory_update_rule"] == rule


def test_truncated_video_keeps_results_up_to_the_break(tiny_run: Path, tmp_path: Path, capsys) -> None:
    video = write_avi(tmp_path / "cut.avi", scene(np.random.default_rng(3), 80))
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])
    code = main(["detect", str(video), "--run", str(tiny_run), "--out", str(tmp_path / "out"), "--no-video"])
    text = " ".join(capsys.readouterr().out.split())
    assert code == 2
    assert "truncated or damaged" in text and "cut.avi" in text and "results up to the break written" in text
    assert "Traceback" not in text
    cols = read_scores(tmp_path / "out" / "scores.csv")
    events = json.loads((tmp_path / "out" / "events.json").read_text())
    assert events["status"] == "error" and f"frame {events['frames_read']}" in events["message"]
    assert 20 < events["frames_read"] < 80
    assert list(cols["frame"]) == list(range(T, events["frames_read"]))  # every frame up to the break
    assert not (tmp_path / "out" / "overlay.avi").exists()


def test_frame_of_another_size_stops_with_results_written(tiny_run: Path, tmp_path: Path) -> None:
    frames = list(scene(np.random.default_rng(5), 12)) + [np.zeros((50, 70, 3), np.uint8)]
    [result] = detect(IterableSource(frames, name="cam"), tiny_run, tmp_path, default_registry(), video=False)
    assert result.status == "error" and "frame 12: size 70x50 differs" in result.message
    assert read_scores(tmp_path / "scores.csv")["frame"].tolist() == list(range(T, 12))


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_memory_stays_bounded_on_a_long_stream(tiny_run: Path, tmp_path: Path) -> None:
    """600 frames of 240x320 (about 140 MB if kept): RSS may not grow by more than 25 MB after
    warm-up, and the scorer never holds more than T+1 frames plus the pending one."""
    detector = Detector(tiny_run, default_registry())
    rss: dict[int, float] = {}

    def frames():
        rng = np.random.default_rng(1)
        base = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
        for k in range(600):
            if k in (150, 599):
                rss[k] = _rss_mb()
            yield np.roll(base, k, axis=1)

    result = detector.process(IterableSource(frames(), name="long", live=True), tmp_path, video=False)
    assert result.status == "complete" and result.frames_scored == 600 - T
    assert rss[599] - rss[150] < 25, rss

    from vadkit.detect.stream import StreamingScorer

    scorer = StreamingScorer(detector.model, detector.run.scorer, detector.pre, detector.device, batch=2)
    held = []
    for k, rgb in enumerate(frames()):
        scorer.push(k, k / 25, rgb)
        held.append(scorer.buffered_frames)
        if k == 60:
            break
    assert max(held) <= T + 1 + 2 + 1  # ring buffer + pending batch + previous frame for flow


def test_camera_that_cannot_be_opened_fails_at_once(tiny_run: Path, capsys) -> None:
    start = time.perf_counter()
    with pytest.raises(DataError, match=r"camera 57: cannot open"):
        open_sources("57")
    assert main(["detect", "57", "--run", str(tiny_run)]) == 2
    assert "camera 57: cannot open" in capsys.readouterr().err
    assert time.perf_counter() - start < 10


class _FakeCapture:
    def __init__(self, frames: int, stall: float = 0.0) -> None:
        self.left, self.stall = frames, stall

    def isOpened(self) -> bool:
        return True

    def get(self, prop: int) -> float:
        return 0.0

    def read(self):
        if self.left == 0:
            if self.stall:
                time.sleep(self.stall)
            return False, None
        self.left -= 1
        return True, np.full((24, 32, 3), 100, np.uint8)

    def release(self) -> None:
        pass


def test_stream_that_stalls_or_ends_says_so() -> None:
    src = CaptureSource("rtsp://cam/1", stall_timeout=0.3, capture=lambda: _FakeCapture(3, stall=2.0))
    with pytest.raises(DataError, match=r"rtsp://cam/1: frame 3: stream stalled, no frame for 0.3 s after frame 2"):
        list(src)
    src = CaptureSource("rtsp://cam/2", capture=lambda: _FakeCapture(5))
    assert len(list(src)) == 5 and src.note == "rtsp://cam/2: the stream ended after 5 frames"


def test_events_merge_gaps_and_drop_short_runs() -> None:
    flags = [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1]
    frames = list(range(len(flags)))
    scores = [float(f) + 0.01 * i for i, f in enumerate(flags)]
    events = merge_events(frames, [f / 10 for f in frames], scores, [bool(x) for x in flags], merge_gap=2, min_event=3)
    assert [(e.start_frame, e.end_frame, e.flagged_frames) for e in events] == [(1, 5, 3), (10, 15, 5)]
    assert events[1].peak_frame == 15 and events[0].end_time == pytest.approx(0.5)


def test_detect_section_is_checked() -> None:
    from vadkit.detect import read_detect

    with pytest.raises(RecipeError, match=r"r\.toml.*detect\.threshold_quantil.*Did you mean 'threshold_quantile'"):
        read_detect(recipe_from_dict({"detect": {"threshold_quantil": 0.9}}, "r.toml"))
    with pytest.raises(RecipeError, match=r"detect\.smoothing.*>= 1"):
        read_detect(recipe_from_dict({"detect": {"smoothing": 0}}, "r.toml"))
    assert read_detect(recipe_from_dict({}, "r.toml"), smoothing=9).smoothing == 9
