"""Recipe -> components -> model. Validates keyword arguments against each component's
signature and injects the arguments the builder derives (channels per level, ...)."""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from .assembly import TwoBranchModel, VADModel
from .config import DEFAULT_SCORER, ModelConfig, read_section
from .errors import RecipeError, RegistryError
from .recipe import Recipe
from .registry import Registry


def instantiate(registry: Registry, kind: str, table: Any, recipe: Recipe, key: str, **derived: Any) -> Any:
    """Build the ``kind`` component described by recipe table ``key``.

    User keys are checked against the component's signature; ``derived`` arguments are passed
    only where the signature names them, and a user may not set them.
    """
    spec, factory, params, var_kw = check_options(registry, kind, table, recipe, key, derived)
    name, user = table["type"], {k: v for k, v in table.items() if k != "type"}
    kwargs = dict(user)
    kwargs.update({k: v for k, v in derived.items() if k in params or var_kw})
    missing = [
        n
        for n, p in params.items()
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and n not in kwargs
    ]
    if missing:
        raise recipe.error(key, f"{kind} '{name}' needs {', '.join(missing)}")
    try:
        obj = factory(**kwargs)
    except (TypeError, ValueError) as exc:
        raise recipe.error(key, f"{kind} '{name}' rejected its options: {exc}") from None
    try:
        spec.check_built(obj)  # a factory is checked on what it returned
    except RegistryError as exc:
        raise recipe.error(f"{key}.type", str(exc)) from None
    try:
        obj.registry_name = name
    except AttributeError:
        pass
    return obj


def check_options(registry: Registry, kind: str, table: Any, recipe: Recipe, key: str, derived: Any = ()) -> Any:
    """Check that recipe table ``key`` names a registered ``kind`` and only options its factory takes
    (``derived`` names are the builder's): (spec, factory, signature parameters, takes **kwargs)."""
    if not isinstance(table, dict):
        raise recipe.error(key, f"must be a table with a 'type', got {table!r}")
    if "type" not in table:
        raise recipe.error(f"{key}.type", f"missing: name a registered {kind} ({', '.join(registry.names(kind))})")
    name = table["type"]
    try:
        spec = registry.get(kind, str(name))
        factory = spec.load()
    except RegistryError as exc:
        raise recipe.error(f"{key}.type", str(exc)) from None
    user = {k: v for k, v in table.items() if k != "type"}
    params = inspect.signature(factory).parameters
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    accepted = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    user_names = [n for n in accepted if n not in derived]
    for k in user:
        if k in derived:
            raise recipe.error(
                f"{key}.{k}", f"is derived by the builder for {kind} '{name}'; remove it from the recipe"
            )
        if k not in accepted and not var_kw:
            close = difflib.get_close_matches(k, user_names, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise recipe.error(
                f"{key}.{k}",
                f"unknown option for {kind} '{name}'.{hint} Options: {', '.join(user_names) or '(none)'}",
            )
    return spec, factory, params, var_kw


def model_section(recipe: Recipe) -> dict[str, Any]:
    """The ``[model]`` table with defaults filled in (``vadkit.config.ModelConfig`` checks it)."""
    return read_section(recipe, "model", ModelConfig).table()


def build_model(recipe: Recipe, registry: Registry) -> VADModel | TwoBranchModel:
    """Assemble the model a recipe describes (``[model] assembly`` picks the assembly)."""
    m = model_section(recipe)
    if m["assembly"] == "two_branch":
        return build_two_branch(recipe, registry, m)
    frames, img_c = int(m["frames"]), int(m["image_channels"])
    appearance = instantiate(
        registry, "encoder", m["appearance"], recipe, "model.appearance", in_channels=frames * img_c
    )
    motion = instantiate(registry, "encoder", m["motion"], recipe, "model.motion", in_channels=frames * 2)
    levels = len(appearance.channels) - 1
    if getattr(motion, "disabled", False):
        motion = None
    fusions: list[Any] = []
    fusion_type = m["fusion"].get("type") if isinstance(m["fusion"], dict) else None
    if motion is None and fusion_type not in (None, "none"):
        raise recipe.error(
            "model.fusion.type", f"fusion '{fusion_type}' needs a motion stream, but model.motion.type is 'none'"
        )
    if motion is not None and len(motion.channels) != len(appearance.channels):
        raise recipe.error(
            "model.motion",
            f"motion encoder '{m['motion']['type']}' has levels {tuple(motion.channels)} but appearance encoder "
            f"'{m['appearance']['type']}' has {tuple(appearance.channels)}",
        )
    for i in range(levels):
        c_a = appearance.channels[i]
        c_m = motion.channels[i] if motion is not None else 0
        attention = None
        if motion is not None:
            attention = instantiate(registry, "attention", m["attention"], recipe, "model.attention", channels=c_m)
        fusions.append(
            instantiate(
                registry,
                "fusion",
                m["fusion"],
                recipe,
                "model.fusion",
                appearance_channels=c_a,
                motion_channels=c_m,
                attention=attention,
            )
        )
    memory = instantiate(registry, "memory", m["memory"], recipe, "model.memory", channels=appearance.channels[-1])
    decoder = instantiate(
        registry,
        "decoder",
        m["decoder"],
        recipe,
        "model.decoder",
        encoder_channels=tuple(appearance.channels),
        in_channels=memory.out_channels,
        out_channels=img_c,
    )
    try:
        return VADModel(
            appearance, memory, decoder, motion, fusions, join=m["join"], frames=frames, image_channels=img_c
        )
    except Exception as exc:
        raise RecipeError(str(exc), file=str(recipe.path), key="model") from None


def build_two_branch(recipe: Recipe, registry: Registry, m: dict[str, Any]) -> TwoBranchModel:
    """Table II model B without interaction: each stream gets its own memory (same
    ``[model.memory]`` table) and decoder; no fusion, attention or join."""
    for key in ("fusion", "attention"):
        if not isinstance(m[key], dict) or m[key].get("type") != "none":
            raise recipe.error(
                f"model.{key}.type", "assembly 'two_branch' has no interaction between streams: set it to 'none'"
            )
    if m["join"] != "none":
        raise recipe.error(
            "model.join", "assembly 'two_branch' joins the streams only at their predictions: set it to 'none'"
        )
    frames, img_c = int(m["frames"]), int(m["image_channels"])
    streams = [
        instantiate(registry, "encoder", m[name], recipe, f"model.{name}", in_channels=frames * c)
        for name, c in (("appearance", img_c), ("motion", 2))
    ]
    if getattr(streams[1], "disabled", False):
        raise recipe.error("model.motion.type", "assembly 'two_branch' needs a motion stream, got 'none'")
    memories = [
        instantiate(registry, "memory", m["memory"], recipe, "model.memory", channels=s.channels[-1]) for s in streams
    ]
    decoders = [
        instantiate(
            registry,
            "decoder",
            m["decoder"],
            recipe,
            "model.decoder",
            encoder_channels=tuple(s.channels),
            in_channels=mem.out_channels,
            out_channels=img_c,
        )
        for s, mem in zip(streams, memories)
    ]
    try:
        return TwoBranchModel(streams[0], streams[1], memories, decoders, frames=frames, image_channels=img_c)
    except Exception as exc:
        raise RecipeError(str(exc), file=str(recipe.path), key="model") from None


def build_scorer(recipe: Recipe, registry: Registry) -> Any:
    table = recipe.section("score") or dict(DEFAULT_SCORER)
    return instantiate(registry, "scorer", table, recipe, "score")
