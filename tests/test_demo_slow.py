"""The main job end to end (opt-in: about 2 minutes on 2 cores): `vadkit demo` reaches the
quickstart's promise of micro AUC >= 0.90 on the synthetic set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vadkit.cli import main


@pytest.mark.slow
def test_demo_reaches_its_auc(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["auc_micro"] >= 0.90
    assert set(metrics["auc_per_category"]) == {"appearance", "motion", "joint"}
    assert (out / "calibration.json").is_file() and (out / "plots" / "top_frames.png").is_file()
