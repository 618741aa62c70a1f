"""Arguments shared by the commands: recipes, and flags generated from the typed settings.

A flag made by :func:`add_setting_flags` takes its type, choices, default and help from the
setting's declaration in ``vadkit.config``, so a default is never written twice;
:func:`given_settings` is the one place that drops the flags a user did not give.
"""

from __future__ import annotations

import argparse
import typing
from typing import Any

from ..config import range_text, settings_of
from ..recipe import Recipe, load_recipe


def add_recipe_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--recipe", required=required, help="recipe file, or a built-in recipe name (e.g. mstinet)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any recipe key, e.g. --set model.memory.slots=20 (repeatable; value read as TOML)",
    )


def add_plugin_change_flag(p: argparse.ArgumentParser) -> None:
    """``--allow-plugin-change`` of the commands that open a trained run (vadkit/provenance.py)."""
    p.add_argument(
        "--allow-plugin-change",
        action="store_true",
        help="use a component whose name now resolves to another plugin distribution than the run was "
        "trained with (run.json provenance); refused by default",
    )


def load_recipe_args(args: argparse.Namespace) -> Recipe:
    return load_recipe(args.recipe, args.overrides)


def _flag_type(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is not None:
        return str
    return hint if hint in (int, float, str) else str


def add_setting_flags(
    p: argparse.ArgumentParser,
    section: str,
    cls: type,
    names: typing.Sequence[str],
    rename: dict[str, str] | None = None,
) -> None:
    """One ``--flag`` per setting in ``names`` of section class ``cls`` (``rename``: flag name for
    a setting, e.g. ``{"calibration_max_frames": "max_frames"}``). Every flag defaults to None =
    not given, so the recipe's value stands."""
    rename = rename or {}
    table = {name: (default, meta, hint) for name, default, meta, hint in settings_of(cls)}
    for name in names:
        default, meta, hint = table[name]
        flag = "--" + rename.get(name, name).replace("_", "-")
        extra = [
            f"[{section}] {name}",
            f"default {default!r}" if not isinstance(default, bool) else f"default {str(default).lower()}",
        ]
        if rng := range_text(meta):
            extra.append(rng)
        if meta.get("note"):
            extra.append(meta["note"])
        help_text = f"{meta['help']} ({'; '.join(extra)})".replace("%", "%%")
        dest = f"setting__{section}__{name}"
        if hint is bool:  # a setting on by default also gets its --no-... form
            action = argparse.BooleanOptionalAction if default is True else "store_true"
            p.add_argument(flag, dest=dest, action=action, default=None, help=help_text)
        else:
            p.add_argument(
                flag,
                dest=dest,
                type=_flag_type(hint),
                default=None,
                choices=meta.get("choices"),
                metavar=None if meta.get("choices") else name.upper(),
                help=help_text,
            )


def given_settings(args: argparse.Namespace, section: str | None = None) -> dict[str, Any]:
    """The setting flags the user gave, as ``{key: value}`` of ``section`` (or dotted
    ``{"section.key": value}`` when ``section`` is None); flags left unset are dropped here."""
    out: dict[str, Any] = {}
    for dest, value in vars(args).items():
        if not dest.startswith("setting__") or value is None:
            continue
        _, sec, name = dest.split("__", 2)
        if section is None:
            out[f"{sec}.{name}"] = value
        elif sec == section:
            out[name] = value
    return out
