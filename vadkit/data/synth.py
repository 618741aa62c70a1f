"""Synthetic diagnostic scenes that separate appearance, motion and joint anomalies.

Training (normal only): circles drift right slowly, squares fall fast, over a static textured
background. Each test video starts normal and then shows one anomalous object:

- ``appearance``: a new shape with a striped texture (triangle or cross), drifting like a circle;
- ``motion``: a circle moving left fast or a square rising fast (a velocity no object has in training);
- ``joint``: a circle falling fast (a known shape with a known motion, never paired in training).

Output (the ``frames`` layout, read by the same loader as real data)::

    OUT/training/frames/<video>/000.png     OUT/testing/frames/<video>/000.png
    OUT/testing/masks/<video>/000.png       pixel masks of the anomalous object (0/255)
    OUT/frame_labels_synth.npy              flat 0/1 labels of all test frames, videos in order
    OUT/categories.json                     video -> per-frame category ("" = normal)
    OUT/synth.json                          the generation parameters
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

CATEGORIES = ("appearance", "motion", "joint")
SHIFT = 4  # cv2 fixed-point bits for sub-pixel drawing
CIRCLE_RGB = (235, 150, 40)
SQUARE_RGB = (40, 90, 225)
STRIPES_RGB = ((250, 250, 60), (20, 20, 20))


@dataclass
class SynthConfig:
    """Sizes and rates of a synthetic set; defaults generate in a few seconds."""

    train_videos: int = 8
    test_videos: int = 6
    frames: int = 80
    size: int = 128
    object_size: int = 18
    objects: tuple[int, int] = (2, 4)
    slow_speed: tuple[float, float] = (0.8, 1.4)
    fast_speed: tuple[float, float] = (5.0, 7.0)
    anomaly_start: tuple[float, float] = (0.3, 0.5)
    noise: float = 2.0
    categories: tuple[str, ...] = field(default=CATEGORIES)


@dataclass
class Obj:
    kind: str  # circle | square | triangle | cross
    x: float
    y: float
    vx: float
    vy: float
    striped: bool = False
    anomalous: bool = False


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Static texture: smooth colour blobs + fine grain + a faint grid (float32 RGB 0..255)."""
    low = cv2.resize(rng.uniform(70, 150, (6, 6, 3)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    grain = cv2.GaussianBlur(rng.normal(0, 12, (size, size)).astype(np.float32), (0, 0), 1.0)
    img = low * np.array([0.8, 0.9, 0.85], np.float32) + grain[..., None]
    img[:: max(size // 8, 4), :] -= 18
    img[:, :: max(size // 8, 4)] -= 18
    return np.clip(img, 0, 255)


def _poly(obj: Obj, s: float) -> list[np.ndarray]:
    h = s / 2
    if obj.kind == "square":
        pts = [[(-h, -h), (h, -h), (h, h), (-h, h)]]
    elif obj.kind == "triangle":
        pts = [[(0, -h * 1.15), (h * 1.1, h), (-h * 1.1, h)]]
    else:  # cross
        t = s / 6
        pts = [[(-h, -t), (h, -t), (h, t), (-h, t)], [(-t, -h), (t, -h), (t, h), (-t, h)]]
    scale = 1 << SHIFT
    return [np.round((np.array(p) + (obj.x, obj.y)) * scale).astype(np.int32) for p in pts]


def object_mask(obj: Obj, size: int, s: float) -> np.ndarray:
    """Anti-aliased coverage of one object in [0, 1]."""
    m = np.zeros((size, size), np.uint8)
    if obj.kind == "circle":
        c = (int(round(obj.x * (1 << SHIFT))), int(round(obj.y * (1 << SHIFT))))
        cv2.circle(m, c, int(round(s / 2 * (1 << SHIFT))), 255, -1, cv2.LINE_AA, SHIFT)
    else:
        cv2.fillPoly(m, _poly(obj, s), 255, cv2.LINE_AA, SHIFT)
    return m.astype(np.float32) / 255.0


def _paint(img: np.ndarray, obj: Obj, mask: np.ndarray, grid: tuple[np.ndarray, np.ndarray]) -> None:
    if obj.striped:
        yy, xx = grid
        phase = ((xx - obj.x + yy - obj.y) // 4).astype(np.int64) % 2
        colour = np.where(phase[..., None] == 0, STRIPES_RGB[0], STRIPES_RGB[1]).astype(np.float32)
    else:
        colour = np.array(CIRCLE_RGB if obj.kind == "circle" else SQUARE_RGB, np.float32)
    img *= 1 - mask[..., None]
    img += mask[..., None] * colour


def _normal(rng: np.random.Generator, cfg: SynthConfig, inside: bool) -> Obj:
    """A training-distribution object entering at its edge (or anywhere on its path if ``inside``)."""
    n, r = cfg.size, cfg.object_size / 2
    if rng.random() < 0.5:
        y = rng.uniform(r + 2, n - r - 2)
        x = rng.uniform(r, n - r) if inside else -r
        return Obj("circle", x, y, rng.uniform(*cfg.slow_speed), rng.uniform(-0.15, 0.15))
    x = rng.uniform(r + 2, n - r - 2)
    y = rng.uniform(r, n - r) if inside else -r
    return Obj("square", x, y, rng.uniform(-0.3, 0.3), rng.uniform(*cfg.fast_speed))


def _anomaly(rng: np.random.Generator, cfg: SynthConfig, category: str) -> Obj:
    n, r = cfg.size, cfg.object_size / 2
    mid = rng.uniform(r + 4, n - r - 4)
    fast = rng.uniform(*cfg.fast_speed)
    if category == "appearance":
        kind = "triangle" if rng.random() < 0.5 else "cross"
        x = rng.uniform(0.45 * n, 0.7 * n)
        return Obj(kind, x, mid, rng.uniform(*cfg.slow_speed), 0.0, striped=True, anomalous=True)
    if category == "motion":
        if rng.random() < 0.5:
            return Obj("circle", n + r, mid, -fast, 0.0, anomalous=True)
        return Obj("square", mid, n + r, 0.0, -fast, anomalous=True)
    if category == "joint":
        return Obj("circle", mid, -r, rng.uniform(-0.3, 0.3), fast, anomalous=True)
    raise ValueError(f"unknown anomaly category {category!r}; use {', '.join(CATEGORIES)}")


def _gone(o: Obj, n: int, r: float) -> bool:
    return o.x < -r - 1 or o.x > n + r + 1 or o.y < -r - 1 or o.y > n + r + 1


def render_video(rng: np.random.Generator, cfg: SynthConfig, bg: np.ndarray, category: str | None):
    """Yield (frame RGB uint8, anomaly mask bool | None) for one video."""
    n, s, r = cfg.size, cfg.object_size, cfg.object_size / 2
    grid = np.mgrid[0:n, 0:n].astype(np.float32)
    objs = [_normal(rng, cfg, inside=True) for _ in range(int(rng.integers(cfg.objects[0], cfg.objects[1] + 1)))]
    wait = [0] * len(objs)
    start = int(rng.uniform(*cfg.anomaly_start) * cfg.frames) if category else -1
    for t in range(cfg.frames):
        if t == start:
            objs.append(_anomaly(rng, cfg, category))  # type: ignore[arg-type]
            wait.append(0)
        img = bg.copy()
        amask = np.zeros((n, n), bool) if category else None
        for o in objs:
            m = object_mask(o, n, s)
            _paint(img, o, m, (grid[0], grid[1]))
            if o.anomalous and amask is not None:
                amask |= m > 0.5
        img += rng.normal(0, cfg.noise, img.shape).astype(np.float32) if cfg.noise > 0 else 0
        yield np.clip(img + 0.5, 0, 255).astype(np.uint8), amask
        for i, o in enumerate(objs):
            o.x += o.vx
            o.y += o.vy
            if _gone(o, n, r) and not o.anomalous:
                if wait[i] == 0:
                    wait[i] = int(rng.integers(1, 10))
                wait[i] -= 1
                if wait[i] == 0:
                    objs[i] = _normal(rng, cfg, inside=False)


def _write(path: Path, rgb_or_gray: np.ndarray) -> None:
    img = cv2.cvtColor(rgb_or_gray, cv2.COLOR_RGB2BGR) if rgb_or_gray.ndim == 3 else rgb_or_gray
    if not cv2.imwrite(str(path), img, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise OSError(f"cannot write {path}")


def generate(out: Path, seed: int = 0, **sizes) -> Path:
    """Write a synthetic set to ``out`` (replacing an earlier synthetic set there); returns ``out``.
    Keyword arguments override :class:`SynthConfig` fields."""
    cfg = SynthConfig(**sizes)
    if cfg.frames < 20 or cfg.size < 32 or cfg.test_videos < 1 or cfg.train_videos < 1:
        raise ValueError("need frames >= 20, size >= 32 and at least one training and one test video")
    out = Path(out)
    for sub in ("training", "testing"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    root_seq = np.random.SeedSequence(seed)
    bg_seq, *video_seqs = root_seq.spawn(1 + cfg.train_videos + cfg.test_videos)
    bg = background(np.random.default_rng(bg_seq), cfg.size)
    width = max(2, len(str(max(cfg.train_videos, cfg.test_videos))))
    digits = max(3, len(str(cfg.frames - 1)))
    labels: list[np.ndarray] = []
    cats: dict[str, list[str]] = {}
    for i in range(cfg.train_videos + cfg.test_videos):
        testing = i >= cfg.train_videos
        j = i - cfg.train_videos if testing else i
        name = f"{j + 1:0{width}d}"
        category = cfg.categories[j % len(cfg.categories)] if testing else None
        fdir = out / ("testing" if testing else "training") / "frames" / name
        fdir.mkdir(parents=True)
        mdir = out / "testing" / "masks" / name
        if testing:
            mdir.mkdir(parents=True)
        lab = np.zeros(cfg.frames, np.uint8)
        for t, (frame, mask) in enumerate(render_video(np.random.default_rng(video_seqs[i]), cfg, bg, category)):
            _write(fdir / f"{t:0{digits}d}.png", frame)
            if testing:
                lab[t] = bool(mask.any())  # type: ignore[union-attr]
                _write(mdir / f"{t:0{digits}d}.png", mask.astype(np.uint8) * 255)  # type: ignore[union-attr]
        if testing:
            labels.append(lab)
            cats[name] = [category if v else "" for v in lab]  # type: ignore[misc]
    np.save(out / "frame_labels_synth.npy", np.concatenate(labels).astype(np.int64))
    (out / "categories.json").write_text(json.dumps(cats))
    meta = {"generator": "vadkit.data.synth", "version": 1, "seed": seed, **asdict(cfg)}
    (out / "synth.json").write_text(json.dumps(meta, indent=1))
    return out
