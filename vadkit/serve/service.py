"""``vadkit serve``: every camera of the config scored by one model in one process, batched
across cameras each round as ``detect`` does, supervised, with events to the sinks.

Start order (so a mistake stops the start before anything runs): config (checked by the
caller), sinks opened, model loaded, health server, then the cameras. SIGTERM or SIGINT
(handlers installed whatever the inherited disposition) stop the cameras, score what was read,
end the open events (their clips cut short), hand them to the sinks and let the sinks deliver
or persist everything; the exit status is then 0."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from typing import Any

import torch
from rich.console import Console

from ..atomic import atomic_write_text
from ..detect.api import Detector
from ..detect.backends import detector_model
from ..registry import Registry
from .calibrations import CameraCalibration, camera_calibration
from .camera import CameraWorker
from .clips import ClipStore
from .config import ServeConfig
from .dispatch import Sinks
from .health import HealthServer, health_body, metrics_registry
from .pipeline import NEVER, CameraPipeline


def scoring_threads(setting: int) -> int:
    """Torch threads of the scoring loop: ``setting``, else half the cores (at least 1). The camera
    readers, the stream decoders and the sinks share the machine: with every core given to torch,
    its threads wait on one another at each operator (measured on 2 cores, docs/serve.md)."""
    return setting or max(1, (os.cpu_count() or 2) // 2)


LOOP_STALL = 30.0  # /healthz says "stalled" when the scoring loop has not turned for this long
DROP_REPORT = 60.0  # seconds between console lines on the frames dropped to keep up (when any were)


class Service:
    """One ``vadkit serve`` process; :meth:`run` returns the exit status."""

    def __init__(self, config: ServeConfig, registry: Registry, console: Console | None = None) -> None:
        self.config, self.registry = config, registry
        self.console = console or Console()
        self.stop_requested = threading.Event()
        self.cond = threading.Condition()
        self.workers: dict[str, CameraWorker] = {}
        self.pipelines: dict[str, CameraPipeline] = {}
        self.loop_tick = time.monotonic()
        self._fps: dict[str, tuple[float, int, float]] = {}  # camera -> (time, scored, fps)
        self.sent = 0
        self._drops = (time.monotonic(), 0, 0)  # (when, frames read, frames dropped) at the last report

    # -- signals ---------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: Any) -> None:
        """First signal: drain (the loop notices within 50 ms). A second one while draining exits at
        once; what the sinks queued on disk stays there for the next start."""
        if self.stop_requested.is_set():
            os.write(2, b"second signal: exiting without waiting for the sinks (their disk queues are kept)\n")
            os._exit(130)
        self.stop_requested.set()  # nothing else here: the loop may hold locks a handler would need

    def _install_signals(self) -> dict[int, Any]:
        old: dict[int, Any] = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            old[sig] = signal.signal(sig, self._on_signal)
        return old

    # -- start -----------------------------------------------------------------------------
    def _start(self) -> None:
        cfg, out = self.config, self.config.out
        out.mkdir(parents=True, exist_ok=True)
        self.sinks = Sinks(cfg, self.registry, self.console)
        self.sinks.open()
        try:
            self.detector = Detector(
                cfg.run, self.registry, overrides=cfg.detect, device=cfg.serve.device or None, console=self.console
            )
            model = detector_model(self.detector)
            torch.set_num_threads(scoring_threads(cfg.serve.threads))
            calibs = [camera_calibration(self.detector, cam, cfg.file, i) for i, cam in enumerate(cfg.cameras)]
        except BaseException:
            self.sinks.close(0.0)  # what they hold stays queued on disk
            raise
        run = self.detector.run
        self.pool = self.detector.streaming_scorer(False)
        self.pool.batch = NEVER
        self.store = ClipStore(out / "clips", cfg.serve.clip_quota_mb * 1e6)
        meta = {"instance": cfg.serve.name, "run": str(run.root), "run_id": f"{run.root.name}@epoch{run.epoch}"}
        for cam, calib in zip(cfg.cameras, calibs, strict=True):
            self.pipelines[cam.name] = CameraPipeline(
                cam.name, self.detector, model, calib, cfg.serve, self.store, self._emit, meta
            )
        self.registry_metrics, self.latency = metrics_registry(self.snapshot)
        self.health = None
        if cfg.serve.health:
            host, _, port = cfg.serve.health.rpartition(":")
            self.health = HealthServer(host, int(port), self.healthz, self.registry_metrics).start()
        info = {
            "pid": os.getpid(),
            "started": time.time(),
            "health": f"http://{cfg.serve.health.rpartition(':')[0]}:{self.health.port}" if self.health else None,
        }
        atomic_write_text(out / "serve.json", json.dumps(info, indent=1))
        self.console.print(
            f"serving {len(cfg.cameras)} camera(s) with {run.root}: threshold {self.detector.threshold:.3f} "
            f"({self.detector.threshold_rule}), {run.describe_compute()}, {torch.get_num_threads()} thread(s), "
            f"batch {self.detector.cfg.batch} per camera, sinks {', '.join(s.name for s in self.sinks.sinks)}"
            + (f", health on {info['health']}/healthz and /metrics" if self.health else "")
        )
        self._print_calibrations(calibs)
        for k, cam in enumerate(cfg.cameras):
            self.workers[cam.name] = CameraWorker(cam, cfg.serve, self.cond, self._on_state, seed=k).start()

    def _print_calibrations(self, calibs: list[CameraCalibration]) -> None:
        for cam, calib in zip(self.config.cameras, calibs, strict=True):
            if calib.source != "run" or calib.refit_frames or cam.threshold:
                refit = f", re-fitted on its first {calib.refit_frames} frames" if calib.refit_frames else ""
                self.console.print(
                    f"{cam.name}: threshold {calib.threshold:.3f} ({calib.rule}; calibration {calib.source}){refit}",
                    highlight=False,
                )

    def _on_state(self, camera: str, state: str, message: str | None) -> None:
        colour = {"up": "green", "failing": "red"}.get(state, "yellow")
        self.console.print(f"[{colour}]{camera}: {state}[/]" + (f" ({message})" if message else ""), highlight=False)
        self.sinks.status(camera, state)

    def _emit(self, event: dict[str, Any]) -> None:
        self.sinks.send(event)
        self.sent += 1
        self.console.print(
            f"event {event['camera']} {event['start']} -> {event['end']} peak {event['peak_score']:.2f}"
            f" (threshold {event['threshold']:.2f})",
            highlight=False,
        )

    # -- the loop --------------------------------------------------------------------------
    def run(self, max_seconds: float | None = None) -> int:
        old = self._install_signals()
        try:
            self._start()
            deadline = None if max_seconds is None else time.monotonic() + max_seconds
            while not self.stop_requested.is_set() and (deadline is None or time.monotonic() < deadline):
                if not self._round():
                    with self.cond:
                        if not any(w.items for w in self.workers.values()):
                            self.cond.wait(0.05)
            return self._drain()
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)

    def _round(self) -> int:
        """Take waiting frames of every camera, score them in one pass; how many frames were taken."""
        self.loop_tick = time.monotonic()
        got = 0
        for name, worker in self.workers.items():
            pipe = self.pipelines[name]
            for item in worker.take(self.detector.cfg.batch):
                if isinstance(item, str):  # RESET: a new connection
                    pipe.handle(self.pool.score(pipe.scorer.take_pending()))
                    pipe.new_connection(worker.fps)
                else:
                    got += 1
                    pipe.push(item.index, item.wall, item.read_at, item.rgb)
        self._score()
        self._observe()
        return got

    def _score(self) -> None:
        owners, pending = [], []
        for pipe in self.pipelines.values():
            items = pipe.scorer.take_pending()
            if items:
                pending.extend(items)
                owners.append((pipe, len(items)))
        if not pending:
            return
        ready = self.pool.score(pending)
        k = 0
        for pipe, n in owners:
            pipe.handle(ready[k : k + n])
            k += n

    def _observe(self) -> None:
        now = time.monotonic()
        for name, pipe in self.pipelines.items():
            for latency in pipe.latencies:
                self.latency.labels(camera=name).observe(latency)
            pipe.latencies.clear()
            t, n, fps = self._fps.get(name, (now, pipe.scored, 0.0))
            if now - t >= 1.0:
                fps = (pipe.scored - n) / (now - t)
                t, n = now, pipe.scored
            self._fps[name] = (t, n, fps)
        if now - self._drops[0] >= DROP_REPORT:
            self._report_drops(now)

    def _report_drops(self, now: float) -> None:
        """One console line when scoring could not keep up: the share of frames dropped since the
        last line and the frames/s scored per camera (also in /metrics and /healthz)."""
        when, read0, dropped0 = self._drops
        read = sum(w.read for w in self.workers.values())
        dropped = sum(w.dropped for w in self.workers.values())
        self._drops = (now, read, dropped)
        if dropped > dropped0 and read > read0:
            fps = ", ".join(f"{name} {f[2]:.1f}" for name, f in self._fps.items())
            self.console.print(
                f"[yellow]scoring lags: {100 * (dropped - dropped0) / (read - read0):.0f} % of the "
                f"frames read in the last {now - when:.0f} s were dropped to stay in real time; "
                f"frames/s scored: {fps}[/]",
                highlight=False,
            )

    def _drain(self) -> int:
        """Stop the cameras, score what was read, emit open events, let the sinks deliver or persist."""
        self.console.print("stopping: draining the cameras and the sinks")
        for worker in self.workers.values():
            worker.stop()
        while self._round():
            pass
        for pipe in self.pipelines.values():
            pipe.finish_all()
        for name in self.workers:
            self.sinks.status(name, "stopped")
        left = self.sinks.close(self.config.serve.drain_timeout)
        if self.health is not None:
            self.health.stop()
        kept = {k: v for k, v in left.items() if v}
        self.console.print(
            f"stopped: {self.sent} event(s) sent"
            + (f"; still queued on disk (sent at the next start): {kept}" if kept else "; every event delivered")
        )
        return 0

    # -- health and metrics ----------------------------------------------------------------
    def healthz(self) -> tuple[int, dict[str, Any]]:
        cams = {}
        for name, worker in self.workers.items():
            pipe = self.pipelines[name]
            cams[name] = {
                **worker.health(),
                "frames_scored": pipe.scored,
                "events": pipe.events,
                "last_score": pipe.last_score,
                "threshold": pipe.threshold,
                "threshold_rule": pipe.rule,
                "calibration": pipe.calib.source,
                "refit": pipe.refit.describe() if pipe.refit is not None else None,
            }
        return health_body(cams, self.loop_tick, LOOP_STALL)

    def snapshot(self) -> dict[str, Any]:
        cams = {}
        for name, worker in self.workers.items():
            pipe = self.pipelines[name]
            cams[name] = {
                "frames_read": worker.read,
                "frames_scored": pipe.scored,
                "frames_dropped": worker.dropped,
                "events": pipe.events,
                "reconnects": worker.reconnects,
                "up": worker.state == "up",
                "fps": self._fps.get(name, (0, 0, 0.0))[2],
            }
        sinks = {
            s.name: {"queue_length": s.pending(), "delivered": s.delivered(), "errors": self.sinks.errors[s.name]}
            for s in self.sinks.sinks
        }
        return {"cameras": cams, "sinks": sinks}


def serve(
    config: ServeConfig, registry: Registry, console: Console | None = None, max_seconds: float | None = None
) -> int:
    """Run the service of ``config`` until SIGTERM/SIGINT (or ``max_seconds``); the exit status."""
    return Service(config, registry, console).run(max_seconds)


__all__ = ["Service", "serve"]
