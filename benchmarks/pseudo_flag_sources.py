"""Where the flags on the normal frames of calibration's pseudo-videos come from: frames near a
pseudo-anomalous stretch (up to 15 frames after it, 5 before: their input frames or smoothing
window reach into it) or elsewhere, with and without the pseudo-videos' lighting shifts, at each
run's calibrated threshold. Measures a diagnostic (docs/detect.md); chooses nothing.

    python benchmarks/pseudo_flag_sources.py runs/zoo-amx/mstinet/seed2 runs/zoo-amx/fast/seed1 \\
        --data ../shared/data/ped2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vadkit import create_registry
from vadkit.detect.calibration import load_calibration, stream_settings
from vadkit.detect.detection_metrics import detect_video
from vadkit.pseudo.evidence import scored_evidence
from vadkit.trained_run import TrainedRun

AFTER, BEFORE = 15, 5


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--data", type=Path, required=True)
    args = p.parse_args()
    registry = create_registry()
    for run_dir in args.runs:
        run = TrainedRun.open(run_dir, registry)
        cal, cfg = load_calibration(run), run.config.detect
        settings = stream_settings(cal, cfg)
        for shift in (True, False):
            _, scored = scored_evidence(run, registry, args.data, shift=shift)
            near = [0, 0]
            far = [0, 0]
            for v in scored:
                stats = {k: np.asarray(v.stats[k], np.float64) for k in run.scorer.stat_names}
                labels = np.asarray(v.labels) > 0
                d = detect_video(v.name, np.asarray(v.frames), labels.astype(int), run.scorer.anomaly(stats, cal["state"]),
                                 settings, cal["threshold"], cfg.merge_gap, cfg.min_event, cfg.fps)
                idx, ab = np.arange(labels.size), np.flatnonzero(labels)
                is_near = ~labels & (((idx > ab[-1]) & (idx <= ab[-1] + AFTER)) | ((idx < ab[0]) & (idx >= ab[0] - BEFORE)))
                is_far = ~labels & ~is_near & (idx >= settings.smoothing - 1)
                near = [near[0] + int((d.flags & is_near).sum()), near[1] + int(is_near.sum())]
                far = [far[0] + int((d.flags & is_far).sum()), far[1] + int(is_far.sum())]
            print(f"{run_dir} ({'shifted' if shift else 'plain'}): normal frames flagged near a stretch "
                  f"{near[0]}/{near[1]}, elsewhere {far[0]}/{far[1]}", flush=True)


if __name__ == "__main__":
    main()
