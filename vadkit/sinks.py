"""The ``sink`` contract: where ``vadkit serve`` sends each anomaly event.

A sink is a plugin component of kind ``sink``, registered through ``register_components`` like
any other (``register("sink", "kafka", KafkaSink)``). ``vadkit serve`` builds one per
``[sinks.<id>]`` table of its config, passing that table's keys (except ``type``) as keyword
arguments, plus ``state_dir`` (a folder of its own for queues) and ``instance`` (the service's
name) when the constructor names them. Unknown keys are a config error before any camera opens.

The lifecycle: ``open()`` once at start (a sink that cannot work, e.g. an unknown host or bad
credentials, raises :class:`SinkError` with one clear line, unless it was configured to queue),
``status()`` whenever a camera's state changes, ``send()`` per event, ``close(timeout)`` at
shutdown: deliver what is pending within ``timeout`` seconds and persist the rest, so that no
event is lost. ``check()`` (``vadkit serve --check``) tests the destination without sending. ``send`` must return quickly (queue, then deliver from a thread).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from .errors import VadkitError


class SinkError(VadkitError):
    """A sink that cannot deliver (bad settings, unknown host, refused credentials)."""


class Sink(ABC):
    """One destination of events (a file, a webhook, an MQTT broker, ...)."""

    name: str = "sink"  # the [sinks.<id>] id, set by vadkit serve before open()

    @abstractmethod
    def open(self) -> None:
        """Connect or check the destination; raise :class:`SinkError` when it refuses."""

    @abstractmethod
    def send(self, event: dict[str, Any]) -> None:
        """Take one event (a JSON-able dict, see docs/serve.md): deliver it, or queue it durably
        and deliver it later. Must not block for long and must not lose the event."""

    @abstractmethod
    def close(self, timeout: float) -> int:
        """Deliver what is pending for at most ``timeout`` s, persist the rest for the next start;
        return how many events are still undelivered (persisted)."""

    def check(self) -> None:
        """``vadkit serve --check``: raise :class:`SinkError` as :meth:`open` would, without sending
        anything. A running service may share this sink's destination and queue, so a sink with a
        queue, a session or a status to publish overrides this (the default opens and closes)."""
        self.open()
        self.close(0.0)

    def status(self, camera: str, state: str) -> None:  # noqa: B027 - optional hook
        """A camera changed state (``up``, ``reconnecting``, ``failing``, ``stopped``)."""

    def pending(self) -> int:
        """Events accepted but not yet delivered (for /metrics)."""
        return 0

    def delivered(self) -> int:
        """Events delivered so far (for /metrics)."""
        return 0


__all__ = ["Sink", "SinkError"]
