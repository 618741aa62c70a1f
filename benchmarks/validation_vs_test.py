"""How well does `vadkit validate` rank runs the way the test split does?

For every run folder given (or found under the folders given) that has a metrics.json (its
test AUC, computed once by `vadkit eval` earlier), run `vadkit validate` with its defaults, then
report both AUCs per run and their rank correlation
(Spearman, Kendall). This measures the validation protocol; it chooses nothing.

    python benchmarks/validation_vs_test.py runs/ablate-ped2 runs/ped2-cpu runs/ped2-cpu-v2 \
        --out docs/measurements/validation_vs_test.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scipy.stats import kendalltau, spearmanr

from vadkit import default_registry
from vadkit.validation.validate import validate


def run_folders(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for p in paths:
        found += sorted(q.parent for q in ([p / "metrics.json"] if (p / "metrics.json").is_file() else p.rglob("metrics.json")))
    return found


def variant_means(rows: list[dict]) -> dict[str, dict]:
    """Mean AUCs of the runs of one variant over its seeds (``<variant>/seed<k>`` folders)."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        path = Path(r["run"])
        if path.name.startswith("seed"):
            groups.setdefault(path.parent.name, []).append(r)
    return {name: {"seeds": len(rs),
                   "validation_micro": sum(r["validation_micro"] for r in rs) / len(rs),
                   "test_micro": sum(r["test_micro"] for r in rs) / len(rs)} for name, rs in groups.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    registry = default_registry()
    rows = []
    for run in run_folders(args.paths):
        val = validate(run, registry)  # the defaults: 4 copies of each held-out video, seed 0, both kinds
        test = json.loads((run / "metrics.json").read_text())
        rows.append({"run": str(run), "validation_micro": val["auc_micro"], "test_micro": test["auc_micro"],
                     "validation_psnr_only": val["diagnostics"].get("auc_micro_psnr_only"),
                     "test_psnr_only": test["diagnostics"].get("auc_micro_psnr_only"),
                     "validation_distance_only": val["diagnostics"].get("auc_micro_distance_only"),
                     "test_distance_only": test["diagnostics"].get("auc_micro_distance_only")})
        print(f"{run}: validation {100 * val['auc_micro']:.1f}, test {100 * test['auc_micro']:.1f}", flush=True)
    v = [r["validation_micro"] for r in rows]
    t = [r["test_micro"] for r in rows]
    result = {"runs": rows, "n": len(rows), "spearman": float(spearmanr(v, t).statistic),
              "kendall": float(kendalltau(v, t).statistic), "variants": variant_means(rows)}
    print(f"{len(rows)} runs: Spearman {result['spearman']:.2f}, Kendall {result['kendall']:.2f}")
    means = result["variants"]
    if len(means) > 2:
        vm, tm = [m["validation_micro"] for m in means.values()], [m["test_micro"] for m in means.values()]
        result["variants_spearman"] = float(spearmanr(vm, tm).statistic)
        for name, m in means.items():
            print(f"  {name} ({m['seeds']} seeds): validation {100 * m['validation_micro']:.1f}, test {100 * m['test_micro']:.1f}")
        print(f"{len(means)} variants (mean over seeds): Spearman {result['variants_spearman']:.2f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
