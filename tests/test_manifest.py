"""registry.toml is the single source of truth for first-party components."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from vadkit.builtin import read_manifest
from vadkit.interfaces import Attention, Decoder, Encoder, Fusion, Memory, Scorer
from vadkit.plugins import BUILTIN_NAME, create_registry
from vadkit.registry import KINDS

ENTRIES = read_manifest()
INTERFACES = {
    "encoder": Encoder,
    "attention": Attention,
    "fusion": Fusion,
    "memory": Memory,
    "decoder": Decoder,
    "scorer": Scorer,
}
MODEL_PACKAGES = ("vadkit_mstinet", "vadkit_timm")


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e['kind']}:{e['name']}")
def test_entry_is_well_formed_and_resolves(entry: dict) -> None:
    assert entry["kind"] in KINDS
    assert set(entry) == {"kind", "name", "object", "description"}
    assert entry["description"].strip() and "\n" not in entry["description"]
    module_name, _, attr = entry["object"].partition(":")
    obj = getattr(importlib.import_module(module_name), attr)
    assert callable(obj)
    interface = INTERFACES.get(entry["kind"])
    if interface is not None:
        assert inspect.isclass(obj) and issubclass(obj, interface), f"{entry['object']} is not a {interface.__name__}"


def test_builtin_plugin_registers_exactly_the_manifest() -> None:
    registry = create_registry(autoload=False)
    assert sorted(f"{s.kind}:{s.name}" for s in registry) == sorted(f"{e['kind']}:{e['name']}" for e in ENTRIES)
    assert {s.plugin for s in registry} == {BUILTIN_NAME}


def test_listing_does_not_import_the_components() -> None:
    registry = create_registry(autoload=False)
    assert all(isinstance(s.target, str) for s in registry), "built-ins must be lazy 'module:object' strings"


def _component_classes(package: str):
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        module = importlib.import_module(f"{package}.{info.name}")
        for name, obj in inspect.getmembers(module, inspect.isclass):
            public = not name.startswith("_")
            if public and obj.__module__ == module.__name__ and issubclass(obj, tuple(INTERFACES.values())):
                yield f"{module.__name__}:{name}"


@pytest.mark.parametrize("package", MODEL_PACKAGES)
def test_every_builtin_component_class_is_in_the_manifest(package: str) -> None:
    listed = {e["object"] for e in ENTRIES}
    classes = set(_component_classes(package))
    assert classes, f"no component classes found in {package}"
    assert classes - listed == set(), "component classes missing from registry.toml"
