"""The ``vadkit`` command line. Each subcommand lives in its own module with ``add_parser``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rich.console import Console

from ..errors import VadkitError

# Subcommand modules, in the order ``vadkit --help`` lists them. Each defines
# ``add_parser(subparsers)`` which registers its parser and sets ``func(args) -> int``.
COMMANDS: tuple[str, ...] = (
    "build",
    "list",
    "plugins",
    "train",
    "eval",
    "demo",
    "ablate",
    "data",
    "flow",
    "synth",
    "detect",
    "calibrate",
)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vadkit", description="Video anomaly detection, plugin by plugin.")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"vadkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}_cmd").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except VadkitError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        Console(stderr=True).print("[yellow]interrupted[/]")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
