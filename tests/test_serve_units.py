"""``vadkit serve`` parts that need no model: the config (one error naming the key, before any
camera opens), sinks that refuse at start (a real broker with credentials), the sink plugin
kind, the on-disk outbox, the clip quota and the reconnect backoff."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _helpers import make_plugin
from _serve_helpers import TINY_RECIPE, Mosquitto, Receiver, free_port, wait_for

from vadkit import create_registry, default_registry
from vadkit.cli import main
from vadkit.errors import ComponentError
from vadkit.recipe import dumps_toml
from vadkit.serve import ConfigError, load_config
from vadkit.serve.camera import backoff
from vadkit.serve.clips import ClipStore
from vadkit.serve.outbox import Outbox
from vadkit.sinks import Sink, SinkError

HAS_MOSQUITTO = bool(shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists())


def config(tmp_path: Path, body: str) -> Path:
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    (run / "recipe.toml").write_text(dumps_toml(TINY_RECIPE))
    path = tmp_path / "cameras.toml"
    path.write_text(f'run = "run"\n{body}\n')
    return path


CAM = '[[cameras]]\nname = "door"\nurl = "tcp://127.0.0.1:9"\n'
BAD = [
    ("[serve]\npost_rol = 3\n" + CAM, "serve.post_rol", "Did you mean 'post_roll'"),
    ("[serve]\npre_roll = -1\n" + CAM, "serve.pre_roll", "out of range"),
    ("[serve]\nhealth = \"localhost\"\n" + CAM, "serve.health", "host:port"),
    ("[serve]\nfail_after = \"x\"\n" + CAM, "serve.fail_after", "must be int"),
    ("", "cameras", "at least one"),
    ('[[cameras]]\nname = "a"\n', "cameras[0]", "exactly one of url, device, file"),
    ('[[cameras]]\nurl = "rtsp://x"\nfile = "y.mp4"\n', "cameras[0]", "exactly one"),
    ('[[cameras]]\nurll = "rtsp://x"\n', "cameras[0].urll", "Did you mean 'url'"),
    (CAM + CAM, "cameras[1].name", "used twice"),
    ('[[cameras]]\nname = "a b"\nurl = "rtsp://x"\n', "cameras[0].name", "letters, digits"),
    ('[[cameras]]\nfile = "missing.mp4"\n', "cameras[0].file", "no such video file"),
    (CAM + '[sinks.home]\ntype = "mqttt"\n', "sinks.home.type", "Did you mean 'mqtt'"),
    (CAM + '[sinks.home]\ntype = "mqtt"\nhostt = "x"\n', "sinks.home.hostt", "Did you mean 'host'"),
    (CAM + "[sinks.home]\nport = 1\n", "sinks.home.type", "needs type"),
    (CAM + "[detect]\nsmoothing = 0\n", "detect", "smoothing"),
    (CAM + "[detect]\nsmoothin = 3\n", "detect.smoothin", "unknown key"),
    ("colour = 1\n" + CAM, "colour", "unknown key"),
    ('[[cameras]]\nurl = "rtsp://x"\nrefit_frames = 3\n', "cameras[0].refit_frames", "more than smoothing (5)"),
    ('[[cameras]]\nurl = "rtsp://x"\nrefit_frames = 9\n[detect]\nsmoothing = 9\n', "cameras[0].refit_frames",
     "more than smoothing (9)"),
    ('[[cameras]]\nurl = "rtsp://x"\nrefit_frames = 50\nthreshold = 2.0\n', "cameras[0].refit_frames",
     "absolute threshold"),
    ('[[cameras]]\nurl = "rtsp://x"\ncalibration = "cams/x.json"\n', "cameras[0].calibration",
     "no such calibration file"),
    ('[[cameras]]\nurl = "rtsp://x"\ncalibration = 3\n', "cameras[0].calibration", "must be str"),
]


@pytest.mark.parametrize("body,key,words", BAD, ids=[k for _, k, _ in BAD])
def test_bad_config_is_one_error_naming_the_key(tmp_path: Path, body: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(config(tmp_path, body), default_registry())
    assert f"key '{key}'" in str(err.value) and words in str(err.value)


def test_cli_reports_a_bad_config_in_one_line_with_exit_2(tmp_path: Path, capsys) -> None:
    path = config(tmp_path, CAM + '[sinks.home]\ntype = "webhook"\nurl = "ftp://x"\n')
    assert main(["serve", "--config", str(path), "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert "sinks.home" in err and "http(s)://" in err and "Traceback" not in err and len(err.splitlines()) <= 3
    assert main(["serve", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_sink_that_refuses_at_start_is_a_clear_error_unless_it_queues(tmp_path: Path, capsys) -> None:
    dead = free_port()
    path = config(tmp_path, CAM + f'[sinks.home]\ntype = "mqtt"\nport = {dead}\n')
    assert main(["serve", "--config", str(path), "--check"]) == 2
    err = capsys.readouterr().err
    assert "sink 'home'" in err and "unreachable" in err and "queue_if_down" in err
    path.write_text(path.read_text() + "queue_if_down = true\nconnect_timeout = 0.2\n")
    assert main(["serve", "--config", str(path), "--check"]) == 0
    dead_hook = config(tmp_path, CAM + f'[sinks.h]\ntype = "webhook"\nurl = "http://127.0.0.1:{dead}/"\n')
    assert main(["serve", "--config", str(dead_hook), "--check"]) == 2
    assert "webhook 127.0.0.1" in capsys.readouterr().err


def test_unknown_host_and_bad_webhook_credentials_are_refused_at_start_unless_queued(tmp_path: Path,
                                                                                    monkeypatch) -> None:
    import socket

    from vadkit_sinks.mqtt import MqttSink
    from vadkit_sinks.webhook import WebhookSink

    real = socket.getaddrinfo

    def resolver(host: Any, *args: Any, **kwargs: Any) -> Any:  # loopback only: no DNS query leaves the machine
        if host == "no-such-host.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with pytest.raises(SinkError, match="unreachable .Name or service not known"):
        MqttSink(host="no-such-host.invalid", state_dir=tmp_path / "m").open()
    with pytest.raises(SinkError, match="unknown host"):
        WebhookSink("http://no-such-host.invalid/hook", state_dir=tmp_path / "w").open()
    receiver = Receiver(token="right").start()
    try:
        bad = WebhookSink(receiver.url, headers={"Authorization": "Bearer wrong"}, state_dir=tmp_path / "w1")
        with pytest.raises(SinkError, match="refused the credentials"):
            bad.open()
        queued = WebhookSink(receiver.url, headers={"Authorization": "Bearer wrong"}, queue_if_down=True,
                             retry_min=0.05, retry_max=0.1, state_dir=tmp_path / "w2")
        queued.open()
        queued.send({"id": "e1", "camera": "door"})
        assert wait_for(lambda: queued.failures >= 2, 10)  # 401 is retried, not rejected: nothing lost
        assert queued.close(0.1) == 1 and queued.rejected == 0
        good = WebhookSink(receiver.url, headers={"Authorization": "Bearer right"}, state_dir=tmp_path / "w2")
        good.open()  # the next start, with the token fixed, delivers what was queued
        assert good.close(10.0) == 0 and [k for k, _ in receiver.bodies] == ["e1"]
    finally:
        receiver.stop()


@pytest.mark.skipif(not HAS_MOSQUITTO or not shutil.which("mosquitto_passwd"), reason="mosquitto is not installed")
def test_mqtt_bad_credentials_are_refused_at_start(tmp_path: Path) -> None:
    from vadkit_sinks.mqtt import MqttSink

    broker = Mosquitto(tmp_path / "broker")
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(tmp_path / "broker" / "pw"), "cam", "secret"], check=True)
    broker.conf.write_text(broker.conf.read_text().replace("allow_anonymous true", "allow_anonymous false")
                           + f"password_file {tmp_path / 'broker' / 'pw'}\n")
    broker.start()
    try:
        sink = MqttSink(port=broker.port, username="cam", password="wrong", state_dir=tmp_path / "s1")
        with pytest.raises(SinkError, match="refused the connection"):
            sink.open()
        good = MqttSink(port=broker.port, username="cam", password="secret", state_dir=tmp_path / "s2")
        good.open()
        good.send({"id": "e1", "camera": "door"})
        assert good.close(5.0) == 0  # acknowledged by the broker
    finally:
        broker.stop()


class MemorySink(Sink):
    """A third-party sink: keeps events in a list."""

    def __init__(self, capacity: int = 10) -> None:
        self.capacity, self.events = capacity, []

    def open(self) -> None:
        pass

    def send(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def close(self, timeout: float) -> int:
        return 0


class NoSend:
    def open(self) -> None: ...

    def close(self, timeout: float) -> int: ...


def test_a_third_party_sink_plugs_in_through_the_hook(tmp_path: Path) -> None:
    plugin = make_plugin("memsink", lambda register: register("sink", "memory", MemorySink))
    registry = create_registry([plugin], autoload=False)
    cfg = load_config(config(tmp_path, CAM + '[sinks.mem]\ntype = "memory"\ncapacity = 3\n'), registry)
    assert [(s.id, s.type, s.options) for s in cfg.sinks] == [("mem", "memory", {"capacity": 3})]
    with pytest.raises(ConfigError, match="sinks.mem.size"):
        load_config(config(tmp_path, CAM + '[sinks.mem]\ntype = "memory"\nsize = 3\n'), registry)
    bad = make_plugin("badsink", lambda register: register("sink", "nosend", NoSend))
    with pytest.raises(ComponentError, match="send"):
        create_registry([bad], autoload=False).get("sink", "nosend").load()
    from vadkit.registry import Registry

    reg = Registry()
    with pytest.raises(ComponentError, match="send"):
        reg.registrar("badsink", "(in-process)")("sink", "nosend", NoSend)


def test_default_sink_is_jsonl(tmp_path: Path) -> None:
    cfg = load_config(config(tmp_path, CAM), default_registry())
    assert [(s.id, s.type) for s in cfg.sinks] == [("jsonl", "jsonl")]


def test_outbox_keeps_events_across_restarts_and_drops_the_oldest_when_full(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "q", max_items=3)
    keys = [box.put({"id": f"e{i}"}) for i in range(4)]
    assert len(box) == 3 and box.dropped == 1
    box.remove(keys[1])
    (tmp_path / "q" / "notes.txt").write_text("not ours")
    again = Outbox(tmp_path / "q", max_items=3)
    assert [e["id"] for _, e in again.peek(10)] == ["e2", "e3"]
    assert again.put({"id": "e4"}) > keys[-1]  # keys keep increasing after a restart
    assert (tmp_path / "q" / "notes.txt").read_text() == "not ours"


def test_clip_quota_deletes_the_oldest_files_it_wrote_only(tmp_path: Path) -> None:
    store = ClipStore(tmp_path / "clips", quota_bytes=7000)
    foreign = tmp_path / "clips" / "mine.mp4"
    foreign.write_bytes(b"x" * 5000)  # not written by serve: never deleted
    rng = np.random.default_rng(0)
    paths = [store.snapshot(f"snap{i}", rng.integers(0, 255, (48, 64, 3), np.uint8)) for i in range(4)]
    sizes = [p.stat().st_size if p.exists() else 0 for p in paths]
    assert paths[-1].exists() and not paths[0].exists() and foreign.exists()
    assert store.bytes_used() <= 7000 and store.deleted >= 1 and sizes[-1] > 0
    assert ClipStore(tmp_path / "clips", 7000).bytes_used() == store.bytes_used()  # the ledger is kept


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    waits = [[backoff(n, 1.0, 30.0, rng) for n in range(1, 8)] for _ in range(50)]
    for run in waits:
        for n, w in enumerate(run, start=1):
            cap = min(30.0, 2 ** (n - 1))
            assert 0.5 * cap <= w <= cap
    assert len({round(r[3], 6) for r in waits}) > 10  # cameras do not retry in lock-step


def test_frames_dropped_to_keep_up_are_reported_on_the_console() -> None:
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from vadkit.serve.service import Service

    log = io.StringIO()
    service = Service.__new__(Service)  # only what the report reads
    service.console = Console(file=log, width=300)
    service.workers = {"door": SimpleNamespace(read=100, dropped=0), "yard": SimpleNamespace(read=100, dropped=0)}
    service._fps = {"door": (0.0, 0, 4.0), "yard": (0.0, 0, 5.0)}
    service._drops = (0.0, 0, 0)
    service._report_drops(60.0)
    assert log.getvalue() == ""  # nothing dropped: nothing said
    service.workers["door"].read, service.workers["door"].dropped = 200, 75
    service.workers["yard"].read = 200
    service._report_drops(120.0)
    assert "38 % of the frames read in the last 60 s were dropped" in log.getvalue()
    assert "door 4.0, yard 5.0" in log.getvalue()


def test_which_calibration_and_refit_each_camera_gets() -> None:
    from types import SimpleNamespace

    from vadkit.serve.calibrations import camera_calibration
    from vadkit.serve.config import CameraConfig

    detector = SimpleNamespace(cfg=SimpleNamespace(refit_frames=50), calibration={"state": {"method": "tail"}},
                               stream=None, threshold=1.5, threshold_rule="the run's")

    def calib(**keys: Any) -> tuple[float, int, str]:
        c = camera_calibration(detector, CameraConfig(url="rtsp://x", **keys), Path("cameras.toml"), 0)
        return c.threshold, c.refit_frames, c.source

    assert calib() == (1.5, 50, "run")  # [detect] refit_frames applies
    assert calib(refit_frames=0) == (1.5, 0, "run")
    assert calib(refit_frames=80) == (1.5, 80, "run")
    assert calib(threshold=4.0) == (4.0, 0, "run")  # an absolute threshold is never re-fitted


def test_a_camera_threshold_blind_to_its_pseudo_anomalies_is_warned_about_at_start() -> None:
    """A camera whose threshold is the one its calibration found blind (vadkit/detect/
    pseudo_recall.py) gets calibration's warning at start, named by its key; a camera on the
    run's own threshold is left to the run's check."""
    import io
    from dataclasses import asdict
    from types import SimpleNamespace

    from rich.console import Console

    from vadkit.config import DetectConfig
    from vadkit.detect.online import StreamSettings
    from vadkit.serve.calibrations import camera_calibration
    from vadkit.serve.config import CameraConfig

    cfg = DetectConfig()
    recall = {"threshold": 4.0, "spans": 8, "spans_caught": 1, "normal_frames": 100, "normal_frames_flagged": 0,
              "shifted": True}
    cal = {"state": {"method": "tail"}, "threshold_shift": {"copies": 2}, "pseudo_recall": recall,
           "stream": StreamSettings.of(cfg, None).describe(), "detect": asdict(cfg)}
    log = io.StringIO()
    detector = SimpleNamespace(cfg=cfg, calibration=cal, stream=None, threshold=1.5, threshold_rule="the run's",
                               run=None, console=Console(file=log, width=400))
    camera_calibration(detector, CameraConfig(url="rtsp://x"), Path("cameras.toml"), 0)
    assert log.getvalue() == ""  # the run's threshold: Detector said it when the model loaded
    camera_calibration(detector, CameraConfig(url="rtsp://x", threshold=4.0), Path("cameras.toml"), 1)
    said = " ".join(log.getvalue().split())
    assert "cameras[1]: the threshold 4.000 catches 1 of 8 pseudo-anomalies" in said
    assert "the given threshold lies above their scores" in said


@pytest.mark.skipif(not HAS_MOSQUITTO, reason="mosquitto is not installed")
def test_check_leaves_a_running_service_alone(tmp_path: Path) -> None:
    """--check next to a running service: no client-id takeover, no retained "offline", nothing
    from the service's queue sent."""
    from _serve_helpers import Subscriber
    from vadkit_sinks.mqtt import MqttSink

    broker = Mosquitto(tmp_path / "broker").start()
    state = tmp_path / "serve-out" / "state" / "home"
    Outbox(state / "outbox", 10).put({"id": "queued", "camera": "door"})  # the service's own, not the check's
    running = MqttSink(port=broker.port, instance="home", state_dir=tmp_path / "elsewhere")
    watcher = None
    try:
        running.open()  # as the running service: client id vadkit-home, retained "online"
        watcher = Subscriber(broker.port, "vadkit/home/#", client_id="watcher")
        assert wait_for(lambda: any(t == "vadkit/home/status" for t, _, _ in list(watcher.messages)), 10)
        path = config(tmp_path, CAM + f'[serve]\nname = "home"\n[sinks.home]\ntype = "mqtt"\nport = {broker.port}\n')
        assert main(["serve", "--config", str(path), "--check"]) == 0
        wait_for(lambda: len(watcher.messages) > 1, 1.0)  # a grace period for anything the check might have sent
        assert [p for t, p, _ in list(watcher.messages)] == [b"online"]
        assert running.connects == 1 and running.client.is_connected()
        assert len(Outbox(state / "outbox", 10)) == 1
    finally:
        if watcher is not None:
            watcher.stop()
        running.close(1.0)
        broker.stop()
