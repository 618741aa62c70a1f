"""The ``vadkit build``, ``vadkit list`` and ``vadkit plugins`` commands."""

from __future__ import annotations

import importlib.metadata as md
import json
import subprocess
import sys
import tomllib

import pytest
from _helpers import EXAMPLE_PLUGIN_DIR, REPO

from vadkit.cli import main

SMALL = [
    "--set", "model.resolution=[32, 32]",
    "--set", "model.appearance.widths=[8, 16, 32, 64]",
    "--set", "model.motion.widths=[8, 16, 32, 64]",
]  # fmt: skip


def _run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_build_json_reports_tree_params_shapes_and_flops(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = _run(capsys, "build", "--recipe", "recipes/mstinet.toml", *SMALL, "--json")
    assert code == 0
    info = json.loads(out)
    rows = {c["path"]: c for c in info["components"]}
    assert list(rows) == ["appearance", "motion", "fusions.0", "fusions.1", "fusions.2", "memory", "decoder"]
    assert rows["appearance"]["output_shape"] == [[1, 8, 32, 32], [1, 16, 16, 16], [1, 32, 8, 8], [1, 64, 4, 4]]
    assert rows["decoder"]["output_shape"] == [1, 3, 32, 32]
    assert rows["memory"]["output_shape"]["features"] == [1, 128, 4, 4]
    assert (rows["fusions.0"]["kind"], rows["fusions.0"]["name"], rows["fusions.0"]["plugin"]) == ("fusion", "astfm", "vadkit.builtin")
    assert rows["fusions.0"]["children"][0]["name"] == "channel_attention"
    assert info["total_params"] == sum(r["params"] for r in rows.values()) == 352_409
    # 8 convs 3x3 of the appearance stream at 32x32: 2 FLOPs per multiply-add, BN not counted
    conv_flops = 2 * 9 * (12 * 8 * 32**2 + 8 * 8 * 32**2 + sum((c // 2) * c * (32 // s) ** 2 + c * c * (32 // s) ** 2 for c, s in ((16, 2), (32, 4), (64, 8))))
    assert rows["appearance"]["gflops"] == pytest.approx(conv_flops / 1e9)
    assert abs(sum(r["gflops"] for r in rows.values()) - info["gflops_per_frame"]) < 1e-3 * info["gflops_per_frame"] + 1e-6
    assert info["scorer"] == "regularity"


def test_build_prints_a_tree(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = _run(capsys, "build", "--recipe", "mstinet", *SMALL)
    assert code == 0
    assert "352,409" in out and "GFLOPs/frame" in out and "astfm" in out and "unet_decoder" in out


def test_set_overrides_any_key(capsys: pytest.CaptureFixture) -> None:
    _, out, _ = _run(capsys, "build", "--recipe", "mstinet", *SMALL, "--set", "model.memory.slots=20", "--json")
    memory = next(c for c in json.loads(out)["components"] if c["path"] == "memory")
    assert memory["output_shape"]["weights"] == [1, 4, 4, 20]


def test_print_resolved_merges_extends_and_overrides(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = _run(
        capsys, "build", "--recipe", "recipes/ablations/D-no-memory.toml", "--set", "model.memory.slots=20",
        "--set", "train.epochs=3", "--print-resolved",
    )  # fmt: skip
    assert code == 0
    resolved = tomllib.loads(out)
    assert "extends" not in resolved
    assert resolved["model"]["memory"] == {"type": "none", "slots": 20}  # the --set lands on the merged table
    assert resolved["model"]["fusion"] == {"type": "astfm"} and resolved["train"]["epochs"] == 3
    _, out_json, _ = _run(capsys, "build", "--recipe", "recipes/ablations/D-no-memory.toml", "--print-resolved", "--json")
    assert json.loads(out_json)["model"]["memory"] == {"type": "none"}


def test_build_error_is_reported_without_traceback(capsys: pytest.CaptureFixture) -> None:
    code, _, err = _run(capsys, "build", "--recipe", "mstinet", "--set", 'model.fusion.type="astf"')
    assert code == 2
    assert "key 'model.fusion.type'" in err and "astfm" in err and "Traceback" not in err


def test_list_filters_by_pattern_and_kind(capsys: pytest.CaptureFixture) -> None:
    _, out, _ = _run(capsys, "list", "attention", "--json")
    names = {(e["kind"], e["name"]) for e in json.loads(out)}
    assert ("attention", "channel_attention") in names and ("attention", "se") in names  # substring of kind:name
    _, out, _ = _run(capsys, "list", "*", "--kind", "fusion", "--json")
    fusions = json.loads(out)
    assert {"astfm", "concat", "none"} <= {e["name"] for e in fusions}
    assert all(e["kind"] == "fusion" and e["description"] and e["distribution"] for e in fusions)
    code, out, _ = _run(capsys, "list", "--kind", "memory")
    assert code == 0 and "memory_bank" in out and "distribution" in out


def test_plugins_lists_distributions_and_components(capsys: pytest.CaptureFixture) -> None:
    _, out, _ = _run(capsys, "plugins", "--json")
    plugins = {p["name"]: p for p in json.loads(out)}
    assert plugins["vadkit.builtin"]["distribution"] == "vadkit"
    assert "fusion:astfm" in plugins["vadkit.builtin"]["components"]
    code, out, _ = _run(capsys, "plugins")
    assert code == 0 and "vadkit.builtin" in out


def test_list_and_plugins_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from vadkit.cli import main\n"
        "assert main(['list']) == 0 and main(['plugins']) == 0 and main(['list', '--json']) == 0\n"
        "bad = sorted(m for m in ('torch', 'timm', 'numpy') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def _installed(dist: str) -> bool:
    try:
        md.distribution(dist)
    except md.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _installed("vadkit-gated-fusion"), reason="pip install -e examples/plugins/vadkit-gated-fusion")
def test_installed_example_plugin_builds_its_recipe(capsys: pytest.CaptureFixture) -> None:
    recipe = str(EXAMPLE_PLUGIN_DIR / "gated.toml")
    code, out, _ = _run(capsys, "build", "--recipe", recipe, *SMALL, "--json")
    assert code == 0
    fusion = next(c for c in json.loads(out)["components"] if c["path"] == "fusions.0")
    assert (fusion["name"], fusion["distribution"]) == ("gated", "vadkit-gated-fusion")
    _, out, _ = _run(capsys, "plugins", "--json")
    assert {"fusion:gated", "fusion:cross_attention"} <= set({p["name"]: p for p in json.loads(out)}["gated_fusion"]["components"])
