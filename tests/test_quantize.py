"""int8 export (`vadkit export --precision int8`): a quantized graph whose manifest says so and
names its calibration clips, close to the float32 graph, picked up by detect's graph backends
from the run's export folder; `auto` records the precision it kept and why."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from test_detect import train_calibrated

from vadkit import default_registry
from vadkit.cli import main
from vadkit.export import export_run, read_manifest

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed: pip install -e '.[onnx]'")

# Prediction PSNR of the int8 graph against the float32 graph, both under onnxruntime, on this
# module's tiny run: measured 86.3-87.2 dB on the 8 held-out clips (2026-12-02, AMD EPYC, AVX2), the
# same with onnxruntime's int8 kernels and with the QDQ graph run as exact fake-quantization, so
# the figure is the quantization's, not one CPU's kernels'. 60 dB leaves room for other CPUs'
# rounding and still fails a broken quantization (8-bit weights saturating on a CPU without VNNI
# gave 28 dB on runs/ped2-cpu, docs/performance.md).
MIN_PSNR_DB = 60.0


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-epoch 32x32 two-stream run on four short normal videos (two held out), calibrated."""
    return train_calibrated(tmp_path_factory.mktemp("quantize-run"), videos=4, frames=24, seed=3, epochs=1,
                            console=quiet())


def graph_outputs(folder: Path, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    return session.run(["prediction", "distance"], feeds)


def held_out_feeds(run: Path) -> dict[str, np.ndarray]:
    """A batch of the run's held-out clips (what detection sees of normal footage)."""
    from vadkit.export.quantize import calibration_clips, feeds_of
    from vadkit.trained_run import TrainedRun

    trained = TrainedRun.open(run, default_registry(), device="cpu")
    data, _ = calibration_clips(trained, default_registry(), None, 8, quiet())
    feeds = list(feeds_of(data, True))
    return {k: np.concatenate([f[k] for f in feeds]) for k in feeds[0]}


def test_int8_export_is_quantized_close_to_fp32_and_says_so(run: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    import onnx

    fp32 = export_run(run, default_registry(), "onnx", tmp_path / "fp32")
    assert main(["export", "--run", str(run), "--out", str(tmp_path / "int8"), "--precision", "int8",
                 "--calibration-clips", "12"]) == 0
    out = capsys.readouterr().out
    assert "int8: ranges from 12 clips of the held-out normal training videos" in out
    assert "int8 vs PyTorch fp32 on 1 held-out clips: prediction PSNR >=" in out
    manifest = read_manifest(tmp_path / "int8")
    quant = manifest["precision"]
    assert quant["precision"] == "int8" and quant["calibration"]["clips"] == 12
    assert quant["check"]["prediction_psnr_db_min"] > MIN_PSNR_DB  # against PyTorch's fp32 model this time
    assert quant["calibration"]["source"] == "held-out normal training videos"
    assert quant["calibration"]["videos"] == json.loads((run / "calibration.json").read_text())["holdout"][
        "held_out_videos"]
    assert read_manifest(fp32)["precision"] == {"precision": "fp32"}
    ops = {n.op_type for n in onnx.load(str(tmp_path / "int8" / "model.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert not (tmp_path / "int8" / "float32.onnx").exists()  # the float graph is not left behind

    feeds = held_out_feeds(run)
    want, got = graph_outputs(fp32, feeds), graph_outputs(tmp_path / "int8", feeds)
    mse = ((got[0] - want[0]) ** 2).reshape(len(want[0]), -1).mean(axis=1)
    psnr = 10 * np.log10(4.0 / np.maximum(mse, 1e-12))  # predictions span [-1, 1]
    assert psnr.min() > MIN_PSNR_DB, psnr
    assert np.isfinite(got[1]).all() and got[1].shape == want[1].shape


def test_detect_graph_backends_pick_int8_from_the_run_export(run: Path, tmp_path: Path) -> None:
    pytest.importorskip("openvino", reason="the openvino extra is not installed: pip install -e '.[openvino]'")
    from vadkit.detect import Detector
    from vadkit.detect.backends import load_backend
    from vadkit.export.api import cached_precision

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    export_run(copy, default_registry(), "onnx", precision="int8", clips=8)  # into <run>/export/onnx
    assert cached_precision(copy / "export" / "onnx") == "int8"
    detector = Detector(copy, default_registry(), console=quiet())
    for name in ("onnxruntime", "openvino"):
        console = quiet()
        backend = load_backend(name, detector.run, default_registry(), console=console)
        assert backend.precision == "int8"
        assert "(int8, ranges from 8 held-out clips)" in console.file.getvalue()


def test_auto_keeps_fp32_without_native_bf16_and_records_why(run: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import vadkit.runtime
    from vadkit.detect.backends import load_backend
    from vadkit.trained_run import TrainedRun

    monkeypatch.setattr(vadkit.runtime, "cpu_has_native_bf16", lambda: False)  # as on the AVX2 test machine
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    trained = TrainedRun.open(copy, default_registry(), device="cpu")
    console = quiet()
    load_backend("auto", trained, default_registry(), batch=2, console=console)
    record = json.loads((copy / "export" / "auto.json").read_text())["precision"]
    assert record["choice"] == "fp32"
    if "openvino" in record["reason"].lower() and "not installed" in record["reason"]:
        pytest.skip("openvino not installed: bf16 is never timed")
    assert "no native bf16" in record["reason"]
    assert "precision auto: fp32" in console.file.getvalue()


def test_bad_precision_options_are_one_clear_line(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["export", "--run", str(run), "--out", str(tmp_path / "x"), "--calibration-clips", "5"]) == 2
    err = capsys.readouterr().err
    assert "--calibration-clips applies to --precision int8 only" in err and "Traceback" not in err
    assert main(["export", "--run", str(run), "--out", str(tmp_path / "x"), "--precision", "int8",
                 "--data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "missing" in err and "int8 calibration data" in err and "Traceback" not in err
    assert not (tmp_path / "x" / "model.onnx").exists()
    with pytest.raises(SystemExit):
        main(["export", "--run", str(run), "--precision", "int4"])


# Prediction PSNR of the float32 graph computed by OpenVINO in bf16 against the same graph in
# float32, on this module's tiny run: measured 83.3-83.6 dB on the 8 held-out clips, twice
# (2026-12-02, Intel Xeon with AMX-BF16; OpenVINO's runtime graph showed every convolution,
# deconvolution and fully connected layer in bf16). On a CPU without native bf16 OpenVINO
# computes in float32 whatever the hint, and the figure is higher still. 60 dB leaves room for
# other CPUs' rounding and fails a graph whose bf16 arithmetic overflows or loses a layer.
MIN_BF16_PSNR_DB = 60.0


def openvino_outputs(folder: Path, feeds: dict[str, np.ndarray], hint: str) -> list[np.ndarray]:
    from vadkit.detect.backends import OpenVinoBackend

    backend = OpenVinoBackend(folder, threads=2, precision=hint)
    return backend.run(feeds)


def test_openvino_bf16_is_close_to_fp32_and_says_what_it_computes(run: Path, tmp_path: Path) -> None:
    pytest.importorskip("openvino", reason="the openvino extra is not installed: pip install -e '.[openvino]'")
    from vadkit.detect.backends import OpenVinoBackend
    from vadkit.runtime import cpu_has_native_bf16

    if not cpu_has_native_bf16():
        pytest.skip("no native bf16 here (or oneDNN capped below it, ONEDNN_MAX_CPU_ISA): nothing computes in bf16")
    fp32 = export_run(run, default_registry(), "onnx", tmp_path / "fp32")
    feeds = held_out_feeds(run)
    want = openvino_outputs(fp32, feeds, "f32")
    got = openvino_outputs(fp32, feeds, "bf16")
    index = OpenVinoBackend(fp32, threads=1).outputs.index("prediction")
    mse = ((got[index] - want[index]) ** 2).reshape(len(want[index]), -1).mean(axis=1)
    psnr = 10 * np.log10(4.0 / np.maximum(mse, 1e-12))
    assert psnr.min() > MIN_BF16_PSNR_DB, psnr
    assert all(np.isfinite(g).all() for g in got)
    assert "(fp32 graph computed in bf16)" in OpenVinoBackend(fp32, threads=1, precision="bf16").describe()
    assert "(fp32)" in OpenVinoBackend(fp32, threads=1).describe()


def test_auto_times_bf16_where_the_cpu_has_it_and_records_the_choice(run: Path, tmp_path: Path) -> None:
    pytest.importorskip("openvino", reason="the openvino extra is not installed: pip install -e '.[openvino]'")
    import subprocess
    import sys

    from test_detect import scene, write_avi

    from vadkit.detect.backends import BF16
    from vadkit.runtime import cpu_has_native_bf16

    if not cpu_has_native_bf16():
        pytest.skip("this CPU has no native bf16 (avx512_bf16 / amx_bf16): auto does not time bf16 here")
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    video = write_avi(tmp_path / "walk.avi", scene(np.random.default_rng(4), 16))
    # in a process of its own: after auto has timed OpenVINO in bf16, a signal to the process ended it
    # with SIGSEGV on an AMX Xeon (docs/performance.md), and later tests send signals
    done = subprocess.run([sys.executable, "-m", "vadkit", "detect", str(video), "--run", str(copy), "--no-video",
                           "--out", str(tmp_path / "det"), "--backend", "auto", "--batch", "2"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    saved = json.loads((copy / "export" / "auto.json").read_text())
    assert BF16 in saved["frames_per_s"] and "openvino" in saved["frames_per_s"]  # both timed
    record = saved["precision"]
    assert "bf16 and float32 timed" in record["reason"]
    assert record["choice"] == ("bf16" if saved["choice"] == BF16 else record["choice"])
    assert f"precision auto: {record['choice']}" in " ".join(done.stdout.split())
