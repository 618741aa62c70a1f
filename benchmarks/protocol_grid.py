"""Compare scoring-protocol settings on validation over many trained runs (no test data read).

One run against one run, `vadkit validate` ranks settings poorly (docs/results.md, "How far
validation can be trusted"); averaged over many runs it is a usable guide. For every run folder
given (or found under the folders given) and every setting (a comma-separated list of
`vadkit validate --set` overrides; "" = the run's own recipe), this validates the run, then
reports per setting its mean gain in validation micro AUC over the baseline (the first
setting) and on how many runs it gained. It reads no test label: the rule that turns these
numbers into a choice is the caller's, written down before running it.

    python benchmarks/protocol_grid.py runs/ped2-cpu runs/ablate-ped2 \
        --setting "" --setting eval.temporal_sigma=2 --setting eval.memory_update=true \
        --out docs/measurements/protocol_grid.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from vadkit import default_registry
from vadkit.detect.calibration import calibrate
from vadkit.validation.validate import validate


def run_folders(paths: list[Path]) -> list[Path]:
    """Trained run folders: those holding a recipe.toml and a checkpoints/ folder."""
    found: list[Path] = []
    for p in paths:
        candidates = [p] if (p / "recipe.toml").is_file() else sorted(q.parent for q in p.rglob("recipe.toml"))
        found += [c for c in candidates if (c / "checkpoints").is_dir()]
    return found


def overrides_of(setting: str) -> list[str]:
    return [s.strip() for s in setting.split(",") if s.strip()]


def summarise(rows: list[dict], settings: list[str]) -> dict[str, dict]:
    """Per setting: mean and median gain over the baseline, runs gained / compared."""
    base = settings[0]
    out: dict[str, dict] = {}
    for s in settings[1:]:
        gains = [r["micro"][s] - r["micro"][base] for r in rows
                 if r["micro"].get(s) is not None and r["micro"].get(base) is not None]
        out[s] = {"runs": len(gains), "mean_gain": float(np.mean(gains)) if gains else None,
                  "median_gain": float(np.median(gains)) if gains else None,
                  "runs_gained": int(sum(g > 0 for g in gains))}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--setting", action="append", required=True,
                   help='comma-separated validate overrides; the first is the baseline ("" = the recipe)')
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    registry = default_registry()
    rows = []
    for run in run_folders(args.paths):
        row: dict = {"run": str(run), "micro": {}, "skipped": {}}
        for setting in args.setting:
            overrides = overrides_of(setting)
            try:
                if any(o.startswith("eval.memory_update") for o in overrides) and not (run / "calibration.json").is_file():
                    calibrate(run, registry)  # held-out normal training videos only
                row["micro"][setting] = validate(run, registry, score_overrides=overrides)["auc_micro"]
            except (TypeError, ValueError) as exc:  # e.g. a model without a memory to update
                row["micro"][setting] = None
                row["skipped"][setting] = str(exc)
        rows.append(row)
        shown = ", ".join(f"{s or 'recipe'} {'-' if v is None else f'{100 * v:.1f}'}" for s, v in row["micro"].items())
        print(f"{run}: {shown}", flush=True)
    summary = summarise(rows, args.setting)
    for s, m in summary.items():
        if m["runs"]:
            print(f"{s}: mean gain {100 * m['mean_gain']:+.2f}, median {100 * m['median_gain']:+.2f}, "
                  f"gained on {m['runs_gained']}/{m['runs']} runs")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"settings": args.setting, "runs": rows, "summary": summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
