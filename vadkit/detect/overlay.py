"""The overlay video: each frame with its prediction-error heatmap blended in, a strip of the
recent score history with the threshold, and the anomaly state."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import cv2
import numpy as np

STRIP_H = 64
RED, GREEN, GREY, WHITE, YELLOW = (0, 0, 255), (0, 170, 0), (140, 140, 140), (255, 255, 255), (0, 220, 255)


class OverlayWriter:
    """Writes ``overlay.avi`` (MJPG) frame by frame; keeps only ``strip_frames`` past scores."""

    def __init__(
        self,
        path: Path,
        fps: float,
        threshold: float,
        error_scale: float,
        max_width: int = 640,
        strip_frames: int = 200,
    ) -> None:
        self.path, self.fps, self.threshold = Path(path), float(fps), float(threshold)
        self.error_scale, self.max_width = max(float(error_scale), 1e-6), int(max_width)
        self.history: deque[float] = deque(maxlen=int(strip_frames))
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self.failed: str | None = None

    def _display(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        if self.max_width and w > self.max_width:
            rgb = cv2.resize(rgb, (self.max_width, round(h * self.max_width / w)), interpolation=cv2.INTER_AREA)
        elif w < 320:  # tiny sources are upscaled so the text stays legible
            f = 320 / w
            rgb = cv2.resize(rgb, (320, round(h * f)), interpolation=cv2.INTER_NEAREST)
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)

    def frame(
        self,
        rgb: np.ndarray,
        index: int,
        time_s: float,
        score: float | None = None,
        flagged: bool = False,
        error: np.ndarray | None = None,
    ) -> np.ndarray:
        """Draw one frame (``score=None``: warming up, not scored) and append it to the video."""
        img = self._display(rgb)
        h, w = img.shape[:2]
        if error is not None:
            e = cv2.resize(
                np.clip(error / self.error_scale, 0, 1).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR
            )
            heat = cv2.applyColorMap((e * 255).astype(np.uint8), cv2.COLORMAP_JET)
            alpha = (0.65 * e)[..., None]
            img = (img * (1 - alpha) + heat * alpha).astype(np.uint8)
        if score is not None:
            self.history.append(score)
        canvas = np.zeros((h + STRIP_H, w, 3), np.uint8)
        canvas[:h] = img
        self._strip(canvas[h:], flagged)
        if score is None:
            label, color = "warming up (needs T past frames)", GREY
        elif flagged:
            label, color = "ANOMALY", RED
            cv2.rectangle(canvas, (0, 0), (w - 1, h - 1), RED, 4)
        else:
            label, color = "normal", GREEN
        text = f"#{index}  {time_s:7.2f}s" + ("" if score is None else f"  score {score:+.2f}")
        for t, y, c in ((text, 18, WHITE), (label, 40, color)):
            cv2.putText(canvas, t, (8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(canvas, t, (8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, c, 1, cv2.LINE_AA)
        self._write(canvas)
        return canvas

    def _strip(self, strip: np.ndarray, flagged: bool) -> None:
        strip[:] = (32, 32, 32)
        h, w = strip.shape[:2]
        values = np.asarray(self.history, np.float64)
        top = max(self.threshold * 1.5, float(values.max()) if values.size else 1.0, 1e-6)
        bottom = min(0.0, float(values.min()) if values.size else 0.0)

        def y(v: float) -> int:
            return int(round((h - 4) - (v - bottom) / (top - bottom + 1e-9) * (h - 8)))

        cv2.line(strip, (0, y(self.threshold)), (w - 1, y(self.threshold)), YELLOW, 1, cv2.LINE_AA)
        if values.size >= 2:
            n = self.history.maxlen or values.size
            xs = (np.arange(values.size) + (n - values.size)) * (w - 1) / max(1, n - 1)
            pts = np.stack([xs, [y(v) for v in values]], axis=1).astype(np.int32)
            cv2.polylines(strip, [pts], False, RED if flagged else WHITE, 1, cv2.LINE_AA)
        cv2.putText(strip, "score", (4, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, GREY, 1, cv2.LINE_AA)

    def _write(self, canvas: np.ndarray) -> None:
        if self.failed:
            return
        size = (canvas.shape[1], canvas.shape[0])
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*"MJPG")  # type: ignore[attr-defined]  # missing from OpenCV's stubs
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, size)
            self._size = size
            if not self._writer.isOpened():
                self.failed = f"{self.path}: OpenCV cannot write an MJPG video here"
                return
        self._writer.write(canvas)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
