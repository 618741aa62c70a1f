"""The core never imports a plugin package; first-party plugins import only the core's public API."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN_PACKAGES = sorted(p.name for p in (REPO / "plugins").iterdir() if (p / "__init__.py").is_file())
EXAMPLE_PACKAGES = sorted(p.name for p in (REPO / "examples" / "plugins").glob("*/*") if (p / "__init__.py").is_file())


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Absolute module names imported by a file (``import x`` and ``from x import y``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_plugin_packages_are_found() -> None:
    assert {"vadkit_mstinet", "vadkit_timm", "vadkit_data"} <= set(PLUGIN_PACKAGES)
    assert {"vadkit_gated_fusion", "vadkit_patch_scorer"} <= set(EXAMPLE_PACKAGES)


def test_the_core_imports_no_plugin_package() -> None:
    forbidden = set(PLUGIN_PACKAGES) | set(EXAMPLE_PACKAGES)
    offenders = [
        f"{path.relative_to(REPO)}:{line} imports {name}"
        for path in sorted((REPO / "vadkit").rglob("*.py"))
        for line, name in imported_modules(path)
        if name.split(".")[0] in forbidden
    ]
    assert not offenders, "the core must not import plugins:\n" + "\n".join(offenders)


@pytest.mark.parametrize("package", PLUGIN_PACKAGES)
def test_first_party_plugins_import_only_the_public_core(package: str) -> None:
    """Plugins use vadkit's public modules (no ``vadkit._private``) and never each other."""
    others = set(PLUGIN_PACKAGES) - {package}
    offenders = []
    for path in sorted((REPO / "plugins" / package).rglob("*.py")):
        for line, name in imported_modules(path):
            parts = name.split(".")
            if parts[0] in others or (parts[0] == "vadkit" and any(p.startswith("_") for p in parts[1:])):
                offenders.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    assert not offenders, "\n".join(offenders)


def test_a_core_import_of_a_plugin_would_be_caught(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from vadkit_mstinet.scorer import psnr\nimport vadkit_data.flow\n")
    assert [n for _, n in imported_modules(bad)] == ["vadkit_mstinet.scorer", "vadkit_data.flow"]
