"""``check_recipe``: a whole recipe checked before any data is read (what every command runs first).

``vadkit.config.read_config`` checks every setting; this adds what needs the registry: the
component tables of ``[data]`` and ``[flow]`` name registered components and only options their
factories take. ``[model]`` and ``[score]`` components are checked when they are built, which
every command does before it reads data.
"""

from __future__ import annotations

from .builder import check_options, instantiate
from .config import AUTO_LAYOUT, RunConfig, read_config
from .errors import RecipeError
from .recipe import Recipe
from .registry import Registry


def check_data(config: RunConfig, registry: Registry) -> None:
    """``[data]``: ``type`` is ``auto`` or a registered dataset layout, and its options are the
    layout's (checked without opening a dataset: the root is only known at run time)."""
    recipe, table = config.recipe, config.data
    if table["type"] != AUTO_LAYOUT:
        names = registry.names("dataset")
        if table["type"] not in names:
            import difflib

            close = difflib.get_close_matches(str(table["type"]), [AUTO_LAYOUT, *names], n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise recipe.error(
                "data.type",
                f"no dataset layout named '{table['type']}'.{hint} "
                f"Available: {AUTO_LAYOUT} (detect it), {', '.join(names)}",
            )
        check_options(registry, "dataset", table, recipe, "data", ("root",))
        return
    errors = []  # auto: the options must suit at least one layout that auto may pick
    for name in registry.names("dataset"):
        try:
            check_options(registry, "dataset", {**table, "type": name}, recipe, "data", ("root",))
            return
        except RecipeError as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


def check_recipe(recipe: Recipe | RunConfig, registry: Registry) -> RunConfig:
    """Every section checked: unknown sections, keys, component names and out-of-range values are
    errors naming the file and key. Returns the typed configuration."""
    config = recipe if isinstance(recipe, RunConfig) else read_config(recipe)
    check_data(config, registry)
    instantiate(registry, "flow", config.flow.estimator, config.recipe, "flow")
    return config


validate_recipe = check_recipe  # the name `vadkit build` has used

__all__ = ["check_recipe", "check_data", "validate_recipe"]
