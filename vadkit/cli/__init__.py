"""The ``vadkit`` command line. Each subcommand lives in its own module with ``add_parser``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from contextlib import nullcontext

from rich.console import Console
from rich.markup import escape

from ..stop_signals import Stopped, StopSignals
from ._errors import interrupted_message, user_error

# Subcommand modules, in the order ``vadkit --help`` lists them. Each defines
# ``add_parser(subparsers)`` which registers its parser and sets ``func(args) -> int``.
COMMANDS: tuple[str, ...] = (
    "build",
    "list",
    "plugins",
    "train",
    "eval",
    "validate",
    "demo",
    "ablate",
    "data",
    "flow",
    "cache",
    "synth",
    "detect",
    "calibrate",
    "export",
    "report",
    "serve",
    "zoo",
)
# Commands that install their own SIGINT / SIGTERM handlers whatever the inherited disposition and
# stop cleanly at a step boundary (vadkit/stop_signals.py): exit 130 / 143 with what was kept.
STOPPABLE = frozenset({"train", "demo", "detect", "eval"})


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vadkit", description="Video anomaly detection, plugin by plugin.")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"vadkit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks (also VADKIT_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}_cmd").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. A user's mistake ends in a one-line message and exit 2, Ctrl-C in exit
    130 (SIGTERM to a STOPPABLE command: 143) with what was kept and how to go on; ``--debug``
    (anywhere on the line) or VADKIT_DEBUG=1 shows tracebacks."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("VADKIT_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with StopSignals() if args.command in STOPPABLE else nullcontext():
            return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:
        if debug:
            raise
        signum = exc.signum if isinstance(exc, Stopped) else None
        Console(stderr=True).print(interrupted_message(args, signum), highlight=False, soft_wrap=True)  # one line
        return exc.exit_status if isinstance(exc, Stopped) else 130
    except Exception as exc:
        message = None if debug else user_error(exc)
        if message is None:
            raise
        Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
