"""The zoo's models match their official code: parameter counts and output shapes (MNAD-pred,
MNAD-recon parts, FFP), FFP's gradient loss, and the catalogue behind `vadkit zoo`."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import torch
from _helpers import REPO

from vadkit.builder import build_model
from vadkit.cli import main
from vadkit.cli.zoo_cmd import read_catalogue
from vadkit.config import read_config
from vadkit.errors import VadkitError
from vadkit.plugins import create_registry
from vadkit.recipe import load_recipe
from vadkit.training.loss import compute_loss, gradient_loss

REGISTRY = create_registry(autoload=False)
ZOO = REPO / "recipes" / "zoo"


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_mnad_pred_has_the_official_parameter_count() -> None:
    """cvlab-yonsei/MNAD convAE(n_channel=3, t_length=5, memory_size=10, feature_dim=512,
    key_dim=512) has 15,651,843 parameters (counted on the official code)."""
    model = build_model(load_recipe(ZOO / "mnad-pred.toml"), REGISTRY)
    assert _params(model) == 15_651_843
    assert model.memory.items.shape == (10, 512)  # the items are a buffer, as MNAD's m_items is no parameter


def test_mnad_pred_output_shapes_match_the_official_model() -> None:
    """Official shapes at H x W: encoder fea (B, 512, H/8, W/8), skips (B, 64, H, W),
    (B, 128, H/2, W/2), (B, 256, H/4, W/4); decoder input concat(query, read) (B, 1024, H/8, W/8);
    output (B, 3, H, W) in [-1, 1]. Checked at 64x64 (the official default is 256x256)."""
    model = build_model(load_recipe(ZOO / "mnad-pred.toml", ["model.resolution=[64, 64]"]), REGISTRY).eval()
    frames = torch.rand(2, 4, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        out = model(frames)
    assert [tuple(s.shape) for s in out.skips] == [(2, 64, 64, 64), (2, 128, 32, 32), (2, 256, 16, 16)]
    assert tuple(out.memory.features.shape) == (2, 1024, 8, 8)
    assert tuple(out.memory.weights.shape) == (2, 8, 8, 10)
    assert tuple(out.prediction.shape) == (2, 3, 64, 64)
    assert out.prediction.abs().max() <= 1
    assert set(out.memory.losses) == {"gather", "triplet"}  # MNAD's compactness and separateness


def test_mnad_unused_batchnorm_stays_frozen_and_unused() -> None:
    """The official encoder's never-called BatchNorm is kept for the count only: no gradient,
    and the forward pass does not depend on it."""
    model = build_model(load_recipe(ZOO / "mnad-pred.toml", ["model.resolution=[32, 32]"]), REGISTRY).eval()
    assert not any(p.requires_grad for p in model.appearance.unused_bn.parameters())
    frames = torch.rand(1, 4, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        before = model(frames).prediction
        model.appearance.unused_bn.weight.fill_(7.0)
        assert torch.equal(model(frames).prediction, before)


def test_mnad_reconstruction_parts_have_the_official_parameter_count() -> None:
    """Official Reconstruction.py convAE(3, t_length=2, ...): 17,196,291 parameters; in vadkit
    the same encoder on one frame, memory_bank, and mnad_decoder without skips."""
    model = build_model(load_recipe(ZOO / "mnad-recon.toml"), REGISTRY)
    assert _params(model) == 17_196_291
    assert read_config(load_recipe(ZOO / "mnad-recon.toml")).model.window == 1  # sees the frame it reconstructs


def _ffp_official_count(frames: int = 4, channels: int = 3, root: int = 64, layers: int = 4) -> int:
    """Codes/unet.py's layer list: per level two 3x3 convs (with bias); per up level a 2x2
    transposed conv to half the features and two 3x3 convs; a 3x3 output conv."""
    conv = lambda i, o, k=3: i * o * k * k + o  # noqa: E731
    total, prev = 0, frames * channels
    for level in range(layers):
        f = root * 2**level
        total += conv(prev, f) + conv(f, f)
        prev = f
    for level in range(layers - 2, -1, -1):
        f = root * 2**level
        total += conv(prev, f, 2) + conv(2 * f, f) + conv(f, f)
        prev = f
    return total + conv(prev, channels)


def test_ffp_generator_has_the_official_parameter_count() -> None:
    model = build_model(load_recipe(ZOO / "ffp.toml"), REGISTRY)
    assert _params(model) == _ffp_official_count() == 7_704_195
    assert not model.uses_motion  # flow enters FFP's loss only, never the generator


def test_gradient_loss_by_hand() -> None:
    """FFP's L_gd (alpha = 1) on a 1x1x2x2 example: x-diffs |dt| = (1, 1) vs |dp| = (0, 2),
    y-diffs |dt| = (1, 1) vs |dp| = (1, 1) -> mean 1 + mean 0 = 1."""
    target = torch.tensor([[[[0.0, 1.0], [1.0, 0.0]]]])
    prediction = torch.tensor([[[[0.0, 0.0], [1.0, -1.0]]]])
    assert float(gradient_loss(prediction, target)) == pytest.approx(1.0)
    assert float(gradient_loss(target, target)) == 0.0


def test_gradient_term_is_computed_only_when_weighted() -> None:
    from vadkit.interfaces import MemoryOutput, ModelOutput

    target = torch.rand(2, 3, 8, 8)
    out = ModelOutput(prediction=torch.rand(2, 3, 8, 8), memory=MemoryOutput(features=target, distance=torch.zeros(2)))
    _, terms = compute_loss(out, target, {"intensity": 1.0})
    assert set(terms) == {"intensity"}
    total, terms = compute_loss(out, target, {"intensity": 1.0, "gradient": 0.5})
    assert set(terms) == {"intensity", "gradient"}
    assert float(total) == pytest.approx(float(terms["intensity"] + 0.5 * terms["gradient"]))


def test_catalogue_lists_every_zoo_recipe() -> None:
    models = read_catalogue()
    named = {ref for m in models for ref in m["recipes"].values()}
    on_disk = {p.relative_to(REPO / "recipes").as_posix() for p in ZOO.glob("*.toml")}
    assert on_disk <= named
    assert {"mnad-pred", "mnad-recon", "ffp", "fast"} <= {m["name"] for m in models}


def test_zoo_base_recipes_are_extended_by_catalogue_recipes() -> None:
    """zoo/base/ holds settings shared by several models, not models: each is extended by one."""
    parents = {p: tomllib.loads(p.read_text()).get("extends") for p in ZOO.glob("*.toml")}
    extended = {(p.parent / parent).resolve() for p, parent in parents.items() if parent}
    for base in (ZOO / "base").glob("*.toml"):
        assert base.resolve() in extended, f"{base.name} is extended by no zoo recipe"


def test_catalogue_naming_a_missing_recipe_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "zoo" / "catalogue.json"
    bad.parent.mkdir()
    bad.write_text(json.dumps({"models": [{"name": "x", "recipes": {"paper": "zoo/nope.toml"}, "published": {}}]}))
    with pytest.raises(VadkitError, match=r"catalogue.json: model 'x' names recipe 'zoo/nope.toml', which does not exist"):
        read_catalogue(bad)


def test_zoo_command_lists_models_as_json(capsys: pytest.CaptureFixture) -> None:
    assert main(["zoo", "--no-count", "--json"]) == 0
    models = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert models["mnad-pred"]["published"]["ped2"] == 97.0
    assert Path(models["ffp"]["recipes"]["ped2_cpu"]["recipe"]).is_file()
    assert Path(models["mnad-recon"]["recipes"]["ped2_cpu"]["recipe"]).is_file()


def test_zoo_counts_a_recipe() -> None:
    from vadkit.cli.zoo_cmd import count

    info = count(ZOO / "fast.toml", REGISTRY)
    assert info["params"] == _params(build_model(load_recipe(ZOO / "fast.toml"), REGISTRY))
    assert info["resolution"] == [128, 128] and info["gflops_per_frame"] > 0
