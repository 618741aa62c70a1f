"""The model as an ONNX graph: inputs ``frames`` (B, T, C, H, W) and, for two-stream models,
``flows`` (B, T, 2, H, W); outputs the parts of the ModelOutput the scorer needs. The batch
axis is dynamic; memory items and every other buffer are constants (initializers) of the graph."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .graph_outputs import pick

# Opset pinned: the TorchScript exporter of torch 2.x supports it, and onnxruntime >= 1.17 and
# OpenVINO >= 2023 run it. The dynamo exporter would also need onnxscript at export time.
OPSET = 17


class GraphModel(nn.Module):
    """model(frames[, flows]) -> the tensors named ``outputs`` (float32), for tracing."""

    def __init__(self, model: nn.Module, outputs: Sequence[str], motion: bool) -> None:
        super().__init__()
        self.model, self.outputs, self.motion = model, tuple(outputs), motion

    def forward(self, frames: Tensor, flows: Tensor | None = None) -> tuple[Tensor, ...]:
        return pick(self.model(frames, flows if self.motion else None), self.outputs)


def example_inputs(
    frames: int, channels: int, resolution: Sequence[int], motion: bool, batch: int = 2
) -> tuple[Tensor, ...]:
    """Random inputs of the right shapes (the exporter traces the model with them)."""
    g = torch.Generator().manual_seed(0)
    h, w = int(resolution[0]), int(resolution[1])
    x = (torch.rand(batch, frames, channels, h, w, generator=g) * 2 - 1,)
    return x + ((torch.randn(batch, frames, 2, h, w, generator=g) * 0.1,) if motion else ())


def to_onnx(model: nn.Module, inputs: tuple[Tensor, ...], outputs: Sequence[str], path: Path) -> dict[str, Any]:
    """Write ``model`` (float32, CPU, eval) to ``path``; returns the input/output names and shapes."""
    motion = len(inputs) == 2
    names_in = ["frames", "flows"][: len(inputs)]
    graph = GraphModel(model, outputs, motion).eval()
    axes = {name: {0: "batch"} for name in [*names_in, *outputs]}
    with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # tracer warnings about python ints are expected
        torch.onnx.export(
            graph,
            inputs,
            str(path),
            input_names=names_in,
            output_names=list(outputs),
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
        reference = graph(*inputs)
    return {
        "inputs": {n: ["batch", *x.shape[1:]] for n, x in zip(names_in, inputs)},
        "outputs": {n: ["batch", *y.shape[1:]] for n, y in zip(outputs, reference)},
        "opset": OPSET,
    }


__all__ = ["GraphModel", "OPSET", "example_inputs", "to_onnx"]
