"""``vadkit zoo``: the model zoo (recipes/zoo/catalogue.json), each model with its recipes,
published micro AUCs, and the parameters and GFLOP/frame of its recipes, counted here."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import VadkitError

SETS = ("ped2", "avenue", "shanghaitech")
RECIPE_ROLES = ("paper", "ped2_cpu")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "zoo",
        help="list the model zoo: recipes, published AUCs, parameters, GFLOP/frame",
        description="List the zoo's models (MSTI-Net, MNAD, FFP, the fast tier): their paper-scale and "
        "Ped2-CPU recipes, the micro AUCs their papers publish on Ped2 / Avenue / ShanghaiTech, and the "
        "parameters and GFLOP/frame of each recipe (counted by one dry forward pass at its resolution).",
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.add_argument("--no-count", action="store_true", help="skip building the models (no parameters, no GFLOPs)")
    p.set_defaults(func=run)


def catalogue_path() -> Path:
    from ..recipe import BUILTIN_RECIPES

    return BUILTIN_RECIPES / "zoo" / "catalogue.json"


def read_catalogue(path: Path | None = None) -> list[dict[str, Any]]:
    """The catalogue's models; a broken file is one line naming it."""
    path = path or catalogue_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        models = data["models"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VadkitError(f"{path}: not a readable zoo catalogue ({exc})") from None
    for model in models:
        for role, ref in model.get("recipes", {}).items():
            if role not in RECIPE_ROLES:
                raise VadkitError(
                    f"{path}: model '{model.get('name')}' has recipe role '{role}'; roles: {', '.join(RECIPE_ROLES)}"
                )
            if not (path.parent.parent / ref).is_file():
                raise VadkitError(f"{path}: model '{model.get('name')}' names recipe '{ref}', which does not exist")
    return models


def count(recipe_path: Path, registry: Any) -> dict[str, Any]:
    """Parameters and GFLOP/frame of a recipe's model at its resolution (one dry forward, CPU)."""
    from ..builder import build_model, model_section
    from ..recipe import load_recipe
    from ..summary import summarize

    recipe = load_recipe(recipe_path)
    resolution = tuple(model_section(recipe)["resolution"])
    summary = summarize(build_model(recipe, registry), resolution, registry)
    return {
        "params": summary.total_params,
        "gflops_per_frame": round(summary.gflops_per_frame, 3),
        "resolution": list(resolution),
    }


def entries(measure: bool = True) -> list[dict[str, Any]]:
    """The catalogue with each recipe's absolute path (and its counts when ``measure``)."""
    from ..plugins import default_registry

    path = catalogue_path()
    models = read_catalogue(path)
    registry = default_registry() if measure else None
    for model in models:
        recipes = {}
        for role, ref in model.get("recipes", {}).items():
            full = (path.parent.parent / ref).resolve()
            recipes[role] = {"recipe": str(full), **(count(full, registry) if measure else {})}
        model["recipes"] = recipes
    return models


def _auc(value: Any) -> str:
    return "—" if value is None else f"{value:.1f}"


def run(args: argparse.Namespace) -> int:
    models = entries(measure=not args.no_count)
    if args.json:
        sys.stdout.write(json.dumps(models, indent=2) + "\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"vadkit zoo: {len(models)} models (published micro AUC, %)", title_justify="left")
    for column in ("model", "recipe", "params", "GFLOP/frame", "Ped2", "Avenue", "ShanghaiTech"):
        table.add_column(column, overflow="fold")
    for model in models:
        published = [_auc(model["published"].get(s)) for s in SETS]
        if not model["recipes"]:
            table.add_row(model["name"], "no recipe: parts only (docs/zoo.md; --json has why)", "", "", *published)
            continue
        for i, (role, info) in enumerate(model["recipes"].items()):
            params = f"{info['params']:,}" if "params" in info else ""
            flops = f"{info['gflops_per_frame']:.2f} @{info['resolution'][0]}" if "gflops_per_frame" in info else ""
            name = Path(info["recipe"]).relative_to(catalogue_path().parent.parent.resolve())
            table.add_row(
                model["name"] if i == 0 else "", f"{role}: {name}", params, flops, *(published if i == 0 else [""] * 3)
            )
    Console().print(table)
    return 0
