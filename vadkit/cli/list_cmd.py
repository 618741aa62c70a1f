"""``vadkit list``: registered components, filtered by a wildcard and a kind (torch-free)."""

from __future__ import annotations

import argparse
import json
import sys

from ..registry import KINDS

WILDCARDS = set("*?[")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "list",
        help="list registered components",
        description="List registered components (like timm.list_models). PATTERN is a shell-style "
        "wildcard matched against 'name' or 'kind:name'; without wildcards it matches substrings.",
    )
    p.add_argument("pattern", nargs="?", default="*", metavar="PATTERN", help="e.g. '*attention*', 'fusion:*', 'timm'")
    p.add_argument("--kind", choices=KINDS, help="only components of this kind")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..plugins import default_registry

    registry = default_registry()
    pattern = args.pattern if WILDCARDS & set(args.pattern) else f"*{args.pattern}*"
    specs = registry.list(pattern, kind=args.kind)
    if args.json:
        sys.stdout.write(json.dumps([s.as_dict() for s in specs], indent=2) + "\n")
        return 0
    table = Table(title=f"{len(specs)} components", title_justify="left")
    for column in ("kind", "name", "description", "distribution"):
        table.add_column(column, overflow="fold")
    for s in specs:
        table.add_row(s.kind, s.name, s.description, s.distribution)
    Console().print(table)
    report_failures(registry)
    return 0


def report_failures(registry) -> None:
    """Plugins that failed to load, on stderr: the rest of the registry still works."""
    from rich.console import Console

    err = Console(stderr=True)
    for info in registry.plugins.values():
        if info.error:
            err.print(
                f"[yellow]warning:[/] plugin '{info.name}' ({info.distribution}) failed: {info.error}", highlight=False
            )
