"""Shared test configuration: opt-in slow tests and the location of the real Ped2 data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
PED2 = Path(os.environ.get("VADKIT_PED2", REPO.parent / "shared" / "data" / "ped2"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run long training / benchmark tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow test: opt in with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def ped2_root() -> Path:
    """The real UCSD Ped2 benchmark, read in place (never copied into the repo)."""
    if not (PED2 / "training" / "frames").is_dir():
        pytest.skip(f"UCSD Ped2 not found at {PED2} (set VADKIT_PED2 to its folder)")
    return PED2


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flow caches of tests go to a temporary folder, never to the user's cache."""
    monkeypatch.setenv("VADKIT_CACHE", str(tmp_path_factory.getbasetemp() / "vadkit-cache"))


@pytest.fixture(autouse=True)
def _sigchld_as_it_was() -> Any:
    """Every test ends with SIGCHLD's disposition as it began: PyTorch's DataLoader installs a
    process-wide handler the first time it starts workers, and with it in place a child exiting
    after bf16 work ended the suite with SIGSEGV on an AMX Xeon (docs/performance.md)."""
    from vadkit.training.child_signals import sigchld_restored

    with sigchld_restored():
        yield
