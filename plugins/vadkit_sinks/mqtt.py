"""MQTT through paho-mqtt: each event at QoS 1 (or 2) on ``<prefix>/<camera>/event``, retained
online/offline status on ``<prefix>/status`` (offline also as the last will, so subscribers
learn of a crash) and each camera's state on ``<prefix>/<camera>/status``.

No event is lost: an event is written to an on-disk queue first and removed only when the
broker acknowledged it (PUBACK); paho re-sends unacknowledged messages after a reconnect
(broker restart), and what is left at shutdown is published at the next start. QoS 1 (the
default) is at-least-once: a subscriber that must never see a repeat de-duplicates on the event
``id``; ``qos = 2`` with ``clean_session = false`` (and a broker with persistence) makes the
broker itself drop a re-sent event.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from vadkit.serve.outbox import Outbox
from vadkit.sinks import Sink, SinkError


def topic_part(name: str) -> str:
    """``name`` usable as one topic level (no wildcards or separators)."""
    return "".join("_" if c in "+#/" or ord(c) < 32 else c for c in name) or "_"


class MqttSink(Sink):
    """Publishes events to an MQTT broker (QoS 1, topic per camera, retained status, last will)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        topic_prefix: str = "",
        username: str | None = None,
        password: str | None = None,
        client_id: str = "",
        keepalive: int = 30,
        tls: bool = False,
        connect_timeout: float = 5.0,
        reconnect_max: float = 30.0,
        max_queue: int = 10000,
        qos: int = 1,
        clean_session: bool = True,
        queue_if_down: bool = False,
        instance: str = "vadkit",
        state_dir: Path | None = None,
    ) -> None:
        if not 0 < int(port) < 65536:
            raise SinkError(f"mqtt port {port!r} is not a TCP port")
        if qos not in (1, 2):
            raise SinkError(f"mqtt qos must be 1 (at least once) or 2 (exactly once), got {qos!r}")
        self.qos = int(qos)
        self._username, self._password, self._tls = username, password, bool(tls)
        self.host, self.port, self.keepalive = str(host), int(port), int(keepalive)
        self.prefix = (topic_prefix or f"vadkit/{topic_part(instance)}").rstrip("/")
        self.connect_timeout, self.queue_if_down = float(connect_timeout), bool(queue_if_down)
        self.outbox = Outbox(Path(state_dir or ".vadkit-mqtt") / "outbox", max_queue)
        self.client_id = client_id or f"vadkit-{instance}"
        self.client = self._client(self.client_id, clean_session, username, password, tls)
        self.client.will_set(f"{self.prefix}/status", "offline", qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=max(1, int(reconnect_max)))
        self.client.max_queued_messages_set(0)
        self.client.on_connect, self.client.on_publish = self._on_connect, self._on_publish
        self.client.on_disconnect = self._on_disconnect
        self._lock = threading.Lock()
        self._mids: dict[int, int | None] = {}  # paho message id -> outbox key (None: a status message)
        self._acked: set[int] = set()  # acknowledged before publish() returned its id
        self._states: dict[str, str] = {}
        self._connected = threading.Event()
        self._refused: str | None = None
        self._sent = 0
        self.connects = 0

    @staticmethod
    def _client(
        client_id: str, clean_session: bool, username: str | None, password: str | None, tls: bool
    ) -> mqtt.Client:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session)
        if username:
            client.username_pw_set(username, password)
        if tls:
            client.tls_set()
        return client

    # -- paho callbacks (network thread) ------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None) -> None:
        if getattr(reason, "is_failure", False):
            self._refused = str(reason)
            return
        self.connects += 1
        self._track(client.publish(f"{self.prefix}/status", "online", qos=1, retain=True).mid, None)
        for camera, state in list(self._states.items()):
            topic = f"{self.prefix}/{topic_part(camera)}/status"
            self._track(client.publish(topic, state, qos=1, retain=True).mid, None)
        self._connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None) -> None:
        self._connected.clear()

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any = None, props: Any = None) -> None:
        # paho holds its message lock here, so never call client.publish() under self._lock
        with self._lock:
            if mid not in self._mids:
                self._acked.add(mid)
                return
            key = self._mids.pop(mid)
        self._delivered(key)

    def _track(self, mid: int, key: int | None) -> None:
        """Map a published message id to its outbox key, or settle it if it was acked already."""
        with self._lock:
            if mid not in self._acked:
                self._mids[mid] = key
                return
            self._acked.discard(mid)
        self._delivered(key)

    def _delivered(self, key: int | None) -> None:
        if key is not None:
            self.outbox.remove(key)
            self._sent += 1

    # -- the Sink contract ----------------------------------------------------------------
    def open(self) -> None:
        where = f"sink '{self.name}': MQTT broker {self.host}:{self.port}"
        try:
            self.client.connect(self.host, self.port, self.keepalive)
        except OSError as exc:
            if not self.queue_if_down:
                raise SinkError(
                    f"{where} unreachable ({exc.strerror or exc}); fix host/port or set "
                    "queue_if_down = true to queue events until it is up"
                ) from exc
            self.client.connect_async(self.host, self.port, self.keepalive)
        self.client.loop_start()
        deadline = time.monotonic() + self.connect_timeout
        while not self._connected.is_set() and self._refused is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if self._refused is not None and not self.queue_if_down:
            self.client.loop_stop()
            raise SinkError(f"{where} refused the connection ({self._refused}): check username/password")
        if not self._connected.is_set() and not self.queue_if_down:
            self.client.loop_stop()
            raise SinkError(f"{where} did not accept the connection within {self.connect_timeout:g} s")
        for key, event in self.outbox.peek(len(self.outbox)):  # left by an earlier run
            self._publish(key, event)

    def check(self) -> None:
        """Connect and disconnect under ``<client_id>-check``, with no will, no status and the queue
        untouched: a service running with this config keeps its session and its retained status."""
        where = f"sink '{self.name}': MQTT broker {self.host}:{self.port}"
        probe = self._client(f"{self.client_id}-check", True, self._username, self._password, self._tls)
        answer: list[Any] = []
        probe.on_connect = lambda c, u, f, reason, p=None: answer.append(reason)
        try:
            probe.connect(self.host, self.port, self.keepalive)
        except OSError as exc:
            if self.queue_if_down:
                return
            raise SinkError(
                f"{where} unreachable ({exc.strerror or exc}); fix host/port or set "
                "queue_if_down = true to queue events until it is up"
            ) from exc
        probe.loop_start()
        deadline = time.monotonic() + self.connect_timeout
        while not answer and time.monotonic() < deadline:
            time.sleep(0.02)
        probe.disconnect()
        probe.loop_stop()
        refused = bool(answer) and getattr(answer[0], "is_failure", False)
        if (refused or not answer) and not self.queue_if_down:
            why = (
                f"refused the connection ({answer[0]}): check username/password"
                if refused
                else (f"did not accept the connection within {self.connect_timeout:g} s")
            )
            raise SinkError(f"{where} {why}")

    def _publish(self, key: int, event: dict[str, Any]) -> None:
        topic = f"{self.prefix}/{topic_part(str(event.get('camera', 'camera')))}/event"
        info = self.client.publish(topic, json.dumps(event, sort_keys=True), qos=self.qos, retain=False)
        self._track(info.mid, key)

    def send(self, event: dict[str, Any]) -> None:
        self._publish(self.outbox.put(event), event)

    def status(self, camera: str, state: str) -> None:
        self._states[camera] = state
        topic = f"{self.prefix}/{topic_part(camera)}/status"
        self._track(self.client.publish(topic, state, qos=1, retain=True).mid, None)

    def pending(self) -> int:
        return len(self.outbox)

    def delivered(self) -> int:
        return self._sent

    def close(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while len(self.outbox) and time.monotonic() < deadline:
            time.sleep(0.02)
        if self._connected.is_set():
            info = self.client.publish(f"{self.prefix}/status", "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(max(0.1, min(2.0, deadline - time.monotonic())))
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()
        return len(self.outbox)
