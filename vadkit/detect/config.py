"""The ``[detect]`` section as detection reads it. Its settings are declared once, in
``vadkit.config.DetectConfig``; this module only applies command-line values to it."""

from __future__ import annotations

from ..config import CALIBRATIONS, WEIGHTINGS, DetectConfig, RunConfig, read_section
from ..recipe import Recipe, recipe_from_dict


def read_detect(recipe: Recipe | RunConfig, **overrides: object) -> DetectConfig:
    """``[detect]`` with the non-None ``overrides`` (command-line flags) applied and checked."""
    given = {f"detect.{k}": v for k, v in overrides.items() if v is not None}
    if isinstance(recipe, RunConfig):
        return recipe.replace(given).detect
    return (
        read_section(recipe.with_values(given), "detect", DetectConfig)
        if given
        else (read_section(recipe, "detect", DetectConfig))
    )


def validate(cfg: DetectConfig, recipe: Recipe | None = None) -> DetectConfig:
    """``cfg`` checked by the rules of ``vadkit.config`` (errors name the recipe key)."""
    import dataclasses

    values = {f"detect.{k}": v for k, v in dataclasses.asdict(cfg).items()}
    base = recipe if recipe is not None else recipe_from_dict({}, "<settings>")
    return read_section(base.with_values(values, str(base.path)), "detect", DetectConfig)


__all__ = ["DetectConfig", "read_detect", "validate", "CALIBRATIONS", "WEIGHTINGS"]
