"""The ablation table of ``vadkit ablate`` (one run per variant): what each variant is made of and
its AUC columns, as rows for markdown, CSV and the report."""

from __future__ import annotations

from typing import Any

from ..recipe import Recipe

COLUMNS = ("model", "recipe", "motion", "fusion", "memory", "auc_micro", "auc_macro")


def describe(recipe: Recipe) -> dict[str, str]:
    fusion = str(recipe.get("model.fusion.type", "none"))
    fusion += " + late concat" if recipe.get("model.join") == "concat" else ""
    fusion += " (two branches, mixed at the output)" if recipe.get("model.assembly") == "two_branch" else ""
    return {
        "motion": str(recipe.get("model.motion.type", "none")),
        "fusion": fusion,
        "memory": str(recipe.get("model.memory.type", "none")),
    }


def table_rows(results: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    categories = sorted({c for r in results for c in (r.get("auc_per_category") or {})})
    header = list(COLUMNS) + [f"auc_{c}" for c in categories]

    def pct(x: Any) -> str:
        return "" if x is None else f"{100 * x:.1f}"

    rows = []
    for r in results:
        cats = r.get("auc_per_category") or {}
        rows.append(
            [
                r["model"],
                r["recipe"],
                r["motion"],
                r["fusion"],
                r["memory"],
                pct(r.get("auc_micro")),
                pct(r.get("auc_macro")),
            ]
            + [pct(cats.get(c)) for c in categories]
        )
    return header, rows


def to_markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


__all__ = ["COLUMNS", "describe", "table_rows", "to_markdown"]
