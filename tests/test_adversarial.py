"""FFP's adversarial option: the patch discriminator trains beside the generator, rides in the
checkpoint so a resumed run continues it, and the time-budget probe leaves it as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from _helpers import REPO

from vadkit.checkpoint import load_checkpoint
from vadkit.cli import main
from vadkit.run_folder import RunFolder
from vadkit.training.adversarial import Adversary, PatchDiscriminator
from vadkit.training.budget import probe_step_seconds

FFP = REPO / "recipes" / "zoo" / "ffp-ped2-cpu.toml"
SETS = ["model.resolution=[32, 32]", "model.appearance.widths=[8, 16, 32, 64]", "train.max_steps_per_epoch=2",
        "train.time_budget=0", "train.batch_size=2", "train.threads=1", "detect.holdout_videos=1",
        "loss.weights.adversarial=0.05", "train.discriminator_widths=[8, 16]"]


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vadkit.data.synth import generate

    return generate(tmp_path_factory.mktemp("synth"), seed=2, train_videos=3, test_videos=1, frames=20, size=32, object_size=8)


def _train(synth: Path, out: Path, epochs: int, *extra: str) -> int:
    sets = [a for o in [*SETS, f"train.epochs={epochs}"] for a in ("--set", o)]
    return main(["train", "--recipe", str(FFP), "--data", str(synth), "--out", str(out), *sets, *extra])


def test_patch_discriminator_gives_one_probability_per_patch() -> None:
    d = PatchDiscriminator(3, (8, 16, 32, 32))
    out = d(torch.zeros(2, 3, 64, 64))
    assert out.shape[:2] == (2, 1) and out.shape[-1] > 1 and ((out > 0) & (out < 1)).all()


def test_discriminator_trains_and_resumes_with_the_run(synth: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _train(synth, out, 1) == 0
    steps = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if '"step"' in line]
    assert steps and all({"adversarial", "discriminator"} <= set(s) for s in steps)
    first = load_checkpoint(RunFolder(out).checkpoint)["adversary"]
    assert first and "discriminator" in first and "optimizer" in first
    assert _train(synth, out, 2, "--resume") == 0
    second = load_checkpoint(RunFolder(out).checkpoint)["adversary"]
    # the resumed epoch continued the saved discriminator: its Adam step count went on from epoch 1's
    steps_1 = max(int(v["step"]) for v in first["optimizer"]["state"].values())
    steps_2 = max(int(v["step"]) for v in second["optimizer"]["state"].values())
    assert steps_2 == steps_1 + 2


def test_budget_probe_restores_the_discriminator() -> None:
    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, 3, 3, padding=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    adversary = Adversary(3, (4, 8), 1e-2, torch.device("cpu"))
    before = {k: v.clone() for k, v in adversary.discriminator.state_dict().items()}
    clips = [{"x": torch.rand(3, 16, 16)} for _ in range(8)]

    def step(batch: dict) -> None:
        fake = model(batch["x"])
        adversary.update(batch["x"], fake)
        loss = adversary.generator_loss(fake)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    probe_step_seconds(model, optimizer, clips, 2, 0, step, extra=[adversary])
    after = adversary.discriminator.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not adversary.optimizer.state_dict()["state"]  # no Adam moments left behind
