"""Detection's per-frame decision path without a model: start-up, running normalisation,
calibration thresholds, hold-out selection and the detection metrics."""

from __future__ import annotations

import numpy as np
import pytest

from vadkit.data.holdout import Holdout, read_holdout
from vadkit.detect.calibration import stream_threshold
from vadkit.detect.detection_metrics import detect_video, detection_metrics, true_spans
from vadkit.detect.online import ScoreStream, StreamSettings, stream_scores
from vadkit.detect.running_norm import RunningNorm, robust_reference
from vadkit.errors import RecipeError
from vadkit.recipe import recipe_from_dict

REF = {"centre": 0.0, "scale": 1.0}


def normal(n: int, seed: int = 0, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(shift, 1.0, n)


def test_the_start_of_a_stream_is_held_to_the_standard_of_its_middle() -> None:
    """A normal stream whose first raw score is a 1-frame spike: averaged over a full window it
    is not flagged in the middle, so it must not be flagged at the start either (the AVX2
    failure of test_detect: the first scored frame, averaged over itself only, was flagged)."""
    settings, threshold = StreamSettings(smoothing=5), 2.5
    raw = np.clip(normal(120, seed=1), -1.5, 1.5)
    raw[0] = raw[60] = 4.0  # one odd frame: over threshold alone, not averaged with 4 normal ones
    scores, flags = stream_scores(raw, settings, threshold)
    assert scores[0] == pytest.approx(4.0)  # the score itself is reported from the first frame
    assert not flags.any()
    assert scores[60] < threshold
    # an anomaly that starts with the stream is still flagged as soon as the window is full
    raw[:20] = 6.0
    _, flags = stream_scores(raw, settings, threshold)
    assert not flags[:4].any() and flags[4:20].all()


def test_score_stream_is_the_whole_video_function_frame_by_frame() -> None:
    raw = normal(50, seed=2)
    settings = StreamSettings(5, running_norm=True, running_window=20, running_warmup=10, reference=REF)
    stream = ScoreStream(settings, 2.0)
    live = [stream(r) for r in raw]
    scores, flags = stream_scores(raw, settings, 2.0)
    assert np.array_equal(scores, [s for s, _ in live]) and np.array_equal(flags, [f for _, f in live])


def test_running_norm_follows_a_shifted_scene_but_not_a_sustained_anomaly() -> None:
    """A new scene whose normal frames sit 3 normal std above calibration: the calibrated
    score flags nearly all of it, the running normalisation (which re-centres on the stream) hardly any.
    A sustained anomaly (flagged) never enters the running statistics, so it stays flagged."""
    threshold, plain = 2.0, StreamSettings(5)
    follow = StreamSettings(5, running_norm=True, running_window=300, running_warmup=30, reference=REF)
    shifted = normal(600, seed=3, shift=3.0)
    _, flags_plain = stream_scores(shifted, plain, threshold)
    _, flags_follow = stream_scores(shifted, follow, threshold)
    assert flags_plain[300:].mean() > 0.9 and flags_follow.mean() < 0.02
    anomaly = normal(900, seed=4)
    anomaly[200:800] += 6.0  # 600 frames, twice the running window
    _, flags = stream_scores(anomaly, follow, threshold)
    assert flags[205:800].mean() > 0.99 and flags[820:].mean() < 0.02


def test_running_norm_warms_up_on_the_stream_and_only_widens_the_scale() -> None:
    norm = RunningNorm(centre=0.0, scale=1.0, window=100, warmup=50)
    assert norm(3.0) == pytest.approx(3.0)  # nothing seen yet: the calibration decides
    norm.update(40.0, flagged=True)  # during the warm-up every frame counts
    for v in normal(99, seed=5, shift=0.0) * 0.1:  # a calmer stream than calibration
        norm.update(v, flagged=False)
    centre, scale = norm.estimate()
    assert norm.warm and scale == pytest.approx(1.0) and abs(centre) < 0.1  # the odd frame does not move the median
    norm.update(50.0, flagged=True)  # after it, flagged frames never enter
    assert norm.estimate() == (centre, scale)
    ref = robust_reference(normal(10_000, seed=6, shift=2.0) * 3)
    assert ref["centre"] == pytest.approx(6.0, abs=0.1) and ref["scale"] == pytest.approx(3.0, rel=0.05)


def test_calibration_threshold_counts_full_window_frames_only() -> None:
    raw = np.r_[np.full(4, 9.0), normal(200, seed=7), np.full(4, 9.0), normal(100, seed=8)]
    offsets = np.array([0, 204, 308])
    threshold, scores = stream_threshold(raw, offsets, StreamSettings(5), 0.99)
    assert scores.size == (204 - 4) + (104 - 4)  # the first 4 frames of each video have no full window
    assert threshold == pytest.approx(np.quantile(scores, 0.99))
    assert threshold < 9.0 * 0.8


def test_holdout_keeps_whole_videos_or_tails_and_a_gap_of_T_frames() -> None:
    class Clips:
        frames = 4

        def __init__(self, lengths: list[int]) -> None:
            self.videos = [type("V", (), {"num_frames": n, "name": f"{i:02d}"})() for i, n in enumerate(lengths)]
            self.index = [(vi, t) for vi, n in enumerate(lengths) for t in range(4, n)]

    clips = Clips([40, 40, 40, 40])
    train, calib = Holdout(videos=1).split(clips)
    held = {clips.index[i][0] for i in calib}
    assert held == {2} and not held & {clips.index[i][0] for i in train}
    train, calib = Holdout(videos=0, tail=0.25).split(clips)  # cut at frame 30; calibration targets from 34
    assert max(clips.index[i][1] for i in train) == 29 and min(clips.index[i][1] for i in calib) == 34
    assert len(calib) == 4 * 6 and len(train) == 4 * 26
    assert Holdout(videos=2).held_videos(16) == {4, 12}
    assert Holdout(videos=2).held_videos(3) == {1} and not Holdout(videos=2).active_for(2)  # at most a third
    with pytest.raises(RecipeError, match=r"detect\.holdout_tail"):
        read_holdout(recipe_from_dict({"detect": {"holdout_tail": 1.5}}, "r.toml"))


def test_detection_metrics_count_events_frames_and_false_alarms() -> None:
    frames = np.arange(4, 104)
    labels = np.zeros(100, int)
    labels[40:60] = 1  # frames 44..63
    raw = np.zeros(100)
    raw[42:60] = 5.0  # the true anomaly
    raw[80:86] = 5.0  # a false alarm
    v = detect_video("01", frames, labels, raw, StreamSettings(1), 1.0, merge_gap=2, min_event=3, fps=10.0)
    assert [(e.start_frame, e.end_frame) for e in v.events] == [(46, 63), (84, 89)]
    assert true_spans(frames, labels) == [(44, 63)]
    m = detection_metrics([v], fps=10.0)
    assert m["event_precision"] == 0.5 and m["event_recall"] == 1.0 and m["event_f1"] == pytest.approx(2 / 3)
    assert m["frame_precision"] == pytest.approx(18 / 24) and m["frame_recall"] == pytest.approx(18 / 20)
    assert m["false_alarms"] == 1 and m["false_alarms_per_hour"] == pytest.approx(1 / (80 / 10 / 3600))
    assert m["auc_pooled"] > 0.9 and m["lead_in_flags"] == {}
