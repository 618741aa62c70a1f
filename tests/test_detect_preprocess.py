"""Detection must feed the model exactly what training fed it: the streaming ring buffer's
frames and flows equal the training ClipDataset's samples."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from vadkit import default_registry
from vadkit.builder import build_scorer
from vadkit.data import build_clips
from vadkit.detect.preprocess import Preprocessor
from vadkit.detect.stream import StreamingScorer
from vadkit.interfaces import MemoryOutput, ModelOutput
from vadkit.recipe import recipe_from_dict


class Recorder(torch.nn.Module):
    """Stands in for a model: remembers its inputs, predicts the last input frame."""

    uses_motion = True

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, frames: torch.Tensor, flows: torch.Tensor) -> ModelOutput:
        self.calls.append((frames.clone(), flows.clone()))
        b = frames.shape[0]
        return ModelOutput(prediction=frames[:, -1], memory=MemoryOutput(features=frames[:, -1], distance=torch.zeros(b)))


def test_streamed_clips_equal_training_clips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    video = tmp_path / "data" / "training" / "frames" / "01"
    video.mkdir(parents=True)
    frames = [np.roll(base, 2 * k, axis=1) for k in range(12)]
    for k, f in enumerate(frames):
        cv2.imwrite(str(video / f"{k:03d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    recipe = recipe_from_dict({
        "model": {"frames": 3, "resolution": [24, 32], "appearance": {"type": "conv_encoder"},
                  "decoder": {"type": "unet_decoder"}},
        "flow": {"type": "dis", "preset": "ultrafast", "scale": 3.0, "clip": 1.5, "cache": str(tmp_path / "cache")},
    }, "r.toml")
    registry = default_registry()
    clips = build_clips(recipe, registry, tmp_path / "data", "training", uses_motion=True)
    model = Recorder()
    scorer = StreamingScorer(model, build_scorer(recipe, registry), Preprocessor.from_recipe(recipe, registry, True),
                             torch.device("cpu"), batch=1)
    for k, f in enumerate(frames):
        scorer.push(k, k / 25, f)
    assert len(model.calls) == len(clips) == 12 - 3
    for i, (got_frames, got_flows) in enumerate(model.calls):
        sample = clips[i]
        assert sample["frame"] == i + 3
        torch.testing.assert_close(got_frames[0], sample["frames"], rtol=0, atol=1e-6)
        torch.testing.assert_close(got_flows[0], sample["flows"], rtol=0, atol=1e-6)
    assert model.calls[-1][1].abs().max() > 0.1  # real motion went through, not zeros
