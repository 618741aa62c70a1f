"""The report page: a comparison of all runs (when there are several), then one card per run."""

from __future__ import annotations

import time
from typing import Any

from .. import __version__
from .charts import comparison_chart
from .collect import RunData
from .compare import PAPER_NOTE, PAPER_TABLE_II, Group, data_names, seed_groups
from .html import Raw, img, join, page, problems_box, table, tag
from .modelinfo import ModelInfo
from .run_sections import (
    auc,
    calibration,
    detection,
    other_plots,
    run_facts,
    score_curves,
    top_frames,
    training,
    validation,
)


def _mean_std(value: tuple[float, float] | None, n: int) -> str:
    if value is None:
        return "n/a"
    return f"{value[0]:.1f} ± {value[1]:.1f}" if n > 1 else f"{value[0]:.1f}"


def _describe(run: RunData) -> dict[str, str]:
    from ..ablation.tables import describe

    return describe(run.recipe) if run.recipe is not None else {"motion": "?", "fusion": "?", "memory": "?"}


def comparison(runs: list[RunData], infos: list[ModelInfo]) -> Raw:
    """One row per group of runs that differ only by seed (mean ± sample std over the seeds)."""
    groups = seed_groups(runs)
    info_of = {id(r): i for r, i in zip(runs, infos)}
    with_paper = any(g.letter for g in groups)
    header = [
        "run",
        "n",
        "seeds",
        "motion",
        "fusion",
        "memory",
        "params",
        "GFLOPs/frame",
        "AUC micro %",
        "AUC macro %",
    ] + (["paper Table II % (ShanghaiTech)"] if with_paper else [])
    rows = []
    for g in groups:
        info = info_of[id(g.runs[0])]
        d = _describe(g.runs[0])
        row = [
            g.label,
            str(len(g.runs)),
            ", ".join("-" if s is None else str(s) for s in g.seeds),
            d["motion"],
            d["fusion"],
            d["memory"],
            f"{info.params:,}" if info.params else "-",
            f"{info.gflops:.3f}" if info.gflops else "-",
            _mean_std(g.mean_std("auc_micro"), len(g.values("auc_micro"))),
            _mean_std(g.mean_std("auc_macro"), len(g.values("auc_macro"))),
        ]
        if with_paper:
            row.append(f"{g.letter}: {PAPER_TABLE_II[g.letter]:.1f}" if g.letter else "-")
        rows.append(row)
    parts = [tag("h2", "Comparison"), table(header, rows, numeric=(1, 6, 7, 8, 9))]
    if any(len(g.runs) > 1 for g in groups):
        parts.append(
            tag(
                "p",
                "Rows with n > 1 group runs whose recipes differ only by train.seed: mean ± sample "
                "standard deviation (ddof 1) over those runs.",
                cls="muted",
            )
        )
    if with_paper:
        parts.append(tag("p", PAPER_NOTE.format(data=data_names(runs)), cls="muted"))
    parts.append(_chart(groups))
    return tag("section", join(parts), cls="card", id="comparison")


def _chart(groups: list[Group]) -> Raw:
    micro = [g.mean_std("auc_micro") for g in groups]
    if not any(micro):
        return tag("p", "No run has a micro AUC yet (no metrics.json): nothing to chart.", cls="muted")
    paper = [PAPER_TABLE_II.get(g.letter) if g.letter else None for g in groups]
    png = comparison_chart([g.label for g in groups], micro, paper)
    return img(png, "comparison of frame AUC")


def run_card(index: int, run: RunData, info: ModelInfo, max_videos: int) -> Raw:
    blocks: list[Any] = [
        tag("h2", run.name),
        tag("div", str(run.root.resolve()), cls="path"),
        problems_box(run.problems),
        tag("h3", "Recipe and model"),
        run_facts(run, info),
        tag("h3", "Training curves (log.jsonl)"),
        training(run),
        tag("h3", "Frame-level AUC (metrics.json)"),
        auc(run),
        tag("h3", "Score per video (shaded: ground-truth anomaly)"),
        score_curves(run, max_videos),
        tag("h3", "Most anomalous frames"),
        top_frames(run),
    ]
    cal = calibration(run)
    if cal is not None:
        blocks += [tag("h3", "Calibration: the detection score and its weights (calibration.json)"), cal]
    val = validation(run)
    if val is not None:
        blocks += [tag("h3", "Validation without test labels (validation/*.json)"), val]
    others = other_plots(run)
    if others:
        blocks += [tag("h3", "Other pictures in plots/"), others]
    det = detection(run)
    blocks += [
        tag("h3", "Detection"),
        det or tag("p", "No detect*/…/events.json and no 'detection' key in metrics.json.", cls="muted"),
    ]
    return tag("section", join(blocks), cls="card", id=f"run-{index}")


def render(runs: list[RunData], infos: list[ModelInfo], title: str, max_videos: int) -> str:
    """The whole HTML document."""
    nav = [("comparison", "comparison")] if len(runs) > 1 else []
    nav += [(f"run-{i}", run.name) for i, run in enumerate(runs)]
    body: list[Any] = [comparison(runs, infos)] if len(runs) > 1 else []
    body += [run_card(i, run, info, max_videos) for i, (run, info) in enumerate(zip(runs, infos))]
    subtitle = f"{len(runs)} run(s); written {time.strftime('%Y-%m-%d %H:%M')} by vadkit {__version__}"
    return page(title, subtitle, nav, body)
