"""``vadkit ablate --seeds``: mean and std per column over seeds and the comparison with E."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from _helpers import TINY_MODEL

from vadkit.ablation.seeds import add_comparisons, csv_text, summarise, table_rows
from vadkit.cli import main
from vadkit.cli.ablate_cmd import parse_seeds
from vadkit.errors import RecipeError

TINY = TINY_MODEL + """[train]
epochs = 1
batch_size = 4
max_steps_per_epoch = 2
lr = 1e-3
threads = 1
[eval]
batch_size = 16
top_frames = 0
curves = false
"""


def _run(model: str, seed: int, micro: float, psnr: float) -> dict:
    return {"model": model, "recipe": f"{model}-x", "motion": "m", "fusion": "f", "memory": "k", "seed": seed,
            "auc_micro": micro, "auc_macro": micro - 0.01,
            "diagnostics": {"auc_micro_psnr_only": psnr, "auc_micro_distance_only": 0.5}}


def std(xs: list[float]) -> float:
    mean = sum(xs) / len(xs)
    return math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))


def test_mean_std_and_the_comparison_with_e() -> None:
    runs = [_run("E", 0, 0.90, 0.8), _run("E", 1, 0.92, 0.8), _run("B", 0, 0.80, 0.7), _run("B", 1, 0.84, 0.9),
            _run("C", 0, 0.90, 0.8), _run("C", 1, 0.93, 0.8)]
    summary = summarise(runs)
    add_comparisons(summary)
    by = {v["model"]: v for v in summary}
    assert [v["model"] for v in summary] == ["E", "B", "C"] and by["B"]["seeds"] == [0, 1]
    assert by["B"]["mean"]["auc_micro"] == pytest.approx(0.82)
    assert by["B"]["std"]["auc_micro"] == pytest.approx(std([0.80, 0.84]))
    assert by["B"]["mean"]["auc_psnr_only"] == pytest.approx(0.8) and by["B"]["std"]["auc_distance_only"] == 0.0
    assert by["E"]["vs_reference"] is None and by["B"]["paper_shanghaitech"] == 73.3
    b = by["B"]["vs_reference"]["auc_micro"]
    pooled = math.sqrt((std([0.80, 0.84]) ** 2 + std([0.90, 0.92]) ** 2) / 2)
    assert b["diff"] == pytest.approx(-0.09) and b["pooled_std"] == pytest.approx(pooled)
    assert b["exceeds_seed_spread"] is True  # 0.09 > 0.022
    c = by["C"]["vs_reference"]["auc_micro"]
    assert c["diff"] == pytest.approx(0.005) and c["exceeds_seed_spread"] is False  # 0.005 < 0.018
    header, rows = table_rows(summary)
    row_b = dict(zip(header, rows[1]))
    assert row_b["auc_micro"] == "82.0 ± 2.8"
    assert row_b["micro vs E"] == "-9.0 vs E; exceeds the seed spread (2.2)"
    assert dict(zip(header, rows[2]))["micro vs E"] == "+0.5 vs E; within the seed spread (1.8)"
    table = list(csv.DictReader(csv_text(summary).splitlines()))
    assert float(table[1]["auc_micro_mean"]) == pytest.approx(0.82)
    assert table[1]["auc_micro_exceeds_seed_spread_vs_E"] == "True" and table[0]["auc_micro_diff_vs_E"] == ""


def test_one_seed_has_no_spread() -> None:
    summary = summarise([_run("E", 0, 0.9, 0.8), _run("A", 0, 0.8, 0.8)])
    add_comparisons(summary)
    assert math.isnan(summary[1]["std"]["auc_micro"])
    assert summary[1]["vs_reference"]["auc_micro"]["exceeds_seed_spread"] is None
    assert table_rows(summary)[1][1][-1] == "-10.0 vs E; one seed, spread unknown"


def test_seeds_are_parsed_with_a_clear_error() -> None:
    assert parse_seeds("0, 1,2") == [0, 1, 2]
    with pytest.raises(RecipeError, match="--seeds must be comma-separated integers"):
        parse_seeds("0,x")
    with pytest.raises(RecipeError, match="no repeats"):
        parse_seeds("1,1")


def test_ablate_over_seeds_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from vadkit.data.synth import generate

    data = generate(tmp_path / "synth", seed=1, train_videos=2, test_videos=2, frames=20, size=32, object_size=8)
    base = tmp_path / "tiny.toml"
    base.write_text(TINY)
    out = tmp_path / "ablate"
    args = ["ablate", "--recipes", "B,E", "--data", str(data), "--base", str(base), "--out", str(out)]
    assert main([*args, "--seeds", "0,1"]) == 0
    for name in ("B-two-streams-no-interaction", "E-full"):
        for seed in (0, 1):
            run = out / name / f"seed{seed}"
            assert (run / "metrics.json").is_file()
            assert f"seed = {seed}" in (run / "recipe.toml").read_text()
    doc = json.loads((out / "table.json").read_text())
    assert [v["model"] for v in doc["variants"]] == ["B", "E"] and len(doc["runs"]) == 4
    e_runs = [r["auc_micro"] for r in doc["runs"] if r["model"] == "E"]
    e = doc["variants"][1]
    assert e["mean"]["auc_micro"] == pytest.approx(sum(e_runs) / 2) and e["std"]["auc_micro"] == pytest.approx(std(e_runs))
    assert set(doc["variants"][0]["vs_reference"]["auc_micro"]) == {"diff", "pooled_std", "exceeds_seed_spread"}
    assert "micro vs E" in (out / "table.md").read_text()
    assert len(list(csv.DictReader((out / "table.csv").read_text().splitlines()))) == 2
    printed = capsys.readouterr().out
    assert "Ablations" in printed and "table.json" in printed  # the rich table (wrapped at 80 columns)
    # without --seeds: the single-run table as before, one run folder per variant
    single = tmp_path / "single"
    assert main(["ablate", "--recipes", "E", "--data", str(data), "--base", str(base), "--out", str(single)]) == 0
    assert (single / "E-full" / "metrics.json").is_file() and not (single / "table.json").exists()
    assert (single / "table.csv").read_text().startswith("model,recipe,motion,fusion,memory,auc_micro,auc_macro")
