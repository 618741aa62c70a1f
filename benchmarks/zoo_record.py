"""The zoo's finished seeds, kept in the repository (docs/measurements/zoo_runs.json).

A zoo run takes about half an hour per model and seed on 2 cores, and `runs/` is not kept from
one machine to the next, so a table built over several sittings needs its finished seeds
somewhere that lasts. Each entry names the model, the seed, a digest of the merged recipe it was
trained from (an entry whose recipe has changed since is not reused), the machine and the date.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from vadkit.atomic import atomic_write_text
from vadkit.recipe import load_recipe


def recipe_digest(recipe: Path) -> str:
    """sha256 (first 16 hex digits) of the merged recipe, ``extends`` chain included."""
    merged = json.dumps(load_recipe(recipe).data, sort_keys=True, default=str)
    return hashlib.sha256(merged.encode("utf-8")).hexdigest()[:16]


def train_digest(recipe: Path, overrides: list[str] | None = None) -> str:
    """sha256 (first 16 hex digits) of what trains the model: the merged recipe (with
    ``overrides``, e.g. the seed) without its [eval] table, which only changes how a trained run
    is scored. A run folder's own ``recipe.toml`` (merged, overrides applied) gives the same
    digest as the recipe and overrides it was trained from."""
    data = dict(load_recipe(recipe, overrides or []).data)
    data.pop("eval", None)
    merged = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(merged.encode("utf-8")).hexdigest()[:16]


def read_record(path: Path) -> list[dict[str, Any]]:
    """The recorded runs (an absent file is an empty record)."""
    if not path.is_file():
        return []
    runs = json.loads(path.read_text(encoding="utf-8")).get("runs", [])
    if not isinstance(runs, list):
        raise SystemExit(f"{path}: 'runs' must be a list")
    return runs


def find(path: Path, model: str, seed: int, digest: str) -> dict[str, Any] | None:
    """The recorded run of ``model`` at ``seed`` trained from the same merged recipe, if any."""
    for run in read_record(path):
        if run.get("model") == model and run.get("seed") == seed and run.get("recipe_digest") == digest:
            return run
    return None


def add(path: Path, entry: dict[str, Any]) -> None:
    """Record ``entry``, replacing an earlier one of the same model, seed and recipe digest."""
    key = (entry["model"], entry["seed"], entry["recipe_digest"])
    runs = [r for r in read_record(path) if (r.get("model"), r.get("seed"), r.get("recipe_digest")) != key]
    runs.append(entry)
    runs.sort(key=lambda r: (str(r.get("model")), int(r.get("seed", 0))))
    atomic_write_text(path, json.dumps({"runs": runs}, indent=2) + "\n")


__all__ = ["add", "find", "read_record", "recipe_digest", "train_digest"]
