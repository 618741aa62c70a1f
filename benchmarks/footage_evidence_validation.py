"""Should a new camera's fit also measure the weights on that camera? ``[detect] footage_evidence``, decided on validation only (issue 19).

For each training seed the synthetic tiny model of benchmarks/detection_transfer.py is trained on
the "same" scene, calibrated the default way on its hold-out, then fitted to each new scene
(``vadkit calibrate --data NEW``, its normal training-split footage, no labels) twice: keeping the
run's evidence weights (the default) and with ``footage_evidence = true`` (weights measured on
pseudo-anomalies, seed 0, drawn into that footage). Validation streams: other pseudo-anomalies
(seed 1, 4 copies) drawn into the same normal footage, as drawn ("plain") and each under its own
photometric shift ("shifted"), streamed through detection's path at each fit. No test video of any
scene is read.

The rule, written before the run (docs/detect-validation.md, "Weights for a new camera"):
``footage_evidence = true`` becomes the default only when, median over the seeds, its pooled AUC
on the validation streams is at most 0.005 below the default's on all four (scene, plain/shifted)
pairs *and* at least 0.005 above on at least two of them; otherwise the default stays.

    python benchmarks/footage_evidence_validation.py --seeds 0,1,2 --out docs/measurements/footage_evidence_validation.json
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))  # detection_transfer, next to this file

from detection_transfer import make_scenes, tiny_recipe  # noqa: E402
from export_speed import machine  # noqa: E402

from vadkit import default_registry  # noqa: E402
from vadkit.atomic import atomic_write_text  # noqa: E402
from vadkit.data.factory import open_dataset  # noqa: E402
from vadkit.detect import calibrate  # noqa: E402
from vadkit.detect.detection_metrics import detection_metrics  # noqa: E402
from vadkit.evaluation.detection import stream_videos  # noqa: E402
from vadkit.inference import collect_stats  # noqa: E402
from vadkit.pseudo.clips import pseudo_clips  # noqa: E402
from vadkit.recipe import recipe_from_dict  # noqa: E402
from vadkit.trained_run import TrainedRun  # noqa: E402
from vadkit.training.trainer import train  # noqa: E402

QUIET = Console(file=io.StringIO())
CANDIDATES = {"kept weights": False, "footage evidence": True}  # fixed before the run
SCENES = ("new camera", "new background")


def validation_scores(run: Path, registry: Any, footage: Path, shift: bool) -> list[Any]:
    """Per-frame statistics of seed-1 pseudo-anomalies drawn into the footage's normal videos."""
    trained = TrainedRun.open(run, registry)
    videos = open_dataset(footage, registry, trained.recipe).videos("training")
    _held, _copies, clips = pseudo_clips(trained, registry, footage, 4, 1, shift=shift, videos=videos)
    return collect_stats(trained.model, clips, trained.scorer, trained.device, fast=trained.fast,
                         precision=trained.precision)


def one_seed(seed: int, epochs: int, root: Path) -> dict[str, Any]:
    registry = default_registry()
    scenes = make_scenes(root / "data")
    run = root / "run"
    train(recipe_from_dict(tiny_recipe(root / "cache", epochs, seed), "tiny.toml"), scenes["same"], run, registry,
          console=QUIET)
    calibrate(run, registry, scenes["same"], console=QUIET)
    out: dict[str, Any] = {}
    for scene in SCENES:
        scored = {label: validation_scores(run, registry, scenes[scene], label == "shifted")
                  for label in ("plain", "shifted")}
        for name, footage_evidence in CANDIDATES.items():
            copy = root / name.replace(" ", "_")
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(run, copy)
            cal = calibrate(copy, registry, scenes[scene], console=QUIET,
                            overrides={"footage_evidence": footage_evidence})
            trained = TrainedRun.open(copy, registry)
            for label, videos in scored.items():
                streamed, used = stream_videos(trained, videos)
                m = detection_metrics(streamed, used["fps"])
                out.setdefault(scene, {}).setdefault(name, {})[label] = {
                    "auc_pooled": m["auc_pooled"], "weights": cal["state"].get("weights")}
                print(f"seed {seed} {scene:15s} {name:17s} {label:8s} pooled AUC {m['auc_pooled']:.3f} "
                      f"weights {cal['state'].get('weights')}", flush=True)
    return out


def decide(per_seed: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The rule of the module docstring over the median of the seeds."""
    medians: dict[str, Any] = {}
    not_worse, better = True, 0
    for scene in SCENES:
        for label in ("plain", "shifted"):
            kept, fit = (statistics.median(s[scene][n][label]["auc_pooled"] for s in per_seed) for n in CANDIDATES)
            medians[f"{scene}, {label}"] = {"kept weights": kept, "footage evidence": fit}
            not_worse &= fit >= kept - 0.005
            better += fit >= kept + 0.005
    adopt = not_worse and better >= 2
    verdict = ("footage_evidence = true becomes the default" if adopt
               else "the default stays footage_evidence = false")
    return verdict, medians


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        per_seed = [one_seed(int(s), args.epochs, Path(tmp) / f"seed{s}") for s in args.seeds.split(",")]
    verdict, medians = decide(per_seed)
    for pair, m in medians.items():
        print(f"{pair:28s} kept {m['kept weights']:.3f}  footage evidence {m['footage evidence']:.3f}")
    print(verdict)
    if args.out:
        meta = {"machine": machine(1), "seconds": round(time.perf_counter() - start, 1),
                "seeds": args.seeds, "epochs": args.epochs}
        atomic_write_text(args.out, json.dumps({"meta": meta, "medians": medians, "verdict": verdict,
                                                "per_seed": per_seed}, indent=1) + "\n")


if __name__ == "__main__":
    main()
