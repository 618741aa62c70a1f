"""Memory diagnostics over an epoch: is the memory used, and how sharply is it read?

A memory may return ``MemoryOutput.diagnostics`` every step: scalars (e.g. ``entropy``,
``top1``, ``nearest_distance``) and ``*nearest_counts`` vectors (queries per item). This
accumulator averages the scalars over steps, weighted by the step's number of queries when the
counts say it, and sums the counts, so that ``usage`` (items ever nearest to a query) covers
the whole epoch, not one batch.
"""

from __future__ import annotations

from torch import Tensor

from ..interfaces import MemoryOutput

COUNTS = "nearest_counts"
PREFIX = "memory/"


class MemoryDiagnostics:
    """``update(output.memory)`` per step, ``summary()`` per epoch, ``reset()`` between epochs.

    summary keys: ``memory/<scalar>`` for each scalar diagnostic (``memory/entropy``,
    ``memory/top1``, ``memory/nearest_distance``), and for each ``<p>nearest_counts`` vector
    ``memory/<p>usage`` (items nearest to at least one query) and ``memory/<p>items`` (N).
    Empty when the memory reports nothing (no memory, or a plugin without diagnostics).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._sums: dict[str, float] = {}
        self._weights: dict[str, float] = {}
        self._counts: dict[str, Tensor] = {}

    def update(self, memory: MemoryOutput) -> None:
        diagnostics = getattr(memory, "diagnostics", None) or {}
        queries = {k[: -len(COUNTS)]: float(v.sum()) for k, v in diagnostics.items() if k.endswith(COUNTS)}
        for key, value in diagnostics.items():
            value = value.detach().float().cpu()
            if key.endswith(COUNTS):
                prev = self._counts.get(key)
                self._counts[key] = value.clone() if prev is None else prev + value
                continue
            if value.numel() != 1:
                continue  # only scalars are averaged; other tensors are not diagnostics we know
            prefix = next((p for p in sorted(queries, key=len, reverse=True) if key.startswith(p)), "")
            weight = queries.get(prefix, 1.0) or 1.0
            self._sums[key] = self._sums.get(key, 0.0) + weight * float(value)
            self._weights[key] = self._weights.get(key, 0.0) + weight

    def summary(self) -> dict[str, float]:
        out = {f"{PREFIX}{k}": self._sums[k] / self._weights[k] for k in self._sums}
        for key, counts in self._counts.items():
            prefix = key[: -len(COUNTS)]
            out[f"{PREFIX}{prefix}usage"] = float((counts > 0).sum())
            out[f"{PREFIX}{prefix}items"] = float(counts.numel())
        return dict(sorted(out.items()))
