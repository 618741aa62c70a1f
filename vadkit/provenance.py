"""Which plugin distribution (and version) provided each component of a run.

Training records it in run.json (``provenance``). Eval, calibrate, detect and export compare it
with what the names resolve to now: after a name conflict, blocking one plugin can make a name
resolve to *another* distribution's component, which would silently re-score a run with a
different scorer or rebuild it with a different encoder. That is refused, naming the component,
both distributions and the override (``--allow-plugin-change``).
"""

from __future__ import annotations

from typing import Any

from .config import AUTO_LAYOUT, RunConfig
from .errors import CheckpointError, RegistryError
from .registry import Registry

# recipe table -> component kind, for every table that names a registered component
MODEL_TABLES = {
    "model.appearance": "encoder",
    "model.motion": "encoder",
    "model.attention": "attention",
    "model.fusion": "fusion",
    "model.memory": "memory",
    "model.decoder": "decoder",
}


def component_names(config: RunConfig) -> dict[str, tuple[str, str]]:
    """``{recipe key: (kind, component name)}`` of every component the run uses."""
    out = {key: (kind, str(getattr(config.model, key.split(".")[1]).get("type"))) for key, kind in MODEL_TABLES.items()}
    out["score"] = ("scorer", str(config.score.get("type")))
    out["flow"] = ("flow", str(config.flow.estimator.get("type")))
    if config.data.get("type") != AUTO_LAYOUT:
        out["data"] = ("dataset", str(config.data["type"]))
    return out


def provenance(config: RunConfig, registry: Registry) -> dict[str, dict[str, Any]]:
    """Where each component of ``config`` comes from now: kind, name, plugin, distribution, version."""
    out: dict[str, dict[str, Any]] = {}
    for key, (kind, name) in component_names(config).items():
        try:
            spec = registry.get(kind, name)
        except RegistryError:
            continue  # building the run reports it; provenance has nothing to say
        info = registry.plugins.get(spec.plugin)
        out[key] = {
            "kind": kind,
            "name": name,
            "plugin": spec.plugin,
            "distribution": spec.distribution,
            "version": info.version if info is not None else None,
        }
    return out


def changes(recorded: dict[str, Any], current: dict[str, dict[str, Any]]) -> list[str]:
    """One line per component whose name now resolves to another distribution than at training."""
    lines = []
    for key, then in recorded.items():
        now = current.get(key)
        if not isinstance(then, dict) or now is None or then.get("name") != now["name"]:
            continue
        if then.get("distribution") != now["distribution"]:
            lines.append(
                f"{key} = {now['kind']} '{now['name']}' came from {then.get('distribution')} "
                f"{then.get('version') or ''} at training and now comes from {now['distribution']} "
                f"{now['version'] or ''}".replace("  ", " ")
            )
    return lines


def check_provenance(recorded: Any, config: RunConfig, registry: Registry, run: str, *, allow: bool) -> list[str]:
    """Refuse (``CheckpointError``) when a component name now resolves to another distribution,
    unless ``allow``; the lines found (warnings for the caller to print when allowed)."""
    if not isinstance(recorded, dict):
        return []  # a run trained before provenance was recorded
    found = changes(recorded, provenance(config, registry))
    if found and not allow:
        raise CheckpointError(
            f"{run}: {found[0]}{f' (and {len(found) - 1} more)' if len(found) > 1 else ''}; the "
            "run was trained with the other one. Unblock that plugin (VADKIT_BLOCK_PLUGINS), or "
            "pass --allow-plugin-change to use the component installed now"
        )
    return found


__all__ = ["provenance", "check_provenance", "changes", "component_names"]
