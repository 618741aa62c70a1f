"""``vadkit detect``: run a trained model on a video file, a folder of frames or videos, a
camera or a stream, without labels; write scores, events, an overlay video and a score curve."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from ..config import DetectConfig
from ._common import add_plugin_change_flag, add_setting_flags, given_settings

# [detect] settings that `vadkit detect` takes as flags (help, type and default from vadkit.config)
DETECT_FLAGS = (
    "threshold_quantile",
    "threshold",
    "smoothing",
    "merge_gap",
    "min_event",
    "batch",
    "fps",
    "stall_timeout",
    "backend",
    "refit_frames",
    "drop_frames",
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="detect anomalies in a video, folder, camera or stream", description=__doc__)
    p.add_argument(
        "sources",
        metavar="SOURCE",
        nargs="+",
        help="video file, folder of frames, folder of videos, camera index (0) or stream URL (rtsp://...); "
        "several are scored together in one process, batched across streams",
    )
    p.add_argument("--run", required=True, type=Path, help="run folder written by `vadkit train`")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: <run>/detect/<source name>; several sources: <out>/<name> each)",
    )
    p.add_argument("--no-video", action="store_true", help="skip the overlay video")
    add_setting_flags(p, "detect", DetectConfig, DETECT_FLAGS)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: the run's [train] device)")
    p.add_argument("--max-frames", type=int, default=None, help="stop each source after N frames")
    p.add_argument(
        "--force",
        action="store_true",
        help="write --out even where it is an input or a file of a run (see docs/architecture.md)",
    )
    add_plugin_change_flag(p)
    p.set_defaults(func=run)


def source_name(source: str) -> str:
    if source.isdigit():
        return f"camera{source}"
    name = Path(source.split("://", 1)[-1].rstrip("/")).stem
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "source"


def guard_out(args: argparse.Namespace) -> None:
    """--out may not be a source, lie inside a source folder, be a run folder or a part of a run
    that detect does not write (vadkit/output_guard.py); with several sources the per-source
    folders inside it are checked too."""
    from ..detect import outputs
    from ..output_guard import check_output
    from ..run_folder import DETECT_CURVE, DETECT_EVENTS

    names = (*getattr(outputs, "OUTPUT_FILES", ("scores.csv", "overlay.avi", DETECT_CURVE)), DETECT_EVENTS)
    sources = [Path(s) for s in args.sources if not s.isdigit() and "://" not in s]
    folders = [args.out, *(args.out / source_name(s) for s in args.sources)] if len(args.sources) > 1 else [args.out]
    for folder in folders:
        check_output(
            folder,
            command="detect",
            inputs=sources,
            runs=[args.run],
            own_run=args.run,
            folder=True,
            files=names,
            force=args.force,
        )


def run(args: argparse.Namespace) -> int:
    from ..stop_signals import exit_status
    from ._errors import too_short_message

    console = Console()
    overrides = given_settings(args, "detect")
    single = args.run / "detect" / source_name(args.sources[0])
    if args.out is not None:
        guard_out(args)
    results = _run_detect(args, overrides, single, console)
    code = 0
    for r in results:
        dropped = getattr(r, "frames_dropped", 0)
        spans = ", ".join(f"{e.start_frame}-{e.end_frame}" for e in r.events[:8]) + (
            " ..." if len(r.events) > 8 else ""
        )
        console.print(
            f"[bold]{r.name}[/]: {r.frames_read} frames read, {r.frames_scored} scored, {r.fps:.1f} frames/s, "
            f"{f'{dropped} dropped, ' if dropped else ''}"
            f"{len(r.events)} event{'s' if len(r.events) != 1 else ''}{': ' + spans if r.events else ''}",
            highlight=False,
        )
        if r.status == "error":
            console.print(f"[bold red]error:[/] {r.message}", highlight=False)
            console.print(f"results up to the break written to {r.out}", highlight=False)
            code = 2
        elif r.status == "interrupted":  # closed, events.json says "interrupted"; 130 Ctrl-C / SIGINT, 143 SIGTERM
            Console(stderr=True).print(
                f"[yellow]{r.message or 'interrupted'}[/]: results so far written to {r.out}, "
                "marked \"interrupted\" in its events.json; run the same command again to "
                "score the whole source",
                highlight=False,
                soft_wrap=True,
            )
            return exit_status()
        elif r.message:
            console.print(f"[yellow]note:[/] {r.message}", highlight=False)
        if (short := too_short_message(r, args.run)) is not None:  # nothing scored is a failure, not a success
            console.print(f"[bold red]error:[/] {short}", highlight=False)
            code = 2
        console.print(f"  -> {', '.join(Path(f).name for f in r.files.values())} in {r.out}", highlight=False)
    return code


def _run_detect(args: argparse.Namespace, overrides: dict[str, Any], single: Path, console: Console) -> list[Any]:
    """Several sources (or dropping frames) go through the multi-stream path, one through detect()."""
    from .. import default_registry
    from ..detect import detect
    from ..detect.multi import detect_many

    if len(args.sources) > 1 or overrides.get("drop_frames"):
        out = args.out or (single if len(args.sources) == 1 else args.run / "detect")
        return detect_many(
            args.sources,
            args.run,
            out,
            default_registry(),
            overrides=overrides,
            video=not args.no_video,
            device=args.device,
            console=console,
            max_frames=args.max_frames,
            allow_plugin_change=args.allow_plugin_change,
        )
    else:
        return detect(
            args.sources[0],
            args.run,
            args.out or single,
            default_registry(),
            overrides=overrides,
            video=not args.no_video,
            device=args.device,
            console=console,
            max_frames=args.max_frames,
            allow_plugin_change=args.allow_plugin_change,
        )
