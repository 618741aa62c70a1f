"""``vadkit build``: validate a recipe, build its model, dry-run it and show the component tree."""

from __future__ import annotations

import argparse
import json
import sys

from ._common import add_recipe_args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "build",
        help="validate a recipe, build the model and show its component tree",
        description="Validate a recipe, build its model, run one dry forward pass on random input at "
        "the recipe's resolution and print each component with its plugin, parameter count and "
        "output shape, plus total parameters and GFLOPs per frame.",
    )
    add_recipe_args(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--print-resolved", action="store_true", help="print the fully merged recipe and exit")
    p.add_argument("--batch", type=int, default=1, help="batch size of the dry forward pass (default %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # torch is imported here, not at module level: `vadkit list` must stay torch-free.
    from rich.console import Console

    from ..builder import build_model, build_scorer, model_section
    from ..errors import VadkitError
    from ..memory_estimate import check_memory
    from ..plugins import default_registry
    from ..recipe import load_recipe
    from ..recipe_check import check_recipe
    from ..summary import render_tree, summarize

    recipe = load_recipe(args.recipe, args.overrides)
    if args.print_resolved:
        text = json.dumps(recipe.data, indent=2) if args.json else recipe.to_toml()
        sys.stdout.write(text.rstrip("\n") + "\n")
        return 0
    if args.batch < 1:
        raise VadkitError(f"--batch must be >= 1, got {args.batch}")
    registry = default_registry()
    check_recipe(recipe, registry)  # every section, not only [model]
    scorer = build_scorer(recipe, registry)
    resolution = tuple(model_section(recipe)["resolution"])
    estimate = check_memory(recipe, registry, "build", "cpu", batch=args.batch)  # the dry run runs on the CPU
    model = build_model(recipe, registry)
    summary = summarize(model, resolution, registry, batch=args.batch)
    info = {
        "recipe": str(recipe.path),
        **summary.as_dict(),
        "scorer": getattr(scorer, "registry_name", type(scorer).__name__),
        "memory_estimate_bytes": estimate.total if estimate else None,
    }
    if args.json:
        sys.stdout.write(json.dumps(info, indent=2) + "\n")
        return 0
    console = Console()
    console.print(render_tree(summary, title=f"{recipe.path.name}"))
    console.print(f"scorer: [green]{info['scorer']}[/]  |  trainable params {summary.trainable_params:,}")
    if estimate is not None:
        console.print(f"memory: {estimate.describe()}", highlight=False)
    return 0
