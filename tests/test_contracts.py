"""Interfaces that enforce themselves (issue 8): a component missing a required method fails
at registration (a class) or at build (a lazy string, a factory's result), naming the plugin;
duck typing stays allowed; every first-party component passes the check."""

from __future__ import annotations

import sys
import textwrap
import types
from abc import ABC, abstractmethod
from pathlib import Path

import pytest
from _helpers import example_plugin, make_plugin
from torch import nn

from vadkit import contracts
from vadkit.builder import build_model
from vadkit.contracts import check_component, interface_for, missing_methods, required_methods
from vadkit.errors import ComponentError, RecipeError, RegistryError
from vadkit.interfaces import Attention, Decoder, Encoder, Fusion, Memory
from vadkit.plugins import create_registry
from vadkit.recipe import load_recipe


class Halfway(Fusion):
    """A fusion that forgot forward."""

    def __init__(self, appearance_channels: int, motion_channels: int) -> None:
        super().__init__()
        self.appearance_channels, self.motion_channels = appearance_channels, motion_channels


class PlainModule(nn.Module):
    """Not a Fusion and no forward: nn.Module's placeholder would raise at the first pass."""

    def __init__(self, appearance_channels: int, motion_channels: int) -> None:
        super().__init__()
        self.appearance_channels, self.motion_channels = appearance_channels, motion_channels


class DuckFusion(nn.Module):
    """Does not subclass Fusion but has everything a fusion needs."""

    needs_motion = False

    def __init__(self, appearance_channels: int, motion_channels: int) -> None:
        super().__init__()
        self.appearance_channels, self.motion_channels = appearance_channels, motion_channels

    def forward(self, appearance, motion):
        return appearance


def _fusion_plugin(name: str, obj) -> types.ModuleType:
    return make_plugin(name, lambda register: register("fusion", "halfway", obj))


# -- the interfaces themselves ------------------------------------------------------------------
def test_interfaces_are_abstract_but_encoder_forward_is_concrete() -> None:
    for interface in (Attention, Fusion, Memory, Decoder):
        assert required_methods(interface) == ("forward",)
        with pytest.raises(TypeError, match="abstract"):
            interface()
    assert required_methods(Encoder) == ()
    assert isinstance(Encoder(), nn.Module)  # its default forward runs the stages
    with pytest.raises(TypeError, match="abstract"):
        Halfway(8, 6)


def test_missing_methods_sees_abstract_absent_and_placeholder_forward() -> None:
    assert missing_methods(Fusion, Halfway) == ["forward"]  # still abstract
    assert missing_methods(Fusion, PlainModule) == ["forward"]  # nn.Module.forward
    assert missing_methods(Fusion, object) == ["forward"]  # absent
    assert missing_methods(Fusion, DuckFusion) == []


# -- at registration (a class) and at build (a lazy string, a factory) ----------------------------
def test_class_missing_forward_fails_at_registration_naming_the_plugin() -> None:
    with pytest.raises(ComponentError) as err:
        create_registry(plugins=[_fusion_plugin("forgetful", Halfway)], autoload=False)
    msg = str(err.value)
    assert msg.startswith("fusion 'halfway' from plugin 'forgetful' (in-process): class ")
    assert "Halfway does not implement forward() required by vadkit.interfaces.Fusion" in msg
    with pytest.raises(ComponentError, match=r"plugin 'forgetful'.*PlainModule does not implement forward\(\)"):
        create_registry(plugins=[_fusion_plugin("forgetful", PlainModule)], autoload=False)


@pytest.fixture
def lazy_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "fake_halfway_fusion.py").write_text(textwrap.dedent('''
        from vadkit.interfaces import Fusion

        class Halfway(Fusion):
            def __init__(self, appearance_channels, motion_channels):
                super().__init__()
                self.appearance_channels, self.motion_channels = appearance_channels, motion_channels
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fake_halfway_fusion", raising=False)
    return "fake_halfway_fusion:Halfway"


def test_lazy_string_missing_forward_fails_at_build_naming_the_plugin(lazy_module: str) -> None:
    registry = create_registry(plugins=[_fusion_plugin("lazy_one", lazy_module)], autoload=False)
    assert "halfway" in registry.names("fusion")  # listing imports nothing
    with pytest.raises(RecipeError) as err:
        build_model(load_recipe("mstinet", ['model.fusion.type="halfway"']), registry)
    msg = str(err.value)
    assert "key 'model.fusion.type'" in msg and "plugin 'lazy_one'" in msg and "forward()" in msg
    with pytest.raises(ComponentError, match="plugin 'lazy_one'"):  # and again: a failed check is not cached
        registry.get("fusion", "halfway").load()


def test_factory_is_checked_on_what_it_returns() -> None:
    def make_halfway(appearance_channels: int, motion_channels: int) -> PlainModule:
        return PlainModule(appearance_channels, motion_channels)

    registry = create_registry(plugins=[_fusion_plugin("factory_plugin", make_halfway)], autoload=False)
    with pytest.raises(RecipeError, match=r"plugin 'factory_plugin'.*its factory returned a .*PlainModule, which does not implement forward\(\)"):
        build_model(load_recipe("mstinet", ['model.fusion.type="halfway"']), registry)


def test_duck_typed_complete_class_passes_and_builds() -> None:
    registry = create_registry(plugins=[_fusion_plugin("duck", DuckFusion)], autoload=False)
    model = build_model(load_recipe("mstinet", ['model.fusion.type="halfway"', "model.resolution=[32, 32]"]), registry)
    assert all(isinstance(f, DuckFusion) for f in model.fusions)


# -- against a small fake interface ----------------------------------------------------------------
class FakeLayout(ABC):
    @classmethod
    @abstractmethod
    def recognises(cls, root) -> int: ...

    @abstractmethod
    def videos(self, split: str) -> list: ...

    def describe(self) -> str:  # concrete: not required
        return "fake"


@pytest.fixture
def fake_interface(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("fake_contract_iface")
    module.FakeLayout = FakeLayout
    monkeypatch.setitem(sys.modules, "fake_contract_iface", module)
    monkeypatch.setitem(contracts.INTERFACES, "dataset", "fake_contract_iface:FakeLayout")


def test_fake_interface_lists_every_missing_method(fake_interface: None) -> None:
    class NoVideos:
        @classmethod
        def recognises(cls, root) -> int:
            return 1

    class Nothing:
        pass

    class Duck:
        @classmethod
        def recognises(cls, root) -> int:
            return 0

        def videos(self, split):
            return []

    with pytest.raises(ComponentError, match=r"dataset 'nv' from plugin 'p' \(distribution d 1\.0\): .*NoVideos does not implement videos\(\)"):
        check_component("dataset", "nv", NoVideos, "p", "d 1.0")
    with pytest.raises(ComponentError, match=r"does not implement recognises\(\), videos\(\) required by .*FakeLayout; define them"):
        check_component("dataset", "n", Nothing, "p")
    check_component("dataset", "duck", Duck, "p")
    check_component("dataset", "duck", Duck(), "p")  # what a factory returned
    with pytest.raises(ComponentError, match="factory returned"):
        check_component("dataset", "n", Nothing(), "p")


def test_kind_without_interface_module_is_not_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(contracts.INTERFACES, "dataset", "no_such_interface_module_xyz:Layout")
    assert interface_for("dataset") is None
    check_component("dataset", "anything", object, "p")  # nothing to check against yet
    assert interface_for("no-such-kind") is None


def test_missing_dependency_inside_an_interface_module_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "fake_broken_iface.py").write_text("import this_dependency_is_missing_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(contracts.INTERFACES, "dataset", "fake_broken_iface:Layout")
    with pytest.raises(ModuleNotFoundError, match="this_dependency_is_missing_xyz"):
        interface_for("dataset")


def test_component_error_is_a_registry_error() -> None:
    assert issubclass(ComponentError, RegistryError)


# -- registry-wide: every first-party component passes -----------------------------------------------
REGISTRY = create_registry(plugins=[example_plugin()], autoload=False)
SPECS = list(REGISTRY)


@pytest.mark.parametrize("spec", SPECS, ids=[f"{s.kind}:{s.name}" for s in SPECS])
def test_registered_component_implements_its_interface(spec) -> None:
    if interface_for(spec.kind) is None:
        pytest.skip(f"{contracts.INTERFACES[spec.kind]} does not exist (yet): nothing to check {spec.kind}s against")
    obj = spec.load()  # runs check_component for a class
    if not isinstance(obj, type):
        pytest.skip(f"{spec.kind} '{spec.name}' is a factory: checked on what it returns, at build")
    check_component(spec.kind, spec.name, obj, spec.plugin, spec.distribution)
    assert missing_methods(interface_for(spec.kind), obj) == []


def test_conformance_covers_every_model_kind() -> None:
    kinds = {s.kind for s in SPECS}
    assert {"encoder", "attention", "fusion", "memory", "decoder"} <= kinds
    assert all(interface_for(k) is not None for k in ("encoder", "attention", "fusion", "memory", "decoder"))
