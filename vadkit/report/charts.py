"""Pictures drawn for the report, returned as PNG bytes: training curves of every numeric
key in log.jsonl (grouped), per-video score curves from scores.csv, the comparison chart."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..plots import spans  # noqa: E402

# Keys that index a record rather than measure anything.
INDEX_KEYS = frozenset({"epoch", "step", "global_step", "epoch_end", "resumed_after_epoch"})
SPEED_KEYS = frozenset({"lr", "frames_per_s", "step_s", "seconds"})
DPI = 80


@dataclass
class Series:
    """One curve: x -> y (a later record for the same x replaces an earlier one, as after a resume)."""

    x_name: str
    points: dict[float, Any] = field(default_factory=dict)


def png(fig: plt.Figure) -> bytes:
    """Lay out, render and close a figure."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def _group(key: str, record: dict[str, Any]) -> str:
    if "/" in key:
        return key.split("/", 1)[0]
    if record.get("epoch_end") and key.startswith("mean_"):
        return "epoch means"
    if key in SPEED_KEYS:
        return "optimiser and speed"
    if "global_step" in record or "step" in record:
        return "loss terms (per step)"
    return "other"


def _is_vector(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )


def log_series(records: list[dict[str, Any]]) -> dict[str, dict[str, Series]]:
    """Group every numeric (or numeric-list) key of every record, by the grouping above."""
    groups: dict[str, dict[str, Series]] = {}
    steps = 0
    for record in records:
        if "step" in record:
            steps += 1
        if "global_step" in record or "step" in record:
            x_name, x = "step", record.get("global_step", steps)
        elif "epoch" in record:
            x_name, x = "epoch", record["epoch"]
        else:
            continue
        if not isinstance(x, (int, float)):
            continue
        for key, value in record.items():
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            if key in INDEX_KEYS or not (numeric or _is_vector(value)):
                continue
            series = groups.setdefault(_group(key, record), {}).setdefault(key, Series(x_name))
            series.points[float(x)] = value
    return groups


def _plot_scalar(ax: plt.Axes, key: str, series: Series) -> None:
    xs = np.asarray(sorted(series.points), dtype=np.float64)
    ys = np.asarray([series.points[x] for x in xs], dtype=np.float64)
    finite = np.isfinite(ys)
    ax.plot(xs[finite], ys[finite], marker="o" if finite.sum() < 30 else None, ms=3, lw=1.2)
    if (~finite).any():
        ax.set_title(f"{key}  ({(~finite).sum()} non-finite)", fontsize=9, color="tab:red")
    else:
        ax.set_title(key, fontsize=9)
    positive = ys[finite]
    if positive.size > 1 and positive.min() > 0 and positive.max() / positive.min() > 100:
        ax.set_yscale("log")


def _plot_vector(ax: plt.Axes, key: str, series: Series) -> None:
    xs = sorted(series.points)
    width = max(len(series.points[x]) for x in xs)
    grid = np.full((width, len(xs)), np.nan)
    for j, x in enumerate(xs):
        grid[: len(series.points[x]), j] = series.points[x]
    im = ax.imshow(
        grid,
        aspect="auto",
        origin="lower",
        cmap="viridis",
        interpolation="nearest",
        extent=(xs[0] - 0.5, xs[-1] + 0.5, -0.5, width - 0.5),
    )
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_ylabel("index", fontsize=8)
    ax.set_title(f"{key} (per index)", fontsize=9)


def group_figure(name: str, series: dict[str, Series]) -> bytes:
    """One panel per key of a group; x is the global step or the epoch."""
    keys = sorted(series)
    cols = min(4, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.4 * rows), dpi=DPI, squeeze=False)
    for ax, key in zip(axes.flat, keys):
        one = series[key]
        vector = any(isinstance(v, list) for v in one.points.values())
        (_plot_vector if vector else _plot_scalar)(ax, key, one)
        ax.set_xlabel(one.x_name, fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    fig.suptitle(name, fontsize=10)
    return png(fig)


def training_figures(records: list[dict[str, Any]]) -> list[tuple[str, list[str], bytes]]:
    """(group name, its keys, picture) for every group found in the log."""
    order = ["loss terms (per step)", "epoch means"]
    groups = log_series(records)
    names = [g for g in order if g in groups] + sorted(g for g in groups if g not in order)
    return [(g, sorted(groups[g]), group_figure(g, groups[g])) for g in names]


def _minmax(values: np.ndarray) -> np.ndarray:
    finite = values[np.isfinite(values)]
    if finite.size == 0 or finite.max() == finite.min():
        return np.zeros_like(values)
    return (values - finite.min()) / (finite.max() - finite.min())


def score_curve(name: str, columns: dict[str, np.ndarray], stats: list[str]) -> bytes:
    """score over frames with ground-truth anomalies shaded; other statistics min-max scaled, thin."""
    order = np.argsort(columns["frame"], kind="stable")
    frames, labels = columns["frame"][order], columns["label"][order]
    fig, ax = plt.subplots(figsize=(8, 2.6), dpi=DPI)
    for a, b in spans(labels == 1):
        ax.axvspan(frames[a] - 0.5, frames[b] + 0.5, color="tab:red", alpha=0.18, lw=0)
    for stat in stats:
        ax.plot(frames, _minmax(columns[stat][order]), lw=0.8, alpha=0.55, ls="--", label=f"{stat} (min-max)")
    ax.plot(frames, columns["score"][order], color="black", lw=1.4, label="score")
    ax.set_xlabel("frame")
    ax.set_title(f"video {name}  (shaded: ground-truth anomaly)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", ncol=min(4, len(stats) + 1))
    return png(fig)


def comparison_chart(labels: list[str], micro: list[tuple[float, float] | None], paper: list[float | None]) -> bytes:
    """Frame AUC (micro, %) per row with std error bars; the paper's value as a black tick."""
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(labels) + 1.5), 3.0), dpi=DPI)
    xs = np.arange(len(labels))
    means = [m[0] if m else np.nan for m in micro]
    stds = [m[1] if m else 0.0 for m in micro]
    ax.bar(xs, means, yerr=stds, capsize=4, color="tab:blue", alpha=0.8, label="ours (micro)")
    ticks = [(x, p) for x, p in zip(xs, paper) if p is not None]
    if ticks:
        ax.scatter(
            [t[0] for t in ticks],
            [t[1] for t in ticks],
            marker="_",
            s=600,
            color="black",
            lw=2,
            label="paper Table II (ShanghaiTech)",
            zorder=3,
        )
    lows = [m - s for m, s in zip(means, stds)] + [p for _, p in ticks]
    highs = [m + s for m, s in zip(means, stds)] + [p for _, p in ticks]
    lows, highs = [v for v in lows if np.isfinite(v)], [v for v in highs if np.isfinite(v)]
    if lows:
        ax.set_ylim(max(0.0, min(lows) - 5), min(100.0, max(highs) + 2))
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("frame AUC (%)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False)
    return png(fig)
