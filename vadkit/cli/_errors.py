"""What the command line says when a command fails on a user's mistake or is interrupted.

``user_error`` turns an exception into one line (None: a bug, whose traceback must show);
``interrupted_message`` tells what Ctrl-C left behind and how to continue.
"""

from __future__ import annotations

import argparse
import errno
import shlex
from pathlib import Path

from rich.markup import escape

from ..errors import VadkitError

# errno -> what it means for a path a user gave
_OS_REASONS = {
    errno.EEXIST: "already exists and cannot be created as a folder (is it a file?); choose another output path",
    errno.ENOTDIR: "a part of this path is a file where a folder is needed",
    errno.ENOENT: "no such file or folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOSPC: "no space left on the device",
    errno.EFBIG: "file too large (file size limit reached)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EISDIR: "is a folder, but a file is needed here",
    errno.EROFS: "read-only file system",
    errno.ENAMETOOLONG: "file name too long",
}
DEBUG_HINT = " (run with --debug for the traceback)"


def free_space(path: str) -> str:
    """`` (N MiB free on its file system)`` for the nearest existing folder of ``path``, or ''."""
    import shutil

    for p in (Path(path), *Path(path).parents):
        try:
            if p.is_dir():
                return f" ({shutil.disk_usage(p).free / 2**20:.0f} MiB free on its file system)"
        except OSError:
            return ""
    return ""


def os_error_message(exc: OSError) -> str:
    """``path: reason`` for an OSError (both paths for a rename); a write that ran out of room
    also says how much room is left."""
    reason = _OS_REASONS.get(exc.errno or -1, exc.strerror or str(exc))
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    if paths and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        reason += free_space(paths[-1])
    return f"{' -> '.join(paths)}: {reason}" if paths else f"{exc.strerror or exc}{DEBUG_HINT}"


def _is_out_of_memory(exc: BaseException) -> bool:
    return (
        isinstance(exc, MemoryError)
        or type(exc).__name__ == "OutOfMemoryError"
        or (isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc))
    )


def user_error(exc: BaseException) -> str | None:
    """One line for an error a user can fix; None for anything else (a bug: show the traceback)."""
    if isinstance(exc, VadkitError):
        return str(exc)
    if isinstance(exc, OSError):
        return os_error_message(exc)
    if _is_out_of_memory(exc):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            f"out of memory ({first[:200]}); lower model.resolution or the batch size "
            f"(`vadkit build` estimates what a recipe needs){DEBUG_HINT}"
        )
    if isinstance(exc, ValueError):
        return f"{exc}{DEBUG_HINT}"
    return None


def _train_out(args: argparse.Namespace) -> Path | None:
    if getattr(args, "out", None):
        return Path(args.out)
    recipe = getattr(args, "recipe", None)
    return Path("runs") / Path(recipe).stem if recipe else None


def _resume_command(args: argparse.Namespace, out: Path) -> str:
    if args.command == "demo":
        return f"vadkit demo --out {shlex.quote(str(out))} --resume"
    parts = ["vadkit", "train", "--recipe", str(args.recipe)]
    for o in getattr(args, "overrides", []) or []:
        parts += ["--set", o]
    parts += [
        "--data",
        str(args.data),
        "--out",
        str(out),
        *(["--eval"] if getattr(args, "eval", False) else []),
        "--resume",
    ]
    return " ".join(shlex.quote(p) for p in parts)


def _rerun_command(args: argparse.Namespace, command: str) -> str:
    """``vadkit eval --run R [--data D] [--set K=V ...]``: the command to run again."""
    parts = ["vadkit", command, "--run", str(args.run)]
    if getattr(args, "data", None):
        parts += ["--data", str(args.data)]
    for o in getattr(args, "overrides", []) or []:
        parts += ["--set", o]
    return " ".join(shlex.quote(p) for p in parts)


def interrupted_message(args: argparse.Namespace, signum: int | None = None) -> str:
    """What Ctrl-C, SIGINT or SIGTERM (``signum``) left and how to go on, for the stopped command."""
    from ..stop_signals import signal_name

    head = f"[yellow]interrupted[/] ({signal_name(signum)})" if signum else "[yellow]interrupted[/]"
    command = getattr(args, "command", None)
    if command in ("train", "demo"):
        out = _train_out(args)
        if out is not None and (out / "checkpoints" / "last.pt").is_file():
            return (
                f"{head}: {escape(str(out))} keeps the checkpoint of the last completed epoch "
                f"(written atomically, so it is whole); continue with: {escape(_resume_command(args, out))}"
            )
        return f"{head} before the first epoch completed: no checkpoint to resume; start again"
    if command == "detect":
        return (
            f"{head}: what was scored so far is in the output folder, its events.json marked \"interrupted\"; "
            "run the same command again to score the whole source (it replaces those outputs)"
        )
    if command == "eval" and getattr(args, "run", None) is not None:
        return (
            f"{head}: the evaluation did not finish; metrics.json and scores.csv are written only when one "
            f"completes (any in {escape(str(args.run))} are an earlier evaluation's); run it again with: "
            f"{escape(_rerun_command(args, 'eval'))}"
        )
    return head


def require_run_folder(path: Path, option: str = "--run") -> Path:
    """``path`` when it is a folder holding a run; a clear error otherwise."""
    from ..errors import CheckpointError

    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{option} {path}: no such folder; give a run folder written by `vadkit train`")
    if not path.is_dir():
        raise CheckpointError(f"{option} {path}: is a file, not a run folder written by `vadkit train`")
    return path


def guard_run_outputs(args: argparse.Namespace, command: str) -> None:
    """The output guard for a command writing fixed parts of its ``--run`` (eval, calibrate,
    validate): ``--data`` (else the run's recorded data root) may not hold those outputs."""
    from ..output_guard import check_run_outputs
    from ..run_folder import RunFolder

    data = getattr(args, "data", None)
    if data is None:
        recorded = RunFolder(Path(args.run)).read_info().get("data_root")
        data = Path(recorded) if isinstance(recorded, str) and recorded else None
    check_run_outputs(args.run, command, inputs=[data] if data is not None else [], force=args.force)


def too_short_message(result: object, run: Path | None = None) -> str | None:
    """Why a source that ended normally had no frame scored (None when frames were scored)."""
    if getattr(result, "status", None) not in ("complete", "ended") or getattr(result, "frames_scored", 1) > 0:
        return None
    needed = int(getattr(result, "frames_needed", 0) or 0)
    read = getattr(result, "frames_read", 0)
    why = f"scoring needs at least {needed} frames (the model's clip)" if needed else "no clip was complete"
    return (
        f"{getattr(result, 'name', 'source')}: no frame scored: {read} frame{'s' if read != 1 else ''} read, but {why}"
    )


__all__ = [
    "user_error",
    "interrupted_message",
    "os_error_message",
    "require_run_folder",
    "too_short_message",
    "guard_run_outputs",
]
