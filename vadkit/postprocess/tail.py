"""Scale-free calibration of one statistic: its tail probability under normal frames.

A statistic's raw units say nothing about how unusual a value is: a memory distance whose
normal spread is 1e-7 and a PSNR whose spread is 2 dB must not be added as z-scores, or the
one with the tinier spread decides every frame. Here each statistic (signed so that larger =
more anomalous) becomes ``p(x) = P(X >= x)`` under the normal calibration frames, reported as
the surprisal ``-log10 p`` (1 = as rare as 1 normal frame in 10, 3 = 1 in 1000):

- body: the empirical distribution function of the calibration values, stored as quantiles on
  a grid of probability levels up to ``1 - t`` and interpolated linearly;
- tail: beyond the ``1 - t`` quantile ``u`` a generalised Pareto distribution (peaks over
  threshold) fitted to the exceedances by probability-weighted moments (Hosking & Wallis,
  1987), so values past the largest calibration value keep ranking instead of all getting
  ``p = 1 / n``. The shape is kept in [0, 0.5]: never a finite end point (every larger value is
  rarer), at most a heavy tail whose surprisal grows like ``log x``; a light tail (negative
  shape) is replaced by the exponential one, which overstates its probability, i.e. errs
  towards fewer alarms;
- beyond the largest calibration value nothing says how the tail goes on, so it is extended
  with the heaviest slope that is still a probability tail worth the name: ``p`` falls like
  ``1 / x`` (surprisal grows like ``log10`` of the distance past the maximum, in tail-scale
  units). A value a thousand tail scales past anything normal is 3 orders rarer, not 400, so a
  statistic whose normal spread is tiny cannot swamp the others on footage that merely differs
  from the calibration, while every larger value still ranks higher.

The body and the tail meet at ``u`` (p = t on both sides), so the surprisal is continuous and
non-decreasing in x. Everything is numpy; the state is a small JSON-serialisable dict.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

FEW_FRAMES = 200  # fewer calibration frames than this: the tail rests on few points (warn)
MIN_EXCEEDANCES = 20  # the tail fraction grows (up to MAX_TAIL) to keep this many points in it
BASE_TAIL = 0.1
MAX_TAIL = 0.5
GRID = 257  # probability levels stored for the body
MAX_SHAPE = 0.5
LN10 = math.log(10.0)


def tail_fraction(n: int) -> float:
    """Fraction of calibration frames in the fitted tail: 10 %, more when that is < 20 frames."""
    return float(min(MAX_TAIL, max(BASE_TAIL, MIN_EXCEEDANCES / max(n, 1))))


def is_constant(values: np.ndarray) -> bool:
    """True when a statistic does not vary on the calibration frames (relative to its size)."""
    values = np.asarray(values, np.float64)
    if values.size < 2:
        return True
    span = float(values.max() - values.min())
    return span <= 1e-12 * max(1.0, float(np.abs(values).max()))


def pwm_gpd(excess: np.ndarray) -> tuple[float, float]:
    """(shape xi, scale beta) of a generalised Pareto distribution fitted to exceedances > 0 by
    probability-weighted moments; when xi falls outside [0, MAX_SHAPE] it is clamped and beta
    matched to the mean (mean of a GPD = beta / (1 - xi))."""
    y = np.sort(np.asarray(excess, np.float64))
    n = y.size
    mean = float(y.mean()) if n else 0.0
    if n < 3 or mean <= 0:
        return 0.0, mean
    a1 = float(np.sum((n - np.arange(1, n + 1)) / (n - 1) * y) / n)
    denom = mean - 2.0 * a1
    xi = 0.0 if denom <= 0 else -(mean / denom - 2.0)  # Hosking's k = a0 / (a0 - 2 a1) - 2; xi = -k
    if 0.0 < xi <= MAX_SHAPE:
        return float(xi), float(2.0 * mean * a1 / denom)  # Hosking's sigma = 2 a0 a1 / (a0 - 2 a1)
    xi = float(min(MAX_SHAPE, max(0.0, xi)))
    return xi, mean * (1.0 - xi)


def fit_tail(values: np.ndarray) -> dict[str, Any]:
    """The calibration state of one signed statistic (larger = more anomalous)."""
    a = np.sort(np.asarray(values, np.float64))
    a = a[np.isfinite(a)]
    n = int(a.size)
    if n == 0 or is_constant(a):
        level = float(a[0]) if n else 0.0
        return {"n": n, "constant": True, "value": level}
    t = tail_fraction(n)
    levels = np.linspace(0.0, 1.0 - t, min(GRID, n))
    grid = np.quantile(a, levels)
    u = float(grid[-1])
    grid, first = np.unique(grid, return_index=True)  # ties: keep the highest level of each value
    levels = levels[np.r_[first[1:] - 1, len(levels) - 1]]
    xi, beta = pwm_gpd(a[a > u] - u)
    if beta <= 0:  # ties at the top: the whole sample's spread stands in for the tail's
        beta = float(np.std(a)) or float(a[-1] - a[0])
    return {
        "n": n,
        "constant": False,
        "levels": levels.tolist(),
        "grid": grid.tolist(),
        "tail_start": u,
        "tail_fraction": t,
        "tail_shape": xi,
        "tail_scale": beta,
        "max": float(a[-1]),
    }


def surprisal(values: np.ndarray, state: dict[str, Any]) -> np.ndarray:
    """-log10 of the normal tail probability of each value (0 at or below the normal minimum).

    NaN stays NaN (a broken frame is never scored as normal); +inf maps to +inf."""
    x = np.asarray(values, np.float64)
    if state.get("constant"):
        return np.zeros_like(x) + np.where(np.isnan(x), np.nan, 0.0)
    grid, levels = _arrays(state)  # strictly increasing values, their levels
    body_p = 1.0 - np.interp(x, grid, levels, left=0.0, right=levels[-1])
    out = -np.log10(np.maximum(body_p, 1e-300))
    u, t = state["tail_start"], state["tail_fraction"]
    xi, beta = state["tail_shape"], state["tail_scale"]
    top = state.get("max", np.inf)
    over = x > u
    if over.any():
        out[over] = _gpd_surprisal(np.minimum(x[over], top), u, t, xi, beta)
        past = x > top
        if past.any():  # beyond the data: p falls like 1 / x
            out[past] = _gpd_surprisal(np.array([top]), u, t, xi, beta)[0] + np.log10(1.0 + (x[past] - top) / beta)
    nan = np.isnan(x)
    if nan.any():
        out[nan] = np.nan
    return out


_ARRAYS: dict[int, tuple[dict[str, Any], np.ndarray, np.ndarray]] = {}


def _arrays(state: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The state's grid and levels as arrays, converted once per state (detection calls
    ``surprisal`` for every frame with the same state)."""
    hit = _ARRAYS.get(id(state))
    if hit is None or hit[0] is not state:
        if len(_ARRAYS) > 64:
            _ARRAYS.clear()
        hit = _ARRAYS[id(state)] = (
            state,
            np.asarray(state["grid"], np.float64),
            np.asarray(state["levels"], np.float64),
        )
    return hit[1], hit[2]


def _gpd_surprisal(x: np.ndarray, u: float, t: float, xi: float, beta: float) -> np.ndarray:
    """-log10 p of values past the tail start under the fitted generalised Pareto tail."""
    y = (np.asarray(x, np.float64) - u) / beta
    log_s = -np.log1p(xi * y) / xi if xi > 0 else -y  # natural log of the GPD survival
    return -(math.log(t) + log_s) / LN10


def tail_probability(values: np.ndarray, state: dict[str, Any]) -> np.ndarray:
    """P(X >= x) under the fitted normal distribution (10 ** -surprisal)."""
    return np.power(10.0, -surprisal(values, state))


__all__ = ["fit_tail", "surprisal", "tail_probability", "tail_fraction", "pwm_gpd", "is_constant", "FEW_FRAMES"]
