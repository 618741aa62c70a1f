"""``vadkit report``: one self-contained HTML file (inline CSS and PNGs, no script, no network)
that shows one or more runs: recipe and model, training curves, AUCs, score curves, the most
anomalous frames, detection events, and a comparison table when there are several runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from ..atomic import atomic_write_text
from ..registry import Registry
from .collect import ReportError, RunData, collect_run, run_folders
from .document import render
from .modelinfo import ModelInfo, ModelInfoCache


@dataclass
class ReportResult:
    out: Path
    runs: list[RunData]
    infos: list[ModelInfo]


def write_report(
    paths: list[Path],
    out: Path,
    *,
    title: str | None = None,
    max_videos: int = 24,
    build: bool = True,
    registry: Registry | None = None,
    console: Console | None = None,
) -> ReportResult:
    """Collect every run (an ablate folder expands to its runs), build each model once, write ``out``."""
    console = console or Console(stderr=True)
    out = Path(out)
    if out.is_dir():
        raise ReportError(f"--out {out} is a folder; give the path of the .html file to write")
    folders = run_folders(list(paths))
    cache = ModelInfoCache(registry)
    runs, infos = [], []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("report", total=2 * len(folders))
        for folder, name in folders:
            progress.update(task, description=f"reading {name}")
            runs.append(collect_run(folder, name))
            progress.update(task, advance=1, description=f"building the model of {name}")
            infos.append(cache.get(runs[-1].recipe) if build else ModelInfo(error="not built (--no-build)"))
            progress.update(task, advance=1)
    text = render(runs, infos, title or _title(runs), max_videos)
    atomic_write_text(out, text)
    return ReportResult(out, runs, infos)


def _title(runs: list[RunData]) -> str:
    return f"vadkit report: {runs[0].name}" if len(runs) == 1 else f"vadkit report: {len(runs)} runs"


__all__ = ["ReportError", "ReportResult", "RunData", "write_report"]
