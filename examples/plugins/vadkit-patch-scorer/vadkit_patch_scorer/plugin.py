"""The plugin's hook: registers the scorer by name. Importing this module imports no torch;
the class is given as a ``module:object`` string and imported on first build."""

from __future__ import annotations

import vadkit


@vadkit.hookimpl
def register_components(register):
    register(
        "scorer",
        "patch_error",
        "vadkit_patch_scorer.scorer:PatchErrorScorer",
        description="Worst-patch and whole-frame prediction error; normal = both small",
    )
