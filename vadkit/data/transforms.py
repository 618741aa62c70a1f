"""The frame and flow preprocessing every model input goes through (training, eval, detect)."""

from __future__ import annotations

import cv2
import numpy as np


def resize_frame(rgb: np.ndarray, resolution: tuple[int, int], channels: int) -> np.ndarray:
    """HxWx3 uint8 RGB -> (C, h, w) uint8 at the model resolution.

    INTER_AREA when shrinking both sides, else INTER_LINEAR; ``channels=1`` converts to luma,
    3 keeps RGB (grayscale sources arrive replicated to RGB).
    """
    h, w = resolution
    if rgb.shape[:2] != (h, w):
        interp = cv2.INTER_AREA if h < rgb.shape[0] and w < rgb.shape[1] else cv2.INTER_LINEAR
        rgb = cv2.resize(rgb, (w, h), interpolation=interp)
    if channels == 1:
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[None]
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))


def normalise_flow(flow: np.ndarray, scale: float, clip: float | None) -> np.ndarray:
    """Flow in pixels of the model grid -> what the motion stream sees: / scale, then clipped."""
    flow = np.asarray(flow, dtype=np.float32) / scale
    if clip is not None:
        np.clip(flow, -clip, clip, out=flow)
    return flow


def resize_flow(flow: np.ndarray, resolution: tuple[int, int]) -> np.ndarray:
    """Resize an (H0, W0, 2) flow to (H, W) and scale the vectors to the new pixel grid:
    u *= W / W0, v *= H / H0. Returns (2, H, W) float32."""
    h0, w0 = flow.shape[:2]
    h, w = resolution
    if (h0, w0) != (h, w):
        interp = cv2.INTER_AREA if h < h0 and w < w0 else cv2.INTER_LINEAR
        flow = cv2.resize(flow, (w, h), interpolation=interp)
        flow = flow * np.array([w / w0, h / h0], np.float32)
    return np.ascontiguousarray(flow.transpose(2, 0, 1), dtype=np.float32)
