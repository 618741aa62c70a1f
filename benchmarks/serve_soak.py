"""Soak test of ``vadkit serve``: N simulated cameras (a test video looped at 25 fps, each served
by its own ffmpeg as MPEG-TS over TCP on 127.0.0.1), a real mosquitto broker restarted once
and two stream drops during the run. Reports events lost / duplicated (JSON-lines sink vs. an
MQTT subscriber with a persistent session), RSS growth of the serve process, frames/s per
camera, frames dropped, and end-to-end latency (the frame that completes an event is read ->
its MQTT message arrives) p50 / p99, with the load average sampled during the run.

    flock /tmp/vadkit-bench.lock python benchmarks/serve_soak.py --cameras 8 --minutes 10 \\
        --run runs/ped2-cpu --ped2 ../shared/data/ped2 --out soak.json
    python benchmarks/serve_soak.py --cameras 2 --minutes 2          # tiny run trained here

With ``--ped2`` camera k loops Ped2 test video k+1 (rendered from its frames at 25 fps). A
``--run`` is copied into the temporary folder first, so serve never touches the original.
Without ``--run`` a tiny 32x32 run is trained first (under a minute) and the video is a 64x64
synthetic scene with one injected anomaly per 2 s loop (an event every 2 s per camera).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from _serve_helpers import Mosquitto, TcpStream, anomaly_video, tiny_run, wait_for  # noqa: E402

Metrics = dict[tuple[str, str, str], float]  # (sample name, camera or sink, le) -> value


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cameras", type=int, default=8)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--run", type=Path, default=None, help="trained run (default: train a tiny one here)")
    p.add_argument("--video", type=Path, default=None, help="video each camera loops (default: synthetic)")
    p.add_argument("--ped2", type=Path, default=None,
                   help="Ped2 root: camera k loops testing/frames/<k+1> at 25 fps (instead of --video)")
    p.add_argument("--threshold", type=float, default=None, help="per-camera threshold (default: tiny run 2.4)")
    p.add_argument("--tiny-settings", action="store_true",
                   help="the settings of the tiny run (threshold 2.4, no running normalisation) with --run")
    p.add_argument("--qos", type=int, default=1, choices=(1, 2),
                   help="MQTT QoS of the events (2: with persistent sessions, exactly once)")
    p.add_argument("--batch", type=int, default=1, help="[detect] batch: frames per camera per forward pass")
    p.add_argument("--threads", type=int, default=0, help="[serve] threads (0: serve's default, half the cores)")
    p.add_argument("--out", type=Path, default=None, help="write the figures as JSON here too")
    return p.parse_args()


def ped2_videos(root: Path, n: int, out: Path) -> list[Path]:
    """Camera k's video: Ped2 test video k+1 (mod 12) rendered from its JPEG frames at 25 fps."""
    folders = sorted(p for p in (root / "testing" / "frames").iterdir() if p.is_dir())
    videos = []
    for k in range(n):
        src = folders[k % len(folders)]
        dst = out / f"ped2-test-{src.name}.avi"
        if not dst.exists():
            subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-framerate", "25", "-i",
                            str(src / "%03d.jpg"), "-c:v", "mjpeg", "-q:v", "3", str(dst)], check=True)
        videos.append(dst)
    return videos


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def metrics(url: str) -> Metrics:
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    return {(s.name, s.labels.get("camera", s.labels.get("sink", "")), s.labels.get("le", "")): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def per_camera(m1: Metrics, m0: Metrics, name: str, n: int) -> dict[str, float]:
    return {f"cam{k}": m1.get((name, f"cam{k}", ""), 0.0) - m0.get((name, f"cam{k}", ""), 0.0) for k in range(n)}


def latency_quantile(m1: Metrics, m0: Metrics, q: float) -> float | None:
    """Quantile ``q`` of frame read -> scored over all cameras between two scrapes: the upper
    bound of the histogram bucket it falls in."""
    counts: dict[float, float] = {}
    for (name, _cam, le), v in m1.items():
        if name == "vadkit_serve_frame_latency_seconds_bucket":
            counts[float(le)] = counts.get(float(le), 0.0) + v - m0.get((name, _cam, le), 0.0)
    total = counts.get(float("inf"), 0.0)
    if not total:
        return None
    return min(b for b, c in counts.items() if c >= q * total)


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


class Sampler:
    """RSS of the serve process and the 1-minute load average, every ``every`` seconds."""

    def __init__(self, pid: int, every: float = 5.0) -> None:
        self.pid, self.every = pid, every
        self.rss: list[float] = []
        self.load: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.rss.append(rss_mb(self.pid))
            self.load.append(loadavg())

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.every + 1)


def write_config(root: Path, run: Path, urls: list[str], port: int, args: argparse.Namespace, threshold: float,
                 tiny: bool) -> Path:
    cams = "".join(f'[[cameras]]\nname = "cam{k}"\nurl = "{u}"\n' + (f"threshold = {threshold}\n" if threshold else "")
                   for k, u in enumerate(urls))
    path = root / "cameras.toml"
    path.write_text(
        f'run = "{run}"\n[serve]\nname = "soak"\nout = "out"\nhealth = "127.0.0.1:0"\npost_roll = 1.0\n'
        f"pre_roll = 1.0\nreconnect_min = 0.2\nreconnect_max = 2.0\nstall_timeout = 5.0\nthreads = {args.threads}\n{cams}"
        f'[sinks.log]\ntype = "jsonl"\n[sinks.mqtt]\ntype = "mqtt"\nport = {port}\nreconnect_max = 2\n'
        f"qos = {args.qos}\n" + ("clean_session = false\n" if args.qos == 2 else "")
        + f"[detect]\nbatch = {args.batch}\n" + ("running_norm = false\n" if tiny else ""))
    return path


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(round(q * (len(s) - 1))))], 3)


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


def prepare(args: argparse.Namespace, root: Path) -> tuple[Path, list[Path], bool]:
    """The run (a copy of --run, or a tiny one trained here), one video per camera, tiny settings?"""
    tiny = args.run is None or args.tiny_settings
    if args.run is None:
        run = tiny_run(root / "tiny")
    else:
        run = root / "run"
        shutil.copytree(args.run.resolve(), run, ignore=shutil.ignore_patterns("plots", "scores.csv"))
    if args.ped2:
        videos = ped2_videos(args.ped2.resolve(), args.cameras, root)
    else:
        video = args.video.resolve() if args.video else anomaly_video(root / "anomaly.avi", 50, ((20, 30),))
        videos = [video] * args.cameras
    return run, videos, tiny


def soak(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    run, videos, tiny = prepare(args, root)
    threshold = args.threshold if args.threshold is not None else (2.4 if tiny else 0.0)
    broker = Mosquitto(root / "broker").start()
    streams: list[TcpStream] = []
    proc: subprocess.Popen | None = None
    try:  # every server and the service are stopped whatever happens
        listener = Listener(broker.port, args.qos)
        streams = [TcpStream(v).start() for v in videos]
        cfg = write_config(root, run, [s.url for s in streams], broker.port, args, threshold, tiny)
        proc = subprocess.Popen([sys.executable, "-m", "vadkit", "serve", "--config", str(cfg)],
                                stdout=open(root / "serve.log", "w"), stderr=subprocess.STDOUT)
        figures = measure(args, root, proc, broker, streams, listener)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(30)
        for s in streams:
            s.stop()
        broker.stop()
    figures.update(run=str(args.run or run), videos=[v.name for v in videos], threshold=threshold or "calibrated",
                   serve_log_head=(root / "serve.log").read_text().splitlines()[:4])
    return figures


def measure(args: argparse.Namespace, root: Path, proc: subprocess.Popen, broker: Mosquitto,
            streams: list[TcpStream], listener: Listener) -> dict[str, Any]:
    """Warm up, scrape, run the timeline (faults), scrape, SIGTERM, compare sent and received."""
    out, log = root / "out", []
    assert wait_for(lambda: (out / "serve.json").is_file() or proc.poll() is not None, 300), "serve did not start"
    assert proc.poll() is None, (root / "serve.log").read_text()[-3000:]
    health = json.loads((out / "serve.json").read_text())["health"]
    time.sleep(15)  # warm-up: connections, first scores
    m0, t0, rss0 = metrics(health), time.monotonic(), rss_mb(proc.pid)
    sampler = Sampler(proc.pid).start()
    timeline(args.minutes * 60, broker, streams, log)
    m1, t1 = metrics(health), time.monotonic()
    sampler.stop()
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(180)
    sent = [json.loads(line)["id"] for line in (out / "events.jsonl").read_text().splitlines()] \
        if (out / "events.jsonl").is_file() else []
    wait_for(lambda: len(listener.events) >= len(sent), 30)
    listener.stop()
    figures = report(args, m0, m1, t1 - t0, rss0, sampler, sent, listener)
    outbox = out / "state" / "mqtt" / "outbox"
    figures.update(exit_status=rc, timeline=log,
                   mqtt_outbox_left=len(list(outbox.glob("*.json"))) if outbox.is_dir() else 0)
    return figures


def report(args: argparse.Namespace, m0: Metrics, m1: Metrics, window: float, rss0: float, sampler: Sampler,
           sent: list[str], listener: Listener) -> dict[str, Any]:
    n = args.cameras
    got = Counter(e["id"] for _, e in listener.events)
    lat = [t - e["trigger_time"] for t, e in listener.events]
    scored = per_camera(m1, m0, "vadkit_serve_camera_frames_scored_total", n)
    read = per_camera(m1, m0, "vadkit_serve_camera_frames_read_total", n)
    dropped = per_camera(m1, m0, "vadkit_serve_camera_frames_dropped_total", n)
    fps = {k: round(v / window, 2) for k, v in scored.items()}
    rss1 = sampler.rss[-1] if sampler.rss else rss0
    return {
        "cameras": n, "minutes": args.minutes, "measured_s": round(window, 1), "qos": args.qos, "batch": args.batch,
        "threads": args.threads or "serve's default",
        "cpu": os.cpu_count(),
        "events_sent": len(sent), "events_received": sum(got.values()), "events_lost": len(set(sent) - set(got)),
        "events_duplicated": sum(c - 1 for c in got.values() if c > 1), "events_unknown": len(set(got) - set(sent)),
        "rss_mb_start": round(rss0, 1), "rss_mb_end": round(rss1, 1),
        "rss_mb_max": round(max(sampler.rss or [rss0]), 1),
        "rss_growth_pct": round(100 * (rss1 - rss0) / rss0, 2),
        "rss_mb_every_30s": [round(r, 1) for r in sampler.rss[5::6]],
        "fps_per_camera": fps, "fps_per_camera_median": round(statistics.median(fps.values()), 2),
        "frames_read_per_s_per_camera_median": round(statistics.median(read.values()) / window, 2),
        "frames_dropped_pct": round(100 * sum(dropped.values()) / max(1.0, sum(read.values())), 1),
        "latency_event_s_p50": percentile(lat, 0.5), "latency_event_s_p99": percentile(lat, 0.99),
        "latency_frame_scored_s_p50_bucket": latency_quantile(m1, m0, 0.5),
        "latency_frame_scored_s_p99_bucket": latency_quantile(m1, m0, 0.99),
        "reconnects": {k: int(v) for k, v in per_camera(m1, m0, "vadkit_serve_camera_reconnects_total", n).items()},
        "load_avg_1min": {"min": min(sampler.load or [0.0]), "median": statistics.median(sampler.load or [0.0]),
                          "max": max(sampler.load or [0.0])},
    }


def main() -> int:
    args = parse()
    with tempfile.TemporaryDirectory(prefix="vadkit-soak-") as tmp:
        try:
            result = soak(args, Path(tmp))
        finally:
            if args.out and (Path(tmp) / "serve.log").is_file():  # what serve said, kept beside the figures
                shutil.copyfile(Path(tmp) / "serve.log", args.out.with_suffix(".serve.log"))
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0 if result["events_lost"] == 0 and result["events_duplicated"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
