"""manifest.json of an exported model: everything detection needs besides the graph, so a
deployment reads one folder (resolution, frames, channels, preprocessing, flow, scorer,
calibration, [detect] settings) and can tell whether the export matches its run's checkpoint."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..builder import model_section
from ..errors import CheckpointError

MANIFEST = "manifest.json"
VERSION = 2  # 2: model_sha256 and recipe_sha256; the folder is renamed into place whole

PREPROCESSING = {
    "frames": "each RGB frame resized to model.resolution with vadkit.data.transforms.resize_frame "
    "(converted to luma when model.image_channels == 1), uint8 -> float32 x / 127.5 - 1",
    "clip": "input = the T frames before the target frame, oldest first; the target (frame t) is what the "
    "prediction is compared with",
    "flows": "flow into each input frame from the frame before it (zeros for a video's first frame), estimated on "
    "the ORIGINAL frames by the [flow] estimator, resized to model.resolution with vectors scaled to the "
    "new grid (resize_flow), rounded through float16, divided by flow.scale and clipped to +-flow.clip "
    "when clip > 0",
}


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_manifest(
    run: Any, graph: dict[str, Any], outputs: tuple[str, ...], fmt: str, model_file: str, motion: bool
) -> dict[str, Any]:
    """The manifest of ``run`` (a TrainedRun) exported as ``graph`` (names, shapes, opset)."""
    from .. import __version__
    from ..data.factory import flow_settings

    m = model_section(run.recipe)
    flow = flow_settings(run.recipe) if motion else None
    scorer = run.scorer
    return {
        "vadkit_export": VERSION,
        "vadkit_version": __version__,
        "format": fmt,
        "model_file": model_file,
        "run": str(run.root),
        "checkpoint": {"epoch": run.epoch, "sha256": file_digest(run.folder.checkpoint)},
        "model": {
            "resolution": [int(x) for x in m["resolution"]],
            "frames": int(m["frames"]),
            "image_channels": int(m["image_channels"]),
            "uses_motion": motion,
        },
        "graph": graph,
        "outputs": list(outputs),
        "preprocessing": PREPROCESSING,
        "flow": None
        if flow is None
        else {"table": run.recipe.section("flow"), "scale": flow["scale"], "clip": flow["clip"]},
        "scorer": {
            "class": type(scorer).__name__,
            "table": run.recipe.section("score"),
            "statistics": [
                {"name": s.name, "normal": s.normal, "description": s.description} for s in scorer.statistics
            ],
        },
        "calibration": run.calibration(),
        "detect": run.recipe.section("detect"),
    }


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    path = Path(folder) / MANIFEST
    atomic_write_text(path, json.dumps(manifest, indent=2, default=str) + "\n")
    return path


def read_manifest(folder: Path) -> dict[str, Any]:
    """manifest.json of an export folder; a clear error when it is missing or not one."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise CheckpointError(f"{folder}: not an exported model (no {MANIFEST}); create one with `vadkit export`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable manifest ({exc}); export again") from None
    if not isinstance(manifest, dict):
        raise CheckpointError(f"{path}: not a manifest (a JSON object is expected); export again")
    if manifest.get("vadkit_export") != VERSION:
        raise CheckpointError(
            f"{path}: export format {manifest.get('vadkit_export')!r}, this vadkit reads "
            f"{VERSION}; export again with `vadkit export`"
        )
    if not (Path(folder) / str(manifest.get("model_file", ""))).is_file():
        raise CheckpointError(f"{folder}: the manifest names {manifest.get('model_file')!r}, which is missing")
    return manifest


__all__ = ["MANIFEST", "build_manifest", "read_manifest", "write_manifest", "file_digest"]
