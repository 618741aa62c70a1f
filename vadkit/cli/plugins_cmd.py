"""``vadkit plugins``: the plugin distributions and what each registered (torch-free)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from .list_cmd import report_failures


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "plugins",
        help="list loaded plugins and the components each registered",
        description="List the plugins (built-in, entry-point 'vadkit' group, in-process), their "
        "distribution and version, what each registered, and any load error.",
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..plugins import default_registry

    registry = default_registry()
    infos = list(registry.plugins.values())
    if args.json:
        sys.stdout.write(json.dumps([dataclasses.asdict(i) for i in infos], indent=2) + "\n")
        return 0
    table = Table(title=f"{len(infos)} plugins", title_justify="left")
    for column in ("plugin", "distribution", "version", "components", "status"):
        table.add_column(column, overflow="fold")
    for info in infos:
        status = f"[red]failed: {info.error}[/]" if info.error else "[green]ok[/]"
        table.add_row(info.name, info.distribution, info.version or "-", by_kind(info.components) or "-", status)
    Console().print(table)
    report_failures(registry)
    return 0


def by_kind(components: list[str]) -> str:
    """``["fusion:a", "fusion:b", "memory:c"]`` -> one line per kind: ``fusion: a, b``."""
    grouped: dict[str, list[str]] = {}
    for entry in components:
        kind, _, name = entry.partition(":")
        grouped.setdefault(kind, []).append(name)
    return "\n".join(f"{kind}: {', '.join(names)}" for kind, names in grouped.items())
