"""Plugin failures a user can get out of (issue 8): a name registered by two plugins, blocking
a plugin, a plugin that failed to load, and a load order that never changes.

Entry points come from faked distributions (``*.dist-info`` folders on sys.path), in-process
plugins from ``_helpers.make_plugin``.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import re
import textwrap
from pathlib import Path

import pytest
from _helpers import make_plugin

from vadkit.builder import build_model
from vadkit.cli import main
from vadkit.errors import RecipeError, RegistryError
from vadkit.plugins import BLOCK_PLUGINS_ENV, BUILTIN_NAME, DISABLE_AUTOLOAD_ENV, create_registry, default_registry
from vadkit.recipe import load_recipe

NO_FUSION = "vadkit_mstinet.fusion:NoFusion"
SMALL = ["--set", "model.resolution=[32, 32]", "--set", "model.appearance.widths=[8, 16, 32, 64]",
         "--set", "model.motion.widths=[8, 16, 32, 64]"]  # fmt: skip


def _fake_distribution(root: Path, dist: str, version: str, entry_point: str, source: str) -> None:
    """One distribution with one ``vadkit`` entry point (its module in ``root``)."""
    module = f"{entry_point}_plugin"
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[vadkit]\n{entry_point} = {module}\n")
    (root / f"{module}.py").write_text(textwrap.dedent(source))


def _registering(*names: str) -> str:
    calls = "".join(f"\n    register('fusion', '{n}', '{NO_FUSION}')" for n in names)
    return f"import vadkit\n\n@vadkit.hookimpl\ndef register_components(register):{calls}\n"


@pytest.fixture
def dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """fake_a and fake_b both register fusion 'twin'; fake_broken cannot be imported."""
    _fake_distribution(tmp_path / "a", "vadkit-fake-a", "0.2", "fake_a", _registering("twin", "only_a"))
    _fake_distribution(tmp_path / "b", "vadkit-fake-b", "1.0", "fake_b", _registering("twin", "only_b"))
    _fake_distribution(tmp_path / "c", "vadkit-fake-broken", "3.1", "fake_broken", "import this_dependency_is_missing_xyz\n")
    for sub in "abc":
        monkeypatch.syspath_prepend(str(tmp_path / sub))
    monkeypatch.delenv(DISABLE_AUTOLOAD_ENV, raising=False)
    monkeypatch.delenv(BLOCK_PLUGINS_ENV, raising=False)
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps at the terminal width; keep messages on one line
    default_registry.cache_clear()
    yield tmp_path
    default_registry.cache_clear()


def _cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    default_registry.cache_clear()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, " ".join(out.split()), " ".join(err.split())  # undo any line wrapping


# -- a name registered twice ------------------------------------------------------------------
def test_plugins_command_lists_both_and_shows_the_conflict(dists: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = _cli(capsys, "plugins", "--json")
    assert code == 0
    plugins = {p["name"]: p for p in json.loads(out)}
    assert plugins["fake_a"]["components"] == ["fusion:twin", "fusion:only_a"]
    assert plugins["fake_b"]["components"] == ["fusion:twin", "fusion:only_b"]
    assert plugins["fake_a"]["conflicts"] == plugins["fake_b"]["conflicts"] == ["fusion:twin"]
    assert plugins[BUILTIN_NAME]["conflicts"] == []
    code, out, _ = _cli(capsys, "plugins")
    assert code == 0
    assert "1 name(s) registered by more than one plugin" in out
    assert ("conflict: fusion 'twin' is registered by 2 plugins: plugin 'fake_a' (dist vadkit-fake-a 0.2) and "
            "plugin 'fake_b' (dist vadkit-fake-b 1.0)") in out
    assert "VADKIT_BLOCK_PLUGINS=<plugin> to block one of them" in out and "pip uninstall vadkit-fake-a or vadkit-fake-b" in out


def test_list_shows_a_conflicted_name_once_per_plugin(dists: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = _cli(capsys, "list", "twin", "--json")
    assert code == 0
    assert [(e["name"], e["distribution"]) for e in json.loads(out)] == [("twin", "vadkit-fake-a"), ("twin", "vadkit-fake-b")]


def test_building_a_conflicted_name_names_both_distributions_and_the_way_out(dists: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = _cli(capsys, "build", "--recipe", "recipes/mstinet.toml", *SMALL, "--set", 'model.fusion.type="twin"')
    assert code == 2
    assert "key 'model.fusion.type'" in err
    assert "'fake_a' (dist vadkit-fake-a 0.2)" in err and "'fake_b' (dist vadkit-fake-b 1.0)" in err
    assert "VADKIT_BLOCK_PLUGINS" in err
    with pytest.raises(RecipeError, match=r"vadkit-fake-a 0\.2.*vadkit-fake-b 1\.0.*VADKIT_BLOCK_PLUGINS"):
        build_model(load_recipe("mstinet", ['model.fusion.type="twin"']), create_registry())


def test_blocking_one_plugin_resolves_the_conflict(dists: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BLOCK_PLUGINS_ENV, " fake_b ")
    registry = create_registry()
    assert registry.get("fusion", "twin").distribution == "vadkit-fake-a" and not registry.conflicts
    assert registry.plugins["fake_b"].blocked and registry.plugins["fake_b"].components == []
    with pytest.raises(RegistryError, match=r"note: plugin 'fake_b' \(dist vadkit-fake-b 1\.0\) is blocked"):
        registry.get("fusion", "only_b")
    code, _, _ = _cli(capsys, "build", "--recipe", "recipes/mstinet.toml", *SMALL, "--set", 'model.fusion.type="twin"', "--json")
    assert code == 0
    code, out, _ = _cli(capsys, "plugins", "--json")
    assert code == 0 and {p["name"]: p for p in json.loads(out)}["fake_b"]["blocked"] is True
    _, out, _ = _cli(capsys, "plugins")
    assert re.search(r"fake_b\W+vadkit-fake-b\W+1\.0\W+-\W+blocked", out) and "conflict" not in out


def test_block_argument_and_environment_add_up(dists: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert create_registry(block=["fake_a"]).get("fusion", "twin").plugin == "fake_b"
    monkeypatch.setenv(BLOCK_PLUGINS_ENV, "fake_a")
    registry = create_registry(block=["fake_broken"])
    assert registry.plugins["fake_a"].blocked and registry.plugins["fake_broken"].blocked
    assert registry.plugins["fake_broken"].error is None  # blocked before it was imported


def test_blocking_an_unknown_name_is_listed(dists: Path) -> None:
    info = create_registry(block=["no_such_plugin"]).plugins["no_such_plugin"]
    assert info.blocked and info.distribution == "(no plugin of this name)"


@pytest.mark.parametrize("how", ["env", "argument"])
def test_the_builtin_plugin_cannot_be_blocked(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    monkeypatch.delenv(BLOCK_PLUGINS_ENV, raising=False)
    if how == "env":
        monkeypatch.setenv(BLOCK_PLUGINS_ENV, f"x,{BUILTIN_NAME}")
    with pytest.raises(RegistryError, match=rf"built-in plugin '{BUILTIN_NAME}' cannot be blocked"):
        create_registry(autoload=False, block=[BUILTIN_NAME] if how == "argument" else [])


def test_in_process_conflict_and_block_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BLOCK_PLUGINS_ENV, raising=False)
    plugins = [make_plugin(n, lambda register: register("fusion", "astfm", NO_FUSION)) for n in ("p1", "p2")]
    registry = create_registry(plugins=plugins, autoload=False)
    with pytest.raises(RegistryError) as err:
        registry.get("fusion", "astfm")
    msg = str(err.value)
    assert f"registered by 3 plugins: plugin '{BUILTIN_NAME}' (dist vadkit" in msg and "'p1' (in-process)" in msg
    assert "create_registry(block=[...])" in msg and "cannot be blocked" in msg
    registry = create_registry(plugins=plugins, autoload=False, block=["p1", "p2"])
    assert registry.get("fusion", "astfm").plugin == BUILTIN_NAME


def test_unknown_kind_from_an_entry_point_is_that_plugins_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = "import vadkit\n\n@vadkit.hookimpl\ndef register_components(register):\n    register('widget', 'w', 'os:getcwd')\n"
    _fake_distribution(tmp_path, "vadkit-fake-odd", "0.1", "fake_odd", source)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = create_registry(autoload=True)  # does not abort: `vadkit plugins` must still work
    assert "plugin 'fake_odd' registered 'w' under unknown kind 'widget'" in registry.plugins["fake_odd"].error


# -- a plugin that failed to load ---------------------------------------------------------------
def test_unknown_name_says_which_plugin_failed_and_why(dists: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(RegistryError) as err:
        create_registry().get("fusion", "fancy")
    msg = str(err.value)
    assert msg.startswith("no fusion named 'fancy'.")
    assert ("note: plugin 'fake_broken' (dist vadkit-fake-broken 3.1) failed to load: ModuleNotFoundError: "
            "No module named 'this_dependency_is_missing_xyz'; it may provide this component") in msg
    code, _, err_text = _cli(capsys, "build", "--recipe", "recipes/mstinet.toml", *SMALL, "--set", 'model.fusion.type="fancy"')
    assert code == 2 and "plugin 'fake_broken' (dist vadkit-fake-broken 3.1) failed to load" in err_text


def test_unknown_name_without_failed_plugins_has_no_note() -> None:
    with pytest.raises(RegistryError) as err:
        create_registry(autoload=False).get("fusion", "fancy")
    assert "note:" not in str(err.value)


# -- load order -----------------------------------------------------------------------------------
def _snapshot(registry) -> tuple:
    return (
        list(registry.plugins),
        [(s.kind, s.name, s.plugin) for s in registry],
        [registry.conflict_message(k, n) for k, n in registry.conflicts],
    )


def test_load_order_does_not_depend_on_entry_point_order(dists: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = md.entry_points
    snapshots = []
    for reverse in (False, True):
        listed = list(original(group="vadkit"))
        monkeypatch.setattr(md, "entry_points", lambda group=None, _l=listed[::-1] if reverse else listed: _l)
        snapshots.append(_snapshot(create_registry()))
    assert snapshots[0] == snapshots[1]
    names = snapshots[0][0]
    assert names[0] == BUILTIN_NAME
    assert names.index("fake_a") < names.index("fake_b") < names.index("fake_broken")
    assert names[1:] == sorted(names[1:])  # entry points sorted by name
    assert "plugin 'fake_a'" in snapshots[0][2][0].split(" and ")[0]


def test_in_process_plugins_keep_the_order_given() -> None:
    plugins = [make_plugin(n, lambda register: None) for n in ("zz", "aa", "mm")]
    assert list(create_registry(plugins=plugins, autoload=False, builtins=False).plugins) == ["zz", "aa", "mm"]


# -- a plugin implementing a hook vadkit does not define ----------------------------------------
def test_a_plugin_with_an_unknown_hook_is_recorded_and_the_rest_still_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    typo = "import vadkit\n\n@vadkit.hookimpl\ndef register_component(register):\n    register('fusion', 'typo', 'x:y')\n"
    _fake_distribution(tmp_path / "t", "vadkit-fake-typo", "0.1", "fake_typo", typo)
    _fake_distribution(tmp_path / "a", "vadkit-fake-a", "0.2", "fake_a", _registering("only_a"))
    for sub in "ta":
        monkeypatch.syspath_prepend(str(tmp_path / sub))
    monkeypatch.delenv(DISABLE_AUTOLOAD_ENV, raising=False)
    registry = create_registry()
    info = registry.plugins["fake_typo"]
    assert "unknown hook 'register_component'" in info.error and "register_components" in info.error
    assert registry.plugins["fake_a"].error is None
    assert "only_a" in registry.names("fusion") and "typo" not in registry.names("fusion")


def test_an_in_process_plugin_with_an_unknown_hook_still_raises() -> None:
    import types

    import pluggy

    import vadkit

    module = types.ModuleType("typo_plugin")

    @vadkit.hookimpl
    def register_component(register):  # noqa: ANN001 - the typo under test
        pass

    module.register_component = register_component
    with pytest.raises(pluggy.PluginValidationError, match="unknown hook 'register_component'"):
        create_registry([module], autoload=False)
