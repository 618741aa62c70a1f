"""``vadkit export``: a trained run as an ONNX graph (dynamic batch, memory items as constants)
plus manifest.json with everything detection needs; detect's onnxruntime and openvino
backends, or any ONNX runtime, load the folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a trained run's model (ONNX + manifest)", description=__doc__)
    p.add_argument("--run", required=True, type=Path, help="run folder written by `vadkit train`")
    p.add_argument("--format", default="onnx", help="export format (onnx)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: <run>/export/<format>)")
    p.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "int8"),
        help="fp32 (default) or int8: quantized after training, its activation ranges measured on clips of "
        "the run's held-out normal videos; detect's onnxruntime/openvino backends read it from the "
        "manifest (docs/performance.md)",
    )
    p.add_argument(
        "--calibration-clips",
        type=int,
        default=None,
        help="int8: held-out clips the ranges are measured on (default 300)",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="int8: dataset root of the run's training videos (default: the one it trained on)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write --out even where it is an input or a file of a run (see docs/architecture.md)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import default_registry
    from ..export import export_run, read_manifest
    from ..export.api import check_format

    console = Console()
    check_format(args.format)  # before the model loads
    clips = _clips(args)
    if args.out is not None:
        from ..export.api import MODEL_FILE
        from ..export.manifest import MANIFEST
        from ..output_guard import check_output

        check_output(
            args.out,
            command="export",
            runs=[args.run],
            own_run=args.run,
            folder=True,
            files=(MODEL_FILE, MANIFEST),
            force=args.force,
        )
    out = export_run(
        args.run,
        default_registry(),
        args.format,
        args.out,
        console=console,
        precision=args.precision,
        clips=clips,
        data_root=args.data,
    )
    manifest = read_manifest(out)
    _report(console, manifest)
    cal = "with calibration" if manifest.get("calibration") else "no calibration yet (run `vadkit calibrate`)"
    console.print(f"-> {manifest['model_file']}, manifest.json in {out} ({cal})", highlight=False)
    return 0


def _clips(args: argparse.Namespace) -> int:
    """--calibration-clips, checked (only meaningful with --precision int8)."""
    from ..export.quantize import DEFAULT_CLIPS, QuantizeError

    if args.calibration_clips is None:
        return DEFAULT_CLIPS
    if args.precision != "int8":
        raise QuantizeError("--calibration-clips applies to --precision int8 only")
    if args.calibration_clips < 1:
        raise QuantizeError(f"--calibration-clips must be >= 1, got {args.calibration_clips}")
    return int(args.calibration_clips)


def _report(console: Console, manifest: dict) -> None:
    """The export's checks: onnxruntime against PyTorch; for int8, its ranges and the held-out check."""
    check = manifest.get("check", {})
    quant = manifest.get("precision") or {}
    diffs = check.get("max_abs_diff")
    if diffs:
        console.print(
            ("random inputs, " if quant.get("precision") == "int8" else "")
            + "onnxruntime vs PyTorch, largest difference: "
            + ", ".join(f"{k} {v:.2g}" for k, v in diffs.items()),
            highlight=False,
        )
    elif check:
        console.print(f"[yellow]note:[/] {check.get('onnxruntime')}", highlight=False)
    if quant.get("precision") != "int8":
        return
    src = quant.get("calibration", {})
    console.print(
        f"int8: ranges from {src.get('clips')} clips of the {src.get('source')} "
        f"({', '.join(src.get('videos') or []) or src.get('data_root')})",
        highlight=False,
    )
    held = quant.get("check") or {}
    if held:
        console.print(
            f"int8 vs PyTorch fp32 on {held.get('clips')} held-out clips: prediction PSNR >= "
            f"{held.get('prediction_psnr_db_min')} dB, distance within "
            f"{100 * held.get('distance_max_rel_diff', 0):.1f} %",
            highlight=False,
        )
