"""A bounded on-disk queue of events, for sinks whose receiver may be down: every event is a
file in a folder of the sink's own, written atomically before delivery is tried and deleted
only once delivered, so a process that stops (or is killed) loses nothing; the next start
delivers what is left. Only files this queue names (``<12-digit seq>.json``) are touched."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text, clean_stale_temps

_NAME = re.compile(r"^(\d{12})\.json$")


class Outbox:
    """Oldest-first durable queue of JSON events, at most ``max_items`` (the oldest is dropped,
    and counted in ``dropped``, when a new event arrives at a full queue)."""

    def __init__(self, directory: Path, max_items: int = 10000) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        clean_stale_temps(self.dir)
        self.max_items = max(1, int(max_items))
        self.dropped = 0
        self._lock = threading.Lock()
        self._keys = sorted(int(m[1]) for p in self.dir.iterdir() if (m := _NAME.match(p.name)))
        self._next = (self._keys[-1] + 1) if self._keys else 0

    def _path(self, key: int) -> Path:
        return self.dir / f"{key:012d}.json"

    def put(self, event: dict[str, Any]) -> int:
        """Persist ``event``; its key (increasing)."""
        with self._lock:
            key, self._next = self._next, self._next + 1
            atomic_write_text(self._path(key), json.dumps(event, sort_keys=True))
            self._keys.append(key)
            while len(self._keys) > self.max_items:
                self._path(self._keys.pop(0)).unlink(missing_ok=True)
                self.dropped += 1
            return key

    def peek(self, limit: int = 1) -> list[tuple[int, dict[str, Any]]]:
        """Up to ``limit`` oldest (key, event) pairs, still queued."""
        with self._lock:
            keys = list(self._keys[:limit])
        out = []
        for key in keys:
            try:
                out.append((key, json.loads(self._path(key).read_text(encoding="utf-8"))))
            except FileNotFoundError:  # removed meanwhile
                continue
        return out

    def remove(self, key: int) -> None:
        """The event ``key`` was delivered: forget it."""
        with self._lock:
            if key in self._keys:
                self._keys.remove(key)
            self._path(key).unlink(missing_ok=True)

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)


__all__ = ["Outbox"]
