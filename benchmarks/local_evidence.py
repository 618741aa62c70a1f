"""Whole-frame vs worst-window statistics for detection, compared on validation only (issue 19).

For each ``[score] patch`` size the run is re-scored (the scorer is not part of the trained
weights), calibrated the default way (tail probabilities, evidence weights from pseudo-anomalies
with seed 0 in the held-out videos, so with a patch size the calibrated score weighs
``psnr_patch``, ``psnr`` and ``distance`` by their own evidence), and measured on *other*
pseudo-anomalies (seed 1) in the same held-out videos: the pooled AUC of the raw calibrated
score over every frame of every pseudo-video. No test data is read.

The rule, written before any run (docs/detect-validation.md, "Local evidence"): the detection default is
the patch size with the highest median pooled validation AUC over the runs given; a patch size
must beat the whole frame (patch = 0, the paper's) by at least 0.005 to replace it.

    python benchmarks/local_evidence.py --runs runs/ped2-cpu --patches 0,16,32 --out docs/measurements/local_evidence.json
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from vadkit import default_registry
from vadkit.atomic import atomic_write_text
from vadkit.detect import calibrate
from vadkit.inference import collect_stats
from vadkit.postprocess.evidence import pooled_auc
from vadkit.pseudo.clips import pseudo_clips
from vadkit.recipe import load_recipe
from vadkit.trained_run import TrainedRun

QUIET = Console(file=io.StringIO())
MARGIN = 0.005


def measure(run_dir: Path, patch: int, work: Path) -> dict[str, Any]:
    registry = default_registry()
    copy = work / f"patch{patch}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("validation", "plots"))
    # the copy's own recipe says the patch, so every job that opens it (calibration included) agrees
    atomic_write_text(copy / "recipe.toml", load_recipe(copy / "recipe.toml", [f"score.patch={patch}"]).to_toml())
    run = TrainedRun.open(copy, registry)
    cal = calibrate(run, registry, console=QUIET)
    _held, _videos, clips = pseudo_clips(run, registry, run.data_root(), 4, 1)
    scored = collect_stats(run.model, clips, run.scorer, run.device, fast=run.fast, precision=run.precision)
    stats = {k: np.concatenate([np.asarray(v.stats[k], np.float64) for v in scored]) for k in run.scorer.stat_names}
    labels = np.concatenate([np.asarray(v.labels) for v in scored])
    alone = {s.name: pooled_auc(s.anomaly_sign * stats[s.name], labels) for s in run.scorer.statistics}
    return {"patch": patch, "auc_pooled_calibrated": pooled_auc(run.scorer.anomaly(stats, cal["state"]), labels),
            "auc_pooled_alone": alone, "weights": cal["state"]["weights"], "evidence": cal["evidence"].get("auc_pooled")}


def choose(results: dict[str, list[dict[str, Any]]]) -> tuple[int, dict[int, float]]:
    """The pre-registered rule: highest median AUC; must beat patch 0 by MARGIN."""
    med = {int(p): float(np.median([r["auc_pooled_calibrated"] for r in rows])) for p, rows in results.items()}
    best = max(med, key=lambda p: med[p])
    return (best if best == 0 or med[best] >= med.get(0, -1) + MARGIN else 0), med


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", required=True, help="comma-separated trained run folders (not modified)")
    ap.add_argument("--patches", default="0,16,32")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in args.runs.split(","):
            for p in (int(x) for x in args.patches.split(",")):
                r = measure(Path(run), p, Path(tmp))
                r["run"] = run
                results.setdefault(str(p), []).append(r)
                print(f"{run} patch {p}: pooled calibrated AUC {r['auc_pooled_calibrated']:.4f}, weights {r['weights']}")
    chosen, med = choose(results)
    print(f"median per patch: {med}; chosen by the rule: patch = {chosen}")
    if args.out:
        args.out.write_text(json.dumps({"results": results, "median": med, "chosen": chosen, "margin": MARGIN},
                                       indent=1) + "\n")


if __name__ == "__main__":
    main()
