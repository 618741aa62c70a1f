"""Components, parameters and GFLOPs of a run's model, built from its recipe.toml the way
`vadkit build` does it; a recipe that does not build yields its error text instead."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..registry import Registry


@dataclass
class ModelInfo:
    """``summary`` is ``ModelSummary.as_dict()`` plus the scorer; ``error`` when building failed."""

    summary: dict[str, Any] | None = None
    error: str | None = None

    @property
    def params(self) -> int | None:
        return self.summary["total_params"] if self.summary else None

    @property
    def gflops(self) -> float | None:
        return self.summary["gflops_per_frame"] if self.summary else None


class ModelInfoCache:
    """Builds each distinct model once: runs that differ only by seed share one summary."""

    def __init__(self, registry: Registry | None = None) -> None:
        self._registry = registry
        self._done: dict[str, ModelInfo] = {}

    def registry(self) -> Registry:
        if self._registry is None:
            from ..plugins import default_registry

            self._registry = default_registry()
        return self._registry

    def get(self, recipe: Any) -> ModelInfo:
        if recipe is None:
            return ModelInfo(error="recipe.toml did not load, so the model was not built")
        key = json.dumps({k: recipe.data.get(k) for k in ("model", "score")}, sort_keys=True, default=str)
        if key not in self._done:
            self._done[key] = build_info(recipe, self.registry())
        return self._done[key]


def build_info(recipe: Any, registry: Registry) -> ModelInfo:
    """Build the model and scorer, run one dry forward pass at the recipe's resolution."""
    import torch

    from ..builder import build_model, build_scorer, model_section
    from ..summary import summarize

    try:
        model = build_model(recipe, registry)
        scorer = build_scorer(recipe, registry)
        resolution = tuple(model_section(recipe)["resolution"])
        with torch.random.fork_rng():  # a dry pass must not move anyone's RNG
            summary = summarize(model, resolution, registry).as_dict()
    except Exception as exc:  # the report shows why a model did not build, it does not stop
        return ModelInfo(error=f"{type(exc).__name__}: {exc}")
    summary["scorer"] = getattr(scorer, "registry_name", type(scorer).__name__)
    summary["resolution"] = list(resolution)
    return ModelInfo(summary=summary)
