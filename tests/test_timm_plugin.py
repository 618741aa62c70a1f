"""vadkit_timm: local weights only (safe loading, no download), stage splitting."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file
from vadkit_timm.encoder import TimmEncoder


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_local_weights_are_loaded_and_the_stem_adapted(tmp_path: Path, suffix: str) -> None:
    source = timm.create_model("resnet10t", pretrained=False)
    path = tmp_path / f"w{suffix}"
    (save_file if suffix == ".safetensors" else lambda sd, p: torch.save(sd, p))(source.state_dict(), str(path))
    enc = TimmEncoder(in_channels=8, model_name="resnet10t", weights=str(path))
    block = enc.stages[1][-1][0]  # maxpool, layer1 -> first BasicBlock
    assert torch.equal(block.conv1.weight, source.layer1[0].conv1.weight)
    assert enc.stages[0][0][0].weight.shape[1] == 8  # stem conv adapted from 3 to 8 input channels


def test_missing_weights_file_is_an_error_not_a_download(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="never downloads"):
        TimmEncoder(in_channels=8, model_name="resnet10t", weights=str(tmp_path / "absent.safetensors"))


@pytest.mark.parametrize("name", ["efficientnet_b0", "regnetx_002"])
def test_other_families_split_into_declared_stages(name: str) -> None:
    enc = TimmEncoder(in_channels=6, model_name=name)
    x = torch.randn(1, 6, 64, 64)
    for stage, c, s in zip(enc.stages, enc.channels, enc.strides):
        x = stage(x)
        assert tuple(x.shape) == (1, c, 64 // s, 64 // s)
