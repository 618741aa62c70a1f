"""How well one calibrated threshold transfers across videos and cameras (issue 19).

For each scene the test split is scored once; then the run is calibrated several ways and the
test videos are streamed through detection's path at each calibrated threshold (exactly what
`vadkit eval`'s detection metrics and `vadkit detect` do). Rows:

- previous release: z-score calibration (``[detect] calibration = "zscore"``) on the held-out
  training videos;
- last release: tail calibration with evidence weights, without the contrast statistic, with
  evidence on unshifted pseudo-anomalies and a threshold from the plain frames only (``[score]
  contrast = 0``, ``[detect] evidence_shift = false``, ``threshold_shift = false``);
- this release: the defaults (tail calibration, evidence weights measured on shifted
  pseudo-anomalies, the contrast statistic, a threshold that covers shifted copies);
- "+ new-camera fit": after that, ``vadkit calibrate --data NEW_CAMERA`` on the new camera's
  normal (training-split) footage, no labels (the documented new-camera procedure);
- "+ new-camera fit, evidence from its footage": the same fit with ``[detect] footage_evidence =
  true`` (the statistics' weights measured on pseudo-anomalies drawn into the new camera's
  footage instead of kept from the run's hold-out);
- "+ new-camera fit on footage with anomalies": the same fit on the new camera's test videos
  themselves (unlabelled, 40-50 % of their frames abnormal), the price of fitting on footage
  that is not known to be normal.

Scenes: the synthetic set the model was trained on ("same"), a "new camera" (the same layout,
30 grey levels brighter, 4-6 instead of 2-4 normal objects) and a "new background" (another
generator seed, brighter and busier); optionally a trained Ped2 run (``--ped2-run``; same
camera). The synthetic model is the test-suite's tiny MSTI-Net (32x32, widths 8-64, 4 memory
slots, regularity scorer), trained ``--epochs`` on one thread for each of ``--seeds``.

    python benchmarks/detection_transfer.py --out docs/measurements/detection_transfer.json \\
        [--ped2-run runs/ped2-cpu --ped2-data ../shared/data/ped2]
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rich.console import Console

from vadkit import default_registry
from vadkit.atomic import atomic_write_text
from vadkit.data.factory import build_clips
from vadkit.data.synth import generate
from vadkit.detect import calibrate
from vadkit.detect.calibration import load_calibration, stream_settings
from vadkit.detect.config import read_detect
from vadkit.detect.detection_metrics import detection_metrics
from vadkit.evaluation.detection import stream_videos
from vadkit.inference import collect_stats
from vadkit.recipe import load_recipe, recipe_from_dict
from vadkit.trained_run import TrainedRun
from vadkit.training.trainer import train

QUIET = Console(file=io.StringIO())
SCENE = {"size": 64, "object_size": 10, "frames": 80, "train_videos": 8, "test_videos": 6}
KEYS = ("auc_pooled", "normal_frames_flagged", "event_recall", "event_precision", "eer")


def tiny_recipe(cache: Path, epochs: int, seed: int) -> dict[str, Any]:
    """The test-suite's tiny MSTI-Net (tests/test_detect.py), one thread."""
    return {
        "model": {"frames": 4, "resolution": [32, 32],
                  "appearance": {"type": "conv_encoder", "widths": [8, 16, 32, 64]},
                  "motion": {"type": "conv_encoder", "widths": [8, 16, 32, 64]},
                  "attention": {"type": "channel_attention", "reduction": 4}, "fusion": {"type": "astfm"},
                  "memory": {"type": "memory_bank", "slots": 4}, "decoder": {"type": "unet_decoder"}},
        "score": {"type": "regularity", "tau": 0.7},
        "train": {"epochs": epochs, "batch_size": 4, "lr": 2e-3, "threads": 1, "device": "cpu", "seed": seed},
        "flow": {"type": "dis", "preset": "ultrafast", "scale": 2.0, "cache": str(cache)},
    }


def brighten(root: Path, delta: int) -> None:
    for f in sorted(root.rglob("frames/*/*.png")):
        img = cv2.imread(str(f)).astype(np.int16) + delta
        cv2.imwrite(str(f), np.clip(img, 0, 255).astype(np.uint8))


def make_scenes(root: Path) -> dict[str, Path]:
    same = generate(root / "same", seed=0, **SCENE)
    camera = generate(root / "new_camera", seed=0, **{**SCENE, "objects": (4, 6)})
    brighten(camera, 30)
    background = generate(root / "new_background", seed=1, **{**SCENE, "objects": (4, 6)})
    brighten(background, 30)
    return {"same": same, "new camera": camera, "new background": background}


def test_scores(run: Path, registry: Any, data: Path) -> list[Any]:
    trained = TrainedRun.open(run, registry)
    clips = build_clips(trained.recipe, registry, data, "testing", uses_motion=trained.model.uses_motion,
                        console=QUIET)
    return collect_stats(trained.model, clips, trained.scorer, trained.device, fast=trained.fast,
                         precision=trained.precision)


def streamed_metrics(run: Path, registry: Any, videos: list[Any]) -> dict[str, Any]:
    """Detection metrics of the run's current calibration on already-scored test videos."""
    trained = TrainedRun.open(run, registry)
    labelled = [v for v in videos if v.labels and min(v.labels) >= 0]
    streamed, used = stream_videos(trained, labelled)
    settings = stream_settings(load_calibration(trained), read_detect(trained.recipe))
    m = detection_metrics(streamed, used["fps"], settings, used["merge_gap"], used["min_event"])
    return {k: m[k] for k in KEYS} | {
        "fa_per_hour_at_90_recall": (m["at_recall"] or {}).get("false_alarms_per_hour"),
        "latency_median_frames": m["latency"]["median_frames"], "spans": f"{m['spans_found']}/{m['anomaly_spans']}",
        "lead_in_flags": sum(m["lead_in_flags"].values()), "threshold": used["threshold"],
        "weights": TrainedRun.open(run, registry).calibration()["state"].get("weights"),
    }


# (row name, [detect] calibration, recipe settings of the copy)
VARIANTS = (
    ("previous release", "zscore", ["score.contrast=0", "detect.evidence_shift=false", "detect.threshold_shift=false"]),
    ("last release", "tail", ["score.contrast=0", "detect.evidence_shift=false", "detect.threshold_shift=false"]),
    ("this release", "tail", []),
)


def variants(run: Path, registry: Any, videos: list[Any], data: Path, own: Path, camera: Path | None,
             work: Path) -> dict[str, Any]:
    """Each calibration variant of one run on one scene's test videos (scored again when the
    variant's scorer differs)."""
    rows: dict[str, Any] = {}
    for name, method, sets in VARIANTS:
        copy = work / name.replace(" ", "_")
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(run, copy)
        if sets:
            atomic_write_text(copy / "recipe.toml", load_recipe(copy / "recipe.toml", sets).to_toml())
        scored = test_scores(copy, registry, data) if sets else videos
        calibrate(copy, registry, own, console=QUIET, overrides={"calibration": method})
        rows[name] = streamed_metrics(copy, registry, scored)
        if camera is not None:
            calibrate(copy, registry, camera, console=QUIET, overrides={"calibration": method})
            rows[f"{name} + new-camera fit"] = streamed_metrics(copy, registry, scored)
    if camera is not None:  # the fit with evidence measured on the new camera's own footage
        copy = work / "footage_evidence"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(work / "this_release", copy)
        calibrate(copy, registry, camera, console=QUIET, overrides={"footage_evidence": True})
        rows["this release + new-camera fit, evidence from its footage"] = streamed_metrics(copy, registry, videos)
    if camera is not None:  # the trade-off: the new camera's first footage already holds anomalies
        copy = work / "contaminated"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(work / "this_release", copy)
        calibrate(copy, registry, camera, console=QUIET, split="testing")
        rows["this release + new-camera fit on footage with anomalies"] = streamed_metrics(copy, registry, videos)
    return rows


def synthetic(seed: int, epochs: int, root: Path) -> dict[str, Any]:
    registry = default_registry()
    scenes = make_scenes(root / "data")
    run = root / "run"
    recipe = recipe_from_dict(tiny_recipe(root / "cache", epochs, seed), "tiny.toml")
    train(recipe, scenes["same"], run, registry, console=QUIET)
    out = {}
    for scene, data in scenes.items():
        videos = test_scores(run, registry, data)
        camera = None if scene == "same" else data
        out[scene] = variants(run, registry, videos, data, scenes["same"], camera, root / "variants")
    return out


def ped2(run: Path, data: Path, root: Path) -> dict[str, Any]:
    registry = default_registry()
    videos = test_scores(run, registry, data)
    return {"Ped2 (same camera)": variants(run, registry, videos, data, data, None, root)}


def median_rows(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Per scene and variant: the median of each numeric metric over seeds, and every value."""
    out: dict[str, Any] = {}
    for scene in per_seed[0]:
        out[scene] = {}
        for variant in per_seed[0][scene]:
            rows = [s[scene][variant] for s in per_seed]
            merged = {}
            for k, v in rows[0].items():
                values = [r[k] for r in rows]
                if isinstance(v, (int, float)) and all(isinstance(x, (int, float)) for x in values):
                    merged[k] = float(np.median(values))
                    merged[k + "_seeds"] = values
                else:
                    merged[k] = values if len(values) > 1 else v
            out[scene][variant] = merged
    return out


def table(results: dict[str, Any]) -> str:
    def f(x: Any, pct: bool = False) -> str:
        if isinstance(x, list):
            return " / ".join(str(v) for v in x)
        if x is None:
            return "n/a"
        return f"{100 * x:.1f}%" if pct else (f"{x:.3f}" if isinstance(x, float) else str(x))

    lines = ["| scene | calibration | pooled AUC | EER | normal frames flagged | spans found | false alarms/h at 90% "
             "event recall | median latency (frames) |", "|---|---|---|---|---|---|---|---|"]
    for scene, rows in results.items():
        for variant, m in rows.items():
            fa = m.get("fa_per_hour_at_90_recall")
            lines.append(f"| {scene} | {variant} | {f(m['auc_pooled'])} | {f(m['eer'])} | "
                         f"{f(m['normal_frames_flagged'], True)} | {f(m['spans'])} | "
                         f"{'n/a' if fa is None else f'{fa:.0f}'} | {f(m['latency_median_frames'])} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2", help="training seeds of the synthetic model")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--ped2-run", type=Path, help="a trained Ped2 run folder (not modified: it is copied)")
    ap.add_argument("--ped2-data", type=Path, default=Path("../shared/data/ped2"))
    ap.add_argument("--no-synthetic", action="store_true")
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    args = ap.parse_args()
    start = time.perf_counter()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.ped2_run:
            results.update(ped2(args.ped2_run, args.ped2_data, Path(tmp) / "ped2"))
        if not args.no_synthetic:
            seeds = [int(s) for s in args.seeds.split(",")]
            results.update(median_rows([synthetic(s, args.epochs, Path(tmp) / f"seed{s}") for s in seeds]))
    print(table(results))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        meta = {"machine": platform.processor() or platform.machine(), "seconds": round(time.perf_counter() - start, 1),
                "seeds": args.seeds, "epochs": args.epochs, "ped2_run": str(args.ped2_run) if args.ped2_run else None}
        args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
