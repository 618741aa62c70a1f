"""The default sink: one JSON object per line appended to a file, fsynced per event."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from vadkit.sinks import Sink, SinkError


class JsonlSink(Sink):
    """Appends each event as one JSON line to ``path`` (relative paths: inside the serve output)."""

    def __init__(self, path: str = "events.jsonl", *, state_dir: Path | None = None) -> None:
        target = Path(path).expanduser()
        if not target.is_absolute() and state_dir is not None:
            target = Path(state_dir).parent.parent / target  # <out>/state/<sink> -> <out>/<path>
        self.path = target
        self._fh: Any = None
        self._lock = threading.Lock()
        self._count = 0

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
        except OSError as exc:
            raise SinkError(f"sink '{self.name}': cannot open {self.path} for appending: {exc.strerror}") from exc

    def send(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, sort_keys=True) + "\n"
        with self._lock:
            if self._fh is None:
                self.open()
            self._fh.write(line)
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._count += 1

    def delivered(self) -> int:
        return self._count

    def close(self, timeout: float) -> int:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
        return 0
