"""The ``patch`` option of the PSNR and regularity scorers: the worst window's PSNR, computed by
hand on a hand-made error map, and the whole-frame PSNR still reported beside it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import vadkit
from vadkit.builder import build_scorer
from vadkit.interfaces import MemoryOutput, ModelOutput
from vadkit.recipe import recipe_from_dict


def _scorer(**score):
    return build_scorer(recipe_from_dict({"score": score}), vadkit.create_registry(autoload=False))


def _output(prediction: torch.Tensor, distance: torch.Tensor) -> ModelOutput:
    return ModelOutput(prediction=prediction, memory=MemoryOutput(features=torch.zeros(1), distance=distance))


def test_patch_psnr_is_the_worst_windows_psnr() -> None:
    target = torch.zeros(2, 3, 32, 32)
    prediction = torch.zeros(2, 3, 32, 32)
    prediction[0, :, 4:12, 20:28] = 1.0  # an 8x8 block off by 1 in [-1, 1], i.e. by 0.5 on [0, 1]
    prediction[1] = 0.2                  # the same small error everywhere
    scorer = _scorer(type="regularity", patch=8, contrast=0)
    stats = scorer.stats(_output(prediction, torch.tensor([0.1, 0.2])), target)
    assert list(stats) == ["psnr_patch", "psnr", "distance"] == list(scorer.stat_names)
    block = 0.5**2
    # stride 4: the window at rows 4-11, cols 20-27 covers the block exactly
    assert stats["psnr_patch"][0].item() == pytest.approx(10 * math.log10(1 / block), rel=1e-5)
    assert stats["psnr"][0].item() == pytest.approx(10 * math.log10(1 / (block * 64 / 1024)), rel=1e-5)
    uniform = 10 * math.log10(1 / 0.1**2)
    assert stats["psnr_patch"][1].item() == pytest.approx(uniform, rel=1e-5)
    assert stats["psnr"][1].item() == pytest.approx(uniform, rel=1e-5)


def test_regularity_uses_the_patch_term_and_weights_follow_it() -> None:
    scorer = _scorer(type="regularity", tau=0.7, patch=16)
    assert scorer.weights() == pytest.approx({"psnr_patch": 0.7, "distance": 0.3})
    stats = {"psnr_patch": np.array([30.0, 20.0, 25.0]), "psnr": np.array([1.0, 1.0, 9.0]),
             "distance": np.array([0.0, 1.0, 0.5])}
    np.testing.assert_allclose(scorer.regularity(stats), [1.0, 0.0, 1 - 0.7 * 0.5 - 0.3 * 0.5])
    assert "worst 16x16 window" in scorer.protocol()
    frame = _scorer(type="regularity")  # the paper's whole-frame PSNR stays the default
    assert frame.stat_names == ("psnr", "contrast", "distance") and "window" not in frame.protocol()
    alone = _scorer(type="psnr", patch=16)
    assert alone.stat_names == ("psnr_patch", "psnr", "contrast")
    np.testing.assert_allclose(alone.regularity(stats), [1.0, 0.0, 0.5])


@pytest.mark.parametrize("bad", [-1, 2.5, True, "8"])
def test_bad_patch_size_is_an_error_naming_the_key(bad) -> None:
    with pytest.raises(Exception, match="patch"):
        _scorer(type="regularity", patch=bad)
