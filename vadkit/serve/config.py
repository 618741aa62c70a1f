"""``cameras.toml``: what ``vadkit serve`` watches, with which run, and where events go.

Read and checked once at start, before any camera opens: a wrong key, type or value is one
error naming the file and the key (``cameras[1].url``, ``sinks.home.hostt``)."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RecipeError, RegistryError
from ..registry import Registry


class ConfigError(RecipeError):
    """A bad serve config; the message names the file and the key."""

    def __init__(self, file: Path, key: str, message: str) -> None:
        super().__init__(message, key=key)
        self.args = (f"config {file}, key '{key}': {message}",)


@dataclass
class CameraConfig:
    """One ``[[cameras]]`` entry: exactly one of url / device / file."""

    name: str = ""
    url: str = ""  # rtsp://, http://, tcp://, ... anything OpenCV's FFmpeg reads
    device: int = -1  # a local camera index
    file: str = ""  # a video file (tests, demos); ``loop`` replays it forever
    loop: bool = False
    realtime: bool = True  # a looped file at its frame rate (dropping frames when scoring lags); false: no drops
    threshold: float = 0.0  # this camera's absolute threshold on the score (0 = the run's)
    calibration: str = ""  # this camera's own calibration file (`vadkit calibrate --out`); "" = the run's
    refit_frames: int = -1  # fit this camera's calibration on its first N frames (0 = off, -1 = [detect]'s)

    @property
    def target(self) -> str | int:
        return self.url or (self.device if self.device >= 0 else self.file)


@dataclass
class ServeSettings:
    """``[serve]``: supervision, clips, health."""

    name: str = "vadkit"  # this service's name (MQTT topics, client id)
    out: str = "serve-out"  # clips, snapshots, sink queues (relative to the config file)
    health: str = "127.0.0.1:8089"  # host:port of /healthz and /metrics ("" = off)
    pre_roll: float = 3.0  # seconds of video kept before an event
    post_roll: float = 3.0  # seconds after it
    clip_width: int = 480  # clips and snapshots at most this wide
    clips: bool = True
    clip_quota_mb: float = 1000.0  # clips + snapshots over this: the oldest (that serve wrote) go first
    reconnect_min: float = 1.0  # first backoff after a failure, seconds (doubles, with jitter)
    reconnect_max: float = 30.0
    fail_after: int = 5  # consecutive failures before a camera is reported as failing
    stall_timeout: float = 10.0  # seconds without a frame: the stream has stalled, reconnect
    queue: int = 8  # frames waiting per camera; the oldest is dropped when scoring lags
    drain_timeout: float = 10.0  # on SIGTERM: seconds the sinks get to deliver what is pending
    device: str = ""  # cpu, cuda (default: the run's)
    threads: int = 0  # torch threads of the scoring loop (0 = half the CPU cores, at least 1)


@dataclass
class SinkConfig:
    id: str
    type: str
    options: dict[str, Any]


@dataclass
class ServeConfig:
    file: Path
    run: Path
    serve: ServeSettings
    cameras: list[CameraConfig]
    sinks: list[SinkConfig]
    detect: dict[str, Any] = field(default_factory=dict)

    @property
    def out(self) -> Path:
        return (self.file.parent / self.serve.out).resolve()


def _typed(file: Path, prefix: str, table: dict[str, Any], cls: type) -> Any:
    """``table`` as dataclass ``cls``; unknown keys and wrong types name ``prefix.key``."""
    names = {f.name for f in dataclasses.fields(cls)}
    values = {}
    for k, v in table.items():
        if k not in names:
            close = difflib.get_close_matches(k, list(names), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(file, f"{prefix}{k}", f"unknown key.{hint} Keys: {', '.join(sorted(names))}")
        default = getattr(cls(), k)
        ok = isinstance(v, type(default)) and not (isinstance(v, bool) and not isinstance(default, bool))
        if isinstance(default, float) and isinstance(v, int) and not isinstance(v, bool):
            v, ok = float(v), True
        if not ok:
            raise ConfigError(file, f"{prefix}{k}", f"must be {type(default).__name__}, got {v!r}")
        values[k] = v
    return cls(**values)


def _check_settings(file: Path, s: ServeSettings) -> None:
    checks = [
        ("pre_roll", s.pre_roll >= 0),
        ("post_roll", s.post_roll >= 0),
        ("clip_width", s.clip_width >= 16),
        ("clip_quota_mb", s.clip_quota_mb > 0),
        ("reconnect_min", s.reconnect_min > 0),
        ("reconnect_max", s.reconnect_max >= s.reconnect_min),
        ("fail_after", s.fail_after >= 1),
        ("stall_timeout", s.stall_timeout > 0),
        ("queue", s.queue >= 1),
        ("drain_timeout", s.drain_timeout >= 0),
        ("threads", s.threads >= 0),
    ]
    for key, ok in checks:
        if not ok:
            raise ConfigError(file, f"serve.{key}", f"out of range, got {getattr(s, key)!r}")
    if s.health:
        host, _, port = s.health.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ConfigError(file, "serve.health", f"must be host:port (e.g. 127.0.0.1:8089), got {s.health!r}")


def _cameras(file: Path, items: Any) -> list[CameraConfig]:
    if not isinstance(items, list) or not items:
        raise ConfigError(file, "cameras", "needs at least one [[cameras]] table")
    cams, seen = [], set()
    for i, item in enumerate(items):
        where = f"cameras[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(file, where, "must be a table")
        cam = _typed(file, f"{where}.", item, CameraConfig)
        given = [k for k in ("url", "device", "file") if k in item]
        if len(given) != 1:
            raise ConfigError(file, where, f"needs exactly one of url, device, file (got {', '.join(given) or 'none'})")
        if cam.file:
            cam.file = str((file.parent / Path(cam.file).expanduser()).resolve())
            if not Path(cam.file).is_file():
                raise ConfigError(file, f"{where}.file", f"no such video file: {cam.file}")
        if "device" in item and cam.device < 0:
            raise ConfigError(file, f"{where}.device", f"must be >= 0, got {cam.device}")
        cam.name = cam.name or f"camera{i}"
        if not all(c.isalnum() or c in "-_." for c in cam.name):
            raise ConfigError(file, f"{where}.name", f"use letters, digits, '-', '_' or '.', got {cam.name!r}")
        if cam.name in seen:
            raise ConfigError(file, f"{where}.name", f"{cam.name!r} is used twice")
        if cam.threshold < 0:
            raise ConfigError(file, f"{where}.threshold", f"must be >= 0, got {cam.threshold}")
        if cam.refit_frames < -1:
            raise ConfigError(
                file, f"{where}.refit_frames", f"must be >= 0 (-1: [detect] refit_frames), got {cam.refit_frames}"
            )
        if cam.threshold and cam.refit_frames > 0:
            raise ConfigError(
                file,
                f"{where}.refit_frames",
                "cannot be used with an absolute threshold (the re-fit "
                "sets this camera's threshold); remove one of the two",
            )
        if cam.calibration:
            cam.calibration = str((file.parent / Path(cam.calibration).expanduser()).resolve())
        seen.add(cam.name)
        cams.append(cam)
    return cams


def _sinks(file: Path, table: Any, registry: Registry) -> list[SinkConfig]:
    if table is None:
        return [SinkConfig("jsonl", "jsonl", {})]
    if not isinstance(table, dict):
        raise ConfigError(file, "sinks", "must be a table of [sinks.<id>] tables")
    out = []
    for sid, opts in table.items():
        if not isinstance(opts, dict) or not isinstance(opts.get("type"), str):
            raise ConfigError(
                file,
                f"sinks.{sid}.type",
                "every [sinks.<id>] needs type = \"jsonl\" | \"webhook\" | \"mqtt\" | a plugin's sink",
            )
        options = {k: v for k, v in opts.items() if k != "type"}
        try:
            cls = registry.get("sink", opts["type"]).load()
        except RegistryError as exc:
            raise ConfigError(file, f"sinks.{sid}.type", str(exc).splitlines()[0]) from None
        params = inspect.signature(cls).parameters
        allowed = [n for n in params if n not in ("self", "state_dir", "instance")]
        for k in options:
            if k not in allowed:
                close = difflib.get_close_matches(k, allowed, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise ConfigError(
                    file,
                    f"sinks.{sid}.{k}",
                    f"unknown option of sink '{opts['type']}'.{hint} Options: {', '.join(allowed)}",
                )
        out.append(SinkConfig(str(sid), opts["type"], options))
    return out


def load_config(path: Path | str, registry: Registry) -> ServeConfig:
    """The checked config in ``path``; raises :class:`ConfigError` naming the key."""
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(file, "-", "no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, "-", f"not valid TOML ({exc})") from None
    top = {"run", "serve", "cameras", "sinks", "detect"}
    for k in data:
        if k not in top:
            raise ConfigError(file, k, f"unknown key. Keys: {', '.join(sorted(top))}")
    if not isinstance(data.get("run"), str):
        raise ConfigError(file, "run", "needs the trained run folder, e.g. run = \"runs/ped2-cpu\"")
    run = (file.parent / Path(data["run"]).expanduser()).resolve()
    if not (run / "recipe.toml").is_file():
        raise ConfigError(file, "run", f"{run} is not a run folder (no recipe.toml); train one with `vadkit train`")
    settings = _typed(file, "serve.", data.get("serve", {}), ServeSettings)
    _check_settings(file, settings)
    detect = data.get("detect", {})
    if not isinstance(detect, dict):
        raise ConfigError(file, "detect", "must be a table of [detect] keys (docs/detect.md)")
    smoothing = _check_detect(file, run, detect)
    cameras = _cameras(file, data.get("cameras"))
    _check_calibrations(file, run, cameras, smoothing)
    return ServeConfig(file, run, settings, cameras, _sinks(file, data.get("sinks"), registry), detect)


def _check_calibrations(file: Path, run: Path, cameras: list[CameraConfig], smoothing: int) -> None:
    """Each camera's calibration file is one of this run's checkpoint; refit_frames exceeds smoothing."""
    for i, cam in enumerate(cameras):
        if cam.calibration:
            read_camera_file(file, f"cameras[{i}].calibration", Path(cam.calibration), run)
    for i, cam in enumerate(cameras):
        check_refit(file, f"cameras[{i}].refit_frames", cam.refit_frames, smoothing)


@functools.lru_cache(maxsize=4)
def _digest(checkpoint: Path, mtime_ns: int) -> str:
    """The checkpoint's SHA-256, once per file version (every camera's calibration is checked against it)."""
    from ..detect.calibration import checkpoint_digest

    return checkpoint_digest(checkpoint)


def read_camera_file(file: Path, key: str, path: Path, run: Path) -> dict[str, Any]:
    """Config time: ``path`` is a calibration (JSON of the right shape and version) written for
    the checkpoint of ``run``; else :class:`ConfigError` naming ``key``."""
    from ..detect.calibration import VERSION
    from ..run_folder import RunFolder
    from ..run_schema import CALIBRATION, RunFileError, read_json

    if not path.is_file():
        raise ConfigError(
            file,
            key,
            f"no such calibration file: {path} (write one with `vadkit calibrate --run {run} "
            f"--data <this camera's normal footage> --out {path}`)",
        )
    try:
        cal = read_json(path, CALIBRATION)
    except RunFileError as exc:
        raise ConfigError(file, key, f"not a calibration: {exc}") from None
    if cal.get("version") != VERSION or not isinstance(cal.get("state"), dict):
        raise ConfigError(
            file,
            key,
            f"{path}: calibration format {cal.get('version')!r} is not {VERSION} (another "
            "vadkit version); calibrate this camera again",
        )
    checkpoint = RunFolder(run).checkpoint
    recorded = cal.get("checkpoint_sha256")
    if recorded is None:
        same = Path(str(cal.get("run", ""))).resolve() == run.resolve()
        why = "it records no checkpoint digest and names another run"
    else:
        same = checkpoint.is_file() and recorded == _digest(checkpoint, checkpoint.stat().st_mtime_ns)
        why = "its checkpoint_sha256 is not the run's checkpoint"
    if not same:
        raise ConfigError(
            file,
            key,
            f"{path} is a calibration of {cal.get('run')!r} (epoch "
            f"{cal.get('checkpoint_epoch')}), not of the run {run}: {why}; calibrate this "
            f"camera with `vadkit calibrate --run {run} --data <its footage> --out {path}`",
        )
    return cal


def check_refit(file: Path, key: str, frames: int, smoothing: int) -> None:
    if frames > 0 and frames <= smoothing:
        raise ConfigError(file, key, f"must be 0 (off) or more than smoothing ({smoothing}), got {frames}")


def _check_detect(file: Path, run: Path, detect: dict[str, Any]) -> int:
    """The run's recipe (key ``run``) with the ``[detect]`` keys applied (key ``detect``), checked by
    the rules of ``vadkit.config``, without loading the model; the smoothing that results."""
    from ..config import DetectConfig, read_config
    from ..recipe import load_recipe

    _typed(file, "detect.", detect, DetectConfig)  # unknown keys and wrong types name the key
    try:
        config = read_config(load_recipe(run / "recipe.toml"))
    except RecipeError as exc:
        raise ConfigError(file, "run", f"the run's recipe.toml is not valid: {exc}") from None
    try:
        return config.replace({f"detect.{k}": v for k, v in detect.items()}, str(file)).detect.smoothing
    except RecipeError as exc:
        raise ConfigError(file, "detect", str(exc)) from None


__all__ = [
    "CameraConfig",
    "ConfigError",
    "ServeConfig",
    "ServeSettings",
    "SinkConfig",
    "load_config",
    "read_camera_file",
]
