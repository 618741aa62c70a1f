"""Training loggers: log.jsonl always, TensorBoard (optional extra) with the same scalars, and
clear errors for an unknown logger or a missing tensorboard package."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from vadkit.errors import RecipeError
from vadkit.run_folder import RunFolder
from vadkit.training.loggers import build_loggers, scalars

RECORDS = [
    {"epoch": 1, "step": 1, "global_step": 1, "intensity": 0.5, "total": 0.4, "lr": 1e-3},
    {"epoch": 1, "step": 2, "global_step": 2, "intensity": 0.25, "total": 0.2, "lr": 1e-3},
    {"epoch": 1, "epoch_end": True, "mean_total": 0.3, "memory/entropy": 1.5, "memory": {"usage": 7.0}},
    {"resumed_after_epoch": 1, "global_step": 2},
]


def test_jsonl_is_always_written_and_unknown_loggers_are_named(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    loggers = build_loggers(["jsonl"], run)
    for record in RECORDS:
        loggers.log(record)
    loggers.close()
    assert [json.loads(line) for line in run.log.read_text().splitlines()] == RECORDS
    with pytest.raises(RecipeError, match=r"key 'train.loggers': unknown logger 'tensorbord'. Did you mean 'tensorboard'"):
        build_loggers(["jsonl", "tensorbord"], run, recipe_file="r.toml")


def test_scalars_flatten_and_drop_index_keys() -> None:
    assert scalars(RECORDS[2]) == {"mean_total": 0.3, "memory/entropy": 1.5, "memory/usage": 7.0}
    assert scalars({"step": 3, "total": float("nan"), "ok": True, "x": 2}) == {"x": 2.0}


def test_missing_tensorboard_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    with pytest.raises(RecipeError, match=r"pip install 'vadkit\[tensorboard\]'"):
        build_loggers(["jsonl", "tensorboard"], RunFolder(tmp_path))


def test_tensorboard_gets_the_same_scalars(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="tensorboard not installed (pip install 'vadkit[tensorboard]')")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = RunFolder(tmp_path)
    loggers = build_loggers(["jsonl", "tensorboard"], run)
    for record in RECORDS:
        loggers.log(record)
    loggers.close()
    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    got = {tag: [(e.step, round(e.value, 6)) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    assert got == {
        "train/intensity": [(1, 0.5), (2, 0.25)], "train/total": [(1, 0.4), (2, 0.2)],
        "train/lr": [(1, 0.001), (2, 0.001)], "epoch/mean_total": [(1, 0.3)],
        "memory/entropy": [(1, 1.5)], "memory/usage": [(1, 7.0)],
    }
    assert len(run.log.read_text().splitlines()) == len(RECORDS)  # JSONL stays complete
