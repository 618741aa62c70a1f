"""The output guard: vadkit overwrites only files it can prove it wrote.

Every command that writes checks its output paths here before it reads or computes anything.
An output is refused (one line, exit 2) when it

- is one of the command's own inputs (a run folder, a data root, a detect source), or lies
  inside an input folder the command scans (a data root, a folder of frames);
- is a file or folder of a run that the command does not write: a run's parts are named in one
  place (``vadkit.run_folder.PARTS``) and each command writes only its own parts of
  its own ``--run`` (``WRITERS``): `vadkit report --out RUN/recipe.toml` is refused, while
  ``RUN/report.html`` (no part of the run) is allowed;
- is a folder output (export, detect) placed on a run folder itself, where its files would land
  among the run's.

``--force`` skips the guard (the user takes responsibility for the path).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .errors import OutputError
from .run_folder import PARTS, WRITERS, RunFolder

FORCE_HINT = "choose another path (or pass --force to write it anyway)"


class OutputRefused(OutputError):
    """An output path would overwrite what the command did not write."""


def _resolved(path: Path | str) -> Path:
    return Path(os.path.abspath(Path(path).expanduser())).resolve()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _refuse(option: str, path: Path | str, why: str, hint: str = FORCE_HINT) -> OutputRefused:
    return OutputRefused(f"{option} {path}: {why}; {hint}")


def _check_inputs(
    target: Path, shown: Path | str, option: str, command: str, inputs: list[Path], runs: list[Path], hint: str
) -> None:
    """``target`` is not an input, and not inside a scanned input folder."""
    for q in inputs + runs:
        if target == _resolved(q):
            raise _refuse(option, shown, f"is {q}, an input of `vadkit {command}`", hint)
    for q in inputs:
        rq = _resolved(q)
        if rq.is_dir() and _inside(target, rq):
            raise _refuse(option, shown, f"lies inside {q}, an input folder of `vadkit {command}`", hint)


def _check_run_part(target: Path, shown: Path | str, option: str, command: str, own: Path | None) -> None:
    """``target`` is no part of a run that ``command`` does not write."""
    run = RunFolder.enclosing(target)
    if run is None:
        return
    part = run.part_of(target)
    if part is None:
        return
    if own is not None and run.root == _resolved(own) and part in WRITERS.get(command, frozenset()):
        return
    whose = "its run" if own is not None and run.root == _resolved(own) else f"run {run.root}"
    name, what = PARTS[part]
    where = (
        f"is {what} ({name})"
        if target.parent == run.root
        else f"lies in {what} ({target.relative_to(run.root).parts[0]}/)"
    )
    raise _refuse(option, shown, f"{where} of {whose}, which `vadkit {command}` does not write")


def check_output(
    path: Path | str,
    *,
    command: str,
    option: str = "--out",
    inputs: Iterable[Path | str] = (),
    runs: Iterable[Path | str] = (),
    own_run: Path | str | None = None,
    folder: bool = False,
    files: Iterable[str] = (),
    force: bool = False,
    hint: str = FORCE_HINT,
) -> Path:
    """Refuse ``path`` (an output of ``vadkit command``) when it would overwrite what the command
    did not write (see the module docstring); ``path`` otherwise.

    ``inputs``: paths the command reads (files, or folders it scans); ``runs``: run folders it
    reads; ``own_run``: the run whose parts (``WRITERS[command]``) it writes; ``folder``: the
    output is a folder receiving ``files``.
    """
    if force:
        return Path(path)
    inputs_l = [Path(q) for q in inputs if str(q) and Path(q).exists()]
    runs_l = [Path(r) for r in runs]
    target = _resolved(path)
    targets = [target, *(target / f for f in files)] if folder else [target]
    if folder and RunFolder.is_run(target) and not (own_run is not None and "recipe" in WRITERS.get(command, ())):
        raise _refuse(option, path, f"is a run folder; `vadkit {command}` would write its files among the run's")
    for t in targets:
        shown = path if t == target else t
        _check_inputs(t, shown, option, command, inputs_l, runs_l, hint)
        _check_run_part(t, shown, option, command, None if own_run is None else Path(own_run))
    return Path(path)


def check_run_outputs(run: Path | str, command: str, *, inputs: Iterable[Path | str] = (), force: bool = False) -> None:
    """A command writing fixed parts of its own ``--run`` (eval, calibrate, validate): none of
    them may be an input or lie inside one (e.g. ``--data`` pointing at the run itself)."""
    folder = RunFolder(Path(run))
    for part in sorted(WRITERS[command]):
        check_output(
            folder.path(part),
            command=command,
            option=f"{command} output",
            inputs=inputs,
            own_run=folder.root,
            force=force,
            hint="pass the dataset root with --data (or --force to write it anyway)",
        )


__all__ = ["OutputRefused", "check_output", "check_run_outputs"]
