"""Meta-tests of the plugin API: every hook is documented, in code and in docs/plugins.md."""

from __future__ import annotations

import inspect

import pytest
from _helpers import REPO

from vadkit import hookspecs
from vadkit.plugins import make_plugin_manager

HOOKS = [
    name
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, f"{hookspecs.PROJECT_NAME}_spec")
]


def test_there_are_hooks() -> None:
    assert "register_components" in HOOKS


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_docstring_naming_its_arguments(name: str) -> None:
    fn = getattr(hookspecs, name)
    doc = inspect.getdoc(fn) or ""
    assert len(doc.splitlines()) >= 3, f"hookspec {name} needs a real docstring"
    for arg in inspect.signature(fn).parameters:
        assert f"``{arg}``" in doc or arg in doc, f"hookspec {name} does not document its argument {arg!r}"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_in_the_plugin_tutorial(name: str) -> None:
    assert name in (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")


def test_plugin_manager_knows_exactly_the_documented_hooks() -> None:
    pm = make_plugin_manager()
    registered = {n for n in dir(pm.hook) if not n.startswith("_")}
    assert registered == set(HOOKS)
