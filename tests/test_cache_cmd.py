"""`vadkit cache list|clear` on a cache filled by `vadkit flow`: it lists the entries, clears
only stale temporary files with --stale, and clears the flow entries of one dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


# -- only what a vadkit cache wrote is removed (issue 21) --------------------------------------


def test_clear_refuses_a_folder_that_is_not_a_cache(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    labels = tmp_path / "dataset" / "labels"
    labels.mkdir(parents=True)
    label = labels / "Test001.npy"
    np.save(label, np.zeros(5))
    before = label.read_bytes()
    for target in (labels, labels.parent):
        assert main(["cache", "clear", "--dir", str(target)]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert "not a vadkit cache" in err and "Test001.npy" in err and "nothing removed" in err
    assert label.read_bytes() == before


def test_clear_keeps_npy_files_without_entry_metadata(filled: tuple[Path, Path]) -> None:
    _, cache = filled
    foreign = cache / "mine.npy"
    np.save(foreign, np.ones(3))
    assert main(["cache", "clear", "--dir", str(cache)]) == 0
    assert _entries(cache) == [foreign]


def test_list_on_a_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    afile = tmp_path / "notes.txt"
    afile.write_text("x")
    assert main(["cache", "list", "--dir", str(afile)]) == 2
    assert "is a file, not a cache folder" in " ".join(capsys.readouterr().err.split())
    monkeypatch.setenv("VADKIT_CACHE", str(afile))
    assert main(["cache", "list"]) == 2
    assert "VADKIT_CACHE" in " ".join(capsys.readouterr().err.split())


def test_list_with_metadata_that_is_not_an_object(filled: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    _, cache = filled
    bad = _entries(cache)[0]
    bad.with_suffix(".json").write_text("[1, 2]")
    capsys.readouterr()
    assert main(["cache", "list", "--dir", str(cache)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Traceback" not in out and "not listed" in out and bad.name in out
