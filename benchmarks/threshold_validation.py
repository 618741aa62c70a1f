"""Does the threshold hold at another level? ``[detect] threshold_shift`` decided on validation only (issue 19).

For each candidate the run (copied) is calibrated the default way, with ``threshold_shift`` off
or on, and other pseudo-anomalies (seed 1, 4 copies; the calibration's evidence uses seed 0) in
the held-out videos are streamed through detection's path (smoothing, threshold, events) at that
calibration's threshold, twice: as drawn ("plain") and with each pseudo-video under its own
random photometric shift ("shifted", vadkit.pseudo.shift). Reported: the fraction of normal
frames flagged and the pseudo-anomalous stretches found (events overlapping them).

The rule, written before the run (docs/detect-validation.md, "A threshold that holds at another level"):
``threshold_shift = true`` becomes the default only when, median over the runs given, it flags at
most half as many normal frames as the default on the "shifted" streams *and* finds at most one
stretch fewer on the "plain" streams; otherwise the default stays.

    python benchmarks/threshold_validation.py --runs runs/ped2-cpu --out docs/measurements/threshold_validation.json
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from vadkit import default_registry
from vadkit.atomic import atomic_write_text
from vadkit.detect import calibrate
from vadkit.detect.detection_metrics import detection_metrics
from vadkit.evaluation.detection import stream_videos
from vadkit.inference import collect_stats
from vadkit.pseudo.clips import pseudo_clips
from vadkit.trained_run import TrainedRun

QUIET = Console(file=io.StringIO())
CANDIDATES = {"default": False, "threshold-shift": True}  # fixed before the run


def measure(run_dir: Path, work: Path) -> dict[str, Any]:
    registry = default_registry()
    out: dict[str, Any] = {}
    scored: dict[str, Any] = {}
    for name, shift_threshold in CANDIDATES.items():
        copy = work / name
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("validation", "plots", "detect", "export"))
        cal = calibrate(copy, registry, console=QUIET, overrides={"threshold_shift": shift_threshold})
        run = TrainedRun.open(copy, registry)
        for label, shift in (("plain", False), ("shifted", True)):
            if label not in scored:  # the statistics do not depend on the threshold: score once
                _held, _videos, clips = pseudo_clips(run, registry, run.data_root(), 4, 1, shift=shift)
                scored[label] = collect_stats(run.model, clips, run.scorer, run.device, fast=run.fast,
                                              precision=run.precision, batch_size=8)
            streamed, used = stream_videos(run, scored[label])
            m = detection_metrics(streamed, used["fps"])
            out.setdefault(name, {})[label] = {
                "threshold": cal["threshold"], "normal_frames_flagged": m["normal_frames_flagged"],
                "spans_found": m["spans_found"], "anomaly_spans": m["anomaly_spans"],
                "event_precision": m["event_precision"], "auc_pooled": m["auc_pooled"]}
            print(f"{run_dir} {name:16s} {label:8s} threshold {cal['threshold']:.3f}: normal flagged "
                  f"{m['normal_frames_flagged']:.1%}, stretches {m['spans_found']}/{m['anomaly_spans']}", flush=True)
    return out


def decide(results: list[dict[str, Any]]) -> str:
    """The rule of the module docstring over the median of the runs."""
    def med(name: str, label: str, key: str) -> float:
        return statistics.median(float(r[name][label][key]) for r in results)
    flagged_default, flagged_shift = (med(n, "shifted", "normal_frames_flagged") for n in CANDIDATES)
    found_default, found_shift = (med(n, "plain", "spans_found") for n in CANDIDATES)
    adopt = flagged_shift <= 0.5 * flagged_default and found_shift >= found_default - 1
    return (f"shifted streams: normal flagged {flagged_default:.1%} -> {flagged_shift:.1%}; plain streams: stretches "
            f"found {found_default:g} -> {found_shift:g} -> "
            + ("threshold_shift = true becomes the default" if adopt else "the default stays threshold_shift = false"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", required=True, help="comma-separated trained run folders (copied, not modified)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(Path(run), Path(tmp)) for run in args.runs.split(",")]
    verdict = decide(results)
    print(verdict)
    if args.out:
        atomic_write_text(args.out, json.dumps({"runs": args.runs.split(","), "results": results, "verdict": verdict},
                                               indent=1) + "\n")


if __name__ == "__main__":
    main()
