"""Real servers for the ``vadkit serve`` tests, all on 127.0.0.1 and stopped by the tests:
a mosquitto broker, an ffmpeg MPEG-TS stream over TCP, an HTTP receiver; plus a tiny trained
run and a test video with injected anomalies."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import numpy as np

SIZE = 64


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check, timeout: float, step: float = 0.05) -> bool:
    """Poll ``check()`` until it is true or ``timeout`` s passed (bounded; never asserts on time)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(step)
    return bool(check())


def scene(rng: np.random.Generator, n: int, anomalies: tuple[tuple[int, int], ...] = ()):
    """Dark walkers drifting over a grid; an anomaly is a bright square jumping every frame."""
    bg = np.full((SIZE, SIZE, 3), 110, np.uint8)
    bg[::8] = 95
    bg[:, ::8] = 95
    walkers = [[rng.uniform(5, SIZE - 15), rng.uniform(5, SIZE - 15), rng.uniform(-1, 1), rng.uniform(-1, 1)]
               for _ in range(3)]
    for k in range(n):
        img = bg.copy()
        for w in walkers:
            w[0], w[1] = (w[0] + w[2]) % (SIZE - 8), (w[1] + w[3]) % (SIZE - 8)
            img[int(w[1]) : int(w[1]) + 8, int(w[0]) : int(w[0]) + 5] = 40
        if any(a <= k <= b for a, b in anomalies):
            x, y = rng.integers(0, SIZE - 28, 2)
            img[y : y + 28, x : x + 28] = 250
        yield img


def write_video(path: Path, frames, fps: float = 25.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (SIZE, SIZE))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def anomaly_video(path: Path, n: int = 100, anomalies: tuple[tuple[int, int], ...] = ((40, 52),)) -> Path:
    return write_video(path, scene(np.random.default_rng(7), n, anomalies))


TINY_RECIPE = {
    "model": {"frames": 4, "resolution": [32, 32],
              "appearance": {"type": "conv_encoder", "widths": [8, 16, 32, 64]},
              "motion": {"type": "conv_encoder", "widths": [8, 16, 32, 64]},
              "attention": {"type": "channel_attention", "reduction": 4}, "fusion": {"type": "astfm"},
              "memory": {"type": "memory_bank", "slots": 4}, "decoder": {"type": "unet_decoder"}},
    "score": {"type": "regularity", "tau": 0.7},
    "train": {"epochs": 1, "batch_size": 4, "lr": 2e-3, "threads": 1, "device": "cpu"},
}


def normal_frames(folder: Path, videos: int = 4, brighten: int = 0, seed: int = 0) -> Path:
    """A frames-layout data root of ``videos`` normal 32-frame videos (``brighten``: another camera)."""
    rng = np.random.default_rng(seed)
    for v in range(videos):
        d = folder / "training" / "frames" / f"{v:02d}"
        d.mkdir(parents=True)
        for k, f in enumerate(scene(rng, 32)):
            f = np.clip(f.astype(np.int16) + brighten, 0, 255).astype(np.uint8)
            cv2.imwrite(str(d / f"{k:03d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return folder


def tiny_run(root: Path) -> Path:
    """A 1-epoch 32x32 run on four normal videos, calibrated (seconds on one core)."""
    from vadkit import default_registry
    from vadkit.detect import calibrate
    from vadkit.recipe import recipe_from_dict
    from vadkit.training.trainer import train

    normal_frames(root / "data")
    recipe = {**TINY_RECIPE, "flow": {"type": "dis", "preset": "ultrafast", "scale": 2.0, "cache": str(root / "cache")}}
    registry = default_registry()
    train(recipe_from_dict(recipe, "tiny.toml"), root / "data", root / "run", registry)
    calibrate(root / "run", registry)
    return root / "run"


class Mosquitto:
    """A real mosquitto broker on 127.0.0.1:``port`` with persistence (sessions of subscribers
    that asked for one survive a restart, as on a home-automation broker)."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        debian = "/usr/sbin/mosquitto"
        self.exe = shutil.which("mosquitto") or (debian if Path(debian).exists() else None)
        self.root, self.port = Path(root), port or free_port()
        self.root.mkdir(parents=True, exist_ok=True)
        self.conf = self.root / "mosquitto.conf"
        import getpass

        # run as whoever runs the tests (as root, mosquitto would switch to a user that cannot write here)
        self.conf.write_text(f"user {getpass.getuser()}\nlistener {self.port} 127.0.0.1\nallow_anonymous true\n"
                             f"persistence true\npersistence_location {self.root}/\nautosave_interval 1\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> Mosquitto:
        assert self.exe
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=open(self.root / "mosquitto.log", "ab"))
        assert wait_for(self._listening, 30.0), "mosquitto did not start"
        return self

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # mosquitto saves its persistence file on SIGTERM
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


class Subscriber:
    """A paho subscriber with a persistent session (clean_session=False, QoS 1): records every
    message of ``topic`` it gets, across broker restarts."""

    def __init__(self, port: int, topic: str, client_id: str = "test-subscriber") -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes, bool]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.reconnect_delay_set(0.2, 1)
        self.client.on_connect = lambda c, u, f, rc, p=None: c.subscribe(topic, qos=1)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload, m.retain))
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(p) for t, p, _ in list(self.messages) if t.endswith("/event")]

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class TcpStream:
    """ffmpeg serving ``video`` (looped, real time) as MPEG-TS on tcp://127.0.0.1:``port``."""

    def __init__(self, video: Path, port: int | None = None) -> None:
        self.video, self.port = video, port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> TcpStream:
        self.proc = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(self.video),
             "-c:v", "mpeg2video", "-q:v", "3", "-g", "5", "-f", "mpegts", f"{self.url}?listen=1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None


class Receiver:
    """An HTTP receiver on 127.0.0.1 that answers 503 to its first ``fail`` POSTs, then 200; with
    ``token``, 401 to any request (POST or OPTIONS) without ``Authorization: Bearer <token>``."""

    def __init__(self, fail: int = 0, token: str | None = None) -> None:
        self.fail, self.token, self.posts, self.bodies = fail, token, 0, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, code: int) -> None:
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _authorised(self) -> bool:
                return receiver.token is None or self.headers.get("Authorization") == f"Bearer {receiver.token}"

            def do_OPTIONS(self) -> None:  # noqa: N802
                self._answer(204 if self._authorised() else 401)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not self._authorised():
                    return self._answer(401)
                receiver.posts += 1
                ok = receiver.posts > receiver.fail
                if ok:
                    receiver.bodies.append((self.headers.get("Idempotency-Key"), json.loads(body)))
                self._answer(200 if ok else 503)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
