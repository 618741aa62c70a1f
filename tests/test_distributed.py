"""DDP training on CPU (gloo, 2 processes): one checkpoint, ranks in sync (weights and memory
items after every epoch), resume; env-var checks; the memory sync itself."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from _helpers import TINY_MODEL

from vadkit.training import distributed
from vadkit.training.distributed import DistributedError, read_env

TINY = TINY_MODEL + """[train]
epochs = {epochs}
batch_size = 2
max_steps_per_epoch = 2
lr = 1e-3
threads = 1
[flow]
cache = "{cache}"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, args: dict) -> None:
    """One rank: train (or resume) the tiny recipe; dump this rank's state after each epoch."""
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "LOCAL_WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(1)
    import vadkit
    import vadkit.training.trainer as trainer
    from vadkit.recipe import load_recipe

    original = trainer._checkpoint

    def spy(state, epoch, *rest):  # every rank reaches _checkpoint; only rank 0 writes the real one
        sd = {k: v.detach().clone() for k, v in state.model.state_dict().items()}
        torch.save(sd, Path(args["dumps"]) / f"rank{rank}-epoch{epoch}.pt")
        original(state, epoch, *rest)

    trainer._checkpoint = spy
    try:
        recipe = load_recipe(args["recipe"])
        trainer.train(recipe, Path(args["data"]), Path(args["out"]), vadkit.create_registry(autoload=False),
                      resume=args["resume"])
    finally:
        distributed.cleanup()


def _spawn(args: dict) -> None:
    mp.spawn(_worker, args=(2, _free_port(), args), nprocs=2, join=True)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vadkit.data.synth import generate

    return generate(tmp_path_factory.mktemp("synth"), seed=3, train_videos=2, test_videos=1, frames=20, size=32,
                    object_size=8)


def _recipe(tmp: Path, epochs: int) -> Path:
    path = tmp / f"tiny{epochs}.toml"
    path.write_text(TINY.format(epochs=epochs, cache=tmp / "cache"))
    return path


def test_two_rank_gloo_training_in_sync_and_resumes(tmp_path: Path, synth: Path) -> None:
    dumps, out = tmp_path / "dumps", tmp_path / "run"
    dumps.mkdir()
    args = {"recipe": str(_recipe(tmp_path, 1)), "data": str(synth), "out": str(out), "dumps": str(dumps),
            "resume": False}
    _spawn(args)
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["last.pt"]
    a, b = (torch.load(dumps / f"rank{r}-epoch0.pt", weights_only=True) for r in (0, 1))
    assert a.keys() == b.keys() and any(k.endswith("memory.items") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs between ranks"
    items = next(k for k in a if k.endswith("memory.items"))
    init = torch.nn.functional.normalize(torch.randn(4, 16, generator=torch.Generator().manual_seed(0)), dim=1)
    assert not torch.allclose(a[items], init), "the memory items never changed: the test would prove nothing"
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "step" in r]
    assert [r["step"] for r in steps] == [1, 2], "rank 0 alone logs: one record per step"
    ckpt = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["epoch"] == 0 and ckpt["global_step"] == 2
    assert all(torch.equal(ckpt["model"][k], a[k]) for k in a)

    _spawn({**args, "recipe": str(_recipe(tmp_path, 2)), "resume": True})
    ckpt = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["epoch"] == 1 and ckpt["global_step"] == 4
    a, b = (torch.load(dumps / f"rank{r}-epoch1.pt", weights_only=True) for r in (0, 1))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((out / "run.json").read_text())["epochs_completed"] == 2


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RANK": "0"}, "WORLD_SIZE"),
        ({"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "x", "MASTER_PORT": "1"}, "RANK=2"),
        ({"RANK": "a", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "x", "MASTER_PORT": "1"}, "not an integer"),
        ({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "3", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "x",
          "MASTER_PORT": "1"}, "LOCAL_RANK=3"),
    ],
)
def test_inconsistent_environment_is_a_clear_error(env: dict, message: str) -> None:
    with pytest.raises(DistributedError, match=message):
        read_env(env)


def test_no_launch_is_a_world_of_one() -> None:
    assert read_env({}) is None
    ctx = read_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "h", "MASTER_PORT": "29500"})
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.is_main) == (1, 2, 1, False)


def test_sync_state_uses_hook_and_averages_other_buffers() -> None:
    """sync_state with a stand-in reduce (rank mean of two fake ranks): the hook runs for its
    module, other float buffers are averaged, integer buffers untouched."""
    from vadkit.training.distributed import sync_state

    class Hooked(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("items", torch.ones(2, 3))
            self.calls = 0

        def sync_(self, reduce_mean):
            self.calls += 1
            self.items = reduce_mean(self.items) * 2

    model = torch.nn.Sequential(Hooked(), torch.nn.BatchNorm1d(3))
    model[1].running_mean.fill_(4.0)
    sync_state(model, lambda t: t / 2, enabled=True)  # t / 2 stands in for "mean over ranks"
    assert model[0].calls == 1 and torch.equal(model[0].items, torch.ones(2, 3))  # the hook, once, not averaged again
    assert torch.equal(model[1].running_mean, torch.full((3,), 2.0))
    assert torch.equal(model[1].running_var, torch.full((3,), 0.5))
    assert int(model[1].num_batches_tracked) == 0
    sync_state(model, lambda t: t / 2)  # no process group: nothing happens
    assert model[0].calls == 1
