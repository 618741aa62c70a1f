"""The configured sinks: built from the registry, opened before any camera, handed every event
and camera state, closed (drained, the rest persisted) at shutdown."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from rich.console import Console

from ..registry import Registry
from ..sinks import Sink, SinkError
from .config import ServeConfig


class Sinks:
    """All sinks of one service; one failing ``send`` is reported and never stops the others."""

    def __init__(self, config: ServeConfig, registry: Registry, console: Console) -> None:
        self.console = console
        self.sinks: list[Sink] = []
        self.errors: dict[str, int] = {}
        for sc in config.sinks:
            cls = registry.get("sink", sc.type).load()
            params = inspect.signature(cls).parameters
            derived: dict[str, Any] = {}
            if "state_dir" in params:
                derived["state_dir"] = config.out / "state" / sc.id
                Path(derived["state_dir"]).mkdir(parents=True, exist_ok=True)
            if "instance" in params:
                derived["instance"] = config.serve.name
            try:
                sink = cls(**sc.options, **derived)
            except (TypeError, ValueError, SinkError) as exc:
                raise SinkError(f"config {config.file}, key 'sinks.{sc.id}': {exc}") from None
            sink.name = sc.id
            self.sinks.append(sink)
            self.errors[sc.id] = 0

    def open(self) -> None:
        """Open every sink; the first that refuses stops the start (the ones opened are closed)."""
        opened: list[Sink] = []
        try:
            for sink in self.sinks:
                sink.open()
                opened.append(sink)
        except BaseException:
            for sink in opened:
                sink.close(0.0)
            raise

    def check(self) -> None:
        """``--check``: every sink tests its destination without sending (the first refusal raises)."""
        for sink in self.sinks:
            sink.check()

    def send(self, event: dict[str, Any]) -> None:
        for sink in self.sinks:
            try:
                sink.send(event)
            except Exception as exc:  # a sink's bug or a full disk: report, keep the others going
                self.errors[sink.name] += 1
                self.console.print(f"[red]sink '{sink.name}' could not take event {event.get('id')}: {exc}[/]")

    def status(self, camera: str, state: str) -> None:
        for sink in self.sinks:
            try:
                sink.status(camera, state)
            except Exception as exc:
                self.errors[sink.name] += 1
                self.console.print(f"[yellow]sink '{sink.name}' could not take the state of {camera}: {exc}[/]")

    def close(self, timeout: float) -> dict[str, int]:
        """Drain every sink within ``timeout`` s in all; events left (persisted) per sink."""
        left = {}
        for sink in self.sinks:
            try:
                left[sink.name] = int(sink.close(timeout))
            except Exception as exc:
                self.console.print(f"[red]sink '{sink.name}' failed to close: {exc}[/]")
                left[sink.name] = -1
        return left


__all__ = ["Sinks"]
