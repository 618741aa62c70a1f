"""``--backend auto``: time every usable backend on this machine for this run and batch size
once, keep the fastest, and remember the choice in ``<run>/export/auto.json`` (keyed by the
checkpoint, batch, threads and CPU), so the user gets the faster runtime without knowing ONNX."""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from ..atomic import atomic_write_text
from ..builder import model_section
from ..export.graph import example_inputs
from ..export.manifest import file_digest
from ..runtime import autocast

CHOICE_FILE = "auto.json"


def machine_key(run: Any, batch: int) -> dict[str, Any]:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in flags.splitlines() if line.startswith("model name")),
        platform.processor(),
    )
    return {
        "checkpoint": file_digest(run.folder.checkpoint),
        "batch": int(batch),
        "threads": torch.get_num_threads(),
        "cpu": model,
        "fast": bool(run.fast),
    }


def time_backend(model: Any, run: Any, inputs: tuple[torch.Tensor, ...], passes: int = 3) -> float:
    """Median seconds of one forward pass (after one warm-up pass), as detection runs it."""
    flows = inputs[1] if len(inputs) == 2 else None
    times = []
    for k in range(passes + 1):
        start = time.perf_counter()
        with torch.no_grad(), autocast(run.device, run.fast, run.precision):
            model(inputs[0], flows)
        if k:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def fastest(run: Any, candidates: dict[str, Any], batch: int, console: Console | None = None) -> str:
    """The name of the fastest of ``candidates`` (name -> loaded backend), remembered per machine."""
    path = run.root / "export" / CHOICE_FILE
    key = machine_key(run, batch)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        saved = {}
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        saved = _ignored(path, f"unreadable ({exc})", console)
    if not isinstance(saved, dict):
        saved = _ignored(path, f"holds a JSON {type(saved).__name__}, not an object", console)
    if saved.get("key") == key and saved.get("choice") in candidates:
        return str(saved["choice"])
    m = model_section(run.recipe)
    inputs = example_inputs(
        int(m["frames"]),
        int(m["image_channels"]),
        m["resolution"],
        bool(getattr(run.model, "uses_motion", False)),
        batch=batch,
    )
    seconds = {name: time_backend(model, run, inputs) for name, model in candidates.items()}
    choice = min(seconds, key=lambda name: seconds[name])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        path,
        json.dumps(
            {"key": key, "choice": choice, "frames_per_s": {k: round(batch / v, 2) for k, v in seconds.items()}},
            indent=2,
        )
        + "\n",
    )
    if console is not None:
        speeds = ", ".join(f"{k} {batch / v:.1f}" for k, v in seconds.items())
        console.print(f"backend auto: timed frames/s at batch {batch}: {speeds}; using {choice}", highlight=False)
    return choice


def _ignored(path: Path, why: str, console: Console | None) -> dict[str, Any]:
    """Say that the remembered choice is unusable (it is timed again and rewritten)."""
    if console is not None:
        console.print(f"[yellow]note:[/] {path}: {why}; timing the backends again", highlight=False)
    return {}


__all__ = ["fastest", "time_backend", "machine_key"]
