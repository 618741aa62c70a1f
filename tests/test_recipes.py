"""Every recipe builds (shrunk with --set style overrides), and recipe errors say what is
wrong, in which file and under which key."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _helpers import EXAMPLE_PLUGIN_DIR, REPO, SMALL_RESOLUTION, example_plugin, make_plugin, small_overrides

from vadkit.builder import build_model, build_scorer
from vadkit.errors import RecipeError
from vadkit.plugins import create_registry
from vadkit.recipe import load_recipe

REGISTRY = create_registry(plugins=[example_plugin()], autoload=False)
RECIPES = sorted((REPO / "recipes").rglob("*.toml")) + sorted(p for p in EXAMPLE_PLUGIN_DIR.glob("*.toml") if p.name != "pyproject.toml")


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(REPO)))
def test_recipe_builds_and_runs(path: Path) -> None:
    recipe = load_recipe(path, small_overrides(path))
    model = build_model(recipe, REGISTRY)
    build_scorer(recipe, REGISTRY)
    frames = torch.rand(2, model.frames, model.image_channels, *SMALL_RESOLUTION) * 2 - 1
    flows = torch.randn(2, model.frames, 2, *SMALL_RESOLUTION) if model.uses_motion else None
    with torch.no_grad():
        out = model.eval()(frames, flows)
    assert tuple(out.prediction.shape) == (2, model.image_channels, *SMALL_RESOLUTION)
    assert torch.isfinite(out.prediction).all()


def _params(recipe: str, *overrides: str) -> int:
    model = build_model(load_recipe(recipe, overrides), REGISTRY)
    return sum(p.numel() for p in model.parameters())


def test_ablations_differ_as_table_ii_says() -> None:
    small = [f"model.{s}.widths=[8, 16, 32, 64]" for s in ("appearance", "motion")]
    e = _params("mstinet", *small)
    a = _params(str(REPO / "recipes/ablations/A-single-stream.toml"), small[0])
    b, c, d = (
        _params(str(REPO / f"recipes/ablations/{name}.toml"), *small)
        for name in ("B-two-streams-no-interaction", "C-concat-fusion", "D-no-memory")
    )
    assert e == _params(str(REPO / "recipes/ablations/E-full.toml"), *small)
    assert a < b and a < e and c < e  # B (two_branch) has a decoder per stream, so it may exceed E
    assert d < e  # no memory: the decoder's entry takes C instead of 2C channels
    model_a = build_model(load_recipe(REPO / "recipes/ablations/A-single-stream.toml", small[:1]), REGISTRY)
    assert not model_a.uses_motion


# -- errors ------------------------------------------------------------------------------------
def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_unknown_type_lists_close_match_and_available(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.toml", 'extends = "mstinet"\n[model.fusion]\ntype = "astf"\n')
    with pytest.raises(RecipeError) as err:
        build_model(load_recipe(path), REGISTRY)
    msg = str(err.value)
    assert str(path) in msg and "key 'model.fusion.type'" in msg
    assert "Did you mean 'astfm'" in msg and "concat" in msg and "gated" in msg


def test_unknown_option_names_file_and_key_path(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.toml", 'extends = "mstinet"\n[model.memory]\nslot = 20\n')
    with pytest.raises(RecipeError) as err:
        build_model(load_recipe(path), REGISTRY)
    msg = str(err.value)
    assert f"recipe {path}" in msg and "key 'model.memory.slot'" in msg and "Did you mean 'slots'" in msg


def test_unknown_option_from_set_is_attributed_to_set() -> None:
    with pytest.raises(RecipeError, match=r"recipe --set, key 'model.decoder.depth'"):
        build_model(load_recipe("mstinet", ["model.decoder.depth=3"]), REGISTRY)


def test_unknown_model_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.toml", 'extends = "mstinet"\n[model]\nframe = 5\n')
    with pytest.raises(RecipeError, match=r"key 'model.frame'.*Did you mean 'frames'"):
        build_model(load_recipe(path), REGISTRY)


def test_derived_argument_may_not_be_set() -> None:
    with pytest.raises(RecipeError, match=r"key 'model.memory.channels'.*derived by the builder"):
        build_model(load_recipe("mstinet", ["model.memory.channels=8"]), REGISTRY)


def test_missing_component_table(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.toml", '[model.appearance]\ntype = "conv_encoder"\n')
    with pytest.raises(RecipeError, match=r"key 'model.decoder': missing"):
        build_model(load_recipe(path), REGISTRY)


def test_missing_type(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.toml", 'extends = "mstinet"\n[model.decoder]\ntype = "unet_decoder"\n')
    recipe = load_recipe(path)
    del recipe.data["model"]["decoder"]["type"]
    with pytest.raises(RecipeError, match=r"key 'model.decoder.type': missing: name a registered decoder \([^)]*unet_decoder[^)]*\)"):
        build_model(recipe, REGISTRY)


def test_missing_required_option_names_it() -> None:
    def register(register):
        register("fusion", "needs_heads", Needy)

    class Needy(torch.nn.Module):
        """A fusion with a required option."""

        def __init__(self, appearance_channels: int, motion_channels: int, heads: int) -> None:
            super().__init__()

        def forward(self, appearance, motion):
            return appearance

    registry = create_registry(plugins=[make_plugin("needy", register)], autoload=False)
    with pytest.raises(RecipeError, match=r"key 'model.fusion'.*fusion 'needs_heads' needs heads"):
        build_model(load_recipe("mstinet", ['model.fusion.type="needs_heads"']), registry)


def test_channel_mismatch_names_both_components() -> None:
    class Fixed(torch.nn.Module):
        """A fusion that ignores the derived channels."""

        def __init__(self, width: int) -> None:
            super().__init__()
            self.appearance_channels = self.motion_channels = width

        def forward(self, appearance, motion):
            return appearance

    registry = create_registry(plugins=[make_plugin("fixed", lambda register: register("fusion", "fixed", Fixed))], autoload=False)
    with pytest.raises(RecipeError) as err:
        build_model(load_recipe("mstinet", ['model.fusion.type="fixed"', "model.fusion.width=7"]), registry)
    msg = str(err.value)
    assert "fusion 'fixed'" in msg and "appearance encoder 'conv_encoder'" in msg and "7" in msg and "64" in msg


def test_level_mismatch_names_both_encoders() -> None:
    with pytest.raises(RecipeError) as err:
        build_model(load_recipe("mstinet", ["model.motion.widths=[8, 16, 32]"]), REGISTRY)
    assert "motion encoder 'conv_encoder'" in str(err.value) and "appearance encoder 'conv_encoder'" in str(err.value)


def test_stride_mismatch_names_both_encoders() -> None:
    with pytest.raises(RecipeError) as err:
        build_model(load_recipe("mstinet", ['model.appearance.type="timm_encoder"', 'model.appearance.model_name="resnet10t"']), REGISTRY)
    msg = str(err.value)
    assert "appearance encoder 'timm_encoder'" in msg and "motion encoder 'conv_encoder'" in msg and "strides" in msg


def test_fusion_without_motion_stream() -> None:
    with pytest.raises(RecipeError, match=r"key 'model.fusion.type'.*needs a motion stream"):
        build_model(load_recipe("mstinet", ['model.motion.type="none"']), REGISTRY)


def test_extends_cycle_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    _write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(RecipeError, match=r"'extends' forms a cycle: .*a.toml -> .*b.toml -> .*a.toml"):
        load_recipe(tmp_path / "a.toml")


def test_missing_parent_names_the_child(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.toml", 'extends = "no-such-recipe"\n')
    with pytest.raises(RecipeError, match=rf"recipe {path}, key 'extends': recipe not found: 'no-such-recipe'"):
        load_recipe(path)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.toml", "[model\n")
    with pytest.raises(RecipeError, match=rf"recipe {path}: not valid TOML"):
        load_recipe(path)


def test_changing_type_drops_the_old_components_options(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.toml", 'extends = "mstinet"\n[model.memory]\ntype = "none"\n')
    recipe = load_recipe(path)
    assert recipe.section("model.memory") == {"type": "none"}  # slots/delta of memory_bank are gone
    assert load_recipe("mstinet", ['model.memory.type="none"']).section("model.memory") == {"type": "none"}


def test_timm_streams_build_from_a_recipe() -> None:
    overrides = [
        f"model.{s}.{k}={v}"
        for s in ("appearance", "motion")
        for k, v in (("type", '"timm_encoder"'), ("model_name", '"resnet10t"'))
    ] + ["model.resolution=[64, 64]", 'model.attention.type="eca"']
    model = build_model(load_recipe("mstinet", overrides), REGISTRY)
    assert model.appearance.registry_name == model.motion.registry_name == "timm_encoder"
    assert model.appearance.channels == (64, 64, 128, 256) and model.appearance.strides == (2, 4, 8, 16)
    assert model.fusions[0].attention.registry_name == "eca"
    out = model.eval()(torch.rand(1, 4, 3, 64, 64), torch.randn(1, 4, 2, 64, 64))
    assert tuple(out.prediction.shape) == (1, 3, 64, 64)
