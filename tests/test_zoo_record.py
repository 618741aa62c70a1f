"""benchmarks/zoo_record.py: finished zoo seeds are reused only for the same merged recipe."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _helpers

from zoo_record import add, find, read_record, recipe_digest, train_digest  # noqa: E402


def test_a_recorded_seed_is_found_only_for_its_recipe(tmp_path: Path) -> None:
    base = tmp_path / "base.toml"
    base.write_text('[train]\nepochs = 3\n')
    recipe = tmp_path / "model.toml"
    recipe.write_text('extends = "base.toml"\n[train]\nlr = 0.001\n')
    record = tmp_path / "runs.json"
    digest = recipe_digest(recipe)
    assert read_record(record) == [] and find(record, "m", 0, digest) is None
    add(record, {"model": "m", "seed": 0, "recipe_digest": digest, "micro": 90.0})
    add(record, {"model": "m", "seed": 0, "recipe_digest": digest, "micro": 91.0})  # replaces, never duplicates
    assert [r["micro"] for r in read_record(record)] == [91.0]
    assert find(record, "m", 0, digest)["micro"] == 91.0
    assert find(record, "m", 1, digest) is None and find(record, "other", 0, digest) is None
    base.write_text('[train]\nepochs = 4\n')  # a change in the extended recipe changes the digest
    assert find(record, "m", 0, recipe_digest(recipe)) is None


def test_train_digest_ignores_only_the_eval_table(tmp_path: Path) -> None:
    """A recipe changed only in [eval] trains the same model; a seed or [train] change does not."""
    recipe = tmp_path / "model.toml"
    recipe.write_text('[train]\nlr = 0.001\nseed = 0\n[eval]\nbatch_size = 1\n')
    before = train_digest(recipe)
    recipe.write_text('[train]\nlr = 0.001\nseed = 0\n[eval]\nbatch_size = 8\nmemory_update = true\n')
    assert train_digest(recipe) == before and recipe_digest(recipe) != before
    assert train_digest(recipe, ["train.seed=1"]) != before
    merged = tmp_path / "run.toml"  # a run folder's recipe.toml: merged, the seed applied
    merged.write_text('[train]\nlr = 1e-3\nseed = 1\n')
    assert train_digest(merged) == train_digest(recipe, ["train.seed=1"])


def test_a_seed_changed_only_in_eval_is_reevaluated_not_retrained(tmp_path: Path) -> None:
    """benchmarks/zoo.py: a finished run whose recipe differs only in [eval] is scored again by
    `vadkit eval --run` with the new [eval] (MNAD's point-score update here, which needs no
    calibration), keeping the run's training minutes and epochs."""
    import argparse
    import json

    from _helpers import TINY_MODEL
    from zoo import reevaluate

    import vadkit
    from vadkit.data.synth import generate
    from vadkit.recipe import load_recipe
    from vadkit.training.trainer import train

    data = generate(tmp_path / "synth", seed=1, train_videos=2, test_videos=2, frames=20, size=32, object_size=8)
    tiny = TINY_MODEL + "[train]\nepochs = 1\nbatch_size = 4\nmax_steps_per_epoch = 2\nthreads = 1\n[eval]\nbatch_size = 4\n"
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(tiny)
    runs = tmp_path / "runs"
    run = train(load_recipe(recipe, ["train.seed=0"]), data, runs / "seed0-old", vadkit.create_registry(autoload=False)).root
    (run / "zoo_run.json").write_text(json.dumps({"seed": 0, "minutes": 1.5, "epochs": 1, "micro": 0.0}))
    args = argparse.Namespace(data=data)
    assert reevaluate(recipe, runs, 0, args) is not None  # [eval] unchanged: the same run scored again
    recipe.write_text(tiny + 'memory_update = true\nmemory_update_rule = "point_score"\n')
    row = reevaluate(recipe, runs, 0, args)
    assert row is not None and "error" not in row, row
    assert row["minutes"] == 1.5 and row["epochs"] == 1 and 0 <= row["micro"] <= 100
    assert row["reevaluated"]["run"] == "seed0-old"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["memory_update"]["rule"].startswith("point_score")
    assert reevaluate(recipe, runs, 1, args) is None  # no run of that seed
    recipe.write_text(tiny.replace("epochs = 1", "epochs = 2"))
    assert reevaluate(recipe, runs, 0, args) is None  # training changed: train afresh
