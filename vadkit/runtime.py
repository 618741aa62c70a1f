"""Device and precision: the one place that knows what ``fast = true`` means.

Fast mode picks the fastest training precision the device runs natively, plus channels_last:
bfloat16 autocast on CPUs with native bf16 (AVX512-BF16 or AMX: 2.2-2.7x faster than float32),
float32 + channels_last on CPUs without it (there bf16 is emulated and several times *slower*),
and bf16/fp16 AMP on CUDA. ``[train] precision`` forces a choice.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` takes CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


# oneDNN instruction-set caps (ONEDNN_MAX_CPU_ISA) that still include bf16 instructions
BF16_ISAS = ("BF16", "AMX", "FP16", "AVX10")


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bf16 in hardware (AVX512-BF16 or AMX-BF16 flags) and oneDNN,
    which torch and OpenVINO compute with, is not capped below it (``ONEDNN_MAX_CPU_ISA=AVX2``
    makes a bf16 CPU behave as an AVX2 one: OpenVINO then cannot build bf16 layers)."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    if cap not in ("", "ALL", "DEFAULT") and not any(isa in cap for isa in BF16_ISAS):
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def fast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype of fast mode, or None for float32."""
    if precision == "float32":
        return None
    if precision == "bfloat16":
        return torch.bfloat16
    if precision == "float16":
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else None


def describe(device: torch.device, fast: bool, precision: str = "auto") -> str:
    if not fast:
        return f"float32 on {device}"
    dtype = fast_dtype(device, precision)
    if dtype is None:
        why = "" if precision == "float32" else ", no native bf16 on this CPU"
        return f"fast mode (float32 + channels_last{why}) on {device}"
    return f"fast mode ({str(dtype).removeprefix('torch.')} autocast + channels_last) on {device}"


def prepare_model(model: nn.Module, device: torch.device, fast: bool) -> nn.Module:
    """Move the model to ``device``; in fast mode use channels_last memory format."""
    model = model.to(device)
    if fast:
        model = model.to(memory_format=torch.channels_last)
    return model


def prepare_input(x: torch.Tensor, device: torch.device, fast: bool) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    if fast and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


@contextlib.contextmanager
def autocast(device: torch.device, fast: bool, precision: str = "auto") -> Iterator[None]:
    """Mixed-precision autocast in fast mode (when the device has a fast low precision)."""
    dtype = fast_dtype(device, precision) if fast else None
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield
