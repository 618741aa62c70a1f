"""One writer per output folder: an exclusive advisory lock (``flock``) on ``<folder>/.vadkit.lock``,
held while a command writes the folder and released by the kernel when the process ends, even
by kill -9 (no stale lock to clean). A second writer gets one line naming the holder's PID.

Reentrant within a process (a command that locks its run folder may call code that locks it
again); the file's content is the holder's ``pid host command`` for the message only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from .errors import VadkitError

LOCK_NAME = ".vadkit.lock"
_held: dict[str, list[int]] = {}  # resolved lock file -> [fd, depth]


class FolderBusy(VadkitError):
    """Another process holds the folder's lock."""


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 512, 0).decode("utf-8", "replace").split()
    except OSError:
        text = []
    pid = text[0] if text else "?"
    what = " ".join(text[2:]) if len(text) > 2 else "another vadkit command"
    return f"pid {pid}{' on ' + text[1] if len(text) > 1 else ''} ({what})"


def acquire(folder: Path, what: str, lock_name: str = LOCK_NAME) -> None:
    """Lock ``folder`` (created when missing) for this process; FolderBusy when another has it.
    ``lock_name``: another lock file in ``folder`` (an export locks ``.<name>.lock`` beside
    the folder it replaces whole)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = str(folder.resolve() / lock_name)
    if key in _held:
        _held[key][1] += 1
        return
    fd = os.open(folder / lock_name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        target = folder if lock_name == LOCK_NAME else folder / lock_name[1:].removesuffix(".lock")
        raise FolderBusy(
            f"{target}: in use by {holder}, which is writing it; wait for it to end or choose another output folder"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    cmd = " ".join(["vadkit", what] if what else [os.path.basename(sys.argv[0])])
    os.pwrite(fd, f"{os.getpid()} {socket.gethostname()} {cmd}\n".encode(), 0)
    _held[key] = [fd, 1]


def release(folder: Path, lock_name: str = LOCK_NAME) -> None:
    """Undo one :func:`acquire` of ``folder``; the lock goes when the outermost one is undone."""
    key = str(Path(folder).resolve() / lock_name)
    entry = _held.get(key)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] <= 0:
        del _held[key]
        os.close(entry[0])  # closing the descriptor drops the flock


@contextlib.contextmanager
def folder_lock(folder: Path, what: str, lock_name: str = LOCK_NAME) -> Iterator[Path]:
    """``with folder_lock(out, "train"):`` holds ``out``'s lock for the block."""
    acquire(folder, what, lock_name)
    try:
        yield Path(folder)
    finally:
        release(folder, lock_name)


@contextlib.contextmanager
def folder_locks(folders: list[Path], what: str) -> Iterator[None]:
    """Lock several folders (all or none)."""
    with contextlib.ExitStack() as stack:
        for f in folders:
            stack.enter_context(folder_lock(f, what))
        yield


def is_locked(folder: Path) -> bool:
    """True while some process (this one included) holds ``folder``'s lock."""
    path = Path(folder) / LOCK_NAME
    if str(Path(folder).resolve() / LOCK_NAME) in _held:
        return True
    if not path.is_file():
        return False
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


__all__ = ["FolderBusy", "LOCK_NAME", "acquire", "release", "folder_lock", "folder_locks", "is_locked"]
