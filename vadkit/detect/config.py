"""The ``[detect]`` section as detection reads it. Its settings are declared once, in
``vadkit.config.DetectConfig``; this module only applies command-line values to it."""

from __future__ import annotations

from typing import Any

from ..config import CALIBRATIONS, WEIGHTINGS, DetectConfig, RunConfig, read_section
from ..recipe import Recipe


def detect_settings(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """``[detect]`` command-line values as dotted recipe keys (None = not given, dropped when applied)."""
    return {f"detect.{k}": v for k, v in (overrides or {}).items()}


def read_detect(recipe: Recipe | RunConfig, **overrides: object) -> DetectConfig:
    """``[detect]`` with the non-None ``overrides`` (command-line flags) applied and checked."""
    given = {k: v for k, v in detect_settings(overrides).items() if v is not None}
    if isinstance(recipe, RunConfig):
        return recipe.replace(given).detect
    return read_section(recipe.with_values(given) if given else recipe, "detect", DetectConfig)


__all__ = ["DetectConfig", "read_detect", "detect_settings", "CALIBRATIONS", "WEIGHTINGS"]
