"""Helpers shared by the core tests: the example plugin, tiny recipes, in-process plugins."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vadkit.hookspecs import hookimpl
from vadkit.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_PLUGIN_DIR = REPO / "examples" / "plugins" / "vadkit-gated-fusion"
SMALL_WIDTHS = "[8, 16, 32, 64]"
SMALL_RESOLUTION = (32, 32)

# The model part of the tiny recipes the end-to-end tests train (32x32, widths 4-16, 4 items);
# each test appends its own [train] / [eval] / [flow] tables.
TINY_MODEL = """
extends = "mstinet"
[model]
resolution = [32, 32]
[model.appearance]
widths = [4, 8, 8, 16]
[model.motion]
widths = [4, 8, 8, 16]
[model.memory]
slots = 4
"""


def example_plugin() -> types.ModuleType:
    """The example plugin's hook module, importable whether or not it is pip-installed."""
    if str(EXAMPLE_PLUGIN_DIR) not in sys.path:
        sys.path.append(str(EXAMPLE_PLUGIN_DIR))
    return importlib.import_module("vadkit_gated_fusion.plugin")


def small_overrides(recipe: str | Path) -> list[str]:
    """``--set`` overrides that shrink a recipe: 32x32 input, widths 8-64 for conv streams."""
    base = load_recipe(recipe)
    out = [f"model.resolution=[{SMALL_RESOLUTION[0]}, {SMALL_RESOLUTION[1]}]"]
    for stream in ("appearance", "motion"):
        if base.get(f"model.{stream}.widths") is not None:
            out.append(f"model.{stream}.widths={SMALL_WIDTHS}")
    return out


def make_plugin(name: str, register_components: Callable[..., Any]) -> types.ModuleType:
    """An in-process plugin: a module object named ``name`` with one hook implementation."""
    module = types.ModuleType(name)
    module.register_components = hookimpl(register_components)
    return module
