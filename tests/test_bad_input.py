"""Bad input, everywhere (issue 13): every mistake a user can make ends in a clear message that
says what and where, a non-zero exit and no traceback; Ctrl-C leaves a resumable run; temporary
files of killed processes are cleaned on the next run.

One tiny single-stream run (no optical flow, 32x32, two steps) is trained once for the tests
that need a run; most commands run in-process through ``vadkit.cli.main``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from vadkit import default_registry
from vadkit.checkpoint import load_checkpoint
from vadkit.cli import main
from vadkit.errors import ResourceError
from vadkit.recipe import dumps_toml, recipe_from_dict

REPO = Path(__file__).resolve().parents[1]
T = 4


def tiny_recipe(epochs: int = 1, steps: int = 2) -> dict:
    """A single-stream model (no flow to compute), small enough to train in a second."""
    return {
        "model": {"frames": T, "resolution": [32, 32],
                  "appearance": {"type": "conv_encoder", "widths": [8, 16, 32, 64]},
                  "motion": {"type": "none"}, "attention": {"type": "none"}, "fusion": {"type": "none"},
                  "memory": {"type": "memory_bank", "slots": 4}, "decoder": {"type": "unet_decoder"}},
        "score": {"type": "regularity", "tau": 0.7},
        "train": {"epochs": epochs, "batch_size": 2, "lr": 1e-3, "threads": 1, "device": "cpu",
                  "max_steps_per_epoch": steps},
    }


def write_frames(folder: Path, n: int, size: tuple[int, int] = (32, 32), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        img = np.full((*size, 3), 100, np.uint8)
        x = (3 * k) % (size[1] - 8)
        img[10:18, x : x + 6] = 30 + rng.integers(0, 10)
        cv2.imwrite(str(folder / f"{k:03d}.png"), img)
    return folder


def make_dataset(root: Path, frames: int = 16) -> Path:
    for split, n in (("training", 2), ("testing", 1)):
        for v in range(n):
            write_frames(root / split / "frames" / f"{v + 1:02d}", frames, seed=v)
    return root


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained and calibrated tiny run (a few seconds on one core)."""
    from vadkit.detect import calibrate
    from vadkit.training.trainer import train

    root = tmp_path_factory.mktemp("bad-input-run")
    data = make_dataset(root / "data")
    registry = default_registry()
    train(recipe_from_dict(tiny_recipe(), "tiny.toml"), data, root / "run", registry)
    calibrate(root / "run", registry)
    return root / "run"


@pytest.fixture()
def recipe_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(dumps_toml(tiny_recipe()))
    return path


def cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    """Run ``vadkit argv`` in-process: (exit code, stdout, stderr), whitespace folded (rich wraps)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, " ".join(out.split()), " ".join(err.split())


def failed(code: int, out: str, err: str, *needles: str) -> None:
    """A clear failure: non-zero exit, every needle in the output, no traceback."""
    text = f"{out} {err}"
    assert code != 0, text
    assert "Traceback" not in text, text
    for needle in needles:
        assert needle in text, f"{needle!r} not in {text!r}"


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")


# -- recipes ------------------------------------------------------------------------------


def test_recipe_that_is_not_utf8_text(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.toml"
    bad.write_bytes("# r\xe9glages\n[train]\nepochs = 1\n".encode("latin-1"))
    proc = subprocess.run([sys.executable, "-m", "vadkit", "build", "--recipe", str(bad)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    failed(proc.returncode, proc.stdout, proc.stderr, "not UTF-8", "latin1.toml", "offset 3")


@pytest.mark.parametrize(("override", "needles"), [
    ("flow.type=nope", ("flow.type", "no flow named 'nope'", "dis")),
    ("flow.type=farnebak", ("Did you mean 'farneback'",)),
    ("flow.presett=fast", ("flow.presett", "Did you mean 'preset'",)),
    ("data.type=frmes", ("data.type", "Did you mean 'frames'", "auto")),
    ("data.labelz=x", ("data.labelz", "Did you mean 'labels'",)),
    ("trian.epochs=3", ("unknown recipe section", "Did you mean 'train'",)),
    ("train.epoch=3", ("train.epoch", "Did you mean 'epochs'",)),
    ("train.epochs='many'", ("train.epochs", "must be a number",)),
    ("train.device=5", ("train.device", "must be a string",)),
    ("train.lr_schedule=linear", ("train.lr_schedule", "constant",)),
    ("detect.smoothing=0", ("detect.smoothing", "must be >= 1",)),
    ("detect.threshhold=1", ("Did you mean 'threshold'",)),
    ("eval.top_frame=3", ("Did you mean 'top_frames'",)),
    ("loss.weights=3", ("loss.weights", "table of numbers",)),
    ("score.type=regularty", ("Did you mean 'regularity'",)),
])
def test_build_validates_every_section(capsys, recipe_file: Path, override: str, needles: tuple[str, ...]) -> None:
    code, out, err = cli(capsys, "build", "--recipe", recipe_file, "--set", override)
    failed(code, out, err, *needles)


def test_extends_cycle_and_missing_recipe(capsys, tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    failed(*cli(capsys, "build", "--recipe", tmp_path / "a.toml"), "cycle", "a.toml -> ", "b.toml")
    failed(*cli(capsys, "build", "--recipe", tmp_path / "nowhere.toml"), "recipe not found", "nowhere.toml")
    (tmp_path / "c.toml").write_text('extends = "gone.toml"\n')
    failed(*cli(capsys, "build", "--recipe", tmp_path / "c.toml"), "c.toml", "extends", "gone.toml")
    (tmp_path / "d.toml").write_text("[model\nframes = 4\n")
    failed(*cli(capsys, "build", "--recipe", tmp_path / "d.toml"), "d.toml", "not valid TOML")


def test_build_accepts_the_shipped_recipes(capsys) -> None:
    for name in ("demo", "mstinet", "ped2-cpu", "recipes/ablations/B-two-streams-no-interaction.toml"):
        assert main(["build", "--recipe", name, "--set", "model.resolution=[32, 32]", "--json"]) == 0, name
        assert json.loads(capsys.readouterr().out)["memory_estimate_bytes"] > 0


# -- memory -------------------------------------------------------------------------------


def test_resolution_too_large_is_refused_with_the_estimate(capsys, recipe_file: Path) -> None:
    code, out, err = cli(capsys, "build", "--recipe", recipe_file, "--set", "model.resolution=[200000, 200000]")
    failed(code, out, err, "model.resolution", "200000x200000", "TB", "is available on cpu", "MemAvailable")


def test_absurd_widths_are_refused_before_allocating(capsys, recipe_file: Path) -> None:
    code, out, err = cli(capsys, "build", "--recipe", recipe_file,
                         "--set", "model.appearance.widths=[100000, 200000, 400000, 800000]")
    failed(code, out, err, "parameter state alone needs", "TB")


def test_training_step_that_cannot_fit_is_refused(capsys, tmp_path: Path, recipe_file: Path) -> None:
    data = make_dataset(tmp_path / "data")
    code, out, err = cli(capsys, "train", "--recipe", recipe_file, "--data", data, "--out", tmp_path / "run",
                         "--set", "model.resolution=[100000, 100000]", "--set", "train.batch_size=64")
    failed(code, out, err, "training step", "batch 64", "model.resolution")
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_estimate_scales_with_area_and_batch() -> None:
    from vadkit.memory_estimate import estimate

    reg = default_registry()
    small = estimate(recipe_from_dict(tiny_recipe()), reg, "training", batch=2)
    recipe = tiny_recipe()
    recipe["model"]["resolution"] = [128, 256]
    big = estimate(recipe_from_dict(recipe), reg, "training", batch=4)
    assert small.parameters == big.parameters > 0
    assert big.activations / small.activations == pytest.approx(32 * 2, rel=0.35)  # 32x the area, 2x the batch
    infer = estimate(recipe_from_dict(recipe), reg, "detection", batch=4)
    assert infer.total < big.total and infer.parameters * 4 == big.parameters


def test_detection_that_cannot_fit_is_refused(capsys, run_dir: Path, tmp_path: Path, monkeypatch) -> None:
    import vadkit.memory_estimate as me

    src = write_frames(tmp_path / "clip", 8)
    params = me.parameter_bytes(recipe_from_dict(tiny_recipe()), default_registry())
    monkeypatch.setattr(me, "available_bytes", lambda device: (params + 2_000_000, "a test limit"))
    assert main(["detect", str(src), "--run", str(run_dir), "--out", str(tmp_path / "ok"), "--no-video"]) == 0
    capsys.readouterr()
    code, out, err = cli(capsys, "detect", src, "--run", run_dir, "--out", tmp_path / "out", "--batch", "256")
    failed(code, out, err, "for detection at 32x32, batch 256", "a test limit", "--batch")
    monkeypatch.setattr(me, "available_bytes", lambda device: (1000, "a test limit"))
    failed(*cli(capsys, "detect", src, "--run", run_dir), "parameter state alone", "for detection")
    with pytest.raises(ResourceError):
        me.check_memory(recipe_from_dict(tiny_recipe()), default_registry(), "build")


# -- output paths -------------------------------------------------------------------------


def test_output_paths_that_exist_as_files(capsys, run_dir: Path, tmp_path: Path, recipe_file: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    src = write_frames(tmp_path / "clip", 8)
    failed(*cli(capsys, "detect", src, "--run", run_dir, "--out", blocker, "--no-video"), str(blocker), "already exists")
    data = make_dataset(tmp_path / "data")
    failed(*cli(capsys, "train", "--recipe", recipe_file, "--data", data, "--out", blocker), str(blocker), "already exists")
    failed(*cli(capsys, "synth", blocker / "sub"), "its parent", "already exists as a file")
    failed(*cli(capsys, "demo", "--out", blocker), "--out", "already exists as a file")
    failed(*cli(capsys, "eval", "--run", blocker), "--run", "is a file, not a run folder")
    failed(*cli(capsys, "calibrate", "--run", tmp_path / "missing"), "no such folder")


# -- data -----------------------------------------------------------------------------------


def test_inspect_check_fails_on_a_corrupt_frame(capsys, tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data")
    frame = root / "testing" / "frames" / "01" / "005.png"
    frame.write_bytes(frame.read_bytes()[:40])
    code, out, err = cli(capsys, "data", "inspect", root, "--check")
    failed(code, out, err, "005.png", "frame 5", "truncated", "check failed")
    assert main(["data", "inspect", str(root), "--check", "--json"]) != 0
    report = json.loads(capsys.readouterr().out)
    assert report["checked"] is False and "005.png" in report["problems"][0]
    frame.unlink()
    write_frames(tmp_path / "fresh", 16)
    shutil.copy(tmp_path / "fresh" / "005.png", frame)
    assert main(["data", "inspect", str(root), "--check"]) == 0  # repaired: the check passes


def test_inspect_check_fails_on_mixed_frame_sizes(capsys, tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data")
    write_frames(tmp_path / "odd", 1, size=(40, 48))
    shutil.copy(tmp_path / "odd" / "000.png", root / "training" / "frames" / "02" / "007.png")
    failed(*cli(capsys, "data", "inspect", root, "--check"), "frame 7", "differs")


def test_label_file_of_the_wrong_length(capsys, tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data")
    np.save(root / "frame_labels_tiny.npy", np.zeros(7, np.int64))  # the test split has 16 frames
    failed(*cli(capsys, "data", "inspect", root), "frame_labels_tiny.npy", "16")


# -- detection sources ----------------------------------------------------------------------


@pytest.mark.parametrize("frames", [1, 3])
def test_source_too_short_to_score(capsys, run_dir: Path, tmp_path: Path, frames: int) -> None:
    src = write_frames(tmp_path / "short", frames)
    if frames == 1:
        src = src / "000.png"  # a single image file
    code, out, err = cli(capsys, "detect", src, "--run", run_dir, "--out", tmp_path / "out", "--no-video")
    failed(code, out, err, "no frame scored", "needs at least 5 frames")


def test_non_video_file_given_to_detect(capsys, run_dir: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.avi"
    notes.write_text("this is not a video\n" * 50)
    failed(*cli(capsys, "detect", notes, "--run", run_dir, "--out", tmp_path / "out", "--no-video"), "notes.avi")
    failed(*cli(capsys, "detect", tmp_path / "absent.mp4", "--run", run_dir), "absent.mp4", "no such file")


# -- runs, checkpoints, calibration ---------------------------------------------------------


def _copy_run(run_dir: Path, dest: Path) -> Path:
    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns("detect"))
    return dest


def test_run_folder_without_checkpoint(capsys, run_dir: Path, tmp_path: Path) -> None:
    run = _copy_run(run_dir, tmp_path / "run")
    (run / "checkpoints" / "last.pt").unlink()
    failed(*cli(capsys, "eval", "--run", run), "no checkpoint", "last.pt")
    failed(*cli(capsys, "eval", "--run", tmp_path), "not a run folder")


def test_corrupt_checkpoint(capsys, run_dir: Path, tmp_path: Path) -> None:
    run = _copy_run(run_dir, tmp_path / "run")
    ckpt = run / "checkpoints" / "last.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:200])
    failed(*cli(capsys, "calibrate", "--run", run), "cannot read checkpoint", "last.pt")


def test_calibration_that_is_not_json(capsys, run_dir: Path, tmp_path: Path) -> None:
    run = _copy_run(run_dir, tmp_path / "run")
    (run / "calibration.json").write_text("{ half a file")
    src = write_frames(tmp_path / "clip", 8)
    failed(*cli(capsys, "detect", src, "--run", run, "--out", tmp_path / "out"), "calibration.json", "calibrate")


def test_stale_temporary_files_are_cleaned_on_the_next_run(run_dir: Path, tmp_path: Path) -> None:
    from vadkit.atomic import writer_tag
    from vadkit.trained_run import TrainedRun

    run = _copy_run(run_dir, tmp_path / "run")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a PID that no longer runs
    host = writer_tag().rsplit("-", 1)[0]
    stale = [run / f".run.json.{host}-{dead.pid}-abcd1234.tmp", run / "checkpoints" / f".last.pt.{host}-{dead.pid}-x.tmp"]
    live = run / f".metrics.json.{writer_tag()}-ef56.tmp"  # this process is alive: its temp stays
    for p in (*stale, live):
        p.write_bytes(b"partial")
    TrainedRun.open(run, default_registry())
    assert not any(p.exists() for p in stale)
    assert live.exists()


# -- plugins ----------------------------------------------------------------------------------


def test_recipe_naming_a_component_of_a_blocked_plugin(capsys, monkeypatch) -> None:
    import vadkit.plugins
    from vadkit.plugins import BLOCK_PLUGINS_ENV

    gated = REPO / "examples" / "plugins" / "vadkit-gated-fusion" / "gated.toml"
    monkeypatch.setenv(BLOCK_PLUGINS_ENV, "gated_fusion")
    vadkit.plugins.default_registry.cache_clear()
    try:
        code, out, err = cli(capsys, "build", "--recipe", gated, "--set", "model.resolution=[32, 32]")
    finally:
        vadkit.plugins.default_registry.cache_clear()
    failed(code, out, err, "model.fusion.type", "no fusion named 'gated'", "gated_fusion", "blocked")


# -- the top-level handler ----------------------------------------------------------------------


def test_debug_shows_the_traceback(recipe_file: Path) -> None:
    from vadkit.errors import RecipeError

    with pytest.raises(RecipeError):
        main(["--debug", "build", "--recipe", str(recipe_file), "--set", "flow.type=nope"])
    with pytest.raises(RecipeError):
        main(["build", "--recipe", str(recipe_file), "--set", "flow.type=nope", "--debug"])


def test_os_and_value_errors_become_one_line(capsys, monkeypatch, recipe_file: Path) -> None:
    import vadkit.cli.build_cmd as build_cmd
    from vadkit.cli._errors import user_error

    def locked(args):
        raise PermissionError(13, "Permission denied", "/srv/locked/run.json")

    monkeypatch.setattr(build_cmd, "run", locked)  # add_parser binds the module's run when main builds the parser
    failed(*cli(capsys, "build", "--recipe", recipe_file), "error: /srv/locked/run.json: permission denied")
    assert "--debug" in user_error(ValueError("bad value"))
    assert "out of memory" in user_error(RuntimeError("DefaultCPUAllocator: can't allocate memory: 9e12 bytes"))
    assert user_error(KeyError("a bug")) is None  # a bug keeps its traceback


# -- Ctrl-C -------------------------------------------------------------------------------------


def test_ctrl_c_during_training_leaves_a_resumable_run(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", frames=24)
    recipe = tmp_path / "long.toml"
    recipe.write_text(dumps_toml(tiny_recipe(epochs=500, steps=3)))
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "400"}
    # the child starts with SIGINT ignored, as a background job of a non-interactive shell inherits it:
    # `vadkit train` installs its own handler whatever the inherited disposition (vadkit/stop_signals.py)
    proc = subprocess.Popen([sys.executable, "-m", "vadkit", "train", "--recipe", str(recipe), "--data", str(data),
                             "--out", str(out)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    deadline = time.monotonic() + 180
    while not (out / "checkpoints" / "last.pt").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(0.3)  # inside a later epoch
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    text = " ".join((stdout + stderr).split())
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "interrupted (SIGINT)" in text and "--resume" in text and str(out) in text
    ckpt = load_checkpoint(out / "checkpoints" / "last.pt")  # whole, loadable
    assert 0 <= int(ckpt["epoch"]) < 499
    assert not list((out / "checkpoints").glob(".*.tmp"))
