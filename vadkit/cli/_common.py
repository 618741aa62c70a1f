"""Arguments shared by the commands that take a recipe."""

from __future__ import annotations

import argparse

from ..recipe import Recipe, load_recipe


def add_recipe_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--recipe", required=required, help="recipe file, or a built-in recipe name (e.g. mstinet)")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override any recipe key, e.g. --set model.memory.slots=20 (repeatable; value read as TOML)",
    )


def load_recipe_args(args: argparse.Namespace) -> Recipe:
    return load_recipe(args.recipe, args.overrides)
