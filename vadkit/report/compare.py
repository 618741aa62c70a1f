"""Several runs side by side: runs that differ only by seed are grouped (mean +- sample std),
and the ablations A-E of the paper's Table II get the paper's ShanghaiTech values beside them."""

from __future__ import annotations

import copy
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..recipe import BUILTIN_RECIPES
from .collect import RunData

# Frame-level AUC (%) of Table II of arXiv 2306.10239, measured on ShanghaiTech.
PAPER_TABLE_II = {"A": 73.1, "B": 73.3, "C": 72.6, "D": 72.8, "E": 73.9}
PAPER_NOTE = (
    "Paper column: frame-level AUC (%) of Table II of MSTI-Net (arXiv 2306.10239), measured on "
    "ShanghaiTech. Our values are on the data each run used ({data}), so compare the ordering of the "
    "variants, not the numbers."
)


@dataclass
class Group:
    """Runs whose recipes are equal except for ``train.seed``."""

    runs: list[RunData]
    letter: str | None = None
    seeds: list[Any] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.runs[0].name if len(self.runs) == 1 else f"{self.runs[0].name} + {len(self.runs) - 1} more"

    def values(self, key: str) -> list[float]:
        out = []
        for run in self.runs:
            value = (run.metrics or {}).get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out.append(100.0 * float(value))
        return out

    def mean_std(self, key: str) -> tuple[float, float] | None:
        """Mean and sample standard deviation (ddof 1; 0 for a single run) in percent."""
        vals = self.values(key)
        if not vals:
            return None
        return statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0


def ablation_stems() -> dict[str, str]:
    """{'A-single-stream': 'A', ...} from the built-in ablation recipes."""
    return {p.stem: p.stem[0].upper() for p in sorted((BUILTIN_RECIPES / "ablations").glob("*.toml"))}


def ablation_letter(run: RunData, stems: dict[str, str] | None = None) -> str | None:
    """The Table II letter of a run named after (or made from) an ablation recipe, else None."""
    stems = ablation_stems() if stems is None else stems
    source = Path(str(run.info.get("recipe_source", ""))).stem
    root = run.root.resolve()
    names = [root.name, root.parent.name]  # ablate/<variant> or ablate/<variant>/seed<k>
    for stem, letter in stems.items():
        if source == stem or any(n == stem or n.startswith((f"{stem}-", f"{stem}_")) for n in names):
            return letter
    return None


def _without_seed(run: RunData) -> str | None:
    if run.recipe is None:
        return None
    data = copy.deepcopy(run.recipe.data)
    data.get("train", {}).pop("seed", None)
    return json.dumps(data, sort_keys=True, default=str)


def seed_groups(runs: list[RunData]) -> list[Group]:
    """Runs grouped by recipe without the seed, in the order their first member was given."""
    stems = ablation_stems()
    groups: dict[str, Group] = {}
    for i, run in enumerate(runs):
        key = _without_seed(run) or f"#unreadable-{i}"
        letter = ablation_letter(run, stems)
        group = groups.setdefault(f"{key}|{letter}", Group([], letter))
        group.runs.append(run)
        group.seeds.append(run.seed)
    return list(groups.values())


def data_names(runs: list[RunData]) -> str:
    """The data folders the runs used."""
    roots = []
    for run in runs:
        root = run.info.get("data_root") or (run.metrics or {}).get("data_root")
        name = str(root) if root else "unknown data"
        if name not in roots:
            roots.append(name)
    return ", ".join(roots)
