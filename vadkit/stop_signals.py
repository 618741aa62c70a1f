"""Stopping a long command cleanly on SIGINT (Ctrl-C) or SIGTERM (schedulers, containers).

``vadkit train``, ``detect`` and ``eval`` run inside :class:`StopSignals`, which installs its
own handlers for both signals whatever disposition the process inherited (a background job of
a non-interactive shell inherits SIGINT *ignored*; Python would then keep ignoring Ctrl-C) and
restores the previous ones on exit. Outside a :func:`deferred` block a signal raises
:class:`Stopped` at once, as Ctrl-C's KeyboardInterrupt would. Inside one (a loop that calls
:func:`stop_point` at its step boundaries) the first signal only requests a stop: the current
step finishes, the next stop point raises :class:`Stopped`, and a second signal stops at once.
``Stopped`` is a KeyboardInterrupt, so code that already cleans up after Ctrl-C does the same
for SIGTERM; the command line turns it into exit status 128 + signal (130 SIGINT, 143 SIGTERM).

Without an active :class:`StopSignals` (vadkit used as a library, or off the main thread)
:func:`deferred` and :func:`stop_point` do nothing and Python's own Ctrl-C handling applies.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_active: StopSignals | None = None


class Stopped(KeyboardInterrupt):
    """A stop asked for by SIGINT or SIGTERM (``signum``), raised at a stop point or at once."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum

    @property
    def exit_status(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + self.signum


def signal_name(signum: int) -> str:
    """``SIGINT`` / ``SIGTERM`` (or the number, for any other)."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class StopSignals:
    """Own SIGINT and SIGTERM handlers for the duration of a ``with`` block (main thread only);
    ``signum`` is the first signal received (None: none)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.received = 0
        self.delivered = False  # a Stopped was raised at a stop point for this request
        self._defer = 0
        self._previous: dict[int, Any] = {}
        self._outer: StopSignals | None = None

    def __enter__(self) -> StopSignals:
        global _active
        if threading.current_thread() is not threading.main_thread():
            return self  # signal handlers can only be set from the main thread: stay inactive
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self._on_signal)
        self._outer, _active = _active, self
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        global _active
        if not self._previous:
            return
        for sig, handler in self._previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        self._previous, _active = {}, self._outer

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        """First signal inside a deferred block: only recorded. Otherwise: stop now."""
        self.received += 1
        if self.signum is None:
            self.signum = signum
        if self._defer and self.received == 1:
            return
        raise Stopped(self.signum)

    @property
    def requested(self) -> bool:
        """Whether a stop was asked for."""
        return self.signum is not None


def active() -> StopSignals | None:
    """The innermost active :class:`StopSignals`, if any."""
    return _active


def stop_point() -> None:
    """Raise :class:`Stopped` when a stop was requested; call at a loop's step boundaries."""
    if _active is not None and _active.signum is not None:
        _active.delivered = True
        raise Stopped(_active.signum)


@contextmanager
def deferred(raise_at_end: bool = True) -> Iterator[None]:
    """A block whose loop calls :func:`stop_point` between steps, so the first signal lets the
    current step finish (a second still stops at once). A stop requested before the block, or
    requested and not yet raised when it ends, is raised there, so nothing after it starts; one
    already raised inside and handled there (outputs closed as interrupted) is not raised again.
    ``raise_at_end=False``: a block that completes a piece of work (a publish of results) lets a
    stop requested during it wait, since the work is then whole and the command about to end."""
    stops = _active
    if stops is None:
        yield
        return
    stop_point()
    stops._defer += 1
    try:
        yield
    finally:
        stops._defer -= 1
    if raise_at_end and not stops.delivered:
        stop_point()


def reason(exc: BaseException) -> str:
    """Why a loop stopped, for a status file: ``interrupted by SIGTERM`` or ``... by the user``."""
    return f"interrupted by {signal_name(exc.signum)}" if isinstance(exc, Stopped) else "interrupted by the user"


def exit_status(default: int = 130) -> int:
    """128 + the signal that asked the active block to stop; ``default`` when none did."""
    return 128 + _active.signum if _active is not None and _active.signum is not None else default


__all__ = [
    "SIGNALS",
    "StopSignals",
    "Stopped",
    "active",
    "deferred",
    "exit_status",
    "reason",
    "signal_name",
    "stop_point",
]
