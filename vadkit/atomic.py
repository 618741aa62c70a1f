"""Atomic file writes: a process killed at any moment leaves the old file or the new one,
never half a file that is later read as valid."""

from __future__ import annotations

import os
import re
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def _umask_mode() -> int:
    """The mode a plainly created file gets (mkstemp alone would leave 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def writer_tag() -> str:
    """``host-pid`` of this process, put in temporary file names so that a later run can tell
    whether their writer is still alive (see :func:`clean_stale_temps`)."""
    host = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:24] or "host"
    return f"{host}-{os.getpid()}"


def temp_name(path: Path) -> Path:
    """A unique temporary name beside ``path`` carrying :func:`writer_tag`."""
    return path.with_name(f".{path.name}.{writer_tag()}-{os.urandom(4).hex()}.tmp")


# the writer tag is the last ".host-pid-random" before ".tmp" (the target name may hold dashes)
_TAG = re.compile(r"^\..*\.(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-[^.]*\.tmp$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_temps(directory: Path, max_age_s: float = 3600.0) -> list[Path]:
    """Temporary files (``.*.tmp``) in ``directory`` left by killed writers: their writer ran on
    this host and is dead, or they are older than ``max_age_s`` (writers on other hosts)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    host, now, out = writer_tag().rsplit("-", 1)[0], time.time(), []
    for p in directory.glob(".*.tmp"):
        try:
            age = now - p.stat().st_mtime
        except OSError:
            continue
        m = _TAG.search(p.name)
        dead_here = m is not None and m["host"] == host and not _pid_alive(int(m["pid"]))
        if dead_here or age > max_age_s:
            out.append(p)
    return out


def clean_stale_temps(directory: Path, max_age_s: float = 3600.0) -> int:
    """Delete :func:`stale_temps` of ``directory``; how many were removed."""
    removed = 0
    for p in stale_temps(directory, max_age_s):
        try:
            p.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(fh)`` on a temporary file beside ``path``, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{writer_tag()}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is None:  # a failed write or fsync (disk full): name the file it was for
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
