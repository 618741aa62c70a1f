"""``[eval] temporal_sigma``: a Gaussian filter of each statistic along its video, before the
scorer's per-video protocol; 0 is the paper's unsmoothed protocol."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from vadkit.config import EvalConfig, read_section
from vadkit.errors import RecipeError
from vadkit.evaluation.metrics import frame_auc, stat_auc
from vadkit.inference import VideoScores, score_videos
from vadkit.postprocess.temporal import gaussian_kernel, smooth_series
from vadkit.recipe import load_recipe
from vadkit.scoring import Scorer, Statistic, minmax


class PSNROnly(Scorer):
    """Regularity = min-max of PSNR, like the PSNR scorer, without a model."""

    statistics = (Statistic("psnr", "high"),)

    def stats(self, output, target):  # pragma: no cover - statistics are given directly here
        raise NotImplementedError

    def regularity(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        return minmax(stats["psnr"])

    def protocol(self) -> str:
        return "min-max PSNR"


def test_kernel_is_the_normalised_gaussian_over_three_sigma() -> None:
    k = gaussian_kernel(1.0)
    x = np.arange(-3, 4)
    expected = np.exp(-0.5 * x**2) / np.exp(-0.5 * x**2).sum()
    np.testing.assert_allclose(k, expected, rtol=1e-12)
    assert gaussian_kernel(2.5).size == 2 * math.ceil(7.5) + 1


def test_an_impulse_becomes_the_kernel_and_the_ends_repeat_the_edge_frames() -> None:
    impulse = np.zeros(21)
    impulse[10] = 1.0
    out = smooth_series(impulse, 1.0)
    np.testing.assert_allclose(out[7:14], gaussian_kernel(1.0), rtol=1e-12)
    assert out[:7].max() == 0.0 and out[14:].max() == 0.0
    ramp = np.arange(10, dtype=float)
    out = smooth_series(ramp, 1.0)
    np.testing.assert_allclose(out[3:7], ramp[3:7], atol=1e-12)  # a line is kept away from the ends
    assert out[0] > 0.0 and out[-1] < 9.0  # at the ends the edge value repeats, pulling towards it
    np.testing.assert_array_equal(smooth_series(ramp, 0.0), ramp)  # sigma 0 = the paper's protocol
    np.testing.assert_allclose(smooth_series(np.full(5, 3.0), 4.0), np.full(5, 3.0))  # shorter than the kernel


def _video(psnr: np.ndarray, labels: np.ndarray) -> VideoScores:
    v = VideoScores("v")
    v.frames = list(range(len(psnr)))
    v.labels = [int(x) for x in labels]
    v.categories = [""] * len(psnr)
    v.stats["psnr"] = [float(x) for x in psnr]
    return v


def test_smoothing_feeds_the_protocol_and_keeps_the_raw_statistics() -> None:
    """A 30-frame anomaly 2 dB below normal and one normal frame 8 dB below: unsmoothed, the
    single frame ranks above every abnormal one; smoothed, the long stretch does."""
    rng = np.random.default_rng(0)
    psnr = 36.0 + 0.5 * rng.standard_normal(120)
    labels = np.zeros(120, int)
    labels[60:90] = 1
    psnr[60:90] -= 2.0
    psnr[20] -= 8.0
    raw = score_videos([_video(psnr, labels)], PSNROnly())
    smoothed = score_videos([_video(psnr, labels)], PSNROnly(), temporal_sigma=4.0)
    assert raw[0].smoothed is None
    np.testing.assert_array_equal(smoothed[0].arrays()["psnr"], psnr)  # scores.csv keeps the raw values
    np.testing.assert_allclose(smoothed[0].protocol_arrays()["psnr"], smooth_series(psnr, 4.0))
    np.testing.assert_allclose(smoothed[0].regularity, minmax(smooth_series(psnr, 4.0)))
    before, after = frame_auc(raw)["auc_micro"], frame_auc(smoothed)["auc_micro"]
    assert after > before
    assert stat_auc(smoothed, "psnr", higher_is_normal=True) == pytest.approx(after)  # diagnostics: same protocol


@pytest.mark.parametrize("value", ["-1.0", "nan", "true", "\"wide\""])
def test_a_bad_sigma_names_the_recipe_key(tmp_path: Path, value: str) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(f"[eval]\ntemporal_sigma = {value}\n")
    with pytest.raises(RecipeError, match="eval.temporal_sigma") as err:
        read_section(load_recipe(recipe), "eval", EvalConfig)
    assert "r.toml" in str(err.value)
    recipe.write_text("[eval]\ntemporal_sigma = 3\n")
    assert read_section(load_recipe(recipe), "eval", EvalConfig).temporal_sigma == 3.0


def test_detect_offline_column_follows_the_eval_protocol(tmp_path: Path) -> None:
    from vadkit.detect.outputs import add_offline_minmax, read_scores

    psnr = np.array([30.0, 31.0, 36.0, 35.0, 20.0, 34.0, 33.0, 36.0])
    lines = ["frame,psnr"] + [f"{i},{v}" for i, v in enumerate(psnr)]
    for sigma in (0.0, 1.5):
        path = tmp_path / f"scores{sigma}.csv"
        path.write_text("\n".join(lines) + "\n")
        add_offline_minmax(path, PSNROnly(), sigma)
        expected = 1.0 - minmax(smooth_series(psnr, sigma))
        np.testing.assert_allclose(read_scores(path)["offline_minmax_score"], expected, atol=1e-4)
