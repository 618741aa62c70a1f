"""Deployment: `vadkit export` to ONNX with parity against PyTorch under onnxruntime, the
onnxruntime backend of detect, several sources in one process (one of them truncated), and
frame dropping on a live source that produces frames faster than they are scored."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.console import Console
from test_detect import T, scene, train_calibrated, write_avi

from vadkit import default_registry
from vadkit.cli import main
from vadkit.detect import Detector, IterableSource
from vadkit.detect.backends import OnnxRuntimeBackend
from vadkit.detect.multi import MultiDetector
from vadkit.detect.outputs import read_scores
from vadkit.detect.stream import StreamingScorer
from vadkit.export import export_run, read_manifest


def needs_onnxruntime() -> None:
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed: pip install -e '.[onnx]'")


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-epoch 32x32 two-stream run on three short normal videos, calibrated (a few seconds)."""
    return train_calibrated(tmp_path_factory.mktemp("deploy-run"), videos=3, frames=32, seed=1, epochs=1,
                            console=quiet())


def stream_stats(model, detector: Detector, frames: list[np.ndarray], batch: int) -> dict[str, np.ndarray]:
    scorer = StreamingScorer(model, detector.run.scorer, detector.pre, torch.device("cpu"), batch=batch,
                             keep_frames=False, error_maps=False)
    ready = [s for i, f in enumerate(frames) for s in scorer.push(i, i / 25, f)] + scorer.flush()
    return {k: np.array([s.stats[k] for s in ready]) for k in detector.run.scorer.stat_names}


def test_export_matches_pytorch_under_onnxruntime(run: Path, tmp_path: Path) -> None:
    needs_onnxruntime()
    out = export_run(run, default_registry(), "onnx", tmp_path / "exported", console=quiet())
    manifest = read_manifest(out)
    assert manifest["model"] == {"resolution": [32, 32], "frames": T, "image_channels": 3, "uses_motion": True}
    assert manifest["graph"]["inputs"]["frames"] == ["batch", T, 3, 32, 32]
    assert manifest["graph"]["inputs"]["flows"] == ["batch", T, 2, 32, 32]
    assert manifest["outputs"] == ["prediction", "distance"]
    assert manifest["flow"]["scale"] == 2.0 and manifest["flow"]["table"]["type"] == "dis"
    assert [s["name"] for s in manifest["scorer"]["statistics"]] == ["psnr", "contrast", "distance"]
    assert manifest["scorer"]["table"] == {"type": "regularity", "tau": 0.7}
    assert manifest["calibration"]["threshold"] == json.loads((run / "calibration.json").read_text())["threshold"]

    detector = Detector(run, default_registry(), console=quiet())
    import onnx

    items = detector.run.model.memory.items.numpy()
    constants = [onnx.numpy_helper.to_array(t) for t in onnx.load(str(out / "model.onnx")).graph.initializer]
    assert any(c.shape == items.shape and np.allclose(c, items) for c in constants)  # memory items baked in

    frames = list(scene(np.random.default_rng(11), 24, anomaly=(12, 16)))
    want = stream_stats(detector.run.model, detector, frames, batch=1)
    for batch in (1, 5):  # dynamic batch: a full batch of 5 and a last partial one
        got = stream_stats(OnnxRuntimeBackend(out, threads=1), detector, frames, batch=batch)
        assert len(got["psnr"]) == len(frames) - T
        np.testing.assert_allclose(got["psnr"], want["psnr"], rtol=0, atol=0.01)
        np.testing.assert_allclose(got["distance"], want["distance"], rtol=1e-4, atol=0)


def test_detect_backend_auto_exports_into_the_run_and_matches_torch(run: Path, tmp_path: Path) -> None:
    needs_onnxruntime()
    video = write_avi(tmp_path / "walk.avi", scene(np.random.default_rng(4), 30))
    shutil.rmtree(run / "export", ignore_errors=True)
    args = [str(video), "--run", str(run), "--no-video"]
    assert main(["detect", *args, "--out", str(tmp_path / "torch")]) == 0
    # auto in a process of its own: on an AMX Xeon, once auto had timed OpenVINO in bf16 beside the
    # other backends, any later signal to the process ended it with SIGSEGV (docs/performance.md)
    done = subprocess.run([sys.executable, "-m", "vadkit", "detect", *args, "--out", str(tmp_path / "auto"),
                           "--backend", "auto"], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert read_manifest(run / "export" / "onnx")["checkpoint"]["epoch"] == 1
    choice = json.loads((run / "export" / "auto.json").read_text())  # timed once, then remembered
    assert choice["choice"] in choice["frames_per_s"] and set(choice["frames_per_s"]) >= {"torch", "onnxruntime"}
    a, b = read_scores(tmp_path / "torch" / "scores.csv"), read_scores(tmp_path / "auto" / "scores.csv")
    assert list(a["frame"]) == list(b["frame"]) == list(range(T, 30))
    np.testing.assert_allclose(b["psnr"], a["psnr"], atol=0.01)
    # bf16 (chosen where the CPU computes it natively and it is the fastest) keeps 8 bits of mantissa:
    # the distance differed from torch's by up to 6.2e-4 relative on an AMX Xeon (2026-12-02)
    rtol = 4e-3 if "bf16" in choice["precision"]["choice"] else 1e-4
    np.testing.assert_allclose(b["distance"], a["distance"], rtol=rtol)


def test_export_bad_input_is_a_clear_error(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    untrained = tmp_path / "untrained"
    untrained.mkdir()
    shutil.copy(run / "recipe.toml", untrained / "recipe.toml")
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    cases = [
        (["--run", str(untrained)], "no checkpoint"),
        (["--run", str(run), "--format", "tflite"], "unknown export format 'tflite'; formats: onnx"),
        (["--run", str(run), "--out", str(a_file)], "exists and is a file"),
        (["--run", str(tmp_path / "nothing")], "not a run folder"),
    ]
    for args, message in cases:
        assert main(["export", *args]) == 2
        text = " ".join(capsys.readouterr().err.split())
        assert message in text and "Traceback" not in text, text


def test_two_sources_one_truncated_both_written(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    good = write_avi(tmp_path / "good.avi", scene(np.random.default_rng(5), 40))
    cut = write_avi(tmp_path / "cut.avi", scene(np.random.default_rng(6), 80))
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    code = main(["detect", str(good), str(cut), "--run", str(run), "--out", str(tmp_path / "out"), "--no-video"])
    text = " ".join(capsys.readouterr().out.split())
    assert code == 2 and "truncated or damaged" in text and "Traceback" not in text
    ok = json.loads((tmp_path / "out" / "good" / "events.json").read_text())
    broken = json.loads((tmp_path / "out" / "cut" / "events.json").read_text())
    assert ok["status"] == "complete" and ok["frames_read"] == 40
    assert read_scores(tmp_path / "out" / "good" / "scores.csv")["frame"].tolist() == list(range(T, 40))
    assert broken["status"] == "error" and 10 < broken["frames_read"] < 80
    cut_frames = read_scores(tmp_path / "out" / "cut" / "scores.csv")["frame"].tolist()
    assert cut_frames == list(range(T, broken["frames_read"]))


class Spy:
    """The model, recording batch sizes and optionally slowed down."""

    def __init__(self, model, delay: float = 0.0) -> None:
        self.model, self.delay, self.batches = model, delay, []
        self.uses_motion = model.uses_motion

    def __call__(self, frames, flows=None):
        self.batches.append(frames.shape[0])
        time.sleep(self.delay)
        return self.model(frames, flows)


def test_streams_are_batched_together_and_scored_as_alone(run: Path, tmp_path: Path) -> None:
    clips = [list(scene(np.random.default_rng(20 + i), 20 + 4 * i)) for i in range(3)]
    detector = Detector(run, default_registry(), console=quiet())
    multi = MultiDetector(detector, video=False)
    multi.pool.model = spy = Spy(multi.pool.model)
    sources = [IterableSource(c, name=f"cam{i}") for i, c in enumerate(clips)]
    results = multi.run(sources, [tmp_path / s.name for s in sources])
    assert [r.status for r in results] == ["complete"] * 3 and max(spy.batches) == 3
    for i, clip in enumerate(clips):
        alone = stream_stats(detector.run.model, detector, clip, batch=1)
        cols = read_scores(tmp_path / f"cam{i}" / "scores.csv")
        np.testing.assert_allclose(cols["psnr"], alone["psnr"], atol=1e-3)
        np.testing.assert_allclose(cols["distance"], alone["distance"], rtol=1e-4)


def test_live_source_drops_frames_to_keep_up(run: Path, tmp_path: Path) -> None:
    n = 120

    def camera():
        for f in scene(np.random.default_rng(9), n):
            time.sleep(0.001)
            yield f

    detector = Detector(run, default_registry(), overrides={"drop_frames": True}, console=quiet())
    multi = MultiDetector(detector, video=False, drop_frames=True, queue=2)
    multi.pool.model = Spy(multi.pool.model, delay=0.02)  # scoring ~20x slower than the camera
    [result] = multi.run([IterableSource(camera(), name="cam", live=True)], [tmp_path / "cam"])
    assert result.status == "complete" and result.frames_dropped > n // 3
    assert result.frames_read + result.frames_dropped == n  # every frame was either scored or dropped
    events = json.loads((tmp_path / "cam" / "events.json").read_text())
    assert events["frames_dropped"] == result.frames_dropped
    cols = read_scores(tmp_path / "cam" / "scores.csv")
    rows = np.arange(len(cols["frame"]))
    assert np.all(np.diff(cols["frame"]) >= 1) and cols["frame"][-1] <= n - 1
    assert np.array_equal(cols["frame"] - cols["frames_dropped"] - T, rows)  # gaps = the dropped frames
    assert np.all(np.diff(cols["frames_dropped"]) >= 0)

    kept = MultiDetector(detector, video=False, drop_frames=False, queue=2)
    [full] = kept.run([IterableSource(scene(np.random.default_rng(9), 30), name="cam", live=True)], [tmp_path / "all"])
    assert full.frames_dropped == 0 and full.frames_read == 30


def test_openvino_backend_matches_pytorch(run: Path, tmp_path: Path) -> None:
    pytest.importorskip("openvino", reason="the openvino extra is not installed: pip install -e '.[openvino]'")
    from vadkit.detect.backends import OpenVinoBackend

    out = export_run(run, default_registry(), "onnx", tmp_path / "exported")
    detector = Detector(run, default_registry(), console=quiet())
    frames = list(scene(np.random.default_rng(12), 16))
    want = stream_stats(detector.run.model, detector, frames, batch=1)
    got = stream_stats(OpenVinoBackend(out, threads=1), detector, frames, batch=4)
    np.testing.assert_allclose(got["psnr"], want["psnr"], rtol=0, atol=0.01)
    np.testing.assert_allclose(got["distance"], want["distance"], rtol=1e-4, atol=0)


def test_progress_and_summary_show_dropped_frames(run: Path, tmp_path: Path) -> None:
    from vadkit.detect.multi import detect_many

    console = Console(file=io.StringIO(), width=200)
    live = IterableSource(scene(np.random.default_rng(3), 60), name="cam", live=True)
    [result] = detect_many([live], run, tmp_path / "cam", default_registry(), overrides={"drop_frames": True},
                           video=False, console=console)
    text = console.file.getvalue()
    assert result.status == "complete" and result.frames_read + result.frames_dropped == 60
    assert f"{result.frames_dropped} dropped" in text, text  # the progress line of the source


def test_reader_queue_is_bounded_with_and_without_dropping() -> None:
    from vadkit.detect.sources import BufferedReader

    frames = [np.zeros((8, 8, 3), np.uint8)] * 50
    for drop in (False, True):
        reader = BufferedReader(IterableSource(frames, live=True), size=3, drop=drop).start()
        time.sleep(0.3)  # the source is far ahead of a consumer that does not read
        assert reader.waiting <= 3 + 1  # + the final "end" item
        got, deadline = 0, time.monotonic() + 10
        while (item := reader.poll()) is None or item[0] == "frame":
            got += item is not None
            assert time.monotonic() < deadline
            time.sleep(0.001 if item is None else 0)
        assert item[0] == "end" and got + reader.dropped == 50 and (reader.dropped > 0) == drop
        reader.close()

