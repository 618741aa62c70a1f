"""Inference backends for detect: objects that quack like the model for StreamingScorer
(``backend(frames, flows) -> ModelOutput`` and ``.uses_motion``), so the scorer plugin and
all detection code stay the same whichever runtime computes the forward pass.

``torch`` is the run's model itself; ``onnxruntime`` and ``openvino`` run the exported graph
(``vadkit export``; made on first use into ``<run>/export/onnx``) on the CPU; ``auto`` times
the installed ones against torch once per checkpoint, batch size and machine and keeps the
fastest (vadkit/detect/autoselect.py; docs/detect.md, "Export and backends", has measurements).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from torch import Tensor

from ..errors import VadkitError
from ..export.graph_outputs import rebuild
from ..export.manifest import read_manifest
from ..export.quantize import precision_of
from ..interfaces import ModelOutput

BACKENDS = ("torch", "onnxruntime", "openvino", "auto")


class BackendError(VadkitError):
    """A backend that cannot be used (unknown, not installed, or a bad export)."""


class GraphBackend:
    """Shared part of the graph runtimes: feeds numpy, rebuilds a ModelOutput."""

    name = "graph"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        self.uses_motion = bool(self.manifest["model"]["uses_motion"])
        self.outputs = list(self.manifest["outputs"])
        self.path = self.folder / self.manifest["model_file"]
        self.precision = precision_of(self.manifest)  # fp32 | int8: what `vadkit export --precision` wrote

    def feeds(self, frames: Tensor, flows: Tensor | None) -> dict[str, np.ndarray]:
        feeds = {"frames": np.ascontiguousarray(frames.detach().float().cpu().numpy())}
        if self.uses_motion:
            if flows is None:
                raise BackendError(f"{self.path}: this model has a motion stream: pass flows (B, T, 2, H, W)")
            feeds["flows"] = np.ascontiguousarray(flows.detach().float().cpu().numpy())
        return feeds

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    def __call__(self, frames: Tensor, flows: Tensor | None = None) -> ModelOutput:
        return rebuild(dict(zip(self.outputs, self.run(self.feeds(frames, flows)))))

    def describe(self) -> str:
        quant = self.manifest.get("precision") or {}
        source = quant.get("calibration") or {}
        ranges = f", ranges from {source['clips']} held-out clips" if source.get("clips") else ""
        return f"{self.name} on {self.path} ({self.compute}{ranges})"

    @property
    def compute(self) -> str:
        """The arithmetic the runtime computes in: the graph's precision unless the runtime lowers it."""
        return self.precision


class OnnxRuntimeBackend(GraphBackend):
    name = "onnxruntime"

    def __init__(self, folder: Path, threads: int | None = None) -> None:
        super().__init__(folder)
        ort = _require("onnxruntime", "onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # no busy-waiting between runs: flow, decoding and other streams need the cores then
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run(self.outputs, feeds)


class OpenVinoBackend(GraphBackend):
    """OpenVINO on the CPU, float32 (its default on bf16-capable CPUs would be bfloat16)."""

    name = "openvino"

    def __init__(self, folder: Path, threads: int | None = None, precision: str = "f32") -> None:
        super().__init__(folder)
        ov = _require("openvino", "openvino")
        config = {
            "INFERENCE_NUM_THREADS": int(threads or torch.get_num_threads()),
            "INFERENCE_PRECISION_HINT": precision,
            "PERFORMANCE_HINT": "LATENCY",
            "ENABLE_CPU_PINNING": False,
        }  # share the cores with flow, decoding and torch threads
        self.compiled = ov.Core().compile_model(str(self.path), "CPU", config)
        self.hint = precision
        self.request = self.compiled.create_infer_request()
        self.ports = [self.compiled.output(n) for n in self.outputs]

    @property
    def compute(self) -> str:
        """With the bf16 hint an fp32 graph computes in bf16, and an int8 graph its float parts."""
        if self.hint != "bf16":
            return self.precision
        return "fp32 graph computed in bf16" if self.precision == "fp32" else f"{self.precision}, float parts in bf16"

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        result = self.request.infer(feeds)
        return [np.array(result[p]) for p in self.ports]


def _require(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise BackendError(f"backend needs {module}, which is not installed: pip install \"vadkit[{extra}]\"") from None


def installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def check_name(name: str) -> str:
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; backends: {', '.join(BACKENDS)} (detect.backend / --backend)")
    return name


GRAPH_BACKENDS: dict[str, Callable[..., GraphBackend]] = {
    "onnxruntime": OnnxRuntimeBackend,
    "openvino": OpenVinoBackend,
}
MODULES = {"onnxruntime": ("onnxruntime", "onnx"), "openvino": ("openvino", "openvino")}


def graph_backend(
    name: str, run: Any, registry: Any, folder: Path | None, console: Console | None, hint: str | None = None
) -> GraphBackend:
    """onnxruntime / openvino on ``folder`` (default: the run's cached export, made when stale).
    OpenVINO computes in bfloat16 only when the run asks for fast mode and the CPU has native
    bf16, as PyTorch's fast mode does, or when ``hint`` (f32 | bf16) says so; otherwise float32."""
    from ..runtime import cpu_has_native_bf16

    if run.device.type != "cpu":
        raise BackendError(f"backend {name} runs on the CPU; the run uses {run.device} (pass --device cpu)")
    _require(*MODULES[name])
    bf16 = name == "openvino" and run.fast and run.precision in ("auto", "bfloat16") and cpu_has_native_bf16()
    bf16 = bf16 if hint is None else hint == "bf16"

    def load(where: Path) -> GraphBackend:
        if name == "openvino":
            return OpenVinoBackend(where, precision="bf16" if bf16 else "f32")
        return GRAPH_BACKENDS[name](where)

    if folder is not None:  # a given export: checked, used as it is
        from ..export.folder import problem

        if (why := problem(folder)) is not None:
            raise BackendError(f"backend {name}: {why}")
        return _loaded(name, folder, load)
    from ..export import cached_export

    folder = cached_export(run, registry, console)  # made again when stale or damaged
    try:
        return load(folder)
    except BackendError:
        raise
    except Exception as exc:  # checksums match, yet the runtime refuses the graph: export once more
        folder = cached_export(run, registry, console, rebuild=f"{name} cannot load it ({_first_line(exc)})")
        return _loaded(name, folder, load)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _loaded(name: str, folder: Path, load: Callable[[Path], GraphBackend]) -> GraphBackend:
    """``load(folder)``, a runtime's refusal turned into one clear error."""
    try:
        return load(folder)
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(
            f"{folder}: {name} cannot load the exported graph ({_first_line(exc)}); export it again "
            "with `vadkit export`"
        ) from None


def load_backend(
    name: str, run: Any, registry: Any, *, folder: Path | None = None, batch: int = 1, console: Console | None = None
) -> Any:
    """The model object for backend ``name`` of ``run`` (a TrainedRun). ``auto`` times the
    usable backends at ``batch`` once on this machine and keeps the fastest (autoselect)."""
    check_name(name)
    if name == "torch" or (name == "auto" and run.device.type != "cpu"):
        return run.model
    if name != "auto":
        backend = graph_backend(name, run, registry, folder, console)
        if console is not None:
            console.print(f"backend: {backend.describe()}", highlight=False)
        return backend
    from .autoselect import fastest

    usable = [n for n, (module, _) in MODULES.items() if installed(module) and (folder or installed("onnx"))]
    if not usable:
        return run.model  # nothing to compare with: torch it is
    candidates: dict[str, Any] = {"torch": run.model}
    for graph_name in usable:
        candidates[graph_name] = graph_backend(
            graph_name, run, registry, folder, console, hint="f32" if graph_name == "openvino" else None
        )
    reason = add_bf16(candidates, run, registry, folder, console)
    choice = fastest(run, candidates, batch, console)
    record_precision(run, choice, candidates[choice], reason, console)
    return candidates[choice]


BF16 = "openvino-bf16"  # the auto candidate OpenVINO computing in bfloat16


def add_bf16(candidates: dict[str, Any], run: Any, registry: Any, folder: Path | None, console: Console | None) -> str:
    """Add OpenVINO in bfloat16 to ``candidates`` where it can be faster (the CPU computes bf16
    natively): an fp32 export computed in bf16, or an int8 export's float parts in bf16; the
    reason bf16 is or is not timed."""
    from ..runtime import cpu_has_native_bf16

    graph = candidates.get("openvino")
    if graph is None:
        return "bf16 not timed: OpenVINO (the runtime that computes in bf16 here) is not installed"
    if not cpu_has_native_bf16():
        return "bf16 not timed: this CPU has no native bf16 (neither avx512_bf16 nor amx_bf16), float32 kept"
    candidates[BF16] = graph_backend("openvino", run, registry, folder, console, hint="bf16")
    what = (
        "bf16 and float32"
        if graph.precision == "fp32"
        else f"the {graph.precision} export's float parts in bf16 and float32"
    )
    return f"{what} timed on this CPU (native bf16: avx512_bf16/amx_bf16); the faster kept"


def chosen_precision(name: str, backend: Any, run: Any) -> str:
    """The arithmetic the chosen backend computes in."""
    from ..runtime import fast_dtype

    if name == BF16:
        graph = str(getattr(backend, "precision", "fp32"))
        return "bf16" if graph == "fp32" else f"{graph}+bf16"
    if name == "torch":
        dtype = fast_dtype(run.device, run.precision) if run.fast else None
        return "fp32" if dtype is None else str(dtype).removeprefix("torch.").replace("bfloat16", "bf16")
    return str(getattr(backend, "precision", "fp32"))


def record_precision(run: Any, name: str, backend: Any, reason: str, console: Console | None) -> dict[str, str]:
    """Write the chosen precision and why into ``<run>/export/auto.json`` beside the backend choice."""
    import json

    from ..atomic import atomic_write_text
    from .autoselect import CHOICE_FILE

    record = {"choice": chosen_precision(name, backend, run), "reason": reason}
    path = run.root / "export" / CHOICE_FILE
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        saved = {}
    if isinstance(saved, dict) and saved.get("precision") != record:
        atomic_write_text(path, json.dumps({**saved, "precision": record}, indent=2) + "\n")
    if console is not None:
        console.print(f"precision auto: {record['choice']} ({reason})", highlight=False)
    return record


def detector_model(detector: Any) -> Any:
    """The model ``detector`` scores with, loaded once: its ``cfg.backend`` (torch by default)."""
    model = getattr(detector, "_backend_model", None)
    if model is None:
        name = check_name(getattr(detector.cfg, "backend", "torch"))
        if getattr(detector.cfg, "memory_update", False) and name != "torch":
            if name != "auto":
                raise BackendError(
                    f"detect.memory_update changes the memory items while scoring, which only the "
                    f"torch backend can do (an exported graph holds them as constants); backend is "
                    f"{name!r}"
                )
            name = "torch"
        model = load_backend(
            name, detector.run, detector.run.registry, batch=detector.cfg.batch, console=detector.console
        )
        detector._backend_model = model
    return model


__all__ = [
    "BACKENDS",
    "BF16",
    "BackendError",
    "GraphBackend",
    "OnnxRuntimeBackend",
    "OpenVinoBackend",
    "check_name",
    "load_backend",
    "detector_model",
    "record_precision",
]
