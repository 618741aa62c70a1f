"""int8 post-training static quantization of an exported ONNX graph.

The float32 graph written by ``vadkit export`` is quantized with onnxruntime's static
quantization into an ONNX graph with QuantizeLinear/DequantizeLinear pairs, which both detect
backends (onnxruntime, OpenVINO) run in int8. The activation ranges are calibrated on clips of the
run's held-out normal training videos, gathered as ``vadkit calibrate`` gathers them, so no
frame the model trained on and no test frame sets a range. Why onnxruntime's quantizer and not
NNCF: docs/performance.md (measured on the same graph and calibration set).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from ..errors import VadkitError

PRECISIONS = ("fp32", "int8")
DEFAULT_CLIPS = 300  # clips the activation ranges are measured on (NNCF's default subset size)


class QuantizeError(VadkitError):
    """int8 quantization that cannot be done (package missing, no calibration clips)."""


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise QuantizeError(f"unknown precision {precision!r}; precisions: {', '.join(PRECISIONS)} (--precision)")
    return precision


def spread(count: int, wanted: int) -> list[int]:
    """``wanted`` positions spread evenly over ``range(count)`` (all of them when fewer)."""
    if wanted <= 0 or wanted >= count:
        return list(range(count))
    return sorted({int(round(x)) for x in np.linspace(0, count - 1, wanted)})


def calibration_clips(
    run: Any, registry: Any, data_root: Path | None, clips: int, console: Console
) -> tuple[Any, dict[str, Any]]:
    """Up to ``clips`` held-out normal clips of ``run`` spread over its hold-out, and where
    they come from (the hold-out ``vadkit calibrate`` uses, vadkit/detect/calibration.py)."""
    from torch.utils.data import Subset

    from ..calibration_clips import calibration_clips

    root = run.data_root(data_root, purpose="int8 calibration data (the run's normal training videos)")
    data, info = calibration_clips(run, registry, root, "training", run.config.detect, console)
    if len(data) == 0:
        raise QuantizeError(f"{root}: no held-out training clip to calibrate the int8 ranges on")
    keep = spread(len(data), clips)
    source = "held-out normal training videos" if info.get("applied") else "training videos (in-sample: no hold-out)"
    return Subset(data, keep), {
        "clips": len(keep),
        "of": len(data),
        "data_root": str(root.resolve()),
        "source": source,
        "videos": info.get("held_out_videos"),
    }


def feeds_of(data: Any, motion: bool) -> Iterator[dict[str, np.ndarray]]:
    """One graph input dict (batch 1) per clip of ``data``."""
    for i in range(len(data)):
        item = data[i]
        feed = {"frames": np.ascontiguousarray(item["frames"][None].numpy(), dtype=np.float32)}
        if motion:
            feed["flows"] = np.ascontiguousarray(item["flows"][None].numpy(), dtype=np.float32)
        yield feed


MEMORY_NODES = "/model/memory/"  # the memory read (cosine softmax, distance): kept in float32


def require_quantizer() -> Any:
    """onnxruntime's quantization module, or one clear error naming the extra that installs it."""
    try:
        from onnxruntime import quantization
    except ImportError:
        raise QuantizeError(
            'int8 export needs onnxruntime, which is not installed: pip install "vadkit[onnx]"'
        ) from None
    return quantization


UPSAMPLING = ("ConvTranspose", "Resize", "Upsample")


def only_from(nodes: list[Any], source: str, other: str) -> list[Any]:
    """Nodes that depend on graph input ``source`` and not on ``other`` (in topological order)."""
    reach: dict[str, set[str]] = {source: {source}, other: {other}}
    picked = []
    for node in nodes:
        came = set().union(*(reach.get(i, set()) for i in node.input)) if node.input else set()
        for out in node.output:
            reach[out] = came
        if came == {source}:
            picked.append(node)
    return picked


def kept_float(model: Any) -> list[str]:
    """Nodes left in float32 (measured on runs/ped2-cpu, docs/performance.md): the motion stream
    up to its fusion with appearance (flow ranges measured on normal clips are a few hundredths
    of a pixel wide: anomalous motion would be clipped to normal), the memory read and the layer
    whose features it reads (quantized, the memory distance is off by 29 %), and the decoder
    after its last upsampling, at full resolution (quantized, the prediction is 46 dB from
    float32's instead of 55 dB)."""
    nodes = list(model.graph.node)  # ONNX nodes are in topological order
    motion = only_from(nodes, "flows", "frames") if any(i.name == "flows" for i in model.graph.input) else []
    memory = [n for n in nodes if n.name.startswith(MEMORY_NODES)]
    inputs = {i for n in memory for i in n.input}
    feeding = [
        n for n in nodes if not n.name.startswith(MEMORY_NODES) and set(n.output) & inputs and n.op_type == "Conv"
    ]
    ups = [k for k, n in enumerate(nodes) if n.op_type in UPSAMPLING]
    tail = nodes[ups[-1] :] if ups else []
    return list(dict.fromkeys(n.name for n in [*motion, *memory, *feeding, *tail]))


class _Feeds:
    """onnxruntime's CalibrationDataReader over a list of input dicts."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._it = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def quantize_onnx(src: Path, dst: Path, feeds: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """``src`` (float32 ONNX) quantized to int8 into ``dst``, ranges from ``feeds``; how.

    QDQ format, uint8 activations, int8 per-channel weights with ``reduce_range`` (7-bit): CPUs
    without VNNI (AVX2, AVX-512F) sum pairs of uint8 x int8 products in int16 and saturate with
    full 8-bit weights (measured: prediction 28 dB from float32 instead of 46 dB), and an export
    may run on any CPU."""
    q = require_quantizer()
    import onnx
    import onnxruntime

    pre = dst.with_name(dst.stem + ".pre.onnx")
    try:
        q.shape_inference.quant_pre_process(str(src), str(pre))
        excluded = kept_float(onnx.load(str(pre)))
        q.quantize_static(
            str(pre),
            str(dst),
            _Feeds(feeds),
            quant_format=q.QuantFormat.QDQ,
            per_channel=True,
            reduce_range=True,
            activation_type=q.QuantType.QUInt8,
            weight_type=q.QuantType.QInt8,
            calibrate_method=q.CalibrationMethod.MinMax,
            nodes_to_exclude=excluded,
        )
    finally:
        pre.unlink(missing_ok=True)
    return {
        "method": "onnxruntime.quantization.quantize_static",
        "onnxruntime": onnxruntime.__version__,
        "format": "QDQ (QuantizeLinear/DequantizeLinear)",
        "weights": "int8 per channel, 7-bit range",
        "activations": "uint8 per tensor, min-max ranges",
        "float32_nodes": len(excluded),
        "float32_scope": "motion stream up to its fusion, memory read and the layer it reads, decoder after its "
        "last upsampling",
    }


def quantize_export(
    run: Any,
    registry: Any,
    src: Path,
    dst: Path,
    *,
    clips: int = DEFAULT_CLIPS,
    data_root: Path | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Quantize the export graph ``src`` of ``run`` into ``dst``; the manifest's ``precision`` entry."""
    console = console or Console(quiet=True)
    require_quantizer()
    data, source = calibration_clips(run, registry, data_root, clips, console)
    motion = bool(getattr(run.model, "uses_motion", False))
    console.print(
        f"int8: calibrating activation ranges on {source['clips']} clips of the {source['source']}", highlight=False
    )
    feeds = list(feeds_of(data, motion))
    how = quantize_onnx(src, dst, feeds)
    return {"precision": "int8", **how, "calibration": source, "check": held_out_check(dst, run.model, feeds[::37])}


def held_out_check(graph: Path, model: Any, feeds: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """How far the int8 graph is from PyTorch's float32 model on held-out normal clips (random
    inputs, which export's own check uses, lie outside the calibrated ranges)."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    batch = {k: np.concatenate([f[k] for f in feeds]) for k in feeds[0]}
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, batch)))
    with torch.no_grad():
        out = model(torch.from_numpy(batch["frames"]), torch.from_numpy(batch["flows"]) if "flows" in batch else None)
    mse = ((got["prediction"] - out.prediction.float().numpy()) ** 2).reshape(len(feeds), -1).mean(axis=1)
    check: dict[str, Any] = {
        "clips": len(feeds),
        "prediction_psnr_db_min": round(float((10 * np.log10(4.0 / np.maximum(mse, 1e-12))).min()), 1),
    }
    if "distance" in got:
        want = out.memory.distance.float().numpy()
        check["distance_max_rel_diff"] = float(np.max(np.abs(got["distance"] - want) / np.maximum(np.abs(want), 1e-12)))
    return check


def precision_of(manifest: dict[str, Any]) -> str:
    """The precision an export was written in (manifests before int8 existed: fp32)."""
    entry = manifest.get("precision")
    return str(entry.get("precision", "fp32")) if isinstance(entry, dict) else "fp32"


__all__ = [
    "DEFAULT_CLIPS",
    "PRECISIONS",
    "QuantizeError",
    "check_precision",
    "precision_of",
    "quantize_export",
    "quantize_onnx",
    "spread",
]
