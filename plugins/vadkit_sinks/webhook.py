"""HTTP POST of each event as JSON, from a thread, with retries (exponential backoff + jitter)
out of a bounded on-disk queue: a receiver that is down loses nothing, and what is still queued
at shutdown is sent at the next start. Each request carries ``Idempotency-Key: <event id>``."""

from __future__ import annotations

import json
import random
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vadkit.serve.outbox import Outbox
from vadkit.sinks import Sink, SinkError

PERMANENT = range(400, 500)  # the receiver rejects the event itself: not retried, except
RETRIED = (401, 403, 408, 429)  # credentials (fixed by the receiver's admin), timeouts, rate limits


class WebhookSink(Sink):
    """POSTs events to ``url``; ``queue_if_down`` starts even when the receiver is unreachable."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        headers: dict[str, str] | None = None,
        retry_min: float = 0.5,
        retry_max: float = 30.0,
        max_queue: int = 10000,
        queue_if_down: bool = False,
        state_dir: Path | None = None,
    ) -> None:
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SinkError(f"webhook url {url!r} is not an http(s):// URL")
        if timeout <= 0 or retry_min <= 0 or retry_max < retry_min:
            raise SinkError("webhook: timeout and retry_min must be > 0 and retry_max >= retry_min")
        self.url, self.timeout, self.headers = str(url), float(timeout), dict(headers or {})
        self.retry_min, self.retry_max, self.queue_if_down = float(retry_min), float(retry_max), bool(queue_if_down)
        self.outbox = Outbox(Path(state_dir or ".vadkit-webhook") / "outbox", max_queue)
        self.rejected_log = Path(state_dir or ".vadkit-webhook") / "rejected.jsonl"
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._sent = self.failures = self.rejected = 0
        self.last_error: str | None = None

    def check(self) -> None:
        """The receiver is reachable and takes the credentials (no event is sent, the queue is untouched)."""
        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname, port), timeout=self.timeout).close()
        except OSError as exc:
            if not self.queue_if_down:
                why = "unknown host" if isinstance(exc, socket.gaierror) else (exc.strerror or str(exc))
                raise SinkError(
                    f"sink '{self.name}': webhook {parts.hostname}:{port} unreachable ({why}); "
                    "fix the url or set queue_if_down = true to queue events until it is up"
                ) from exc
            self.last_error = str(exc)
        else:
            self._check_credentials(parts.hostname or "", port)

    def open(self) -> None:
        self.check()
        self._thread = threading.Thread(target=self._loop, name=f"vadkit-webhook-{self.name}", daemon=True)
        self._thread.start()

    def _check_credentials(self, host: str, port: int) -> None:
        """An OPTIONS request with the configured headers: 401 or 403 means the receiver refuses
        them (a bad token); any other answer, even 404 or 405, is accepted (no event is sent)."""
        req = urllib.request.Request(self.url, headers=self.headers, method="OPTIONS")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout):
                return
        except urllib.error.HTTPError as exc:
            if exc.code not in (401, 403):
                return
            self.last_error = f"HTTP {exc.code}"
            if not self.queue_if_down:
                raise SinkError(
                    f"sink '{self.name}': webhook {host}:{port} refused the credentials (HTTP {exc.code} "
                    "to an OPTIONS request); check headers, or set queue_if_down = true to queue events "
                    "until it accepts them"
                ) from None
        except (OSError, ValueError) as exc:  # no answer to OPTIONS: the POSTs will tell
            self.last_error = str(exc)

    def send(self, event: dict[str, Any]) -> None:
        self.outbox.put(event)
        self._wake.set()

    def pending(self) -> int:
        return len(self.outbox)

    def delivered(self) -> int:
        return self._sent

    def _post(self, event: dict[str, Any]) -> int:
        """The HTTP status of one POST (0 when no response came)."""
        body = json.dumps(event, sort_keys=True).encode("utf-8")
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(event.get("id", "")), **self.headers}
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            self.last_error = f"HTTP {exc.code}"
            return int(exc.code)
        except (OSError, ValueError) as exc:
            self.last_error = str(exc)
            return 0

    def _loop(self) -> None:
        delay = 0.0
        while not self._stop.is_set():
            items = self.outbox.peek(1)
            if not items:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            key, event = items[0]
            status = self._post(event)
            if 200 <= status < 300 or (status in PERMANENT and status not in RETRIED):
                if status >= 300:
                    self._reject(event, status)
                else:
                    self._sent += 1
                self.outbox.remove(key)
                delay = 0.0
                continue
            self.failures += 1
            delay = min(self.retry_max, max(self.retry_min, delay * 2))
            self._stop.wait(delay * random.uniform(0.5, 1.0))

    def _reject(self, event: dict[str, Any], status: int) -> None:
        self.rejected += 1
        with open(self.rejected_log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"status": status, "event": event}, sort_keys=True) + "\n")

    def close(self, timeout: float) -> int:
        deadline = threading.Event()
        waited = 0.0
        while len(self.outbox) and waited < timeout and self._thread is not None and self._thread.is_alive():
            deadline.wait(0.05)
            waited += 0.05
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1.0)
        return len(self.outbox)
