"""Signals (issue 20, item 7): ``vadkit train``, ``detect`` and ``eval`` install their own SIGINT
and SIGTERM handlers whatever the inherited disposition, finish the step under way, leave a whole
checkpoint or closed outputs that say they are incomplete, and exit 130 / 143 with a hint.

Every child starts with SIGINT *ignored*, as a background job of a non-interactive shell does
(``bash -c '... &'``), so these tests pass however the suite itself was started. Each wait is
bounded; the signal goes out only after a real sign of progress (a log line, scored rows, the
progress bar past 0 %).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_bad_input import make_dataset, tiny_recipe, write_frames

from vadkit import default_registry, stop_signals
from vadkit.checkpoint import load_checkpoint
from vadkit.cli import main
from vadkit.recipe import dumps_toml, recipe_from_dict

REPO = Path(__file__).resolve().parents[1]
SIGNALS = [signal.SIGINT, signal.SIGTERM]
IDS = ["sigint", "sigterm"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


# -- the module, in-process ------------------------------------------------------------------


def in_a_fresh_process(name: str) -> bool:
    """Run test ``name`` of this module in a fresh interpreter instead (True: done there). These
    tests signal their own process; on an AMX Xeon a signal to a process that had timed OpenVINO in
    bf16 (`--backend auto`, earlier in the suite) ended it with SIGSEGV (docs/performance.md)."""
    if os.environ.get("VADKIT_TEST_CHILD") == name:
        return False
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{__file__}::{name}"],
                          env={**os.environ, "VADKIT_TEST_CHILD": name}, cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return True


def test_first_signal_waits_for_the_stop_point_a_second_stops_at_once() -> None:
    if in_a_fresh_process("test_first_signal_waits_for_the_stop_point_a_second_stops_at_once"):
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a background job inherits it
    try:
        with stop_signals.StopSignals() as stops:
            assert signal.getsignal(signal.SIGINT) not in (signal.SIG_IGN, signal.SIG_DFL)
            steps = []
            with pytest.raises(stop_signals.Stopped) as info:
                with stop_signals.deferred():
                    for step in range(5):
                        if step == 1:
                            os.kill(os.getpid(), signal.SIGTERM)  # arrives mid-step
                        steps.append(step)  # ... which still finishes
                        stop_signals.stop_point()
            assert steps == [0, 1] and info.value.exit_status == 143 and stops.signum == signal.SIGTERM
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # the inherited disposition is back
        with stop_signals.StopSignals(), pytest.raises(stop_signals.Stopped) as info:
            with stop_signals.deferred():
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)  # the second one does not wait
                time.sleep(5)
                pytest.fail("a second signal should stop at once")
        assert info.value.exit_status == 130
    finally:
        signal.signal(signal.SIGINT, before)


def test_outside_a_deferred_block_a_signal_stops_at_once_and_a_handled_stop_is_not_raised_twice() -> None:
    if in_a_fresh_process("test_outside_a_deferred_block_a_signal_stops_at_once_and_a_handled_stop_is_not_raised_twice"):
        return
    with stop_signals.StopSignals(), pytest.raises(stop_signals.Stopped):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    with stop_signals.StopSignals() as stops:
        with stop_signals.deferred():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                stop_signals.stop_point()
            except KeyboardInterrupt as exc:  # code that already cleans up after Ctrl-C does so for SIGTERM
                assert stop_signals.reason(exc) == "interrupted by SIGTERM"
        assert stops.requested and stop_signals.exit_status() == 143  # handled inside: not raised again


def test_without_stop_signals_or_off_the_main_thread_nothing_changes() -> None:
    handler = signal.getsignal(signal.SIGTERM)
    with stop_signals.deferred():
        stop_signals.stop_point()  # no active StopSignals: a no-op
    errors: list[BaseException] = []

    def off_main() -> None:
        try:
            with stop_signals.StopSignals():
                stop_signals.stop_point()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=off_main)
    thread.start()
    thread.join(10)
    assert not errors and signal.getsignal(signal.SIGTERM) == handler


# -- commands in a child that inherited SIGINT ignored -----------------------------------------


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start(args: list[str], folder: Path, **env: str) -> tuple[subprocess.Popen, Path, Path]:
    """``python -m vadkit ARGS`` with SIGINT ignored, output to files (a pipe could fill and block it)."""
    out, err = folder / "child.out", folder / "child.err"
    environ = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "400", "NO_COLOR": "1", **env}
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vadkit", *args],
            cwd=REPO,
            env=environ,
            stdout=o,
            stderr=e,
            preexec_fn=_ignore_sigint,
            start_new_session=True,
        )
    return proc, out, err


def _signal_when(proc: subprocess.Popen, ready: Callable[[], bool], sig: int, what: str, timeout: float = 90) -> None:
    """Send ``sig`` once ``ready()`` (polled, at most ``timeout`` s); fail if the child ended first."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.kill()
            pytest.fail(f"no sign of {what} within {timeout} s (exit {proc.poll()})")
        time.sleep(0.05)
    proc.send_signal(sig)


def _finish(proc: subprocess.Popen, err: Path, timeout: float = 60) -> str:
    """The child's exit after the signal (bounded); its stderr as one line."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"the child did not stop within {timeout} s of the signal")
    return " ".join(err.read_text().split())


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize("sig", SIGNALS, ids=IDS)
def test_train_stops_after_the_step_with_a_whole_checkpoint_and_resumes(tmp_path: Path, sig: int) -> None:
    data = make_dataset(tmp_path / "data", frames=24)
    recipe = tmp_path / "long.toml"
    recipe.write_text(dumps_toml(tiny_recipe(epochs=500, steps=3)))
    out = tmp_path / "run"
    proc, _, err = _start(["train", "--recipe", str(recipe), "--data", str(data), "--out", str(out)], tmp_path)
    _signal_when(
        proc, lambda: any('"epoch": 2, "step": 1,' in x for x in _lines(out / "log.jsonl")), sig, "a step of epoch 2"
    )
    text = _finish(proc, err)
    assert proc.returncode == 128 + sig, text
    assert f"interrupted ({signal.Signals(sig).name})" in text and "Traceback" not in text, text
    ckpt = load_checkpoint(out / "checkpoints" / "last.pt")  # whole, loadable: the last finished epoch
    done = int(ckpt["epoch"]) + 1
    assert 1 <= done < 500 and not list((out / "checkpoints").glob(".*.tmp"))
    records = [json.loads(x) for x in _lines(out / "log.jsonl")]  # every line whole
    # the last thing logged is a finished step, or the end of a finished epoch when the signal came
    # while its checkpoint was written (3 steps an epoch: on a fast CPU the signal can land there)
    assert records[-1].get("step") is not None or records[-1].get("epoch_end") is True, records[-1]
    assert json.loads((out / "run.json").read_text()).get("epochs_completed") is None  # not claimed complete
    hint = re.search(r"continue with: (vadkit train .*? --resume)", text)
    assert hint is not None, text
    resume = shlex.split(hint.group(1))[1:] + ["--set", f"train.epochs={done + 1}"]
    assert main(resume) == 0
    assert int(load_checkpoint(out / "checkpoints" / "last.pt")["epoch"]) == done
    assert any(json.loads(x).get("resumed_after_epoch") == done for x in _lines(out / "log.jsonl"))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained and calibrated tiny run."""
    from vadkit.detect import calibrate
    from vadkit.training.trainer import train

    root = tmp_path_factory.mktemp("signals-run")
    data = make_dataset(root / "data")
    registry = default_registry()
    train(recipe_from_dict(tiny_recipe(), "tiny.toml"), data, root / "run", registry)
    calibrate(root / "run", registry)
    return root / "run"


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3000 frames: tens of seconds of detection on this machine, so a signal lands mid-way."""
    path = tmp_path_factory.mktemp("signals-video") / "long.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 32))
    for k in range(3000):
        img = np.full((32, 32, 3), 100, np.uint8)
        img[10:18, (3 * k) % 24 : (3 * k) % 24 + 6] = 30
        writer.write(img)
    writer.release()
    return path


@pytest.mark.parametrize("sig", SIGNALS, ids=IDS)
def test_detect_closes_its_outputs_marked_interrupted(
    run_dir: Path, long_video: Path, tmp_path: Path, sig: int
) -> None:
    out = tmp_path / "det"
    proc, stdout, err = _start(
        ["detect", str(long_video), "--run", str(run_dir), "--out", str(out), "--no-video"], tmp_path
    )
    _signal_when(proc, lambda: len(_lines(out / "scores.csv")) > 4, sig, "scored frames")
    text = _finish(proc, err)
    assert proc.returncode == 128 + sig, text + stdout.read_text()
    assert f"interrupted by {signal.Signals(sig).name}" in text and "run the same command again" in text, text
    assert "Traceback" not in text
    status = json.loads((out / "events.json").read_text())
    assert status["status"] == "interrupted" and status["message"] == f"interrupted by {signal.Signals(sig).name}"
    rows = _lines(out / "scores.csv")
    assert status["frames_scored"] == len(rows) - 1 < 2996  # closed: every scored frame written, no more
    assert len({len(r.split(",")) for r in rows}) == 1 and "offline_minmax_score" not in rows[0]


def _eval_progress(stdout: Path) -> bool:
    """The live progress bar (TTY_INTERACTIVE) shows scoring past 0 %."""
    text = ANSI.sub("", stdout.read_text(errors="replace")) if stdout.exists() else ""
    return any(0 < int(p) < 100 for p in re.findall(r"scoring\W*?(?:\S+\s+)?(\d+)%", text))


@pytest.mark.parametrize("sig", SIGNALS, ids=IDS)
def test_eval_stops_without_touching_the_previous_results(run_dir: Path, tmp_path: Path, sig: int) -> None:
    data = tmp_path / "data"
    make_dataset(data)
    write_frames(data / "testing" / "frames" / "01", 1200)  # a long test video
    metrics = run_dir / "metrics.json"
    before = metrics.read_bytes() if metrics.exists() else None
    proc, stdout, err = _start(
        ["eval", "--run", str(run_dir), "--data", str(data)], tmp_path, TTY_INTERACTIVE="1", TTY_COMPATIBLE="1"
    )
    _signal_when(proc, lambda: _eval_progress(stdout), sig, "scoring progress")
    text = _finish(proc, err)
    assert proc.returncode == 128 + sig, text
    assert f"interrupted ({signal.Signals(sig).name})" in text and "Traceback" not in text, text
    assert f"run it again with: vadkit eval --run {run_dir} --data {data}" in text, text
    assert (metrics.read_bytes() if metrics.exists() else None) == before  # an earlier evaluation's, untouched
    assert not [p for p in run_dir.rglob(".*.tmp")]  # no staged picture left behind
