"""The wheel holds every module of the core and of the first-party plugins (packages are found,
not listed by hand), plus the manifest and recipes the core reads at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        capture_output=True, text=True, cwd=build, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [path] = list(out.glob("vadkit-*.whl"))
    return zipfile.ZipFile(path)


def expected_modules() -> list[str]:
    paths = [p.relative_to(REPO).as_posix() for p in (REPO / "vadkit").rglob("*.py")]
    paths += [p.relative_to(REPO / "plugins").as_posix() for p in (REPO / "plugins").rglob("*.py")]
    return sorted(p for p in paths if "__pycache__" not in p)


def test_every_module_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    missing = [m for m in expected_modules() if m not in names]
    assert not missing, f"modules missing from the wheel: {missing}"
    assert {"vadkit/training/trainer.py", "vadkit/evaluation/evaluate.py", "vadkit/detect/api.py",
            "vadkit/data/clips.py"} <= names


def test_manifest_and_recipes_are_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "vadkit/registry.toml" in names
    assert wheel.read("vadkit/registry.toml") == (REPO / "registry.toml").read_bytes()
    recipes = {p.relative_to(REPO).as_posix() for p in (REPO / "recipes").rglob("*.toml")}
    assert {f"vadkit/{r}" for r in recipes} <= names
