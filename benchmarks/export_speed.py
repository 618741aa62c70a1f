"""Frames/s of the model forward pass per inference backend, in one benchmark run under the
same conditions: PyTorch (float32; and the recipe's ``[train] fast`` mode where it differs),
the exported ONNX graph under onnxruntime, and under OpenVINO (float32, and bfloat16 on CPUs
with native bf16). Random weights: speed does not depend on them.

    python benchmarks/export_speed.py --out runs/export_speed.json          # both recipes, 2 threads
    python benchmarks/export_speed.py --quick                               # a smoke run

Each backend runs in its own process (the runtimes' worker threads would otherwise compete);
blocks of passes are timed in rounds across the backends, one process active at a time, and
each number is the median pass as frames/s (batch / time), input conversions included. The
load average is recorded: other processes on the machine skew the numbers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from vadkit import default_registry
from vadkit.builder import build_model, model_section
from vadkit.detect.backends import OnnxRuntimeBackend, OpenVinoBackend, installed
from vadkit.export.graph import example_inputs, to_onnx
from vadkit.export.manifest import VERSION
from vadkit.recipe import load_recipe
from vadkit.runtime import autocast, cpu_has_native_bf16, prepare_model

CASES = (("ped2-cpu", 128), ("mstinet", 256))


def exported(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...], folder: Path) -> Path:
    """The model as an export folder the backends load (graph + the manifest keys they read)."""
    graph = to_onnx(model, inputs, ("prediction", "distance"), folder / "model.onnx")
    manifest = {"vadkit_export": VERSION, "model_file": "model.onnx", "outputs": ["prediction", "distance"],
                "model": {"uses_motion": len(inputs) == 2}, "graph": graph}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def build(recipe_name: str, size: int) -> tuple[torch.nn.Module, Callable[[int], tuple[torch.Tensor, ...]], bool]:
    torch.manual_seed(0)
    recipe = load_recipe(recipe_name, [f"model.resolution=[{size}, {size}]"])
    model = build_model(recipe, default_registry()).eval()
    m = model_section(recipe)

    def make_inputs(batch: int) -> tuple[torch.Tensor, ...]:
        return example_inputs(int(m["frames"]), int(m["image_channels"]), m["resolution"], model.uses_motion, batch)
    return model, make_inputs, bool(recipe.get("train.fast", False))


def worker(backend: str, recipe_name: str, size: int, threads: int, folder: str, conn: Any) -> None:
    """One backend in its own process (its thread pool alone), timing blocks on request:
    receives a batch size, runs one untimed pass and ``per_block`` timed ones, sends the times."""
    torch.set_num_threads(threads)
    model, make_inputs, _ = build(recipe_name, size)
    if backend.startswith("torch"):
        fast = backend == "torch fast (recipe)"
        net = prepare_model(model, torch.device("cpu"), fast)

        def run(inputs: tuple[torch.Tensor, ...]) -> None:
            with torch.inference_mode(), autocast(torch.device("cpu"), fast):
                net(*inputs)
    elif backend == "onnxruntime fp32":
        run = OnnxRuntimeBackend(Path(folder), threads=threads)
        run = (lambda b: lambda inputs: b(*inputs))(run)
    else:
        ov = OpenVinoBackend(Path(folder), threads=threads, precision="bf16" if backend.endswith("bf16") else "f32")
        run = lambda inputs: ov(*inputs)  # noqa: E731
    conn.send("ready")
    while (msg := conn.recv()) is not None:
        batch, per_block = msg
        inputs = make_inputs(batch)
        run(inputs)
        times = []
        for _ in range(per_block):
            t = time.perf_counter()
            run(inputs)
            times.append(time.perf_counter() - t)
        conn.send(times)


def backends_of(fast: bool) -> list[str]:
    names = ["torch fp32"] + (["torch fast (recipe)"] if fast else [])
    if installed("onnxruntime"):
        names.append("onnxruntime fp32")
    if installed("openvino"):
        names += ["openvino fp32"] + (["openvino bf16"] if cpu_has_native_bf16() else [])
    return names


def measure(recipe_name: str, size: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Rows of frames/s for every backend and batch: blocks timed in rounds across the worker
    processes (one active at a time), so load from other processes hits every backend alike."""
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        model, make_inputs, fast = build(recipe_name, size)
        exported(model, make_inputs(2), Path(tmp))
        workers = {}
        for name in backends_of(fast):
            here, there = ctx.Pipe()
            proc = ctx.Process(target=worker, args=(name, recipe_name, size, args.threads, tmp, there), daemon=True)
            proc.start()
            here.recv()
            workers[name] = (proc, here)
        rows = []
        for batch in args.batches:
            times: dict[str, list[float]] = {name: [] for name in workers}
            start = time.perf_counter()
            for r in range(args.rounds):
                if r and time.perf_counter() - start > args.budget * len(workers):
                    break
                for name, (_, conn) in workers.items():
                    time.sleep(args.settle)  # the previous backend's idle threads stop spinning
                    conn.send((batch, args.per_block))
                    times[name] += conn.recv()
            for name, ts in times.items():
                fps = batch / statistics.median(ts)
                rows.append({"recipe": recipe_name, "size": size, "batch": batch, "backend": name, "fps": round(fps, 2),
                             "passes": len(ts)})
                print(f"{recipe_name:9s} {size:4d} b{batch:<2d} {name:20s} {fps:8.2f} frames/s", flush=True)
        for proc, conn in workers.values():
            conn.send(None)
            proc.join(timeout=10)
    return rows


def machine(threads: int) -> dict[str, object]:
    text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Model name")), "?")
    flags = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f" {f}" in text]
    return {"cpu": model, "flags": flags, "threads": threads, "python": platform.python_version(),
            "torch": torch.__version__, "loadavg_before": os.getloadavg()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--rounds", type=int, default=3, help="rounds of timed blocks per backend")
    p.add_argument("--per-block", type=int, default=3, help="timed passes per block")
    p.add_argument("--budget", type=float, default=20.0, help="seconds per backend and batch before rounds stop")
    p.add_argument("--settle", type=float, default=1.0, help="seconds of pause between two backends' blocks")
    p.add_argument("--quick", action="store_true", help="64x64 ped2-cpu only, one round")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    if args.quick:
        args.rounds, args.per_block = 1, 2
    cases = (("ped2-cpu", 64),) if args.quick else CASES
    result: dict[str, Any] = {"machine": machine(args.threads), "results": []}
    for recipe_name, size in cases:
        result["results"] += measure(recipe_name, size, args)
    result["machine"]["loadavg_after"] = os.getloadavg()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
