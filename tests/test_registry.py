"""The Registry: names, wildcards, kinds, lazy targets."""

from __future__ import annotations

import pytest

from vadkit.errors import RegistryError
from vadkit.plugins import create_registry
from vadkit.registry import KINDS, ComponentSpec, Registry


def _spec(kind: str, name: str, target="os.path:join", plugin: str = "p") -> ComponentSpec:
    return ComponentSpec(kind, name, target, f"{name} description", plugin, "dist")


def test_list_with_wildcards_and_kind() -> None:
    registry = create_registry(autoload=False)
    assert [s.name for s in registry.list("channel*")] == ["channel_attention"]
    assert {s.kind for s in registry.list("*attention*")} == {"attention"}  # also matches kind:name
    assert {s.kind for s in registry.list("none")} == {"encoder", "attention", "fusion", "memory"}
    assert [s.name for s in registry.list("*", kind="fusion")] == ["astfm", "concat", "none"]
    assert [f"{s.kind}:{s.name}" for s in registry.list("memory:*")] == ["memory:memory_bank", "memory:none"]
    assert registry.list("no-such-*") == []


def test_unknown_kind_is_an_error() -> None:
    registry = Registry()
    with pytest.raises(RegistryError, match="unknown component kind 'fusions'"):
        registry.list(kind="fusions")
    with pytest.raises(RegistryError, match="kinds are: " + ", ".join(KINDS)):
        registry.get("fusions", "astfm")


def test_names_are_sorted_and_per_kind() -> None:
    registry = Registry()
    registry.add(_spec("fusion", "zeta"))
    registry.add(_spec("fusion", "alpha"))
    registry.add(_spec("memory", "alpha"))  # the same name in another kind is fine
    assert registry.names("fusion") == ["alpha", "zeta"] and len(registry) == 3


def test_duplicate_is_a_conflict_that_every_lookup_reports() -> None:
    registry = Registry()
    registry.add(_spec("fusion", "x", plugin="first"))
    registry.add(_spec("fusion", "x", plugin="second"))  # recorded, not raised (issue 8)
    with pytest.raises(RegistryError, match=r"registered by 2 plugins: plugin 'first' \(dist dist\) and plugin 'second'"):
        registry.get("fusion", "x")
    assert [s.plugin for s in registry.list("x")] == ["first", "second"] and registry.names("fusion") == ["x"]


@pytest.mark.parametrize("name", ["", " padded "])
def test_invalid_names(name: str) -> None:
    with pytest.raises(RegistryError, match="invalid fusion name"):
        Registry().add(_spec("fusion", name))


def test_lazy_target_is_imported_once() -> None:
    spec = _spec("fusion", "join", target="os.path:join")
    import os.path

    assert spec.load() is os.path.join and spec.target is os.path.join


def test_as_dict_has_what_vadkit_list_shows() -> None:
    d = _spec("fusion", "x").as_dict()
    assert d == {"kind": "fusion", "name": "x", "description": "x description", "plugin": "p", "distribution": "dist"}
