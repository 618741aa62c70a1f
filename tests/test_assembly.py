"""The model assembled in plain Python (examples/assemble_mstinet.py) equals the recipe-built one."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from _helpers import REPO
from vadkit_mstinet.decoder import UNetDecoder
from vadkit_mstinet.encoder import ConvEncoder
from vadkit_mstinet.fusion import ASTFM
from vadkit_mstinet.memory import MemoryBank

from vadkit.assembly import VADModel
from vadkit.errors import AssemblyError
from vadkit.interfaces import count_parameters


def _example():
    spec = importlib.util.spec_from_file_location("assemble_mstinet", REPO / "examples" / "assemble_mstinet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLE = _example()


def test_paper_size_parameter_count_is_identical() -> None:
    by_hand, by_recipe = EXAMPLE.assemble(), EXAMPLE.from_recipe((64, 128, 256, 512))
    assert count_parameters(by_hand) == count_parameters(by_recipe) == 22_361_011


@pytest.mark.parametrize("slots", [10, 20])
def test_same_structure_and_same_outputs(slots: int) -> None:
    widths = (8, 16, 32, 64)
    torch.manual_seed(0)
    by_hand = EXAMPLE.assemble(widths, slots=slots)
    torch.manual_seed(0)
    by_recipe = EXAMPLE.from_recipe(widths, slots=slots)
    hand_sd, recipe_sd = by_hand.state_dict(), by_recipe.state_dict()
    assert {k: v.shape for k, v in hand_sd.items()} == {k: v.shape for k, v in recipe_sd.items()}
    frames, flows = torch.rand(2, 4, 3, 32, 32), torch.randn(2, 4, 2, 32, 32)
    with torch.no_grad():
        a, b = by_hand.eval()(frames, flows), by_recipe.eval()(frames, flows)
    assert torch.equal(a.prediction, b.prediction)


def test_python_assembly_checks_channels_and_names_both() -> None:
    app = ConvEncoder(12, (8, 16, 32, 64))
    with pytest.raises(AssemblyError, match=r"memory 'MemoryBank' has 32 channels but appearance encoder 'ConvEncoder'"):
        VADModel(app, MemoryBank(32), UNetDecoder(app.channels, 64))
    motion = ConvEncoder(8, (8, 16, 32, 64))
    bad = [ASTFM(8, 8), ASTFM(16, 16), ASTFM(32, 99)]
    with pytest.raises(AssemblyError, match=r"fusion 'ASTFM' at level 2 expects 99 motion channels but motion encoder 'ConvEncoder' gives 32"):
        VADModel(app, MemoryBank(64), UNetDecoder(app.channels, 128), motion, bad)


def test_motion_model_needs_flows() -> None:
    model = EXAMPLE.assemble((8, 16, 32, 64))
    with pytest.raises(AssemblyError, match="pass flows"):
        model(torch.rand(1, 4, 3, 32, 32))
