"""Crash consistency under faults (issue 25): processes killed at named points
(``VADKIT_FAULT``, vadkit/faults.py), Ctrl-C and kill -9 during a parallel cache fill, two
writers on one folder, a full disk (a file-size limit: real EFBIG from the kernel), bit-rot in
cache entries and exported graphs, and a stalled HTTP stream from a real server on 127.0.0.1.

Every subprocess is bounded in time and killed at the end; signals are sent to children that
set their own SIGINT handler, so nothing depends on the disposition pytest inherited.
"""

from __future__ import annotations

import http.server
import json
import os
import resource
import signal
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_bad_input import make_dataset, tiny_recipe, write_frames

from vadkit import default_registry
from vadkit.cli import main
from vadkit.recipe import dumps_toml, recipe_from_dict

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "400"}


def vadkit(*args: object, fault: str | None = None, limit: int | None = None,
           timeout: float = 180) -> subprocess.CompletedProcess:
    """``python -m vadkit args`` in a new session (killed with its group if it outlives ``timeout``);
    ``fault``: VADKIT_FAULT; ``limit``: a file-size limit in bytes (writes past it fail with EFBIG)."""
    env = {**ENV, **({"VADKIT_FAULT": fault} if fault else {})}

    def limited() -> None:
        if limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.Popen([sys.executable, "-m", "vadkit", *map(str, args)], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=limited)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        _kill_group(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, " ".join(out.split()), " ".join(err.split()))


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(timeout=30)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie nobody reaped is not running)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _descendants(pid: int) -> set[int]:
    out: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            todo += [k for k in kids if k not in out]
            out.update(kids)
    return out


def _wait_for(cond, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny trained and calibrated single-stream run."""
    from vadkit.detect import calibrate
    from vadkit.training.trainer import train

    root = tmp_path_factory.mktemp("faults-run")
    data = make_dataset(root / "data", frames=40)
    registry = default_registry()
    train(recipe_from_dict(tiny_recipe(), "tiny.toml"), data, root / "run", registry)
    calibrate(root / "run", registry)
    return root / "run"


# -- 1. bit-rot in cache entries -----------------------------------------------------------------


def test_bit_rot_in_cache_entries_is_detected_and_recomputed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from vadkit.data import open_dataset
    from vadkit.data.frame_cache import FrameCache
    from vadkit.data.synth import generate

    data = generate(tmp_path / "data", seed=3, train_videos=1, test_videos=1, frames=20, size=32, object_size=8)
    cache = tmp_path / "cache"
    flow = ["flow", "--data", data, "--cache", cache, "--set", "model.resolution=[32, 32]", "--workers", "1"]
    assert main([str(a) for a in flow]) == 0
    entry = next(cache.glob("*.npy"))
    good = entry.read_bytes()
    rotten = bytearray(good)
    rotten[-4096:-4096 + 64] = b"\xff" * 64  # float16 0xffff is NaN: what bit-rot let through before
    entry.write_bytes(bytes(rotten))
    capsys.readouterr()
    assert main([str(a) for a in flow]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "checksum mismatch" in err and entry.name in err and "recomputing" in err
    assert entry.read_bytes() == good and np.isfinite(np.load(entry)).all()

    video = open_dataset(data, default_registry()).videos("training")[0]
    frames = FrameCache(tmp_path / "cache" / "frames")
    before = np.array(frames.ensure(video, (32, 32), 3))
    path = frames.path(video, (32, 32), 3)
    with path.open("r+b") as fh:
        fh.seek(-100, os.SEEK_END)
        fh.write(b"\x00" * 50)
    assert np.array_equal(np.array(FrameCache(path.parent).ensure(video, (32, 32), 3)), before)
    assert "checksum mismatch" in capsys.readouterr().err


# -- 2. worker lifecycle of the parallel fill ----------------------------------------------------

FILL = """
import signal, sys, time
from pathlib import Path
signal.signal(signal.SIGINT, signal.default_int_handler)  # whatever the parent's disposition was
from vadkit.data.cache_workers import fill_entries
from faultjobs import touch_and_sleep

class V:
    num_frames = 1

if __name__ == "__main__":
    try:
        fill_entries([V() for _ in range(6)], 2, serial=None, job=touch_and_sleep,
                     job_args=lambda v: (sys.argv[1], 60), advance=lambda n: None)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
"""
JOBS = """
import os, time
from pathlib import Path

def touch_and_sleep(folder, seconds):
    Path(folder, str(os.getpid())).touch()
    time.sleep(seconds)
"""


def _start_fill(tmp_path: Path) -> tuple[subprocess.Popen, set[int]]:
    """A parent filling 6 entries with 2 workers, each stuck in a 60 s job; (parent, its children)."""
    (tmp_path / "faultjobs.py").write_text(JOBS)
    (tmp_path / "fill.py").write_text(FILL)
    started = tmp_path / "started"
    started.mkdir()
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    proc = subprocess.Popen([sys.executable, str(tmp_path / "fill.py"), str(started)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    if not _wait_for(lambda: len(list(started.iterdir())) >= 2, 60):
        _kill_group(proc)
        pytest.fail("the fill workers did not start within 60 s")
    return proc, _descendants(proc.pid)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_cache_workers_and_resource_tracker_die_with_a_killed_parent(tmp_path: Path, sig: int) -> None:
    proc, children = _start_fill(tmp_path)
    try:
        assert len(children) >= 2  # two workers (+ multiprocessing's resource tracker)
        proc.send_signal(sig)  # kill -9: no cleanup code runs in the parent; SIGTERM: ends it at once too
        proc.wait(timeout=30)
        assert _wait_for(lambda: not any(_alive(p) for p in children), 20), \
            [Path(f"/proc/{p}/cmdline").read_bytes() for p in children if _alive(p)]
    finally:
        for p in children:
            if _alive(p):
                os.kill(p, signal.SIGKILL)
        _kill_group(proc)


@pytest.mark.parametrize("group", [True, False], ids=["ctrl-c-to-the-group", "sigint-to-the-parent"])
def test_sigint_cancels_the_queued_fill_without_worker_tracebacks(tmp_path: Path, group: bool) -> None:
    proc, children = _start_fill(tmp_path)
    try:
        if group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)  # the 6 queued 60 s jobs are cancelled, not waited for
        assert proc.returncode == 130 and "interrupted" in out, err
        assert "Traceback" not in err, err
        assert _wait_for(lambda: not any(_alive(p) for p in children), 20)
    finally:
        for p in children:
            if _alive(p):
                os.kill(p, signal.SIGKILL)
        _kill_group(proc)


@pytest.mark.slow  # two `vadkit flow` runs with spawned workers: --run-slow
def test_a_fill_worker_killed_mid_entry_is_one_line_and_the_next_fill_completes(tmp_path: Path) -> None:
    from vadkit.data.synth import generate

    data = generate(tmp_path / "data", seed=3, train_videos=1, test_videos=1, frames=20, size=32, object_size=8)
    cache = tmp_path / "cache"
    flow = ["flow", "--data", data, "--cache", cache, "--set", "model.resolution=[32, 32]", "--workers", "2"]
    killed = vadkit(*flow, fault="cache-fill@3")  # a worker dies inside an entry (as under the OOM killer)
    assert killed.returncode == 2 and "a cache worker died" in killed.stderr, killed.stderr
    assert "Traceback" not in killed.stderr and not list(cache.glob("*.npy"))
    assert main([str(a) for a in flow]) == 0
    assert len(list(cache.glob("*.npy"))) == 2 and not list(cache.glob(".*.tmp"))  # its temp files cleaned


# -- 3./4. outputs that are always true: detect status, a re-run, export --------------------------


def test_detect_killed_mid_way_says_running_and_a_rerun_replaces_it(run_dir: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    src = write_frames(tmp_path / "clip", 30)
    out = tmp_path / "det"
    args = ["detect", src, "--run", run_dir, "--out", out]
    assert main([str(a) for a in args]) == 0
    assert json.loads((out / "events.json").read_text())["status"] == "complete"
    assert (out / "score_curve.png").is_file() and (out / "overlay.avi").is_file()

    killed = vadkit(*args, "--no-video", fault="detect-events")  # killed after the first scored frames
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    status = json.loads((out / "events.json").read_text())
    assert status["status"] == "running" and not _alive(status["pid"])  # true: a dead PID, no "complete"
    assert not (out / "score_curve.png").exists() and not (out / "overlay.avi").exists()  # the old run's, retired

    capsys.readouterr()
    assert main([str(a) for a in [*args, "--no-video"]]) == 0
    again = " ".join(capsys.readouterr().out.split())
    assert "replacing the outputs of an earlier detection" in again and "was killed" in again
    final = json.loads((out / "events.json").read_text())
    assert final["status"] == "complete" and final["frames_scored"] > 0
    assert "overlay.avi" not in final["files"] and not (out / "overlay.avi").exists()


@pytest.mark.slow  # several trainings / exports in subprocesses: --run-slow
def test_export_killed_mid_way_keeps_the_previous_export(run_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnx", reason="the onnx extra is not installed")
    from vadkit.export.folder import problem
    from vadkit.export.manifest import file_digest

    out = tmp_path / "exported"
    assert main(["export", "--run", str(run_dir), "--out", str(out)]) == 0
    manifest = (out / "manifest.json").read_bytes()
    killed = vadkit("export", "--run", run_dir, "--out", out, fault="export-graph")
    assert killed.returncode == -signal.SIGKILL
    assert (out / "manifest.json").read_bytes() == manifest and problem(out) is None  # the old export, whole
    assert [p.name for p in tmp_path.glob(".exported.*.tmp")]  # the killed writer's temporary folder
    assert main(["export", "--run", str(run_dir), "--out", str(out)]) == 0
    assert not list(tmp_path.glob(".exported.*.tmp"))  # cleaned by the next export
    saved = json.loads((out / "manifest.json").read_text())
    assert saved["model_sha256"] == file_digest(out / "model.onnx")
    assert saved["checkpoint"]["sha256"] == file_digest(run_dir / "checkpoints" / "last.pt")


def test_damaged_or_stale_cached_export_is_rebuilt_once(run_dir: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    src = write_frames(tmp_path / "clip", 12)
    args = ["detect", str(src), "--run", str(run_dir), "--no-video", "--backend", "onnxruntime"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    graph = run_dir / "export" / "onnx" / "model.onnx"
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])  # bit-rot / a torn copy
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "rebuilding the cached export" in out and "damaged" in out
    manifest = run_dir / "export" / "onnx" / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "recipe_sha256": "0" * 64}))  # made from another recipe
    assert main([*args, "--out", str(tmp_path / "c")]) == 0
    assert "another recipe" in " ".join(capsys.readouterr().out.split())
    choice = run_dir / "export" / "auto.json"
    choice.write_text("[1, 2]")  # valid JSON, not an object
    assert main([*args[:-1], "auto", "--out", str(tmp_path / "d")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "not an object" in out and "Traceback" not in out


# -- 5. two writers, one folder ------------------------------------------------------------------


HOLD = """
import sys, time
from pathlib import Path
from vadkit.folder_lock import acquire
for folder, what in zip(sys.argv[1::2], sys.argv[2::2]):
    acquire(Path(folder), what)
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_writer_is_refused_with_the_holders_pid(run_dir: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    data = make_dataset(tmp_path / "data", frames=24)
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(dumps_toml(tiny_recipe()))
    run, det = tmp_path / "run", tmp_path / "det"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run), "train", str(det), "detect"], cwd=REPO, env=ENV,
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        capsys.readouterr()
        assert main(["train", "--recipe", str(recipe), "--data", str(data), "--out", str(run)]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert f"in use by pid {holder.pid}" in err and "vadkit train" in err and "Traceback" not in err
        assert not (run / "recipe.toml").exists()  # nothing of the second writer's
        src = write_frames(tmp_path / "clip", 8)
        assert main(["detect", str(src), "--run", str(run_dir), "--out", str(det), "--no-video"]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert f"in use by pid {holder.pid}" in err and "vadkit detect" in err
        assert not (det / "scores.csv").exists()
    finally:
        _kill_group(holder)
    from vadkit.folder_lock import is_locked

    assert not is_locked(run) and not is_locked(det)  # the kernel released them with the holder: no stale lock


# -- 6. disk full --------------------------------------------------------------------------------


def test_disk_full_during_a_checkpoint_write_is_one_line(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", frames=24)
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(dumps_toml(tiny_recipe()))
    out = tmp_path / "run"
    result = vadkit("train", "--recipe", recipe, "--data", data, "--out", out, limit=300_000)
    assert result.returncode == 2, result.stderr
    assert f"{out / 'checkpoints' / 'last.pt'}: file too large" in result.stderr and "MiB free" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((out / "checkpoints").iterdir())  # no partial checkpoint, no temporary file


@pytest.mark.slow  # several trainings / exports in subprocesses: --run-slow
def test_disk_full_during_an_export_leaves_no_temporary_file(run_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnx", reason="the onnx extra is not installed")
    out = tmp_path / "exported"
    result = vadkit("export", "--run", run_dir, "--out", out, limit=65_536)
    assert result.returncode == 2 and f"{out / 'model.onnx'}: file too large" in result.stderr, result.stderr
    assert not out.exists() and not list(tmp_path.glob(".exported.*.tmp"))


# -- 7. a stalled HTTP stream --------------------------------------------------------------------


def test_stalled_http_stream_is_a_stall(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import cv2

    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 32))
    for k in range(60):
        writer.write(np.full((32, 32, 3), 4 * k, np.uint8))
    writer.release()
    body, release = video.read_bytes(), threading.Event()

    class Stalling(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # half the file, then the connection stays open and silent
            self.send_response(200)
            self.send_header("Content-Type", "video/x-msvideo")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            release.wait(60)

        def log_message(self, *args: object) -> None:
            pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Stalling)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/clip.avi"
        code = main(["detect", url, "--run", str(run_dir), "--out", str(tmp_path / "det"), "--no-video",
                     "--stall-timeout", "1"])
        text = " ".join(capsys.readouterr().out.split())
        assert code == 2 and "stream stalled" in text, text
        assert json.loads((tmp_path / "det" / "events.json").read_text())["status"] == "error"
    finally:
        release.set()
        server.shutdown()
        server.server_close()


# -- 8. killed inside and right after the checkpoint write ---------------------------------------


@pytest.mark.slow  # several trainings / exports in subprocesses: --run-slow
def test_checkpoint_faults_lose_at_most_the_epoch_and_keep_the_log(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", frames=40)
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(dumps_toml(tiny_recipe(epochs=2)))
    out = tmp_path / "run"
    train = ["train", "--recipe", recipe, "--data", data, "--out", out]
    inside = vadkit(*train, fault="checkpoint-write")  # temp file complete, not renamed
    assert inside.returncode == -signal.SIGKILL
    assert not (out / "checkpoints" / "last.pt").exists() and list((out / "checkpoints").glob(".*.tmp"))

    after = vadkit(*train, fault="checkpoint-renamed@2")  # epoch 2 renamed, its log line never written
    assert after.returncode == -signal.SIGKILL
    assert not list((out / "checkpoints").glob(".*.tmp"))  # the first kill's temp file, cleaned
    from vadkit.checkpoint import load_checkpoint

    assert int(load_checkpoint(out / "checkpoints" / "last.pt")["epoch"]) == 1
    def ends():
        return [r["epoch"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines())
                        if r.get("epoch_end")]
    assert ends() == [1]

    recipe.write_text(dumps_toml(tiny_recipe(epochs=3)))
    assert main([str(a) for a in [*train, "--resume"]]) == 0
    assert ends() == [1, 2, 3]  # epoch 2's record restored from the checkpoint, each epoch once
