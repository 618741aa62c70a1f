"""Speed of the assembled MSTI-Net on the CPU: frames/s and achieved GFLOP/s of inference in
float32, float32 + channels_last and bf16 autocast + channels_last (``[train] fast = true`` is
the latter on CPUs with native bf16, the former elsewhere), and the time of one training step. A hand-written plain PyTorch two-stream U-Net of similar size runs
under the same conditions as the reference for "the registry and assembly add no cost".

    python benchmarks/model_speed.py --out runs/model_speed.json            # 256x256 b8, 2 threads
    python benchmarks/model_speed.py --quick                                 # a smoke run

Numbers are medians of timed iterations after warm-up. Other processes on the machine skew
them: the load average is recorded next to the results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from vadkit import create_registry
from vadkit.builder import build_model
from vadkit.recipe import load_recipe
from vadkit.runtime import autocast, cpu_has_native_bf16, prepare_input, prepare_model

DEVICE = torch.device("cpu")


def double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )  # fmt: skip


class PlainTwoStreamUNet(nn.Module):
    """The reference: a plain hand-written two-stream U-Net (no registry, no interfaces) with
    MSTI-Net's widths, a per-level fused skip (concat + 3x3 conv) and a wider decoder entry."""

    def __init__(self, frames: int = 4, widths: tuple[int, ...] = (64, 128, 256, 512)) -> None:
        super().__init__()
        ins = (3 * frames, 2 * frames)
        self.streams = nn.ModuleList(
            nn.ModuleList(double_conv(c_in if i == 0 else widths[i - 1], w) for i, w in enumerate(widths)) for c_in in ins
        )
        self.fuse = nn.ModuleList(nn.Conv2d(2 * w, w, 3, padding=1) for w in widths[:-1])
        self.entry = double_conv(2 * widths[-1], widths[-1])
        self.ups = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(3)))
        self.blocks = nn.ModuleList(double_conv(2 * widths[i], widths[i]) for i in reversed(range(3)))
        self.head = nn.Conv2d(widths[0], 3, 3, padding=1)

    def forward(self, frames: Tensor, flows: Tensor) -> Tensor:
        a = rearrange(frames, "b t c h w -> b (t c) h w")
        m = rearrange(flows, "b t c h w -> b (t c) h w")
        skips = []
        for i, (stage_a, stage_m) in enumerate(zip(*self.streams)):
            if i:
                a, m = F.max_pool2d(a, 2), F.max_pool2d(m, 2)
            a, m = stage_a(a), stage_m(m)
            if i < len(self.fuse):
                a = self.fuse[i](torch.cat([a, m], 1))
                skips.append(a)
        x = self.entry(torch.cat([a, a], 1))
        for up, block, skip in zip(self.ups, self.blocks, reversed(skips)):
            x = block(torch.cat([up(x), skip], 1))
        return torch.tanh(self.head(x))


def inputs(model: nn.Module, batch: int, size: int) -> tuple[Tensor, Tensor]:
    return torch.rand(batch, 4, 3, size, size) * 2 - 1, torch.randn(batch, 4, 2, size, size)


def gflops_per_frame(model: nn.Module, size: int) -> float:
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*inputs(model, 1, size))
    return counter.get_total_flops() / 1e9


def median_time(step: Callable[[], None], warmup: int, iters: int) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def prediction(out) -> Tensor:
    return out if isinstance(out, Tensor) else out.prediction


def prepared(model: nn.Module, fast: bool) -> nn.Module:
    """``runtime.prepare_model``, after undoing an earlier fast run's channels_last."""
    return prepare_model(model.to(memory_format=torch.contiguous_format), DEVICE, fast)


# (label, channels_last, autocast precision); `[train] fast = true` resolves to one of the last two
MODES = (("fp32", False, "float32"), ("fp32_channels_last", True, "float32"), ("bf16_channels_last", True, "bfloat16"))


def bench_inference(model: nn.Module, size: int, batch: int, fast: bool, precision: str, warmup: int, iters: int) -> float:
    model = prepared(model, fast).eval()
    frames, flows = (prepare_input(x, DEVICE, fast) for x in inputs(model, batch, size))

    def step() -> None:
        with torch.inference_mode(), autocast(DEVICE, fast, precision):
            model(frames, flows)

    return median_time(step, warmup, iters)


def bench_train_step(model: nn.Module, size: int, batch: int, fast: bool, precision: str, warmup: int, iters: int) -> float:
    model = prepared(model, fast).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    frames, flows = (prepare_input(x, DEVICE, fast) for x in inputs(model, batch, size))
    target = torch.rand(batch, 3, size, size) * 2 - 1

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast(DEVICE, fast, precision):
            out = model(frames, flows)
            loss = F.mse_loss(prediction(out).float(), target)
            if not isinstance(out, Tensor):
                loss = loss + sum(out.memory.losses.values(), torch.zeros(()))
        loss.backward()
        optimizer.step()

    return median_time(step, warmup, iters)


def measure(name: str, model: nn.Module, args: argparse.Namespace) -> dict:
    params = sum(p.numel() for p in model.parameters())
    gf = gflops_per_frame(model, args.size)
    row = {"model": name, "params": params, "gflops_per_frame": gf}
    for label, fast, precision in MODES:
        sec = bench_inference(model, args.size, args.batch, fast, precision, args.warmup, args.iters)
        row[label] = {"batch_s": sec, "frames_per_s": args.batch / sec, "gflop_per_s": gf * args.batch / sec}
        print(f"  {name:<10} {label:<20} {sec:7.3f} s/batch  {args.batch / sec:7.2f} frames/s  {gf * args.batch / sec:7.1f} GFLOP/s", flush=True)
    for mode, fast, precision in MODES:
        label = f"train_step_{mode}_s"
        row[label] = bench_train_step(model, args.train_size, args.train_batch, fast, precision, args.warmup, args.iters)
        print(f"  {name:<10} {label:<32} {row[label]:7.3f} s ({args.train_size}x{args.train_size} b{args.train_batch})", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="mstinet")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--train-size", type=int, default=128)
    parser.add_argument("--train-batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--no-reference", action="store_true", help="skip the plain PyTorch reference")
    parser.add_argument("--quick", action="store_true", help="64x64 b2, train 64x64 b2, 1 timed iteration")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    if args.quick:
        args.size, args.batch, args.train_size, args.train_batch, args.warmup, args.iters = 64, 2, 64, 2, 1, 1
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model(load_recipe(args.recipe), create_registry())
    print(f"{args.recipe}: inference {args.size}x{args.size} batch {args.batch}, {args.threads} threads, torch {torch.__version__}")
    rows = [measure("vadkit", model, args)]
    if not args.no_reference:
        rows.append(measure("plain", PlainTwoStreamUNet(), args))
    result = {
        "recipe": args.recipe,
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "loadavg_after": os.getloadavg(),
        "cpu_native_bf16": cpu_has_native_bf16(),
        "fast_mode_is": "bf16_channels_last" if cpu_has_native_bf16() else "fp32_channels_last",
        "results": rows,
    }
    if len(rows) == 2:
        result["efficiency_vs_plain"] = {
            k: rows[0][k]["gflop_per_s"] / rows[1][k]["gflop_per_s"] for k, _, _ in MODES
        }
        print("GFLOP/s of vadkit / plain:", {k: round(v, 3) for k, v in result["efficiency_vs_plain"].items()})
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, default=str))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
