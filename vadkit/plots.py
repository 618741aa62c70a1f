"""Pictures of a run: regularity curves with ground-truth spans (paper Fig. 3) and
input / prediction / error panels of the most anomalous frames (paper Fig. 4)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .inference import VideoScores  # noqa: E402


def spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive [start, end] index runs where ``mask`` is true."""
    mask = np.asarray(mask, dtype=bool)
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Lay out, write and close a figure, as PNG whatever the name (eval writes temporary names)."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def regularity_curve(video: VideoScores, path: Path, title: str | None = None) -> Path:
    """R_t over the video with its anomalous spans shaded."""
    frames = np.asarray(video.frames)
    fig, ax = plt.subplots(figsize=(8, 2.6), dpi=100)
    labels = np.asarray(video.labels)
    for a, b in spans(labels == 1):
        ax.axvspan(frames[a] - 0.5, frames[b] + 0.5, color="tab:red", alpha=0.18, lw=0)
    ax.plot(frames, np.asarray(video.regularity), color="tab:blue", lw=1.4, label="regularity $R_t$")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(frames.min() - 1, frames.max() + 1)
    ax.set_xlabel("frame")
    ax.set_ylabel("$R_t$")
    ax.set_title(title or f"video {video.name}  (shaded: ground-truth anomaly)", fontsize=10)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def _to_image(x: np.ndarray) -> np.ndarray:
    """(C, H, W) in [-1, 1] -> (H, W, 3) in [0, 1] for display."""
    img = np.clip((np.asarray(x, dtype=np.float32) + 1) / 2, 0, 1)
    img = np.moveaxis(img, 0, -1)
    return np.repeat(img, 3, axis=-1) if img.shape[-1] == 1 else img


def error_panels(rows: list[dict], path: Path) -> Path:
    """One row per frame: last input frame, real frame t+1, prediction, error heatmap."""
    n = max(1, len(rows))
    fig, axes = plt.subplots(n, 4, figsize=(10, 2.6 * n), dpi=100, squeeze=False)
    for r, row in enumerate(rows):
        error = np.abs(np.asarray(row["prediction"]) - np.asarray(row["target"])).mean(axis=0) / 2
        panels = [
            (_to_image(row["input"]), "input (t)"),
            (_to_image(row["target"]), "real frame t+1"),
            (_to_image(row["prediction"]), "prediction"),
        ]
        for c, (img, name) in enumerate(panels):
            axes[r, c].imshow(img)
            axes[r, c].set_title(name, fontsize=9)
        im = axes[r, 3].imshow(error, cmap="inferno", vmin=0, vmax=max(float(error.max()), 1e-6))
        axes[r, 3].set_title("|error|", fontsize=9)
        fig.colorbar(im, ax=axes[r, 3], fraction=0.046, pad=0.04)
        axes[r, 0].set_ylabel(f"{row['video']} #{row['frame']}\nscore {row['score']:.2f}", fontsize=9)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    return save_figure(fig, path)
