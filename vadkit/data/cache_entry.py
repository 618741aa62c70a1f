"""What the flow cache and the frame cache share: an entry's file name (video name + a hash of
everything that determines its content), its metadata (the key plus a CRC32 of the whole
``.npy``), reading it back as a memory map trusted only when its shape, dtype and checksum are
the ones expected (a damaged entry is reported in one line and recomputed), the marker that
proves a folder is a vadkit cache, and filling missing entries across worker processes
(vadkit/data/cache_workers.py)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from vadkit.atomic import atomic_write_text

from .cache_workers import fill_entries
from .video import Video

MARKER = ".vadkit-cache"  # in every folder a vadkit cache writes: `vadkit cache clear` needs it
KEY_FIELDS = ("version", "split", "video", "frames", "resolution", "source")
_verified: set[tuple[str, int, int, int]] = set()  # (path, inode, size, mtime) checked in this process
_reported: set[tuple[str, str]] = set()


def entry_path(directory: Path, video: Video, key: dict[str, Any]) -> Path:
    """``<split>-<video>-<sha256 of key>.npy`` in ``directory`` (unsafe characters replaced)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{video.split}-{video.name}")
    return Path(directory) / f"{safe}-{digest}.npy"


def file_crc32(path: Path) -> int:
    """CRC32 of a file's bytes (a few hundred MB/s: cheap next to decoding or flow)."""
    crc = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            crc = zlib.crc32(block, crc)
    return crc


def mark_cache(directory: Path) -> None:
    """Write the marker proving ``directory`` (and its parent for ``frames/``, ``checks/``) is a cache."""
    directory = Path(directory)
    for d in (directory, directory.parent) if directory.name in ("frames", "checks") else (directory,):
        if d.is_dir() and not (d / MARKER).is_file():
            atomic_write_text(d / MARKER, json.dumps({"vadkit_cache": 1}) + "\n")


def read_meta(path: Path) -> dict[str, Any] | None:
    """The metadata of entry ``path`` when it is a vadkit entry's (a JSON object with the key fields)."""
    try:
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return meta if isinstance(meta, dict) and all(k in meta for k in KEY_FIELDS) else None


def write_meta(tmp_data: Path, meta_tmp: Path, key: dict[str, Any]) -> None:
    """The key + the CRC32 of the finished temporary data file, into ``meta_tmp``."""
    meta_tmp.write_text(json.dumps({**key, "crc32": file_crc32(tmp_data)}, indent=1))


def _damaged(path: Path, why: str) -> None:
    """One line per damaged entry and process (the fill checks it, then its writer again)."""
    if (str(path), why) not in _reported:
        _reported.add((str(path), why))
        print(f"cache: {path}: {why}; recomputing it", file=sys.stderr, flush=True)


def _checksum_ok(path: Path) -> str | None:
    """None when the data's CRC32 matches its metadata's, else why not."""
    meta = read_meta(path)
    if meta is None or not isinstance(meta.get("crc32"), int):
        return "no checksum in its metadata (damaged, or written by an older vadkit)"
    st = path.stat()
    stamp = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if stamp in _verified:
        return None
    if file_crc32(path) != meta["crc32"]:
        return "checksum mismatch (the data is damaged)"
    _verified.add(stamp)
    return None


def load_entry(path: Path, shape: tuple[int, ...], dtype: Any) -> np.memmap | None:
    """A valid entry as a read-only memory map, or None: missing, or damaged (unreadable, other
    shape or dtype, checksum mismatch: reported in one line, the caller recomputes it)."""
    if not path.is_file():
        return None
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        _damaged(path, f"unreadable ({exc})")
        return None
    if arr.shape != tuple(shape) or arr.dtype != np.dtype(dtype):
        _damaged(path, f"shape {arr.shape} {arr.dtype}, expected {tuple(shape)} {np.dtype(dtype)}")
        return None
    why = _checksum_ok(path)
    if why is not None:
        _damaged(path, why)
        return None
    return arr


def remove_entry(path: Path) -> None:
    """Delete entry ``path`` and its metadata (a damaged entry before it is written again)."""
    for p in (path, path.with_suffix(".json")):
        p.unlink(missing_ok=True)


def fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


__all__ = [
    "entry_path",
    "load_entry",
    "fill_entries",
    "mark_cache",
    "read_meta",
    "write_meta",
    "file_crc32",
    "MARKER",
    "KEY_FIELDS",
]
