"""Accuracy of exported graphs (fp32, int8) of one trained run, scored by an inference backend in
place of the run's PyTorch model: ``vadkit validate`` (pseudo-anomalies in the held-out normal
videos; for choices) or ``vadkit eval`` (the test split; for reporting only, never for choosing).

    python benchmarks/quantize_accuracy.py --run runs/ped2-cpu --split validation \\
        --graph fp32=runs/ped2-cpu/export/onnx --graph int8=/tmp/int8 --out /tmp/acc.json

Each graph is scored in a copy of the run folder (validate and eval write their results into the
run), so the run itself is never written. The copy keeps the run's calibration (fp32): the
pooled calibrated AUC of an int8 graph is what a deployment that swaps the graph would get.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from vadkit import default_registry
from vadkit.detect.backends import OnnxRuntimeBackend, OpenVinoBackend
from vadkit.export.manifest import read_manifest
from vadkit.export.quantize import precision_of
from vadkit.trained_run import TrainedRun

SKIP = ("export", "validation", "detect", "plots")  # what the scored copy need not carry


def run_copy(run: Path, where: Path) -> Path:
    """``run`` copied into ``where`` without its exports and earlier results."""
    target = where / run.name
    shutil.copytree(run, target, ignore=lambda d, names: [n for n in names if Path(d) == run and n in SKIP])
    return target


def backend_for(name: str, folder: Path, threads: int, hint: str = "f32") -> Any:
    if name == "openvino":
        return OpenVinoBackend(folder, threads=threads, precision=hint)
    return OnnxRuntimeBackend(folder, threads)


def score(run: Path, folder: Path, split: str, backend: str, threads: int, data: Path | None,
          hint: str = "f32") -> dict[str, Any]:
    """validate or eval of ``run`` with the graph in ``folder`` in place of its model."""
    from vadkit.evaluation.evaluate import evaluate
    from vadkit.validation.validate import validate

    registry = default_registry()
    console = Console(quiet=True)
    with tempfile.TemporaryDirectory(prefix="vadkit-qacc-") as tmp:
        trained = TrainedRun.open(run_copy(run, Path(tmp)), registry, device="cpu")
        trained.model = backend_for(backend, folder, threads, hint)
        start = time.perf_counter()
        if split == "validation":
            result = validate(trained, registry, data_root=data, console=console)
            keep = {"auc_micro": result["auc_micro"], "auc_macro": result.get("auc_macro"),
                    "diagnostics": result["diagnostics"]}
        else:
            result = evaluate(trained, registry, data_root=data, console=console)
            detection = result.get("detection") or {}
            keep = {"auc_micro": result["auc_micro"], "auc_macro": result.get("auc_macro"),
                    "auc_pooled": detection.get("auc_pooled"), "auc_pooled_raw": detection.get("auc_pooled_raw"),
                    "diagnostics": result.get("diagnostics")}
    manifest = read_manifest(folder)
    precision = precision_of(manifest)
    if backend == "openvino" and hint == "bf16":  # OpenVINO computes the graph's float parts in bf16
        precision = "bf16" if precision == "fp32" else f"{precision}+bf16"
    return {**keep, "precision": precision, "quantization": manifest.get("precision"),
            "graph": str(folder), "backend": backend, "seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--graph", action="append", required=True, metavar="NAME=FOLDER", help="an export folder")
    p.add_argument("--bf16", action="append", default=[], metavar="NAME",
                   help="score graph NAME under OpenVINO computing in bf16 (INFERENCE_PRECISION_HINT=bf16)")
    p.add_argument("--split", choices=("validation", "test"), default="validation")
    p.add_argument("--backend", choices=("openvino", "onnxruntime"), default="openvino")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", type=Path, default=None, help="dataset root (default: the run's)")
    p.add_argument("--out", type=Path, default=None, help="JSON file of the results")
    args = p.parse_args()
    results: dict[str, Any] = {"run": str(args.run), "split": args.split, "loadavg_before": os.getloadavg()}
    for item in args.graph:
        name, _, folder = item.partition("=")
        hint = "bf16" if name in args.bf16 else "f32"
        if hint == "bf16" and args.backend != "openvino":
            raise SystemExit(f"--bf16 {name}: bf16 is scored under OpenVINO only (--backend openvino)")
        results[name] = score(args.run, Path(folder), args.split, args.backend, args.threads, args.data, hint)
        print(f"{name:18s} {args.split} micro AUC {results[name]['auc_micro']:.4f}"
              + (f", pooled calibrated AUC {results[name]['auc_pooled']:.4f}" if results[name].get("auc_pooled")
                 else ""), flush=True)
    results["loadavg_after"] = os.getloadavg()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
