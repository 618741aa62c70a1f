"""Scale-free calibration (issue 19): tail probabilities under normal frames, evidence weights,
the hold-out that always exists, and the deployer's detection metrics. Pure numpy: no model."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats as st
from sklearn.metrics import roc_auc_score

from vadkit.data.holdout import FALLBACK_TAIL, Holdout, calibration_part, training_part
from vadkit.detect.detection_metrics import VideoDetection, alarms_at_recall, detect_video, equal_error_rate, latency
from vadkit.detect.online import StreamSettings
from vadkit.postprocess.evidence import evidence_weights, pooled_auc
from vadkit.postprocess.tail import fit_tail, surprisal, tail_probability
from vadkit.recipe import recipe_from_dict
from vadkit.scoring import Scorer, Statistic


@pytest.mark.parametrize("dist", [st.expon(), st.genpareto(0.25), st.norm()], ids=["expon", "gpd", "normal"])
def test_tail_probability_matches_a_known_distribution(dist) -> None:
    """Fitted on 5000 draws, P(X >= x) at the 0.9 / 0.99 / 0.995 quantiles is within a factor 1.6
    of the truth (the tail beyond the 0.9 quantile is the fitted part)."""
    x = dist.rvs(5000, random_state=np.random.default_rng(0))
    state = fit_tail(x)
    q = np.array([0.5, 0.9, 0.99, 0.995])
    ratio = tail_probability(dist.ppf(q), state) / (1 - q)
    assert np.all((ratio > 1 / 1.6) & (ratio < 1.6)), ratio


def test_surprisal_is_continuous_increasing_and_keeps_ranking_past_the_data() -> None:
    state = fit_tail(np.random.default_rng(1).normal(size=400))
    grid = np.linspace(-6, 1e4, 200001)
    s = surprisal(grid, state)
    assert np.all(np.diff(s) >= -1e-12) and s[-1] > s[-2]  # non-decreasing, still rising far out
    u, top = state["tail_start"], state["max"]
    for edge in (u, top):  # no jump where the body meets the tail, nor where the data end
        lo, hi = surprisal(np.array([edge - 1e-9, edge + 1e-9]), state)
        assert abs(hi - lo) < 1e-6
    assert surprisal(np.array([-100.0]), state)[0] == 0.0  # below every normal value: p = 1
    out = surprisal(np.array([np.nan, np.inf]), state)
    assert np.isnan(out[0]) and out[1] == np.inf  # a broken frame is never scored as normal


class TwoStats(Scorer):
    statistics = (Statistic("tiny", "low"), Statistic("wide", "high"))

    def stats(self, output, target):  # pragma: no cover - not used without a model
        raise NotImplementedError

    def regularity(self, stats):  # pragma: no cover
        raise NotImplementedError

    def protocol(self) -> str:
        return "test"


def test_a_statistic_with_a_tiny_spread_can_no_longer_dominate() -> None:
    """'tiny' varies by 1e-7 on normal frames, 'wide' by 1. A frame 300 normal spreads out on
    'tiny' outweighs a frame 6 spreads out on 'wide' fifty-fold as z-scores; as tail
    probabilities the two are within a factor of 2, and every further step still ranks higher."""
    rng = np.random.default_rng(0)
    normal = {"tiny": 1e-3 + 1e-7 * rng.standard_normal(1000), "wide": 30 + rng.standard_normal(1000)}
    frames = {"tiny": np.array([1e-3 + 300e-7, 1e-3, 1e-3 + 600e-7]), "wide": np.array([30.0, 24.0, 30.0])}
    scorer = TwoStats()
    z = scorer.anomaly(frames, scorer.fit(normal, method="zscore"))
    tail = scorer.anomaly(frames, scorer.fit(normal))
    assert z[0] / z[1] > 20
    assert 0.5 < tail[0] / tail[1] < 2.0
    assert tail[2] > tail[0]
    scaled = {"tiny": normal["tiny"] * 1e6, "wide": normal["wide"]}  # units do not matter
    frames_scaled = {"tiny": frames["tiny"] * 1e6, "wide": frames["wide"]}
    assert np.allclose(scorer.anomaly(frames_scaled, scorer.fit(scaled)), tail)


def test_constant_statistic_gets_weight_zero_with_a_note_and_few_frames_warn() -> None:
    rng = np.random.default_rng(0)
    normal = {"tiny": np.full(50, 2.0), "wide": rng.standard_normal(50)}
    state = TwoStats().fit(normal)
    assert state["weights"] == {"tiny": 0.0, "wide": 1.0}
    assert any("'tiny' is constant" in n for n in state["notes"])
    assert any("only 50 normal frames" in n for n in state["notes"])
    out = TwoStats().anomaly({"tiny": np.array([2.0, 3.0]), "wide": np.array([0.0, -5.0])}, state)
    assert np.all(np.isfinite(out)) and out[1] > out[0]


def test_evidence_sets_the_weights() -> None:
    prior = {"psnr": 0.7, "distance": 0.3}
    w, source = evidence_weights({"psnr": 0.9, "distance": 0.6}, prior, {})
    assert source == "evidence" and w == pytest.approx({"psnr": 0.8, "distance": 0.2})
    w, source = evidence_weights({"psnr": 0.45, "distance": 0.5}, prior, {})  # nothing above chance
    assert w == pytest.approx(prior) and "at chance" in source
    w, source = evidence_weights({}, prior, {"distance": True})
    assert w == {"psnr": 1.0, "distance": 0.0} and "no evidence" in source
    w, _ = evidence_weights({"patch": 0.8, "psnr": 0.7}, {"patch": 1.0}, {}, ["patch", "psnr"])  # not in the prior
    assert w == pytest.approx({"patch": 0.6, "psnr": 0.4})
    state = TwoStats().fit({"tiny": np.arange(300.0), "wide": np.arange(300.0)}, evidence={"tiny": 0.9, "wide": 0.5})
    assert state["weights"] == {"tiny": 1.0, "wide": 0.0} and state["weights_source"] == "evidence"


def test_pooled_auc_is_the_mann_whitney_auc_with_ties() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    v = np.round(rng.normal(size=500) + y, 1)  # many ties
    assert pooled_auc(v, y) == pytest.approx(roc_auc_score(y, v))
    assert pooled_auc(v, np.zeros(500)) is None


def _clips(frames_per_video: list[int], T: int = 4) -> SimpleNamespace:
    videos = [SimpleNamespace(num_frames=n) for n in frames_per_video]
    index = [(vi, t) for vi, n in enumerate(frames_per_video) for t in range(T, n)]
    return SimpleNamespace(videos=videos, index=index, frames=T)


def test_holdout_falls_back_to_every_videos_tail_when_whole_videos_cannot_be_spared() -> None:
    recipe = recipe_from_dict({}, "r.toml")  # defaults: holdout_videos = 2
    train, calib = training_part(_clips([80, 80]), recipe), calibration_part(_clips([80, 80]), Holdout(2, 0.0))
    cut = 80 - round(FALLBACK_TAIL * 80)
    assert train.index and all(t < cut for _, t in train.index)
    assert calib.index and all(t >= cut + 4 for _, t in calib.index)  # not even an input frame was trained on
    assert {vi for vi, _ in calib.index} == {0, 1}
    assert Holdout(2, 0.0).for_split(6).held_videos(6) == {1, 4}  # enough videos: whole ones, as before
    assert not Holdout(0, 0.0).for_split(2).active_for(2)  # in-sample only when asked for
    short = _clips([40, 40])  # tails of 10 frames give 6 clips each, too few to stream: in-sample instead
    assert not Holdout(2, 0.0).for_clips(short).active and len(training_part(short, recipe).index) == 72


def _video(labels: np.ndarray, raw: np.ndarray, settings: StreamSettings, threshold: float) -> VideoDetection:
    frames = np.arange(labels.size)
    return detect_video("v", frames, labels, raw, settings, threshold, merge_gap=2, min_event=1, fps=25.0)


def test_deployer_metrics() -> None:
    settings = StreamSettings(smoothing=1)
    labels = np.zeros(100, int)
    labels[60:80] = 1
    raw = np.zeros(100)
    raw[65:80] = 5.0  # flagged from frame 65: 5 frames after the span starts
    raw[[10, 30]] = 3.0  # two isolated normal spikes
    v = _video(labels, raw, settings, threshold=4.0)
    lat = latency([v], fps=25.0)
    assert lat["spans"] == 1 and lat["median_frames"] == 5.0 and lat["median_seconds"] == pytest.approx(0.2)
    at = alarms_at_recall([v], settings, merge_gap=2, min_event=1, fps=25.0)
    assert at["event_recall"] == 1.0 and at["false_alarms"] == 0  # the highest threshold catching the span skips the spikes
    # ROC points (FPR, FNR): (0.025, 0.25) at threshold 3, then (1, 0): the rates meet on the segment between
    assert equal_error_rate(labels, raw) == pytest.approx(0.025 + 0.225 / 1.225 * 0.975)
    assert equal_error_rate(labels, labels.astype(float)) == 0.0
