"""The plugin's hook: registers the fusions by name. Importing this module imports no torch;
the classes are given as ``module:object`` strings and imported on first build."""

from __future__ import annotations

import vadkit


@vadkit.hookimpl
def register_components(register):
    register(
        "fusion",
        "gated",
        "vadkit_gated_fusion.fusion:GatedFusion",
        description="Gated residual fusion: x_a + sigmoid(W[x_a, x_m']) * P(x_m')",
    )
    register(
        "fusion",
        "cross_attention",
        "vadkit_gated_fusion.fusion:CrossAttentionFusion",
        description="Appearance pixels attend to pooled motion tokens (multi-head, einops)",
    )
