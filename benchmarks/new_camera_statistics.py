"""Why the synthetic new camera ranks as it does after its fit: each statistic's own pooled AUC
(issue 19's diagnosis, no choice is made from it).

For each seed the test-suite's tiny MSTI-Net is trained as in ``detection_transfer.py``, the
"new camera" scene's test videos are scored once, the run is fitted to that camera's normal
footage (``vadkit calibrate --data NEW_CAMERA``, the defaults), and the frame-wise pooled AUC
(all frames of all videos together, no smoothing) is computed for: each statistic alone (signed
so larger = more anomalous: a monotone map of its calibrated term, so the fit cannot change it),
the calibrated score with the fitted weights, and that score with one statistic left out (the
others' weights renormalised). It reads the synthetic benchmark's test videos, so it is a
diagnosis to report, never a setting to choose.

    python benchmarks/new_camera_statistics.py --seeds 0,1,2 --out docs/measurements/new_camera_statistics.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from detection_transfer import QUIET, make_scenes, test_scores, tiny_recipe
from export_speed import machine

from vadkit import default_registry
from vadkit.atomic import atomic_write_text
from vadkit.detect import calibrate
from vadkit.postprocess.evidence import pooled_auc
from vadkit.recipe import recipe_from_dict
from vadkit.trained_run import TrainedRun
from vadkit.training.trainer import train


def pooled(videos: list[Any], values: list[np.ndarray]) -> float | None:
    """Pooled AUC of per-video ``values`` against the videos' frame labels."""
    labels = np.concatenate([np.asarray(v.labels) for v in videos])
    return pooled_auc(np.concatenate(values), labels)


def diagnose(run: Path, videos: list[Any]) -> dict[str, Any]:
    """Each statistic's pooled AUC and the calibrated score's, with and without each statistic."""
    trained = TrainedRun.open(run, default_registry())
    scorer, state = trained.scorer, trained.calibration()["state"]
    arrays = [v.arrays() for v in videos]
    out: dict[str, Any] = {"weights": state.get("weights"), "alone": {}, "without": {}}
    for s in scorer.statistics:
        out["alone"][s.name] = pooled(videos, [s.anomaly_sign * a[s.name] for a in arrays])
    out["calibrated"] = pooled(videos, [scorer.anomaly(a, state) for a in arrays])
    for name, w in (state.get("weights") or {}).items():
        if w <= 0:
            continue
        rest = {k: v for k, v in state["weights"].items() if k != name}
        total = sum(rest.values())
        if total <= 0:
            continue
        reduced = state | {"weights": {k: v / total for k, v in rest.items()} | {name: 0.0}}
        out["without"][name] = pooled(videos, [scorer.anomaly(a, reduced) for a in arrays])
    return out


def one_seed(seed: int, epochs: int, root: Path) -> dict[str, Any]:
    registry = default_registry()
    scenes = make_scenes(root / "data")
    run = root / "run"
    train(
        recipe_from_dict(tiny_recipe(root / "cache", epochs, seed), "tiny.toml"),
        scenes["same"],
        run,
        registry,
        console=QUIET,
    )
    result = {}
    for scene in ("new camera", "new background"):
        videos = [v for v in test_scores(run, registry, scenes[scene]) if v.labels and min(v.labels) >= 0]
        calibrate(run, registry, scenes["same"], console=QUIET)  # the run's own calibration and evidence
        calibrate(run, registry, scenes[scene], console=QUIET)  # then the documented new-camera fit
        result[scene] = diagnose(run, videos)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    start = time.perf_counter()
    per_seed = {}
    for seed in [int(s) for s in args.seeds.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            per_seed[str(seed)] = one_seed(seed, args.epochs, Path(tmp))
        print(seed, json.dumps(per_seed[str(seed)]))
    meta = {
        "machine": machine(1),  # the CPU and its flags, as every benchmark records them
        "seconds": round(time.perf_counter() - start, 1),
        "epochs": args.epochs,
    }
    if args.out:
        atomic_write_text(args.out, json.dumps({"meta": meta, "seeds": per_seed}, indent=2) + "\n")


if __name__ == "__main__":
    main()
