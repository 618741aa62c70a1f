"""``vadkit plugins``: the plugin distributions and what each registered (torch-free).

This is the command a user runs to diagnose plugin trouble, so it never fails on it: failed,
blocked and conflicting plugins are listed with the rest, conflicts with the way out.
"""

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
        "distribution and version, what each registered, any load error, blocked plugins "
        "(VADKIT_BLOCK_PLUGINS) and names registered by more than one plugin.",
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=run)


def conflicts_of(registry, plugin: str) -> list[str]:
    """The ``kind:name`` entries ``plugin`` registered that another plugin registered too."""
    return [f"{k}:{n}" for (k, n), specs in registry.conflicts.items() if any(s.plugin == plugin for s in specs)]


def status(registry, info) -> str:
    from rich.markup import escape

    if info.error:
        return f"[red]failed: {escape(info.error)}[/]"
    if info.blocked:
        return "[yellow]blocked[/]"
    clashes = conflicts_of(registry, info.name)
    return f"[bold red]conflict: {', '.join(clashes)}[/]" if clashes else "[green]ok[/]"


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ..plugins import default_registry

    registry = default_registry()
    infos = list(registry.plugins.values())
    if args.json:
        rows = [{**dataclasses.asdict(i), "conflicts": conflicts_of(registry, i.name)} for i in infos]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    table = Table(title=f"{len(infos)} plugins", title_justify="left")
    for column in ("plugin", "distribution", "version", "components", "status"):
        table.add_column(column, overflow="fold")
    for info in infos:
        components = escape(by_kind(info.components)) or "-"
        table.add_row(
            escape(info.name), escape(info.distribution), info.version or "-", components, status(registry, info)
        )
    console = Console()
    console.print(table)
    if registry.conflicts:
        console.print(
            f"[bold red]{len(registry.conflicts)} name(s) registered by more than one plugin "
            "(recipes naming them fail until one is blocked):[/]"
        )
        for kind, name in registry.conflicts:
            console.print(f"[red]conflict:[/] {escape(registry.conflict_message(kind, name))}", soft_wrap=True)
    report_failures(registry)
    return 0


def by_kind(components: list[str]) -> str:
    """``["fusion:a", "fusion:b", "memory:c"]`` -> one line per kind: ``fusion: a, b``."""
    grouped: dict[str, list[str]] = {}
    for entry in components:
        kind, _, name = entry.partition(":")
        grouped.setdefault(kind, []).append(name)
    return "\n".join(f"{kind}: {', '.join(names)}" for kind, names in grouped.items())
