"""Which statistics and which evidence make one threshold hold across videos? Validation only (issue 19).

Ped2's test videos sit at another error level than its held-out training videos (docs/detect-validation.md):
a score that ranks frames well inside each video can rank them badly pooled over videos. This
benchmark measures that without test data. Each candidate is a set of ``[score]`` / ``[detect]``
overrides; for each, the run is re-scored and calibrated the default way on its held-out
videos, then measured on *other* pseudo-anomalies (seed 1; the calibration's evidence uses
seed 0) in the same held-out videos, twice: as drawn ("plain") and with every pseudo-video
under its own random photometric shift ("shifted": gain 0.7-1.3, offset +-20 grey levels, sensor
noise 0-4, vadkit.pseudo.shift). The figure is the pooled AUC of the raw calibrated score over
every frame of every pseudo-video.

The rule, written before any run (docs/detect-validation.md, "One threshold across levels"): the default
becomes the candidate with the highest median "shifted" AUC over the runs given, provided it
beats the current default ("default") there by at least 0.01 and loses at most 0.01 on "plain";
otherwise the default stays.

    python benchmarks/shift_validation.py --runs runs/ped2-cpu --out docs/measurements/shift_validation.json
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import tempfile
import time
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
from vadkit.trained_run import TrainedRun

QUIET = Console(file=io.StringIO())
MARGIN_SHIFTED, MARGIN_PLAIN = 0.01, 0.01
CANDIDATES: dict[str, dict[str, Any]] = {  # fixed before the run
    "default": {},
    "contrast16": {"score.contrast": 16},
    "contrast32": {"score.contrast": 32},
    "shifted-evidence": {"detect.evidence_shift": True},
    "contrast16+shifted-evidence": {"score.contrast": 16, "detect.evidence_shift": True},
}


def auc_on(run: TrainedRun, registry: Any, state: dict[str, Any], shift: bool) -> dict[str, Any]:
    """Pooled AUC of the calibrated score and of each statistic alone on seed-1 pseudo-anomalies."""
    _held, _videos, clips = pseudo_clips(run, registry, run.data_root(), 4, 1, shift=shift)
    scored = collect_stats(run.model, clips, run.scorer, run.device, fast=run.fast, precision=run.precision,
                           batch_size=8)
    stats = {k: np.concatenate([np.asarray(v.stats[k], np.float64) for v in scored]) for k in run.scorer.stat_names}
    labels = np.concatenate([np.asarray(v.labels) for v in scored])
    alone = {s.name: pooled_auc(s.anomaly_sign * stats[s.name], labels) for s in run.scorer.statistics}
    return {"auc": pooled_auc(run.scorer.anomaly(stats, state), labels), "alone": alone}


def measure(run_dir: Path, name: str, settings: dict[str, Any], work: Path) -> dict[str, Any]:
    registry = default_registry()
    copy = work / name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("validation", "plots", "detect", "export", "*.avi"))
    run = TrainedRun.open(copy, registry, settings=settings)
    start = time.perf_counter()
    cal = calibrate(run, registry, console=QUIET)
    state = cal["state"]
    plain, shifted = auc_on(run, registry, state, False), auc_on(run, registry, state, True)
    return {"candidate": name, "settings": settings, "run": str(run_dir), "plain": plain["auc"],
            "shifted": shifted["auc"], "alone_plain": plain["alone"], "alone_shifted": shifted["alone"],
            "weights": state["weights"], "evidence": (cal.get("evidence") or {}).get("auc_pooled"),
            "seconds": round(time.perf_counter() - start, 1)}


def choose(rows: list[dict[str, Any]]) -> tuple[str, dict[str, dict[str, float]]]:
    """The pre-registered rule (module docstring)."""
    med = {c: {k: float(np.median([r[k] for r in rows if r["candidate"] == c])) for k in ("plain", "shifted")}
           for c in dict.fromkeys(r["candidate"] for r in rows)}
    base = med["default"]
    fit = [c for c, m in med.items() if c != "default" and m["shifted"] >= base["shifted"] + MARGIN_SHIFTED
           and m["plain"] >= base["plain"] - MARGIN_PLAIN]
    return (max(fit, key=lambda c: med[c]["shifted"]) if fit else "default"), med


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", required=True, help="comma-separated trained run folders (copied, not modified)")
    ap.add_argument("--candidates", default=",".join(CANDIDATES), help="a subset of " + ", ".join(CANDIDATES))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in args.runs.split(","):
            for name in args.candidates.split(","):
                row = measure(Path(run), name, CANDIDATES[name], Path(tmp))
                rows.append(row)
                print(f"{run} {name}: plain {row['plain']:.4f}, shifted {row['shifted']:.4f}, "
                      f"weights {row['weights']} ({row['seconds']} s)", flush=True)
    chosen, med = choose(rows)
    print(f"median per candidate: {med}\nchosen by the rule: {chosen}")
    if args.out:
        body = {"rows": rows, "median": med, "chosen": chosen, "margins": [MARGIN_SHIFTED, MARGIN_PLAIN]}
        atomic_write_text(args.out, json.dumps(body, indent=1) + "\n")


if __name__ == "__main__":
    main()
