"""Does calibration's pseudo-anomaly recall warn about the runs whose calibrated threshold
misses real anomalies? For every run given that has a calibration and a test evaluation
(metrics.json's detection section), the pseudo-anomalies of the calibration's evidence are
scored again (the same draws: seed, copies and shift as calibration) and streamed at the
calibrated threshold (vadkit/detect/pseudo_recall.py), beside the test split's event recall at
that threshold. Nothing is chosen with it; it measures a diagnostic.

    python benchmarks/pseudo_recall_vs_test.py runs/zoo-amx/*/* --data ../shared/data/ped2 \\
        --out docs/measurements/pseudo_recall_vs_test.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from vadkit import create_registry
from vadkit.detect.calibration import load_calibration, stream_settings
from vadkit.detect.pseudo_recall import pseudo_recall, recall_warnings, threshold_source
from vadkit.pseudo.evidence import scored_evidence
from vadkit.trained_run import TrainedRun


def row(run_dir: Path, data: Path, registry) -> dict | None:
    metrics_path = run_dir / "metrics.json"
    if not (run_dir / "calibration.json").is_file() or not metrics_path.is_file():
        return None
    metrics = json.loads(metrics_path.read_text())
    detection = metrics.get("detection") or {}
    run = TrainedRun.open(run_dir, registry)
    cal = load_calibration(run)
    if detection.get("settings", {}).get("threshold") not in (None, cal["threshold"]):
        return None  # evaluated at another threshold than the calibration's
    shifted = bool(cal.get("evidence", {}).get("shifted", True))
    _, scored = scored_evidence(run, registry, data, shift=shifted)
    cfg = run.config.detect
    recall = pseudo_recall(scored, run.scorer, cal["state"], stream_settings(cal, cfg), cal["threshold"], cfg, shifted)
    return {
        "run": str(run_dir),
        "threshold": cal["threshold"],
        "pseudo_spans": recall["spans"],
        "pseudo_caught": recall["spans_caught"],
        "pseudo_normal_flagged": recall["normal_frames_flagged"] / max(1, recall["normal_frames"]),
        "warned": bool(recall_warnings(recall, threshold_source(cal, absolute=False))),
        "test_spans": detection.get("anomaly_spans"),
        "test_found": detection.get("spans_found"),
        "test_normal_flagged": detection.get("normal_frames_flagged"),
        "test_micro": metrics.get("auc_micro"),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--data", type=Path, required=True, help="the dataset root the runs were trained on")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    registry = create_registry()
    rows = []
    for r in args.runs:
        got = row(r, args.data, registry)
        if got is not None:
            rows.append(got)
            print(json.dumps(got), flush=True)
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    result = {
        "rows": rows,
        "machine": f"{cpu}, {torch.get_num_threads()} threads",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
