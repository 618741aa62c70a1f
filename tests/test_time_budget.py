"""``[train] time_budget``: the epoch count fitted to a wall-time budget from a measured step time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from _helpers import TINY_MODEL

import vadkit
from vadkit.checkpoint import load_checkpoint
from vadkit.errors import RecipeError
from vadkit.recipe import load_recipe
from vadkit.training import budget
from vadkit.training.trainer import train

TINY = TINY_MODEL + """[train]
epochs = 4
batch_size = 4
max_steps_per_epoch = 2
lr = 1e-3
lr_schedule = "cosine"
threads = 1
"""


@pytest.fixture(scope="module")
def registry() -> vadkit.registry.Registry:
    return vadkit.create_registry(autoload=False)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vadkit.data.synth import generate

    return generate(tmp_path_factory.mktemp("synth"), seed=2, train_videos=2, test_videos=1, frames=24, size=32,
                    object_size=8)


@pytest.fixture()
def recipe_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def _epochs_logged(run: Path) -> int:
    return sum('"epoch_end"' in line for line in (run / "log.jsonl").read_text().splitlines())


def test_plan_fits_what_is_left_and_never_exceeds_epochs(recipe_file: Path) -> None:
    recipe = load_recipe(recipe_file)
    # 10 min budget, 30 s spent, 100 steps of 0.1 s: an epoch is 10.8 s with the overhead -> 52.8 fit
    plan = budget.plan_epochs(10, 60, 30.0, 0.1, 100, recipe)
    assert plan.epoch_s == pytest.approx(100 * 0.1 * budget.EPOCH_OVERHEAD) and plan.epochs == 52
    assert budget.plan_epochs(10, 20, 60.0, 0.1, 100, recipe).epochs == 20  # a faster machine does not train longer
    with pytest.raises(RecipeError, match=r"train\.time_budget.*nothing fits 1 min"):
        budget.plan_epochs(1, 20, 55.0, 0.1, 100, recipe)


def test_probe_leaves_model_optimiser_and_rngs_as_they_were(registry) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    clips = [{"x": torch.randn(3)} for _ in range(16)]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)

    def step(batch: dict) -> None:
        loss = model(batch["x"]).pow(2).mean() + torch.rand(()) * 0  # draws from the global RNG too
        opt.zero_grad()
        loss.backward()
        opt.step()

    seconds = budget.probe_step_seconds(model, opt, clips, batch_size=4, workers=0, step=step)
    assert seconds > 0
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BatchNorm statistics
    assert opt.state_dict()["state"] == {}  # Adam's moments: none yet, as before the probe
    assert torch.equal(torch.rand(3), expected)


def test_a_generous_budget_trains_the_same_model(recipe_file: Path, synth: Path, registry, tmp_path: Path) -> None:
    plain = train(load_recipe(recipe_file), synth, tmp_path / "plain", registry).root
    budgeted = train(load_recipe(recipe_file, ["train.time_budget=60"]), synth, tmp_path / "budget", registry).root
    info = json.loads((budgeted / "run.json").read_text())
    assert info["time_budget"]["epochs"] == 4 and info["time_budget"]["max_epochs"] == 4
    a = load_checkpoint(plain / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(budgeted / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_tight_budget_lowers_epochs_and_resume_keeps_the_plan(recipe_file: Path, synth: Path, registry,
                                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import vadkit.training.trainer as trainer

    # a "machine" where a step takes 10 s: an epoch of 2 steps is 21.6 s, so 60 s fit 2 of 4 epochs
    monkeypatch.setattr(trainer, "probe_step_seconds", lambda *a, **k: 10.0)
    run = train(load_recipe(recipe_file, ["train.time_budget=1"]), synth, tmp_path / "tight", registry).root
    assert _epochs_logged(run) == 2
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["epoch"] == 1 and ckpt["global_step"] == 4
    last_lr = [json.loads(line)["lr"] for line in (run / "log.jsonl").read_text().splitlines() if '"lr"' in line][-1]
    assert last_lr == pytest.approx(0.0, abs=1e-12)  # the cosine schedule spans the planned 2 epochs, not 4
    assert json.loads((run / "run.json").read_text())["time_budget"]["epochs"] == 2
    # on a "faster machine" a resumed run still keeps the 2 epochs it planned (and its schedule)
    monkeypatch.setattr(trainer, "probe_step_seconds", lambda *a, **k: 0.001)
    train(load_recipe(recipe_file, ["train.time_budget=1"]), synth, run, registry, resume=True)
    assert _epochs_logged(run) == 2


def test_bad_budget_names_the_key(recipe_file: Path, synth: Path, registry, tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match=r"train\.time_budget.*>= 0 and at most 525600"):
        train(load_recipe(recipe_file, ["train.time_budget=-1"]), synth, tmp_path / "bad", registry)


def test_resuming_a_run_started_without_a_budget_keeps_its_epochs(recipe_file: Path, synth: Path, registry,
                                                                  tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import vadkit.training.trainer as trainer

    run = train(load_recipe(recipe_file, ["train.epochs=1"]), synth, tmp_path / "r", registry).root
    monkeypatch.setattr(trainer, "probe_step_seconds", lambda *a, **k: 10.0)  # would plan 2 epochs
    train(load_recipe(recipe_file, ["train.time_budget=1"]), synth, run, registry, resume=True)
    assert _epochs_logged(run) == 4 and "time_budget" not in json.loads((run / "run.json").read_text())
