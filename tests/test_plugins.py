"""Plugin loading: in-process plugins, duplicates, entry points of (faked) distributions, a
broken plugin, and the environment variable that disables autoload."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from _helpers import example_plugin, make_plugin

from vadkit.errors import RegistryError
from vadkit.plugins import BUILTIN_NAME, DISABLE_AUTOLOAD_ENV, create_registry


def _register_fusion(name: str):
    def register_components(register):
        register("fusion", name, "vadkit_mstinet.fusion:NoFusion", description=f"test fusion {name}")

    return register_components


# -- in-process ---------------------------------------------------------------------------
def test_in_process_plugin_registers_through_the_hook() -> None:
    registry = create_registry(plugins=[make_plugin("my_plugin", _register_fusion("mine"))], autoload=False)
    spec = registry.get("fusion", "mine")
    assert (spec.plugin, spec.distribution, spec.description) == ("my_plugin", "(in-process)", "test fusion mine")
    assert registry.plugins["my_plugin"].components == ["fusion:mine"]
    assert registry.get("fusion", "astfm").plugin == BUILTIN_NAME  # built-ins via the same hook


def test_registries_share_no_state() -> None:
    with_plugin = create_registry(plugins=[make_plugin("p", _register_fusion("mine"))], autoload=False)
    without = create_registry(autoload=False)
    assert "mine" in with_plugin.names("fusion")
    assert "mine" not in without.names("fusion")
    assert with_plugin.get("fusion", "astfm") is not without.get("fusion", "astfm")


def test_description_defaults_to_first_docstring_line() -> None:
    class Thing:
        """First line.

        More."""

        def forward(self, query):  # duck-typed memory: the one required method is there
            return query

    registry = create_registry(
        plugins=[make_plugin("p", lambda register: register("memory", "thing", Thing))], autoload=False, builtins=False
    )
    assert registry.get("memory", "thing").description == "First line."
    assert registry.get("memory", "thing").load() is Thing


def test_builtins_can_be_left_out() -> None:
    registry = create_registry(autoload=False, builtins=False)
    assert len(registry) == 0 and not registry.plugins


# -- errors ---------------------------------------------------------------------------------
# A duplicate no longer aborts create_registry (issue 8): the name is a conflict, and looking it
# up is the error. tests/test_plugin_failures.py covers the CLI and the way out.
def test_duplicate_of_a_builtin_names_both_providers() -> None:
    registry = create_registry(plugins=[make_plugin("rogue", _register_fusion("astfm"))], autoload=False)
    with pytest.raises(RegistryError) as err:
        registry.get("fusion", "astfm")
    msg = str(err.value)
    assert "fusion 'astfm'" in msg and BUILTIN_NAME in msg and "rogue" in msg
    assert "VADKIT_BLOCK_PLUGINS=rogue" in msg and "cannot be blocked" in msg
    assert registry.get("fusion", "concat").plugin == BUILTIN_NAME  # the rest still works


def test_duplicate_between_two_plugins_names_both() -> None:
    registry = create_registry(
        plugins=[make_plugin("first", _register_fusion("x")), make_plugin("second", _register_fusion("x"))],
        autoload=False,
    )
    with pytest.raises(RegistryError) as err:
        registry.get("fusion", "x")
    assert "'first'" in str(err.value) and "'second'" in str(err.value)
    assert [s.plugin for s in registry.list("x", kind="fusion")] == ["first", "second"]


def test_one_plugin_registering_a_name_twice_is_its_own_error() -> None:
    def twice(register):
        register("fusion", "x", "vadkit_mstinet.fusion:NoFusion")
        register("fusion", "x", "vadkit_mstinet.fusion:NoFusion")

    with pytest.raises(RegistryError, match=r"plugin 'twice' registered fusion 'x' twice"):
        create_registry(plugins=[make_plugin("twice", twice)], autoload=False)


def test_unknown_kind_is_an_error_naming_the_plugin() -> None:
    plugin = make_plugin("odd", lambda register: register("widget", "w", "os:getcwd"))
    with pytest.raises(RegistryError, match=r"plugin 'odd'.*unknown kind 'widget'"):
        create_registry(plugins=[plugin], autoload=False)


def test_unknown_name_lists_close_matches_and_choices() -> None:
    registry = create_registry(autoload=False)
    with pytest.raises(RegistryError) as err:
        registry.get("fusion", "astf")
    assert "Did you mean 'astfm'" in str(err.value)
    assert "Available fusions: astfm, concat, none" in str(err.value)


def test_unimportable_target_fails_on_load_not_on_listing() -> None:
    plugin = make_plugin("lazy", lambda register: register("fusion", "ghost", "no_such_module_xyz:Ghost"))
    registry = create_registry(plugins=[plugin], autoload=False)
    assert "ghost" in registry.names("fusion")
    with pytest.raises(RegistryError, match=r"fusion 'ghost' \(from plugin 'lazy'\).*no_such_module_xyz"):
        registry.get("fusion", "ghost").load()


def test_hook_that_raises_is_reported_and_the_rest_works() -> None:
    def boom(register):
        register("fusion", "half", "vadkit_mstinet.fusion:NoFusion")
        raise RuntimeError("kaboom")

    registry = create_registry(plugins=[make_plugin("flaky", boom), make_plugin("fine", _register_fusion("ok"))], autoload=False)
    assert registry.plugins["flaky"].error == "RuntimeError: kaboom"
    assert "ok" in registry.names("fusion") and "astfm" in registry.names("fusion")


# -- entry points of a faked distribution ----------------------------------------------------
def _fake_distribution(root: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    """A ``*.dist-info`` folder and its modules on disk: importlib.metadata finds it on sys.path."""
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[vadkit]\n{lines}\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def fake_dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _fake_distribution(
        tmp_path / "good",
        "vadkit-fake-good",
        {"fake_good": "fake_good_plugin"},
        {
            "fake_good_plugin": """
                import vadkit

                @vadkit.hookimpl
                def register_components(register):
                    register("fusion", "fake_gate", "vadkit_mstinet.fusion:NoFusion", description="from a fake dist")
            """
        },
    )
    _fake_distribution(
        tmp_path / "bad",
        "vadkit-fake-broken",
        {"fake_broken": "fake_broken_plugin"},
        {"fake_broken_plugin": "import this_dependency_is_missing_xyz\n"},
    )
    monkeypatch.syspath_prepend(str(tmp_path / "good"))
    monkeypatch.syspath_prepend(str(tmp_path / "bad"))
    monkeypatch.delenv(DISABLE_AUTOLOAD_ENV, raising=False)
    return tmp_path


def test_entry_point_plugin_is_loaded_with_its_distribution(fake_dists: Path) -> None:
    registry = create_registry()
    spec = registry.get("fusion", "fake_gate")
    assert (spec.plugin, spec.distribution) == ("fake_good", "vadkit-fake-good")
    assert registry.plugins["fake_good"].version == "1.2.3"


def test_broken_entry_point_is_reported_and_the_rest_keeps_working(fake_dists: Path) -> None:
    registry = create_registry()
    broken = registry.plugins["fake_broken"]
    assert broken.distribution == "vadkit-fake-broken"
    assert "ModuleNotFoundError" in broken.error and "this_dependency_is_missing_xyz" in broken.error
    assert "fake_gate" in registry.names("fusion") and "astfm" in registry.names("fusion")


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_environment_variable_disables_autoload(fake_dists: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, value)
    registry = create_registry()
    assert "fake_gate" not in registry.names("fusion")
    assert "fake_broken" not in registry.plugins
    assert "astfm" in registry.names("fusion")


def test_autoload_argument_overrides_the_environment(fake_dists: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "1")
    assert "fake_gate" in create_registry(autoload=True).names("fusion")


def test_example_plugin_registers_its_fusions_in_process() -> None:
    registry = create_registry(plugins=[example_plugin()], autoload=False)
    assert {"gated", "cross_attention"} <= set(registry.names("fusion"))
    assert registry.get("fusion", "gated").plugin == "vadkit_gated_fusion.plugin"
