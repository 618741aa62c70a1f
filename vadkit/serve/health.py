"""/healthz (JSON, per-camera state) and /metrics (Prometheus text format, prometheus-client)
served over HTTP on a loopback address by a daemon thread."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServeCollector:
    """Reads the service's counters at scrape time (no copies to keep in step)."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.snapshot = snapshot

    def collect(self):  # noqa: ANN201 - prometheus-client's collector protocol
        snap = self.snapshot()
        per_cam = {
            "frames_read": ("counter", "frames read from the camera"),
            "frames_scored": ("counter", "frames scored"),
            "frames_dropped": ("counter", "frames dropped because scoring lagged"),
            "events": ("counter", "events sent to the sinks"),
            "reconnects": ("counter", "reconnection attempts"),
            "up": ("gauge", "1 while the camera delivers frames"),
            "fps": ("gauge", "frames scored per second over the last interval"),
        }
        for key, (kind, doc) in per_cam.items():
            cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            fam = cls(f"vadkit_serve_camera_{key}", doc, labels=["camera"])
            for cam, values in snap["cameras"].items():
                fam.add_metric([cam], float(values[key]))
            yield fam
        for key, kind, doc in (
            ("queue_length", "gauge", "events accepted but not yet delivered"),
            ("delivered", "counter", "events delivered"),
            ("errors", "counter", "events a sink could not take"),
        ):
            cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            fam = cls(f"vadkit_serve_sink_{key}", doc, labels=["sink"])
            for sink, values in snap["sinks"].items():
                fam.add_metric([sink], float(values[key]))
            yield fam


def metrics_registry(snapshot: Callable[[], dict[str, Any]]) -> tuple[CollectorRegistry, Histogram]:
    """A registry of its own (not the process-global one) with the service's metrics, and the
    per-camera latency histogram the scoring loop observes."""
    registry = CollectorRegistry()
    registry.register(ServeCollector(snapshot))
    latency = Histogram(
        "vadkit_serve_frame_latency_seconds",
        "frame read -> scored",
        ["camera"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    return registry, latency


class HealthServer:
    """HTTP on ``host:port`` (port 0: any free one, see ``port``)."""

    def __init__(
        self, host: str, port: int, health: Callable[[], tuple[int, dict[str, Any]]], registry: CollectorRegistry
    ) -> None:
        self.registry = registry
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path.split("?")[0] == "/healthz":
                    code, body = health()
                    self._reply(code, "application/json", json.dumps(body, indent=1).encode())
                elif self.path.split("?")[0] == "/metrics":
                    self._reply(200, CONTENT_TYPE_LATEST, generate_latest(server.registry))
                else:
                    self._reply(404, "text/plain", b"try /healthz or /metrics\n")

            def _reply(self, code: int, ctype: str, data: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="vadkit-serve-health", daemon=True
        )

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def health_body(cameras: dict[str, dict[str, Any]], loop_tick: float, stall: float) -> tuple[int, dict[str, Any]]:
    """200 while the scoring loop runs ("ok": every camera up, else "degraded"), 503 when the
    loop has not turned for ``stall`` s or no camera is up."""
    loop_age = time.monotonic() - loop_tick
    up = sum(c["state"] == "up" for c in cameras.values())
    status = "ok" if up == len(cameras) else "degraded" if up else "down"
    if loop_age > stall:
        status = "stalled"
    code = 200 if status in ("ok", "degraded") else 503
    return code, {"status": status, "cameras_up": up, "cameras": cameras, "loop_age_s": round(loop_age, 3)}


__all__ = ["HealthServer", "ServeCollector", "health_body", "metrics_registry"]
