"""Soak test of ``vadkit serve``: N simulated cameras (a test video looped at 25 fps, each served
by its own ffmpeg as MPEG-TS over TCP on 127.0.0.1), a real mosquitto broker restarted once
and two stream drops during the run. Reports events lost / duplicated (JSON-lines sink vs. an
MQTT subscriber with a persistent session), RSS growth of the serve process, frames/s per
camera, and end-to-end latency (the frame that completes an event is read -> its MQTT message
arrives) p50 / p99.

    python benchmarks/serve_soak.py --cameras 8 --minutes 10 --run runs/ped2-cpu
    python benchmarks/serve_soak.py --cameras 2 --minutes 2          # tiny run trained here

Without ``--run`` a tiny 32x32 run is trained first (under a minute) and the video is a 64x64
synthetic scene with one injected anomaly per 2 s loop (an event every 2 s per camera).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from _serve_helpers import Mosquitto, TcpStream, anomaly_video, tiny_run, wait_for  # noqa: E402


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cameras", type=int, default=8)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--run", type=Path, default=None, help="trained run (default: train a tiny one here)")
    p.add_argument("--video", type=Path, default=None, help="video each camera loops (default: synthetic)")
    p.add_argument("--threshold", type=float, default=None, help="per-camera threshold (default: tiny run 2.4)")
    p.add_argument("--tiny-settings", action="store_true",
                   help="the settings of the tiny run (threshold 2.4, no running normalisation) with --run")
    p.add_argument("--qos", type=int, default=1, choices=(1, 2),
                   help="MQTT QoS of the events (2: with persistent sessions, exactly once)")
    p.add_argument("--out", type=Path, default=None, help="write the figures as JSON here too")
    return p.parse_args()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def metrics(url: str) -> dict[tuple[str, str], float]:
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    return {(s.name, s.labels.get("camera", s.labels.get("sink", ""))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


class Listener:
    """A persistent-session MQTT subscriber that keeps the arrival time of every event."""

    def __init__(self, port: int, qos: int = 1) -> None:
        import paho.mqtt.client as mqtt

        self.events: list[tuple[float, dict[str, Any]]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="soak-listener", clean_session=False)
        self.client.reconnect_delay_set(0.2, 1)
        self.client.on_connect = lambda c, u, f, rc, p=None: c.subscribe("vadkit/soak/+/event", qos=qos)
        self.client.on_message = lambda c, u, m: self.events.append((time.time(), json.loads(m.payload)))
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def write_config(root: Path, run: Path, urls: list[str], port: int, threshold: float, tiny: bool, qos: int) -> Path:
    cams = "".join(f'[[cameras]]\nname = "cam{k}"\nurl = "{u}"\n' + (f"threshold = {threshold}\n" if threshold else "")
                   for k, u in enumerate(urls))
    path = root / "cameras.toml"
    path.write_text(
        f'run = "{run}"\n[serve]\nname = "soak"\nout = "out"\nhealth = "127.0.0.1:0"\npost_roll = 1.0\n'
        f"pre_roll = 1.0\nreconnect_min = 0.2\nreconnect_max = 2.0\nstall_timeout = 5.0\n{cams}"
        f'[sinks.log]\ntype = "jsonl"\n[sinks.mqtt]\ntype = "mqtt"\nport = {port}\nreconnect_max = 2\nqos = {qos}\n'
        + ("clean_session = false\n" if qos == 2 else "")
        + ("[detect]\nrunning_norm = false\n" if tiny else ""))
    return path


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def timeline(seconds: float, broker: Mosquitto, streams: list[TcpStream], log: list[str]) -> None:
    """Broker restart at 1/3, stream drops (camera 0 then the last one) at 1/2 and 2/3 of the run."""
    start = time.monotonic()
    plan = [(seconds / 3, "broker"), (seconds / 2, 0), (2 * seconds / 3, len(streams) - 1)]
    for at, what in plan:
        time.sleep(max(0.0, start + at - time.monotonic()))
        if what == "broker":
            broker.stop()
            time.sleep(3)
            broker.start()
            log.append(f"{time.monotonic() - start:.0f}s broker restarted (down 3 s)")
        else:
            streams[what].stop()
            time.sleep(3)
            streams[what].start()
            log.append(f"{time.monotonic() - start:.0f}s stream cam{what} dropped for 3 s")
    time.sleep(max(0.0, start + seconds - time.monotonic()))


def soak(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    tiny = args.run is None or args.tiny_settings
    run = tiny_run(root / "tiny") if args.run is None else args.run.resolve()
    video = args.video.resolve() if args.video else anomaly_video(root / "anomaly.avi", 50, ((20, 30),))
    threshold = args.threshold if args.threshold is not None else (2.4 if tiny else 0.0)
    broker = Mosquitto(root / "broker").start()
    listener = Listener(broker.port, args.qos)
    streams = [TcpStream(video).start() for _ in range(args.cameras)]
    cfg = write_config(root, run, [s.url for s in streams], broker.port, threshold, tiny, args.qos)
    proc = subprocess.Popen([sys.executable, "-m", "vadkit", "serve", "--config", str(cfg)],
                            stdout=open(root / "serve.log", "w"), stderr=subprocess.STDOUT)
    out, log, rss = root / "out", [], []
    try:
        assert wait_for(lambda: (out / "serve.json").is_file(), 180), "serve did not start"
        health = json.loads((out / "serve.json").read_text())["health"]
        time.sleep(10)  # warm-up: connections, first scores
        m0, t0, rss0 = metrics(health), time.monotonic(), rss_mb(proc.pid)
        import threading

        sampler_stop = threading.Event()

        def sample() -> None:
            while not sampler_stop.wait(5):
                rss.append(rss_mb(proc.pid))

        threading.Thread(target=sample, daemon=True).start()
        timeline(args.minutes * 60, broker, streams, log)
        m1, t1 = metrics(health), time.monotonic()
        sampler_stop.set()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
        for s in streams:
            s.stop()
    sent = [json.loads(line)["id"] for line in (out / "events.jsonl").read_text().splitlines()]
    wait_for(lambda: len(listener.events) >= len(sent), 30)
    listener.stop()
    broker.stop()
    got = Counter(e["id"] for _, e in listener.events)
    lat = [t - e["trigger_time"] for t, e in listener.events]
    window = t1 - t0
    fps = {f"cam{k}": round((m1[("vadkit_serve_camera_frames_scored_total", f"cam{k}")]
                             - m0[("vadkit_serve_camera_frames_scored_total", f"cam{k}")]) / window, 2)
           for k in range(args.cameras)}
    dropped = {f"cam{k}": int(m1[("vadkit_serve_camera_frames_dropped_total", f"cam{k}")]) for k in range(args.cameras)}
    return {
        "cameras": args.cameras, "minutes": args.minutes, "qos": args.qos, "run": str(run), "video": str(video),
        "exit_status": rc, "events_sent": len(sent), "events_received": sum(got.values()),
        "events_lost": len(set(sent) - set(got)), "events_duplicated": sum(n - 1 for n in got.values() if n > 1),
        "rss_mb_start": round(rss0, 1), "rss_mb_end": round(rss[-1] if rss else rss0, 1),
        "rss_growth_pct": round(100 * ((rss[-1] if rss else rss0) - rss0) / rss0, 2),
        "fps_per_camera": fps, "frames_dropped": dropped,
        "latency_s_p50": percentile(lat, 0.5), "latency_s_p99": percentile(lat, 0.99),
        "reconnects": {f"cam{k}": int(m1[("vadkit_serve_camera_reconnects_total", f"cam{k}")])
                       for k in range(args.cameras)},
        "timeline": log, "cpu": os.cpu_count(),
    }


def main() -> int:
    args = parse()
    with tempfile.TemporaryDirectory(prefix="vadkit-soak-") as tmp:
        result = soak(args, Path(tmp))
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0 if result["events_lost"] == 0 and result["events_duplicated"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
