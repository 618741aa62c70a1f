"""``vadkit serve``: watch cameras as a service. Reads a cameras.toml (cameras, the trained run,
the sinks), keeps every stream connected, sends each event with its clip and snapshot to the
sinks (JSON lines, webhook, MQTT, or a plugin's) and serves /healthz and /metrics on localhost.
SIGTERM or Ctrl-C drains: every event is delivered or queued on disk, then exit 0."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="watch cameras as a service: events to MQTT / webhook / file, health, metrics",
        description=__doc__,
    )
    p.add_argument("--config", required=True, type=Path, help="cameras.toml (see docs/serve.md)")
    p.add_argument("--check", action="store_true", help="check the config and the sinks, then exit")
    p.add_argument("--max-seconds", type=float, default=None, help="stop (and drain) after N seconds")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import default_registry
    from ..serve import load_config, serve
    from ..serve.dispatch import Sinks

    console = Console()
    registry = default_registry()
    config = load_config(args.config, registry)  # every key checked before any camera opens
    if args.check:
        Sinks(config, registry, console).check()  # nothing sent, no queue or session of a running service touched
        console.print(
            f"{args.config}: ok ({len(config.cameras)} camera(s), sinks {', '.join(s.id for s in config.sinks)})"
        )
        return 0
    return serve(config, registry, console, max_seconds=args.max_seconds)
