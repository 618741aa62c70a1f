"""Which parts of a ModelOutput an exported graph returns, and how a ModelOutput is rebuilt
from the arrays an inference session gives back, so the scorer plugin runs unchanged."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..interfaces import MemoryOutput, ModelOutput

# ModelOutput fields a graph can return: graph output name -> attribute path on ModelOutput
FIELDS: dict[str, str] = {
    "prediction": "prediction",
    "distance": "memory.distance",
    "weights": "memory.weights",
    "features": "memory.features",
}
# what the first-party scorers read; a scorer may ask for more with ``export_outputs``
DEFAULT_OUTPUTS: tuple[str, ...] = ("prediction", "distance")


def output_names(scorer: Any) -> tuple[str, ...]:
    """The graph outputs ``scorer`` needs: its ``export_outputs`` when it declares one."""
    names = tuple(getattr(scorer, "export_outputs", DEFAULT_OUTPUTS))
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise ValueError(
            f"{type(scorer).__name__}.export_outputs names {', '.join(unknown)}; exportable outputs are "
            f"{', '.join(FIELDS)}"
        )
    return names


def pick(output: ModelOutput, names: Sequence[str]) -> tuple[Tensor, ...]:
    """The tensors ``names`` refer to, in order (what the exported graph returns)."""
    picked = []
    for name in names:
        value: Any = output
        for attr in FIELDS[name].split("."):
            value = getattr(value, attr)
        if value is None:
            raise ValueError(f"the model's output has no {FIELDS[name]} (needed for graph output '{name}')")
        picked.append(value.float())
    return tuple(picked)


def rebuild(arrays: Mapping[str, np.ndarray | Tensor]) -> ModelOutput:
    """A ModelOutput holding the session's outputs; parts the graph does not return are empty."""
    t = {k: torch.as_tensor(np.asarray(v)) for k, v in arrays.items()}
    prediction = t["prediction"]
    distance = t.get("distance", torch.zeros(prediction.shape[0]))
    memory = MemoryOutput(features=t.get("features", torch.empty(0)), distance=distance, weights=t.get("weights"))
    return ModelOutput(prediction=prediction, memory=memory)


__all__ = ["FIELDS", "DEFAULT_OUTPUTS", "output_names", "pick", "rebuild"]
