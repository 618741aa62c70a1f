"""Optical-flow plugins (kind ``flow``), implementing :class:`vadkit.data.FlowEstimator`:
``est(prev_rgb, next_rgb) -> (H, W, 2) float32`` flow from ``prev`` to ``next`` in pixels of the
ORIGINAL frame (x then y), plus ``cache_key()`` naming the method and its parameters.

OpenCV objects are created lazily per process (they cannot be pickled), so estimators can be
handed to worker processes.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from vadkit.data import DataError, FlowEstimator

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def _gray(rgb: np.ndarray) -> np.ndarray:
    return rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


class LazyCV(FlowEstimator):
    """Drops the OpenCV object on pickling; it is rebuilt on first use in the new process."""

    _impl: Any = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_impl"] = None
        return state


class DISFlow(LazyCV):
    """OpenCV DIS optical flow (default). ``preset``: ultrafast, fast or medium."""

    def __init__(self, preset: str = "fast") -> None:
        if preset not in DIS_PRESETS:
            raise ValueError(f"preset must be one of {', '.join(DIS_PRESETS)}, got {preset!r}")
        self.preset = preset
        self._impl = None

    def __call__(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        if self._impl is None:
            self._impl = cv2.DISOpticalFlow_create(DIS_PRESETS[self.preset])  # type: ignore[attr-defined]  # not in the stubs
        return self._impl.calc(_gray(prev), _gray(nxt), None).astype(np.float32, copy=False)

    def cache_key(self) -> dict:
        return {"method": "dis", "preset": self.preset, "opencv": cv2.__version__.split(".")[0]}


class FarnebackFlow(FlowEstimator):
    """OpenCV Farneback dense flow, parameters as in ``cv2.calcOpticalFlowFarneback``."""

    def __init__(
        self,
        pyr_scale: float = 0.5,
        levels: int = 3,
        winsize: int = 15,
        iterations: int = 3,
        poly_n: int = 5,
        poly_sigma: float = 1.2,
    ) -> None:
        self.params = dict(
            pyr_scale=float(pyr_scale),
            levels=int(levels),
            winsize=int(winsize),
            iterations=int(iterations),
            poly_n=int(poly_n),
            poly_sigma=float(poly_sigma),
        )

    def __call__(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        flow = cv2.calcOpticalFlowFarneback(
            _gray(prev),
            _gray(nxt),
            None,
            flags=0,  # type: ignore[call-overload]
            **self.params,
        )
        return flow.astype(np.float32)

    def cache_key(self) -> dict:
        return {"method": "farneback", **self.params}


class RAFTFlow(FlowEstimator):
    """torchvision RAFT (``model = "small"|"large"``); weights only from a local file the user
    names. Runs on CPU unless ``device`` says otherwise; slow without a GPU."""

    def __init__(self, weights: str, model: str = "small", iters: int = 12, device: str = "cpu") -> None:
        from pathlib import Path

        path = Path(weights).expanduser()
        if not path.is_file():
            raise ValueError(f"RAFT weights file not found: {path}")
        if model not in ("small", "large"):
            raise ValueError(f"model must be 'small' or 'large', got {model!r}")
        self.weights, self.model, self.iters, self.device = str(path.resolve()), model, int(iters), device
        self._net = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_net": None}

    def _load(self):
        import torch
        from torchvision.models.optical_flow import raft_large, raft_small

        net = (raft_small if self.model == "small" else raft_large)(weights=None, progress=False)
        try:
            state = torch.load(self.weights, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise DataError(f"{self.weights}: cannot load RAFT weights: {exc}") from None
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            raise DataError(f"{self.weights}: weights do not match torchvision raft_{self.model}: {exc}") from None
        self._net = net.eval().to(self.device)
        return self._net

    def __call__(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        net = self._net or self._load()
        h, w = prev.shape[:2]
        # RAFT needs sides that are multiples of 8 and at least 128 (its correlation pyramid)
        ph, pw = max((-h) % 8, 128 - h), max((-w) % 8, 128 - w)

        def prep(img: np.ndarray) -> torch.Tensor:
            rgb = np.repeat(img[..., None], 3, -1) if img.ndim == 2 else img
            t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().div(127.5).sub(1)
            return F.pad(t, (0, pw, 0, ph), mode="replicate").to(self.device)

        with torch.inference_mode():
            flow = net(prep(prev), prep(nxt), num_flow_updates=self.iters)[-1]
        return flow[0, :, :h, :w].permute(1, 2, 0).float().cpu().numpy()

    def cache_key(self) -> dict:
        import os

        st = os.stat(self.weights)
        return {
            "method": "raft",
            "model": self.model,
            "iters": self.iters,
            "weights": self.weights,
            "weights_size": st.st_size,
            "weights_mtime": int(st.st_mtime),
        }
