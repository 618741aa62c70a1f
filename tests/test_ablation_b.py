"""Table II model B without interaction: the two branches share no tensor before the head."""

from __future__ import annotations

import pytest
import torch
from _helpers import REPO
from torch import Tensor, nn

from vadkit.assembly import TwoBranchModel
from vadkit.builder import build_model
from vadkit.errors import RecipeError
from vadkit.plugins import create_registry
from vadkit.recipe import load_recipe
from vadkit.summary import summarize
from vadkit.training.loss import compute_loss

REGISTRY = create_registry(autoload=False)
B = REPO / "recipes" / "ablations" / "B-two-streams-no-interaction.toml"
SMALL = ["model.appearance.widths=[4, 8, 8, 16]", "model.motion.widths=[4, 8, 8, 16]", "model.memory.slots=4",
         "model.resolution=[32, 32]"]


def model_b(*overrides: str) -> TwoBranchModel:
    torch.manual_seed(0)
    model = build_model(load_recipe(B, [*SMALL, *overrides]), REGISTRY)
    assert isinstance(model, TwoBranchModel)
    return model


def inputs() -> tuple[Tensor, Tensor]:
    torch.manual_seed(1)
    return (torch.rand(2, 4, 3, 32, 32) * 2 - 1).requires_grad_(True), torch.randn(2, 4, 2, 32, 32).requires_grad_(True)


def grad_or_zero(out: Tensor, x: Tensor) -> Tensor:
    (g,) = torch.autograd.grad(out, x, retain_graph=True, allow_unused=True)
    return torch.zeros_like(x) if g is None else g


@pytest.mark.parametrize("training", [True, False])
def test_each_branch_prediction_depends_on_its_own_stream_only(training: bool) -> None:
    model = model_b().train(training)
    frames, flows = inputs()
    (p_app, p_mot), _ = model.branches(frames, flows)
    assert torch.count_nonzero(grad_or_zero(p_app.sum(), flows)) == 0
    assert torch.count_nonzero(grad_or_zero(p_mot.sum(), frames)) == 0
    assert grad_or_zero(p_app.sum(), frames).abs().sum() > 0
    assert grad_or_zero(p_mot.sum(), flows).abs().sum() > 0
    out = model(frames, flows)  # the head mixes both
    assert grad_or_zero(out.prediction.sum(), frames).abs().sum() > 0
    assert grad_or_zero(out.prediction.sum(), flows).abs().sum() > 0


def _branch_modules(model: TwoBranchModel) -> tuple[list[nn.Module], list[nn.Module]]:
    app = [model.appearance, model.memory[0], model.decoder[0]]
    mot = [model.motion, model.memory[1], model.decoder[1]]
    return app, mot


def test_no_module_of_one_branch_sees_a_tensor_of_the_other() -> None:
    model = model_b().eval()
    app, mot = _branch_modules(model)
    # the tensors themselves are kept, so that no id is reused by a freed tensor
    kept: dict[str, dict[str, list[Tensor]]] = {b: {"in": [], "out": []} for b in ("app", "mot")}

    def tensors(x) -> list[Tensor]:
        if isinstance(x, Tensor):
            return [x]
        if isinstance(x, (list, tuple)):
            return [t for v in x for t in tensors(v)]
        if hasattr(x, "__dataclass_fields__"):
            return [t for f in x.__dataclass_fields__ for t in tensors(getattr(x, f))]
        return []

    handles = []
    for branch, roots in (("app", app), ("mot", mot)):
        for root in roots:
            for module in root.modules():
                def hook(_m, inp, out, branch=branch) -> None:
                    kept[branch]["in"] += tensors(inp)
                    kept[branch]["out"] += tensors(out)

                handles.append(module.register_forward_hook(hook))
    frames, flows = inputs()
    with torch.no_grad():
        out = model(frames, flows)
    for h in handles:
        h.remove()
    seen = {b: {k: {id(t) for t in ts} for k, ts in d.items()} for b, d in kept.items()}
    assert seen["app"]["out"] and seen["mot"]["out"]
    assert not seen["app"]["in"] & seen["mot"]["out"]
    assert not seen["mot"]["in"] & seen["app"]["out"]
    assert id(flows) not in seen["app"]["in"] and id(frames) not in seen["mot"]["in"]
    assert out.prediction.shape == (2, 3, 32, 32)


def test_branches_share_no_parameter_or_buffer() -> None:
    model = model_b()
    app, mot = _branch_modules(model)
    ids = [{id(t) for m in ms for t in [*m.parameters(), *m.buffers()]} for ms in (app, mot)]
    assert not ids[0] & ids[1]
    assert {id(p) for p in model.parameters()} == {id(p) for m in app + mot for p in m.parameters()} | {id(model.mix)}


def test_head_starts_as_the_mean_and_merges_the_memories() -> None:
    model = model_b().eval()
    frames, flows = inputs()
    with torch.no_grad():
        (p_app, p_mot), mems = model.branches(frames, flows)
        out = model(frames, flows)
    torch.testing.assert_close(out.prediction, (p_app + p_mot) / 2)
    assert out.prediction.abs().max() <= 1
    for name in ("gather", "triplet"):
        torch.testing.assert_close(out.memory.losses[name], mems[0].losses[name] + mems[1].losses[name])
    torch.testing.assert_close(out.memory.distance, (mems[0].distance + mems[1].distance) / 2)
    assert set(out.memory.diagnostics) == {"entropy", "top1", "nearest_counts", "nearest_distance", "motion_entropy",
                                           "motion_top1", "motion_nearest_counts", "motion_nearest_distance"}


def test_b_trains_and_updates_both_memories() -> None:
    model = model_b().train()
    weights = load_recipe(B).section("loss")["weights"]
    frames, flows = inputs()
    before = [m.items.clone() for m in model.memory]
    out = model(frames, flows)
    total, _ = compute_loss(out, torch.zeros(2, 3, 32, 32), weights)
    total.backward()
    assert model.mix.grad is not None and torch.isfinite(model.mix.grad).all()
    assert all(not torch.equal(m.items, b) for m, b in zip(model.memory, before))
    model.eval()
    with torch.no_grad():
        out = model(frames.detach(), flows.detach())
    before = [m.items.clone() for m in model.memory]
    assert model.update_memory(out, torch.tensor([False, False])) == 0
    assert all(torch.equal(m.items, b) for m, b in zip(model.memory, before))
    assert model.update_memory(out, torch.tensor([True, False])) == 1
    assert all(not torch.equal(m.items, b) for m, b in zip(model.memory, before))
    assert len(summarize(model, (32, 32), REGISTRY).components) == 6  # 2 streams, 2 memories, 2 decoders


def test_assembly_key_is_validated() -> None:
    with pytest.raises(RecipeError, match=r"key 'model.assembly'.*must be one of 'fused', 'two_branch', got 'twin'"):
        build_model(load_recipe(B, [*SMALL, 'model.assembly="twin"']), REGISTRY)
    with pytest.raises(RecipeError, match=r"key 'model.fusion.type'.*two_branch.*no interaction"):
        build_model(load_recipe("mstinet", [*SMALL, 'model.assembly="two_branch"']), REGISTRY)
    with pytest.raises(RecipeError, match=r"key 'model.motion.type'.*needs a motion stream"):
        build_model(load_recipe(B, [*SMALL, 'model.motion.type="none"']), REGISTRY)
    with pytest.raises(RecipeError, match=r"key 'model.join'.*two_branch"):
        build_model(load_recipe(B, [*SMALL, 'model.join="concat"']), REGISTRY)
