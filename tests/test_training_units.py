"""Unit tests of the training and evaluation pieces that need no data set."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from vadkit.checkpoint import atomic_save, check_compatible, load_checkpoint, rng_state, set_rng_state
from vadkit.config import LossConfig, TrainConfig, read_section
from vadkit.errors import CheckpointError, RecipeError
from vadkit.evaluation.metrics import frame_auc
from vadkit.inference import VideoScores
from vadkit.interfaces import MemoryOutput, ModelOutput
from vadkit.recipe import recipe_from_dict
from vadkit.training.loss import NonFiniteLossError, check_finite, compute_loss


def _output(pred: torch.Tensor, losses: dict[str, torch.Tensor]) -> ModelOutput:
    return ModelOutput(prediction=pred, memory=MemoryOutput(features=pred, distance=torch.zeros(pred.shape[0]), losses=losses))


def test_loss_is_the_weighted_sum_of_named_terms() -> None:
    target = torch.zeros(2, 3, 4, 4)
    pred = torch.full_like(target, 0.5)
    out = _output(pred, {"separate": torch.tensor(2.0), "compact": torch.tensor(4.0)})
    total, terms = compute_loss(out, target, {"intensity": 0.8, "separate": 3e-4, "compact": 1e-3})
    assert terms["intensity"].item() == pytest.approx(0.25)
    assert total.item() == pytest.approx(0.8 * 0.25 + 3e-4 * 2 + 1e-3 * 4)


def test_non_finite_loss_names_step_and_term() -> None:
    terms = {"intensity": torch.tensor(1.0), "compact": torch.tensor(float("nan"))}
    with pytest.raises(NonFiniteLossError, match=r"epoch 3, step 7 .*compact=nan"):
        check_finite(torch.tensor(float("nan")), terms, epoch=2, step=6, global_step=99)
    check_finite(torch.tensor(1.0), {"intensity": torch.tensor(1.0)}, 0, 0, 0)


def test_train_section_rejects_unknown_and_mistyped_keys() -> None:
    recipe = recipe_from_dict({"train": {"epochs": 3, "lr": 1e-3}}, "r.toml")
    cfg = read_section(recipe, "train", TrainConfig)
    assert (cfg.epochs, cfg.lr, cfg.batch_size) == (3, 1e-3, 4)
    with pytest.raises(RecipeError, match=r"r\.toml.*train\.epoch.*Did you mean 'epochs'"):
        read_section(recipe_from_dict({"train": {"epoch": 3}}, "r.toml"), "train", TrainConfig)
    with pytest.raises(RecipeError, match=r"train\.fast.*true or false"):
        read_section(recipe_from_dict({"train": {"fast": "yes"}}, "r.toml"), "train", TrainConfig)
    weights = read_section(recipe_from_dict({"loss": {"weights": {"intensity": 1}}}), "loss", LossConfig).weights
    assert weights == {"intensity": 1.0}


def test_checkpoint_round_trip_is_weights_only(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    path = tmp_path / "ck" / "last.pt"
    atomic_save({"model": model.state_dict(), "rng": rng_state(), "epoch": 4, "model_recipe": {"a": 1}}, path)
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temporary left behind
    ck = load_checkpoint(path)
    assert ck["epoch"] == 4
    torch.testing.assert_close(ck["model"]["weight"], model.weight)
    before = torch.rand(3)
    set_rng_state(ck["rng"])  # restores the state saved before `before` was drawn
    torch.testing.assert_close(torch.rand(3), before)


def test_checkpoint_with_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"x": Path("/etc")}, path)  # an arbitrary object needs unpickling code
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(path)


def test_architecture_mismatch_says_what_differs(tmp_path: Path) -> None:
    small, big = torch.nn.Linear(3, 2), torch.nn.Linear(3, 4)
    from vadkit.checkpoint import architecture

    ck = {"architecture": architecture(small), "model_recipe": {"memory": {"slots": 2}}}
    with pytest.raises(CheckpointError, match=r"model\.memory\.slots: checkpoint 2, recipe 4"):
        check_compatible(ck, big, {"memory": {"slots": 4}}, tmp_path / "last.pt")
    check_compatible(ck, small, {"memory": {"slots": 2}}, tmp_path / "last.pt")


def _video(name: str, labels: list[int], reg: list[float], cats: list[str] | None = None) -> VideoScores:
    v = VideoScores(name, frames=list(range(len(labels))), labels=labels, categories=cats or [""] * len(labels))
    v.regularity = np.asarray(reg)
    return v


def test_frame_auc_micro_macro_and_categories() -> None:
    a = _video("a", [0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1], ["", "", "motion", "motion"])
    b = _video("b", [0, 1, 0, 1], [0.3, 0.4, 0.9, 0.95], ["", "appearance", "", "appearance"])
    c = _video("c", [0, 0, 0, 0], [0.5, 0.5, 0.4, 0.6])
    m = frame_auc([a, b, c])
    assert m["auc_per_video"]["a"] == 1.0 and m["auc_per_video"]["b"] == 0.25
    assert m["auc_macro"] == pytest.approx(0.625)
    assert m["macro_skipped_videos"] == ["c"]
    from sklearn.metrics import roc_auc_score

    labels = [0, 0, 1, 1, 0, 1, 0, 1, 0, 0, 0, 0]
    scores = 1 - np.r_[a.regularity, b.regularity, c.regularity]
    assert m["auc_micro"] == pytest.approx(roc_auc_score(labels, scores))
    assert m["auc_per_category"]["motion"] == 1.0
    assert 0.0 <= m["auc_per_category"]["appearance"] < 0.5
    assert not math.isnan(m["auc_micro"])


@pytest.mark.parametrize("global_step", [0, 7, 40])
def test_cosine_schedule_resumes_at_its_step_without_a_torch_warning(global_step: int) -> None:
    """A resumed run's rate is the closed-form cosine value at its step, from the recipe's rate
    (not the checkpoint's decayed one), and placing it there raises no scheduler-order warning."""
    import warnings
    from types import SimpleNamespace

    from vadkit.training.trainer import _scheduler

    total, base = 40, 1e-3
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=base * 0.3)  # as a resumed checkpoint leaves it
    cfg = SimpleNamespace(lr_schedule="cosine", lr=base)
    state = SimpleNamespace(cfg=cfg, optimizer=optimizer, global_step=global_step, steps=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scheduler = _scheduler(state, total // 10)  # type: ignore[arg-type]
        expected = base * 0.5 * (1 + math.cos(math.pi * global_step / total))
        assert optimizer.param_groups[0]["lr"] == pytest.approx(expected)
        param.grad = torch.ones(1)
        optimizer.step()
        scheduler.step()
    following = base * 0.5 * (1 + math.cos(math.pi * min(global_step + 1, total) / total))
    assert optimizer.param_groups[0]["lr"] == pytest.approx(following)


def test_cosine_per_epoch_holds_each_epochs_rate_as_mnads_cosine_annealing() -> None:
    """"cosine_per_epoch": the rate is constant within an epoch and follows torch's
    CosineAnnealingLR(T_max = epochs) stepped once per epoch, MNAD's schedule; a run resumed
    mid-epoch starts at its epoch's rate."""
    from types import SimpleNamespace

    from vadkit.training.trainer import _scheduler

    steps, epochs, base = 5, 4, 2e-4
    reference_param = torch.nn.Parameter(torch.zeros(1))
    reference_opt = torch.optim.Adam([reference_param], lr=base)
    reference = torch.optim.lr_scheduler.CosineAnnealingLR(reference_opt, T_max=epochs)
    expected = []
    for _ in range(epochs):
        expected += [reference_opt.param_groups[0]["lr"]] * steps
        reference_opt.step()
        reference.step()
    for start in (0, 7):  # a fresh run, and one resumed in its second epoch
        param = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.Adam([param], lr=base)
        cfg = SimpleNamespace(lr_schedule="cosine_per_epoch", lr=base)
        state = SimpleNamespace(cfg=cfg, optimizer=optimizer, global_step=start, steps=steps)
        scheduler = _scheduler(state, epochs)  # type: ignore[arg-type]
        seen = []
        for _ in range(start, steps * epochs):
            seen.append(optimizer.param_groups[0]["lr"])
            param.grad = torch.ones(1)
            optimizer.step()
            scheduler.step()
        assert seen == pytest.approx(expected[start:], rel=1e-9, abs=1e-15)
