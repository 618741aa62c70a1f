"""Fault injection for crash-consistency tests: ``VADKIT_FAULT=name[,name...]`` makes the
process kill itself (SIGKILL, no cleanup, as a power cut or the OOM killer would) when it
reaches a named point, the way storage engines test that every state on disk is whole.

Points (grep ``fault(`` for the list): ``checkpoint-write`` (inside the checkpoint's atomic
write, before the rename), ``checkpoint-renamed`` (right after it), ``cache-fill`` (a cache
worker mid-entry), ``export-graph`` (graph written, manifest not yet), ``detect-events``
(after the first scored batch of a detection). ``name@N`` fires at the N-th time the point
is reached (1-based). Unset (the normal case) costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "VADKIT_FAULT"
_seen: dict[str, int] = {}


def _wanted(point: str) -> int | None:
    """The hit count at which ``point`` fires (None: not asked for)."""
    for item in os.environ.get(ENV, "").split(","):
        name, _, nth = item.strip().partition("@")
        if name == point:
            return int(nth) if nth.isdigit() else 1
    return None


def fault(point: str) -> None:
    """Kill this process with SIGKILL when ``VADKIT_FAULT`` names ``point`` (test hook)."""
    if ENV not in os.environ:
        return
    nth = _wanted(point)
    if nth is None:
        return
    _seen[point] = _seen.get(point, 0) + 1
    if _seen[point] >= nth:
        os.kill(os.getpid(), signal.SIGKILL)


__all__ = ["ENV", "fault"]
