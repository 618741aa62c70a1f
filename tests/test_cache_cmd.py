"""`vadkit cache list|clear` on a cache filled by `vadkit flow`: it lists the entries, clears
only stale temporary files with --stale, and clears the flow entries of one dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from vadkit.atomic import writer_tag
from vadkit.cli import main
from vadkit.data.synth import generate


@pytest.fixture()
def filled(tmp_path: Path) -> tuple[Path, Path]:
    data = generate(tmp_path / "data", seed=3, train_videos=2, test_videos=1, frames=20, size=32, object_size=8)
    cache = tmp_path / "cache"
    assert main(["flow", "--data", str(data), "--cache", str(cache), "--set", "model.resolution=[32, 32]",
                 "--workers", "1"]) == 0
    return data, cache


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.npy"))


def test_list_shows_the_flow_entries(filled: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    _, cache = filled
    assert len(_entries(cache)) == 3  # one per video of both splits
    capsys.readouterr()
    assert main(["cache", "list", "--dir", str(cache)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "flow" in out and "3" in out


def test_clear_stale_keeps_entries_and_removes_dead_writers_temps(filled: tuple[Path, Path]) -> None:
    _, cache = filled
    host = writer_tag().split("-")[0]
    dead = cache / f".training-01-0123.npy.{host}-999999-deadbeef.tmp"  # a killed writer's temp file
    dead.write_bytes(b"partial")
    live = cache / f".training-01-0123.npy.{writer_tag()}-cafebabe.tmp"  # a writer still running (us)
    live.write_bytes(b"partial")
    assert main(["cache", "clear", "--stale", "--dir", str(cache)]) == 0
    assert len(_entries(cache)) == 3
    assert not dead.exists() and live.exists()


def test_clear_one_dataset(filled: tuple[Path, Path], tmp_path: Path) -> None:
    data, cache = filled
    other = generate(tmp_path / "other", seed=4, train_videos=1, test_videos=1, frames=20, size=32, object_size=8)
    assert main(["flow", "--data", str(other), "--cache", str(cache), "--set", "model.resolution=[32, 32]",
                 "--workers", "1"]) == 0
    assert len(_entries(cache)) == 5
    assert main(["cache", "clear", "--kind", "flow", "--dataset", str(data), "--dir", str(cache)]) == 0
    assert len(_entries(cache)) == 2  # only the other dataset's entries are left
    assert main(["cache", "clear", "--kind", "flow", "--dir", str(cache)]) == 0
    assert _entries(cache) == []
