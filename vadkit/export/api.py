"""``export_run``: a trained run as a deployable folder (graph + manifest.json), and
``cached_export``: the export kept inside the run folder for detect's non-torch backends,
made again when the checkpoint changed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from ..builder import model_section
from ..errors import CheckpointError, VadkitError
from ..faults import fault
from ..registry import Registry
from ..trained_run import TrainedRun
from .folder import build_folder, export_lock, problem
from .graph import example_inputs, to_onnx
from .graph_outputs import output_names, pick, rebuild
from .manifest import MANIFEST, build_manifest, file_digest, write_manifest
from .quantize import DEFAULT_CLIPS, check_precision, precision_of, quantize_export

FORMATS = ("onnx",)
MODEL_FILE = "model.onnx"
FLOAT_FILE = "float32.onnx"  # int8 exports: the float32 graph before quantization (not kept)
CACHE = "export"  # <run>/export/<format>: the cache detect's backends use


class ExportError(VadkitError):
    """An export that cannot be made (bad format, output folder, or model)."""


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; formats: {', '.join(FORMATS)}")
    return fmt


def require_onnx() -> None:
    """PyTorch's exporter writes the graph with the onnx package."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ExportError(
            'exporting needs the onnx package, which is not installed: pip install "vadkit[onnx]"'
        ) from None


def open_for_export(run: Path | str | TrainedRun, registry: Registry) -> TrainedRun:
    """The run, with a clear error when it has no checkpoint yet."""
    if isinstance(run, TrainedRun):
        return run
    checkpoint = Path(run) / "checkpoints"
    if (Path(run) / "recipe.toml").is_file() and not any(checkpoint.glob("*.pt")):
        raise CheckpointError(f"{run}: no checkpoint in {checkpoint}; train the run first (`vadkit train`)")
    return TrainedRun.open(run, registry, device="cpu")


def export_run(
    run: Path | str | TrainedRun,
    registry: Registry,
    fmt: str = "onnx",
    out: Path | None = None,
    *,
    console: Console | None = None,
    precision: str = "fp32",
    clips: int = DEFAULT_CLIPS,
    data_root: Path | None = None,
) -> Path:
    """Export ``run``'s model in ``fmt`` into ``out`` (default ``<run>/export/<fmt>``); the folder.
    Built in a temporary folder renamed into place whole (vadkit/export/folder.py), under a lock.
    ``precision`` int8: quantized, ranges from ``clips`` held-out normal clips (vadkit/export/quantize.py)."""
    check_format(fmt)
    check_precision(precision)
    require_onnx()
    trained = open_for_export(run, registry)
    out = Path(out) if out is not None else trained.root / CACHE / fmt
    settings: dict[str, Any] = {"precision": precision, "clips": clips, "data_root": data_root, "console": console}
    with export_lock(out):
        build_folder(out, lambda tmp: _named_errors(tmp, out, lambda: _write_export(trained, fmt, tmp, **settings)))
    if console is not None:
        console.print(
            f"exported {trained.root} (epoch {trained.epoch}) to {out / MODEL_FILE} + {MANIFEST} ({precision})",
            highlight=False,
        )
    return out


def _named_errors(tmp: Path, out: Path, write: Any) -> None:
    """``write()``; an OSError (disk full) names the file of ``out`` it was writing."""
    try:
        write()
    except OSError as exc:
        name = str(exc.filename) if exc.filename is not None else str(tmp / MODEL_FILE)
        raise OSError(exc.errno, exc.strerror, name.replace(str(tmp), str(out), 1)) from exc


def _write_export(
    trained: TrainedRun,
    fmt: str,
    folder: Path,
    *,
    precision: str = "fp32",
    clips: int = DEFAULT_CLIPS,
    data_root: Path | None = None,
    console: Console | None = None,
) -> None:
    """Graph (quantized for int8), then manifest (naming the graph's, checkpoint's and recipe's
    SHA-256 and the precision) into ``folder``."""
    model = copy.deepcopy(trained.model).to("cpu", memory_format=torch.contiguous_format).float().eval()
    m = model_section(trained.recipe)
    motion = bool(getattr(model, "uses_motion", False))
    names = output_names(trained.scorer)
    inputs = example_inputs(int(m["frames"]), int(m["image_channels"]), m["resolution"], motion)
    check_outputs_suffice(model, trained.scorer, inputs, names)
    graph = to_onnx(model, inputs, names, folder / (FLOAT_FILE if precision == "int8" else MODEL_FILE))
    how: dict[str, Any] = {"precision": "fp32"}
    if precision == "int8":
        how = quantize_export(
            trained,
            trained.registry,
            folder / FLOAT_FILE,
            folder / MODEL_FILE,
            clips=clips,
            data_root=data_root,
            console=console,
        )
        (folder / FLOAT_FILE).unlink()
    fault("export-graph")  # killed with the graph written and no manifest: the folder is still temporary
    manifest = build_manifest(trained, graph, names, fmt, MODEL_FILE, motion)
    manifest["precision"] = how
    manifest["model_sha256"] = file_digest(folder / MODEL_FILE)
    manifest["recipe_sha256"] = file_digest(trained.folder.recipe)
    manifest["check"] = check_graph(folder / MODEL_FILE, model, inputs, names)
    write_manifest(folder, manifest)


@torch.no_grad()
def check_outputs_suffice(model: Any, scorer: Any, inputs: tuple[torch.Tensor, ...], names: tuple[str, ...]) -> None:
    """The scorer's statistics from the exported outputs alone equal those from the full output;
    otherwise the scorer reads something the graph does not return."""
    full = model(*inputs) if len(inputs) == 2 else model(inputs[0], None)
    target = inputs[0][:, -1]
    want = scorer.stats(full, target)
    try:
        got = scorer.stats(rebuild(dict(zip(names, pick(full, names)))), target)
    except Exception as exc:  # the scorer touched an output the graph does not have
        raise ExportError(
            f"{type(scorer).__name__} needs model outputs beyond {', '.join(names)} ({exc}); "
            "declare them in its export_outputs"
        ) from None
    for k, v in want.items():
        if not torch.allclose(v.float(), got[k].float(), rtol=1e-6, atol=1e-6):
            raise ExportError(
                f"{type(scorer).__name__} statistic '{k}' differs when computed from the exported "
                f"outputs ({', '.join(names)}) only; declare what it reads in export_outputs"
            )


def check_graph(path: Path, model: Any, inputs: tuple[torch.Tensor, ...], names: tuple[str, ...]) -> dict[str, Any]:
    """Largest difference of onnxruntime's outputs from PyTorch's (skipped without onnxruntime)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return {"onnxruntime": "not installed: graph not checked"}
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {n: x.numpy() for n, x in zip(("frames", "flows"), inputs)}
    got = session.run(list(names), feeds)
    with torch.no_grad():
        want = pick(model(*inputs) if len(inputs) == 2 else model(inputs[0], None), names)
    diffs = {n: float(np.abs(g - w.numpy()).max()) for n, g, w in zip(names, got, want)}
    return {"onnxruntime": ort.__version__, "max_abs_diff": diffs}


def cached_precision(folder: Path) -> str:
    """The precision of the export in ``folder`` (``vadkit export --precision``); fp32 when none."""
    import json

    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return "fp32"
    precision = precision_of(manifest) if isinstance(manifest, dict) else "fp32"
    return precision if precision in ("fp32", "int8") else "fp32"


def cached_export(
    run: TrainedRun, registry: Registry, console: Console | None = None, *, rebuild: str | None = None
) -> Path:
    """``<run>/export/onnx``, exported now when missing, stale (another checkpoint or recipe) or
    damaged (manifest version, graph checksum), in the precision it was exported in (fp32 when
    new); ``rebuild``: a reason to export again anyway (the graph would not load). A fresh
    export that is still unusable is one clear error."""
    out = run.root / CACHE / "onnx"
    why = rebuild or problem(out, run)
    if why is None:
        return out
    precision = cached_precision(out)  # an int8 cache is rebuilt in int8
    if console is not None:
        first = not (out / MANIFEST).is_file()
        console.print(
            f"exporting the model to {out} (first use of this checkpoint with a non-torch backend)"
            if first
            else f"[yellow]rebuilding the cached export[/] ({precision}): {why}",
            highlight=False,
        )
    export_run(run, registry, "onnx", out, precision=precision, console=console if precision != "fp32" else None)
    if (again := problem(out, run)) is not None:
        raise ExportError(f"the export rebuilt in {out} is still unusable: {again}")
    return out


__all__ = ["FORMATS", "ExportError", "export_run", "cached_export", "cached_precision", "check_format"]
