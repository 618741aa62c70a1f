"""benchmarks/zoo_record.py: finished zoo seeds are reused only for the same merged recipe."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from zoo_record import add, find, read_record, recipe_digest  # noqa: E402


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
