"""Event clips and snapshots: pre-roll + event + post-roll as an .mp4 with the score drawn on
every frame, a JPEG of the peak frame, and a disk quota that deletes the oldest files first,
only among those this service wrote (a ledger lists them; nothing else is ever deleted)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import cv2
import numpy as np

from ..atomic import atomic_write_bytes, atomic_write_text

RED, GREEN, WHITE = (255, 60, 60), (60, 220, 60), (255, 255, 255)


MIN_WIDTH = 320  # smaller frames are enlarged so that the score text stays legible


def shrink(rgb: np.ndarray, width: int) -> np.ndarray:
    """``rgb`` at most ``width`` (and at least 320) wide, aspect kept, even sizes for the codec."""
    h, w = rgb.shape[:2]
    scale = max(min(1.0, width / w), min(MIN_WIDTH, width) / w)
    size = (max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2))
    if size == (w, h):
        return rgb
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def annotate(rgb: np.ndarray, score: float | None, threshold: float, flagged: bool, label: str) -> np.ndarray:
    """A copy of ``rgb`` with the score, the threshold and a bar (red when flagged)."""
    out = rgb.copy()
    h, w = out.shape[:2]
    colour = RED if flagged else GREEN
    text = f"{label}  score {score:.2f} / {threshold:.2f}" if score is not None else f"{label}  warming up"
    cv2.putText(out, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, WHITE, 1, cv2.LINE_AA)
    if score is not None:
        fill = int(w * min(1.0, max(0.0, score / (2 * threshold if threshold > 0 else 1.0))))
        out[h - 5 :, :fill] = colour
        out[h - 5 :, w // 2 : w // 2 + 1] = WHITE  # the threshold mark
    if flagged:
        cv2.rectangle(out, (0, 0), (w - 1, h - 1), RED, 2)
    return out


class ClipStore:
    """Where clips and snapshots go; enforces the quota on the files listed in its ledger."""

    def __init__(self, directory: Path, quota_bytes: float) -> None:
        self.dir = Path(directory)
        self.partial = self.dir / ".partial"
        self.partial.mkdir(parents=True, exist_ok=True)
        for p in self.partial.glob("*.mp4"):  # clips of a killed earlier run: this folder is ours
            p.unlink(missing_ok=True)
        self.quota = float(quota_bytes)
        self.ledger = self.dir / "ledger.json"
        self._lock = threading.Lock()
        self.files: list[list] = json.loads(self.ledger.read_text()) if self.ledger.is_file() else []
        self.deleted = 0

    def add(self, path: Path) -> None:
        """Record a file just written and delete the oldest recorded ones over the quota."""
        with self._lock:
            self.files.append([path.name, path.stat().st_size])
            total = sum(size for _, size in self.files)
            while total > self.quota and len(self.files) > 1:
                name, size = self.files.pop(0)
                (self.dir / name).unlink(missing_ok=True)
                total -= size
                self.deleted += 1
            atomic_write_text(self.ledger, json.dumps(self.files))

    def snapshot(self, name: str, rgb: np.ndarray) -> Path:
        ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
        path = self.dir / f"{name}.jpg"
        if ok:
            atomic_write_bytes(path, jpg.tobytes())
            self.add(path)
        return path

    def bytes_used(self) -> int:
        with self._lock:
            return sum(size for _, size in self.files)


class ClipRecorder:
    """One event's clip, written frame by frame to .partial/ and moved into place when done."""

    def __init__(self, store: ClipStore, name: str, fps: float) -> None:
        self.store, self.name, self.fps = store, name, fps
        self.tmp = store.partial / f"{name}.mp4"
        self.path = store.dir / f"{name}.mp4"
        self._writer: cv2.VideoWriter | None = None
        self.frames = 0
        self.failed: str | None = None

    def write(self, rgb: np.ndarray) -> None:
        if self.failed:
            return
        if self._writer is None:
            h, w = rgb.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")  # type: ignore[attr-defined]  # missing from OpenCV's stubs
            self._writer = cv2.VideoWriter(str(self.tmp), fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                self.failed = "OpenCV cannot write .mp4 (mp4v) here"
                return
        self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def finish(self) -> Path | None:
        """Close and move the clip into place; None when nothing could be written."""
        if self._writer is None:
            return None
        self._writer.release()
        self._writer = None
        if self.failed or not self.frames:
            self.tmp.unlink(missing_ok=True)
            return None
        os.replace(self.tmp, self.path)
        self.store.add(self.path)
        return self.path

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        self.tmp.unlink(missing_ok=True)


__all__ = ["ClipRecorder", "ClipStore", "annotate", "shrink"]
