"""``vadkit serve`` against real components on 127.0.0.1: a mosquitto broker restarted mid-run,
an HTTP receiver that fails its first requests, an ffmpeg MPEG-TS stream killed and restarted,
SIGTERM with an inherited SIG_IGN, /metrics parsed with prometheus-client's parser. Every
server is started and stopped by its test; every wait is bounded."""

from __future__ import annotations

import io
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _serve_helpers import (
    Mosquitto,
    Receiver,
    Subscriber,
    TcpStream,
    anomaly_video,
    free_port,
    normal_frames,
    tiny_run,
    wait_for,
)
from rich.console import Console

from vadkit import default_registry
from vadkit.serve import Service, load_config

HAS_MOSQUITTO = bool(shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists())
HAS_FFMPEG = bool(shutil.which("ffmpeg"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny calibrated run and a 30-frame test video with one injected anomaly (shared by the module)."""
    root = tmp_path_factory.mktemp("serve")
    world = {"run": tiny_run(root), "video": anomaly_video(root / "anomaly.avi", 30, ((10, 17),))}
    return {**world, "threshold": event_threshold(world, root / "offline")}


def event_threshold(world: dict[str, Any], out: Path) -> float:
    """Halfway between the tiny run's highest smoothed score before the anomaly and its peak inside
    it, scored offline as the cameras below are: measured, because a 1-epoch run's scores differ
    between CPUs: the fixed threshold it replaces (2.4) was set for a peak of ~2.8 on an AVX2 EPYC;
    on an AMX Xeon the peak was 1.74 and no event came at all."""
    from vadkit import default_registry
    from vadkit.detect import detect
    from vadkit.detect.outputs import read_scores

    detect(world["video"], world["run"], out, default_registry(), overrides={"running_norm": False, "merge_gap": 4},
           video=False, console=Console(quiet=True))
    cols = read_scores(out / "scores.csv")
    before, inside = cols["score"][cols["frame"] < 10], cols["score"][(cols["frame"] >= 10) & (cols["frame"] <= 17)]
    assert inside.max() > before.max() + 0.2, (before, inside)  # the run sees the anomaly at all
    return float((before.max() + inside.max()) / 2)


def write_config(path: Path, world: dict[str, Path], cameras: str, sinks: str, serve: str = "") -> Path:
    path.write_text(f'run = "{world["run"]}"\n[serve]\nname = "test"\nout = "out"\nhealth = "127.0.0.1:0"\n'
                    f"pre_roll = 0.4\npost_roll = 0.2\nreconnect_min = 0.1\nreconnect_max = 0.5\n"
                    f"{serve or 'drain_timeout = 10.0'}\n{cameras}\n{sinks}\n"
                    # raw calibrated score: the running normalisation would learn the injected anomaly
                    # of the first loop as this camera's normal level
                    "[detect]\nrunning_norm = false\nmerge_gap = 4\n")
    return path


def looped_camera(world: dict[str, Path], name: str = "door") -> str:
    # realtime = false: every frame is scored however loaded the machine is (no frame dropped),
    # so an event comes every 30 frames; the threshold is measured on this video (event_threshold)
    return (f'[[cameras]]\nname = "{name}"\nfile = "{world["video"]}"\nloop = true\nrealtime = false\n'
            f'threshold = {world["threshold"]:.4f}\n')


def jsonl_events(out: Path) -> list[dict[str, Any]]:
    path = out / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def run_service(config: Path, steps: Callable[[Service], None], max_seconds: float = 600.0) -> Service:
    """Run the service in this (main) thread while ``steps`` drive it from another; ``steps``
    ends by returning (or failing), which asks the service to stop and drain."""
    registry = default_registry()
    log = io.StringIO()
    service = Service(load_config(config, registry), registry, Console(file=log, width=200))
    errors: list[BaseException] = []

    def driver() -> None:
        try:
            assert wait_for(lambda: len(service.workers) == len(service.config.cameras), 180), "service did not start"
            steps(service)
        except BaseException as exc:  # reported after the service stopped
            errors.append(exc)
        finally:
            service.stop_requested.set()

    thread = threading.Thread(target=driver, daemon=True)
    thread.start()
    assert service.run(max_seconds) == 0
    thread.join(10)
    if errors:
        raise AssertionError(f"{errors[0]!r}; the service said:\n{log.getvalue()[-3000:]}") from errors[0]
    return service


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.skipif(not HAS_MOSQUITTO, reason="mosquitto is not installed (apt-get install mosquitto; .ci/run does)")
def test_mqtt_every_event_exactly_once_across_a_broker_restart(world, tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    sub = None
    try:
        sub = Subscriber(broker.port, "vadkit/test/#")
        assert wait_for(lambda: sub.client.is_connected(), 10)
        sinks = (f'[sinks.log]\ntype = "jsonl"\n[sinks.home]\ntype = "mqtt"\nport = {broker.port}\n'
                 "reconnect_max = 1\n")
        cfg = write_config(tmp_path / "cameras.toml", world, looped_camera(world), sinks)
        out = tmp_path / "out"

        def steps(service: Service) -> None:
            assert wait_for(lambda: len(sub.events()) >= 1, 240), "no event reached the subscriber"
            # Events leave every 30 frames; stop the broker between two, not while one is in flight (a
            # PUBACK lost in a restart is QoS 1's documented duplicate, which consumers de-duplicate
            # on the id; this test checks that nothing is lost or repeated otherwise).
            time.sleep(0.5)
            broker.stop()  # mid-run: events now pile up in the sink
            before = len(jsonl_events(out))
            assert wait_for(lambda: len(jsonl_events(out)) >= before + 1, 120), "no event while the broker was down"
            broker.start()
            after = len(jsonl_events(out))
            assert wait_for(lambda: len(jsonl_events(out)) >= after + 1, 120)

        run_service(cfg, steps)
        sent = [e["id"] for e in jsonl_events(out)]
        wait_for(lambda: len(sub.events()) >= len(sent), 60)
        got = Counter(e["id"] for e in sub.events())
        left = sorted(p.name for p in (out / "state" / "home" / "outbox").iterdir())
        # Nothing lost, nothing invented; at most the one message in flight at the restart repeated (QoS 1's
        # at-least-once: a PUBACK lost with the broker; consumers de-duplicate on the id, docs/serve.md). The
        # test stops the broker between two events, so a repeat is rare, but on a loaded machine possible.
        assert set(sent) == set(got), f"sent {sent}, got {got}, left in the outbox {left}"
        assert len(sent) >= 3 and sum(got.values()) - len(sent) <= 1, f"sent {sent}, got {got}"
        def status_of(topic: str) -> list[str]:
            return [p.decode() for t, p, _ in list(sub.messages) if t == topic]

        wait_for(lambda: status_of("vadkit/test/status")[-1:] == ["offline"], 10)
        wait_for(lambda: status_of("vadkit/test/door/status")[-1:] == ["stopped"], 10)
        status = status_of("vadkit/test/status")
        assert status[0] == "online" and status[-1] == "offline"
        cam = status_of("vadkit/test/door/status")
        assert "up" in cam and cam[-1] == "stopped"
        event = sub.events()[0]
        assert {"camera", "start", "end", "peak_score", "threshold", "run_id", "snapshot", "clip"} <= set(event)
        assert Path(event["clip"]).stat().st_size > 0 and Path(event["snapshot"]).read_bytes()[:2] == b"\xff\xd8"
        assert not any((out / "state" / "home" / "outbox").iterdir())  # nothing left undelivered
    finally:
        if sub is not None:
            sub.stop()
        broker.stop()


def test_webhook_receiver_that_fails_first_requests_gets_every_event_once(world, tmp_path: Path) -> None:
    receiver = Receiver(fail=3).start()
    try:
        sinks = (f'[sinks.log]\ntype = "jsonl"\n[sinks.hook]\ntype = "webhook"\nurl = "{receiver.url}"\n'
                 "retry_min = 0.1\nretry_max = 0.4\n")
        cfg = write_config(tmp_path / "cameras.toml", world, looped_camera(world), sinks)
        out = tmp_path / "out"
        run_service(cfg, lambda s: assert_(wait_for(lambda: len(jsonl_events(out)) >= 2, 240)))
        sent = [e["id"] for e in jsonl_events(out)]
        delivered = [key for key, _ in receiver.bodies]
        assert Counter(delivered) == Counter(sent)  # none lost, none twice
        assert receiver.posts == 3 + len(sent)  # the first three were refused and retried
        assert [b["id"] for _, b in receiver.bodies] == delivered
    finally:
        receiver.stop()


def assert_(ok: bool) -> None:
    assert ok


@pytest.mark.skipif(not HAS_FFMPEG, reason="ffmpeg is not installed (apt-get install ffmpeg; .ci/run does)")
def test_stream_dropped_and_back_reconnects_while_a_dead_camera_is_reported(world, tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    stream = TcpStream(world["video"]).start()
    dead = free_port()  # nothing listens there
    try:
        cams = (f'[[cameras]]\nname = "street"\nurl = "{stream.url}"\n'
                f'[[cameras]]\nname = "gone"\nurl = "tcp://127.0.0.1:{dead}"\n')
        cfg = write_config(tmp_path / "cameras.toml", world, cams, '[sinks.log]\ntype = "jsonl"\n',
                           "fail_after = 2\nstall_timeout = 3.0\ndrain_timeout = 10.0")
        seen: dict[str, Any] = {}

        def steps(service: Service) -> None:
            base = json.loads((tmp_path / "out" / "serve.json").read_text())["health"]
            street, gone = service.pipelines["street"], service.workers["gone"]
            assert wait_for(lambda: street.scored > 10 and gone.state == "failing", 240)
            code, body = get(base + "/healthz")
            health = json.loads(body)
            seen["health"] = (code, health["status"], health["cameras"]["street"]["state"],
                              health["cameras"]["gone"]["state"])
            stream.stop()  # the server goes away mid-run
            worker = service.workers["street"]
            assert wait_for(lambda: worker.state != "up", 60)
            scored = street.scored
            stream.start()
            assert wait_for(lambda: worker.state == "up" and street.scored > scored + 10, 120), "no reconnect"
            seen["metrics"] = get(base + "/metrics")[1].decode()

        service = run_service(cfg, steps)
        assert seen["health"] == (200, "degraded", "up", "failing")
        values = {(s.name, s.labels.get("camera", s.labels.get("sink"))): s.value
                  for fam in text_string_to_metric_families(seen["metrics"]) for s in fam.samples}
        assert values[("vadkit_serve_camera_reconnects_total", "street")] >= 1
        assert values[("vadkit_serve_camera_frames_scored_total", "street")] > 20
        assert values[("vadkit_serve_camera_up", "street")] == 1 and values[("vadkit_serve_camera_up", "gone")] == 0
        assert values[("vadkit_serve_camera_frames_read_total", "gone")] == 0
        assert values[("vadkit_serve_frame_latency_seconds_count", "street")] > 20
        assert values[("vadkit_serve_sink_queue_length", "log")] == 0
        assert service.workers["gone"].reconnects >= 2
    finally:
        stream.stop()


def test_sigterm_drains_and_persists_every_event_whatever_the_inherited_disposition(world, tmp_path: Path) -> None:
    dead = free_port()
    sinks = (f'[sinks.log]\ntype = "jsonl"\n[sinks.hook]\ntype = "webhook"\nurl = "http://127.0.0.1:{dead}/x"\n'
             "queue_if_down = true\nretry_min = 0.1\nretry_max = 0.2\n")
    cfg = write_config(tmp_path / "cameras.toml", world, looped_camera(world), sinks, "drain_timeout = 0.5")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "vadkit", "serve", "--config", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: (signal.signal(signal.SIGTERM, signal.SIG_IGN),
                                                signal.signal(signal.SIGINT, signal.SIG_IGN)))
    try:
        assert wait_for(lambda: len(jsonl_events(out)) >= 1 or proc.poll() is not None, 400)
        proc.send_signal(signal.SIGTERM)
        text = proc.communicate(timeout=180)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, text
    sent = [e["id"] for e in jsonl_events(out)]
    queued = sorted((out / "state" / "hook" / "outbox").glob("*.json"))
    assert sent and sorted(json.loads(p.read_text())["id"] for p in queued) == sorted(sent)  # all persisted
    assert "still queued on disk" in text
    # the next start delivers what was queued
    from vadkit_sinks.webhook import WebhookSink

    receiver = Receiver().start()
    try:
        sink = WebhookSink(receiver.url, state_dir=out / "state" / "hook")
        sink.open()
        assert sink.close(10.0) == 0
        assert sorted(k for k, _ in receiver.bodies) == sorted(sent)
    finally:
        receiver.stop()


@pytest.fixture(scope="module")
def bright_calibration(world, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A calibration of the tiny run on another camera's normal footage (brighter), written by
    `vadkit calibrate --out` beside the run, not into it."""
    from vadkit.cli import main

    root = tmp_path_factory.mktemp("bright")
    data = normal_frames(root / "data", videos=3, brighten=70, seed=3)
    out = root / "cams" / "bright.json"
    out.parent.mkdir()
    before = (world["run"] / "calibration.json").read_bytes()
    assert main(["calibrate", "--run", str(world["run"]), "--data", str(data), "--out", str(out)]) == 0
    assert (world["run"] / "calibration.json").read_bytes() == before  # the run's own calibration is untouched
    assert (root / "cams" / "bright_stats.npz").is_file()
    return out


def test_cameras_with_their_own_calibrations_get_their_own_thresholds(world, bright_calibration, tmp_path) -> None:
    video = world["video"]
    cams = "".join(f'[[cameras]]\nname = "{n}"\nfile = "{video}"\nloop = true\nrealtime = false\n{extra}'
                   for n, extra in (("door", ""), ("bright", f'calibration = "{bright_calibration}"\n'),
                                    ("fitted", "refit_frames = 20\n")))
    cfg = write_config(tmp_path / "cameras.toml", world, cams, '[sinks.log]\ntype = "jsonl"\n')
    seen: dict[str, Any] = {}

    def steps(service: Service) -> None:
        fitted = service.pipelines["fitted"]
        assert wait_for(lambda: fitted.refit is not None and fitted.refit.done
                        and min(p.scored for p in service.pipelines.values()) > 30, 240)
        base = json.loads((tmp_path / "out" / "serve.json").read_text())["health"]
        seen.update(json.loads(get(base + "/healthz")[1])["cameras"])

    service = run_service(cfg, steps)
    door, bright, fitted = (seen[n]["threshold"] for n in ("door", "bright", "fitted"))
    assert door == pytest.approx(service.detector.threshold)  # the run's calibration
    assert len({round(door, 4), round(bright, 4), round(fitted, 4)}) == 3, seen
    assert seen["bright"]["calibration"] == str(bright_calibration) and seen["door"]["calibration"] == "run"
    assert seen["fitted"]["refit"]["done"] and "first 20" in seen["fitted"]["threshold_rule"]
    for event in jsonl_events(tmp_path / "out"):  # each event carries its camera's threshold
        assert event["threshold"] == pytest.approx(seen[event["camera"]]["threshold"], abs=1e-4)


def test_a_bad_or_foreign_camera_calibration_is_refused_before_any_camera_opens(world, bright_calibration,
                                                                                 tmp_path, capsys) -> None:
    import socket

    from vadkit.cli import main
    from vadkit.serve import ConfigError

    camera = socket.socket()  # a "camera" that records whether anyone connected
    camera.bind(("127.0.0.1", 0))
    camera.listen(4)
    camera.settimeout(0.0)
    cal = json.loads(bright_calibration.read_text())

    def config_with(calibration: str) -> Path:
        cams = (f'[[cameras]]\nname = "yard"\nurl = "tcp://127.0.0.1:{camera.getsockname()[1]}"\n'
                f'calibration = "{calibration}"\n')
        return write_config(tmp_path / "cameras.toml", world, cams, '[sinks.log]\ntype = "jsonl"\n')

    other = tmp_path / "other.json"
    other.write_text(json.dumps({**cal, "checkpoint_sha256": "0" * 64, "run": "runs/another"}))
    for path, words in ((tmp_path / "missing.json", "no such calibration file"),
                        (other, "not of the run")):
        with pytest.raises(ConfigError, match=words) as err:
            load_config(config_with(str(path)), default_registry())
        assert "key 'cameras[0].calibration'" in str(err.value)
    scorer = tmp_path / "scorer.json"  # the same checkpoint, another scorer: refused once the run is loaded
    scorer.write_text(json.dumps({**cal, "scorer": "PsnrScorer"}))
    for path, words in ((other, "not of the run"), (scorer, "calibrated for scorer 'PsnrScorer'")):
        capsys.readouterr()
        assert main(["serve", "--config", str(config_with(str(path)))]) == 2
        err = capsys.readouterr().err
        assert "cameras[0].calibration" in err and words in err and "Traceback" not in err
    with pytest.raises(BlockingIOError):
        camera.accept()  # nobody connected: no camera was opened
    camera.close()
