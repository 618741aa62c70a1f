"""Frames/s of the model forward pass, fp32 against int8 (``vadkit export --precision int8``),
under onnxruntime and OpenVINO, beside PyTorch fp32, all in one benchmark run under the same
conditions (benchmarks/export_speed.py's worker processes, blocks timed in rounds).

    python benchmarks/quantize_speed.py --out /tmp/qspeed.json                       # both cases
    python benchmarks/quantize_speed.py --case ped2-cpu --run runs/ped2-cpu         # a trained run's exports

Cases: ``recipe-a`` (vadkit/recipes/ablations/A-single-stream at 256x256; fp32 and int8 graphs,
int8 ranges from random inputs) and ``mnad`` (the zoo's MNAD-pred assembly, 15,651,843
parameters, PyTorch fp32 only: the stand-in for MNAD's official code, which is not installed),
random weights (speed does not depend on the weights or ranges); ``ped2-cpu`` with ``--run``: that run's fp32 and int8 exports as they are deployed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from export_speed import build, exported, machine, worker

CASES = {"recipe-a": ("ablations/A-single-stream", 256), "mnad": ("zoo/mnad-pred", 256),
         "ped2-cpu": ("ped2-cpu", 128)}


def int8_folder(fp32: Path, recipe: str, size: int, into: Path, clips: int) -> Path:
    """``fp32``'s graph quantized as ``vadkit export --precision int8`` does, ranges from random clips."""
    from vadkit.export.manifest import file_digest
    from vadkit.export.quantize import quantize_onnx

    _, make_inputs, _ = build(recipe, size)
    feeds = []
    for _ in range(clips):
        x = make_inputs(1)
        feeds.append({n: t.numpy() for n, t in zip(("frames", "flows"), x)})
    into.mkdir(parents=True, exist_ok=True)
    how = quantize_onnx(fp32 / "model.onnx", into / "model.onnx", feeds)
    manifest = json.loads((fp32 / "manifest.json").read_text())
    manifest.update(model_sha256=file_digest(into / "model.onnx"), precision={"precision": "int8", **how})
    (into / "manifest.json").write_text(json.dumps(manifest))
    return into


def folders(case: str, args: argparse.Namespace, tmp: Path) -> dict[str, Path]:
    """fp32 and int8 export folders of ``case``."""
    recipe, size = CASES[case]
    if case == "ped2-cpu":
        if args.run is None:
            raise SystemExit("--case ped2-cpu needs --run with exports in <run>/export/onnx and --int8 FOLDER")
        return {"fp32": args.run / "export" / "onnx", "int8": args.int8}
    model, make_inputs, _ = build(recipe, size)
    (tmp / "fp32").mkdir()
    fp32 = exported(model, make_inputs(2), tmp / "fp32")
    return {"fp32": fp32, "int8": int8_folder(fp32, recipe, size, tmp / "int8", args.calibration_clips)}


def start(name: str, recipe: str, size: int, threads: int, folder: Path) -> tuple[Any, Any]:
    ctx = mp.get_context("spawn")
    here, there = ctx.Pipe()
    proc = ctx.Process(target=worker, args=(name, recipe, size, threads, str(folder), there), daemon=True)
    proc.start()
    here.recv()
    return proc, here


def measure(case: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Rows of frames/s for torch fp32 and each graph x backend, timed in rounds (with
    ``--with-mnad``, MNAD's PyTorch fp32 in the same rounds)."""
    recipe, size = CASES[case]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        graphs = {} if case == "mnad" else folders(case, args, Path(tmp))
        specs = {"torch fp32": ("torch fp32", recipe, Path(tmp))}  # label -> worker name, recipe, folder
        for precision, folder in graphs.items():
            for runtime in args.backends:
                specs[f"{runtime} {precision}"] = (f"{runtime} fp32", recipe, folder)  # the graph sets int8
            if args.bf16 and "openvino" in args.backends:  # fp32 graph in bf16; int8 graph's float parts in bf16
                specs["openvino bf16" if precision == "fp32" else f"openvino {precision}+bf16"] = (
                    "openvino bf16", recipe, folder)
        if args.bf16:
            specs["torch bf16 autocast"] = ("torch fast (recipe)", recipe, Path(tmp))
        if args.with_mnad and case != "mnad":
            specs["mnad torch fp32"] = ("torch fp32", CASES["mnad"][0], Path(tmp))
        workers = {label: start(name, rec, size, args.threads, folder) for label, (name, rec, folder) in specs.items()}
        times: dict[str, list[float]] = {label: [] for label in workers}
        for _ in range(args.rounds):
            for label, (_, conn) in workers.items():
                time.sleep(args.settle)
                conn.send((args.batch, args.per_block))
                times[label] += conn.recv()
        for proc, conn in workers.values():
            conn.send(None)
            proc.join(timeout=10)
    for label, ts in times.items():
        fps = args.batch / statistics.median(ts)
        rows.append({"case": "mnad" if label.startswith("mnad") else case, "recipe": specs[label][1], "size": size,
                     "batch": args.batch, "threads": args.threads, "runtime": label.removeprefix("mnad "),
                     "fps": round(fps, 2), "passes": len(ts),
                     "fps_spread": [round(args.batch / max(ts), 2), round(args.batch / min(ts), 2)]})
        print(f"{case:9s} {size}x{size} b{args.batch} {label:18s} {fps:8.2f} frames/s (median of {len(ts)})", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", nargs="+", default=["recipe-a", "mnad"], choices=sorted(CASES))
    p.add_argument("--run", type=Path, default=None, help="ped2-cpu: the trained run (its fp32 export)")
    p.add_argument("--int8", type=Path, default=None, help="ped2-cpu: the run's int8 export folder")
    p.add_argument("--backends", nargs="+", default=["onnxruntime", "openvino"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--per-block", type=int, default=3)
    p.add_argument("--settle", type=float, default=1.0)
    p.add_argument("--bf16", action="store_true",
                   help="also time bf16: OpenVINO with the bf16 precision hint on the fp32 graph, and PyTorch's "
                        "fast mode (bf16 autocast + channels_last where the CPU has native bf16)")
    p.add_argument("--with-mnad", action="store_true", help="time MNAD's PyTorch fp32 in the same rounds")
    p.add_argument("--calibration-clips", type=int, default=8, help="random clips for the int8 ranges")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    result: dict[str, Any] = {"machine": machine(args.threads), "results": []}
    for case in args.case:
        result["results"] += measure(case, args)
    result["machine"]["loadavg_after"] = os.getloadavg()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
