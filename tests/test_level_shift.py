"""Issue 19's tools for one threshold across levels: the local contrast statistic ignores a
change that scales every pixel's error alike, and the photometric shifts validation pools over
are deterministic, within their declared ranges and keep the labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import vadkit
from vadkit.builder import build_scorer
from vadkit.data.video import Video
from vadkit.interfaces import MemoryOutput, ModelOutput
from vadkit.pseudo import shift as shift_mod
from vadkit.pseudo.shift import Shift, draw_shift, shift_all
from vadkit.recipe import recipe_from_dict


def _scorer(**score):
    return build_scorer(recipe_from_dict({"score": score}), vadkit.create_registry(autoload=False))


def _output(prediction: torch.Tensor) -> ModelOutput:
    n = prediction.shape[0]
    return ModelOutput(prediction=prediction, memory=MemoryOutput(features=torch.zeros(1), distance=torch.zeros(n)))


def test_contrast_is_the_worst_windows_error_over_the_frames_in_db() -> None:
    target = torch.zeros(1, 3, 32, 32)
    prediction = torch.zeros(1, 3, 32, 32)
    prediction[0, :, 4:12, 20:28] = 1.0  # an 8x8 block: the worst 8x8 window's error is 1024/64 x the frame's
    scorer = _scorer(type="regularity", contrast=8)
    stats = scorer.stats(_output(prediction), target)
    assert list(stats) == ["psnr", "contrast", "distance"] == list(scorer.stat_names)
    assert stats["contrast"][0].item() == pytest.approx(10 * math.log10(1024 / 64), rel=1e-5)
    assert scorer.statistic("contrast").normal == "low"  # larger contrast = more anomalous


def test_contrast_ignores_a_level_change_that_psnr_follows() -> None:
    torch.manual_seed(0)
    target = torch.zeros(1, 1, 32, 32)
    base = 0.1 * torch.rand(1, 1, 32, 32)
    scorer = _scorer(type="psnr", contrast=8)
    a = scorer.stats(_output(base), target)
    b = scorer.stats(_output(3 * base), target)  # every pixel's error 9x larger: a busier scene, a noisier camera
    assert b["psnr"].item() == pytest.approx(a["psnr"].item() - 10 * math.log10(9), rel=1e-4)
    assert b["contrast"].item() == pytest.approx(a["contrast"].item(), abs=1e-4)
    local = base.clone()
    local[..., 8:16, 8:16] += 0.5  # a small badly predicted object: the contrast rises
    assert scorer.stats(_output(local), target)["contrast"].item() > a["contrast"].item() + 3


def test_contrast_leaves_the_benchmark_regularity_alone() -> None:
    stats = {"psnr": np.array([30.0, 20.0, 25.0]), "contrast": np.array([9.0, 0.0, 3.0]),
             "distance": np.array([0.0, 1.0, 0.5])}
    with_c, without = _scorer(type="regularity", contrast=16), _scorer(type="regularity")
    np.testing.assert_allclose(with_c.regularity(stats), without.regularity(stats))
    assert with_c.weights() == without.weights()  # without evidence, contrast has no say (eq. 10's weights)


@pytest.mark.parametrize("bad", [-1, 2.5, True, "8"])
def test_bad_contrast_window_is_an_error_naming_the_key(bad) -> None:
    with pytest.raises(Exception, match="contrast"):
        _scorer(type="regularity", contrast=bad)


class Grey:
    def __init__(self, n: int, level: int = 100) -> None:
        self.n, self.level = n, level

    def __len__(self) -> int:
        return self.n

    def file_of(self, index: int) -> str:
        return f"grey[{index}]"

    def read(self, index: int, video: Video) -> np.ndarray:
        return np.full((24, 32, 3), self.level, np.uint8)


def test_shift_applies_gain_offset_and_seeded_noise() -> None:
    image = np.full((24, 32, 3), 100, np.uint8)
    assert (Shift(gain=1.2, offset=-10).apply(image, 0) == 110).all()
    assert (Shift(gain=3.0, offset=0).apply(image, 0) == 255).all()  # clipped, still 8-bit
    noisy = Shift(noise=4.0, seed=5)
    first, again, other = noisy.apply(image, 3), noisy.apply(image, 3), noisy.apply(image, 4)
    np.testing.assert_array_equal(first, again)  # a frame reads the same every time
    assert not np.array_equal(first, other)
    assert 2.5 < float(first.astype(np.float64).std()) < 5.5


def test_every_shifted_video_keeps_its_labels_and_draws_within_the_declared_ranges() -> None:
    labels = np.zeros(10, np.uint8)
    labels[4:7] = 1
    videos = [Video(f"v{i}", "validation", 10, labels=labels, source=Grey(10)) for i in range(6)]
    shifted = shift_all(videos, seed=1)
    assert [v.name for v in shifted] == [f"v{i}+shift" for i in range(6)]
    shifts = [v.source.shift for v in shifted]
    assert len({s.gain for s in shifts}) == 6  # each video its own shift
    for s in shifts:
        assert shift_mod.GAIN[0] <= s.gain <= shift_mod.GAIN[1]
        assert shift_mod.OFFSET[0] <= s.offset <= shift_mod.OFFSET[1]
        assert shift_mod.NOISE[0] <= s.noise <= shift_mod.NOISE[1]
    for v in shifted:
        np.testing.assert_array_equal(v.labels, labels)
        assert "shifted: gain" in v.file_of(2)
    again = shift_all(videos, seed=1)
    np.testing.assert_array_equal(shifted[2].read(5), again[2].read(5))
    assert draw_shift(np.random.default_rng(0), 0) == draw_shift(np.random.default_rng(0), 0)
