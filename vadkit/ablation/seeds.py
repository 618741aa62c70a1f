"""The multi-seed ablation table of ``vadkit ablate --seeds``: per variant, mean and standard
deviation over seeds of every AUC column, and for each variant against E (the full model)
whether the difference of means exceeds the pooled seed standard deviation.

std is the sample standard deviation over seeds (ddof = 1; undefined with one seed). The pooled
std of variant V and E is sqrt((std_V^2 + std_E^2) / 2). "exceeds the seed spread" means
|mean_V - mean_E| > pooled std: a plain screen, not a significance test.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from ..atomic import atomic_write_text

REFERENCE = "E"
# Table II of the paper (ShanghaiTech, frame-level AUC %), for reading beside our columns
PAPER_TABLE_II = {"A": 73.1, "B": 73.3, "C": 72.6, "D": 72.8, "E": 73.9}
DESCRIPTION = ("motion", "fusion", "memory")


def metric_columns(metrics: dict[str, Any]) -> dict[str, float]:
    """The AUC columns of one run's metrics.json (in [0, 1]; missing ones left out)."""
    diag = metrics.get("diagnostics") or {}
    cols = {"auc_micro": metrics.get("auc_micro"), "auc_macro": metrics.get("auc_macro")}
    # one column per scorer statistic alone (auc_micro_<statistic>_only -> auc_<statistic>_only)
    cols.update({"auc_" + k.removeprefix("auc_micro_"): v for k, v in diag.items() if k.startswith("auc_micro_")})
    cols.update({f"auc_{k}": v for k, v in sorted((metrics.get("auc_per_category") or {}).items())})
    return {k: float(v) for k, v in cols.items() if v is not None}


def _std(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per variant (in first-seen order): seeds, per-column values, mean and std."""
    variants: dict[str, dict[str, Any]] = {}
    for run in runs:
        v = variants.setdefault(
            run["recipe"],
            {
                "model": run["model"],
                "recipe": run["recipe"],
                **{k: run.get(k, "") for k in DESCRIPTION},
                "seeds": [],
                "values": {},
            },
        )
        v["seeds"].append(run.get("seed"))
        for col, value in metric_columns(run).items():
            v["values"].setdefault(col, []).append(value)
    for v in variants.values():
        v["mean"] = {c: float(np.mean(vals)) for c, vals in v["values"].items()}
        v["std"] = {c: _std(vals) for c, vals in v["values"].items()}
        v["paper_shanghaitech"] = PAPER_TABLE_II.get(v["model"])
    return list(variants.values())


def compare(variant: dict[str, Any], reference: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per column: difference of means (variant - reference), pooled std, and the verdict."""
    out = {}
    for col in variant["mean"].keys() & reference["mean"].keys():
        diff = variant["mean"][col] - reference["mean"][col]
        pooled = math.sqrt((variant["std"][col] ** 2 + reference["std"][col] ** 2) / 2)
        exceeds = None if math.isnan(pooled) else abs(diff) > pooled
        out[col] = {"diff": diff, "pooled_std": pooled, "exceeds_seed_spread": exceeds}
    return dict(sorted(out.items()))


def verdict(c: dict[str, Any] | None) -> str:
    """The comparison of one column in words (AUC points)."""
    if c is None:
        return ""
    head = f"{100 * c['diff']:+.1f} vs {REFERENCE}"
    if c["exceeds_seed_spread"] is None:
        return f"{head}; one seed, spread unknown"
    word = "exceeds" if c["exceeds_seed_spread"] else "within"
    return f"{head}; {word} the seed spread ({100 * c['pooled_std']:.1f})"


def add_comparisons(summary: list[dict[str, Any]]) -> None:
    """Fill ``vs_reference`` for every variant but the reference (None when E is absent)."""
    ref = next((v for v in summary if v["model"] == REFERENCE), None)
    for v in summary:
        v["vs_reference"] = compare(v, ref) if ref is not None and v is not ref else None


def _pct(mean: float, std: float) -> str:
    return f"{100 * mean:.1f}" + ("" if math.isnan(std) else f" ± {100 * std:.1f}")


def table_rows(summary: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Human table: mean ± std per column (AUC %), the paper's value, micro AUC vs E."""
    cols = list(dict.fromkeys(c for v in summary for c in v["mean"]))
    header = ["model", "recipe", *DESCRIPTION, "seeds", *cols, "paper (SHT)", f"micro vs {REFERENCE}"]
    rows = []
    for v in summary:
        cells = [_pct(v["mean"][c], v["std"][c]) if c in v["mean"] else "" for c in cols]
        paper = "" if v["paper_shanghaitech"] is None else f"{v['paper_shanghaitech']:.1f}"
        micro = verdict((v["vs_reference"] or {}).get("auc_micro"))
        rows.append(
            [
                v["model"],
                v["recipe"],
                *(v[k] for k in DESCRIPTION),
                ",".join(map(str, v["seeds"])),
                *cells,
                paper,
                micro,
            ]
        )
    return header, rows


def csv_text(summary: list[dict[str, Any]]) -> str:
    """Machine table: one row per variant, <col>_mean / <col>_std and, per column, the
    difference to E, the pooled std and whether it exceeds the seed spread (AUC in [0, 1])."""
    cols = list(dict.fromkeys(c for v in summary for c in v["mean"]))
    stats = [f"{c}_{s}" for c in cols for s in ("mean", "std")]
    vs = [f"{c}_{s}_vs_{REFERENCE}" for c in cols for s in ("diff", "pooled_std", "exceeds_seed_spread")]
    header = ["model", "recipe", *DESCRIPTION, "seeds", "paper_shanghaitech", *stats, *vs]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for v in summary:
        ref = v["vs_reference"] or {}
        row = [
            v["model"],
            v["recipe"],
            *(v[k] for k in DESCRIPTION),
            " ".join(map(str, v["seeds"])),
            v["paper_shanghaitech"],
        ]
        row += [v[s].get(c, "") for c in cols for s in ("mean", "std")]
        row += [ref.get(c, {}).get(k, "") for c in cols for k in ("diff", "pooled_std", "exceeds_seed_spread")]
        writer.writerow(["" if x is None or (isinstance(x, float) and math.isnan(x)) else x for x in row])
    return buf.getvalue()


def write_seed_tables(runs: list[dict[str, Any]], out: Path, console: Console) -> list[dict[str, Any]]:
    """Summarise the runs, write table.json / table.csv / table.md under ``out``, print it."""
    from .tables import to_markdown

    summary = summarise(runs)
    add_comparisons(summary)
    header, rows = table_rows(summary)
    per_run = [{k: r.get(k) for k in ("model", "recipe", "seed")} | metric_columns(r) for r in runs]
    doc = {
        "note": __doc__.split("\n\n", 1)[1].replace("\n", " ").strip(),
        "reference": REFERENCE,
        "variants": summary,
        "runs": per_run,
    }
    atomic_write_text(out / "table.json", json.dumps(_no_nan(doc), indent=2, allow_nan=False) + "\n")
    atomic_write_text(out / "table.csv", csv_text(summary))
    atomic_write_text(out / "table.md", to_markdown(header, rows))
    table = Table(*header, title="Ablations over seeds (frame-level AUC %, mean ± std; micro = paper protocol)")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if not any(v["model"] == REFERENCE for v in summary):
        console.print(f"no variant {REFERENCE} (the full model) in this run: no comparisons")
    console.print(f"table: {out / 'table.md'}, {out / 'table.csv'}, {out / 'table.json'}")
    return summary


def _no_nan(x: Any) -> Any:
    """NaN (a std over one seed) as JSON null."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _no_nan(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_no_nan(v) for v in x]
    return x
