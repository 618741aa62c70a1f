"""run.json records which distribution provided every component; a name that now resolves to
another distribution is refused by eval, calibrate and detect unless --allow-plugin-change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_bad_input import make_dataset, tiny_recipe

from vadkit.cli import main
from vadkit.recipe import dumps_toml


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("provenance")
    data = make_dataset(root / "data", frames=12)
    recipe = root / "r.toml"
    recipe.write_text(dumps_toml({**tiny_recipe(), "detect": {"holdout_videos": 0}}))
    assert main(["train", "--recipe", str(recipe), "--data", str(data), "--out", str(root / "run")]) == 0
    return root / "run", data


def test_run_json_names_the_distribution_of_every_component(trained: tuple[Path, Path]) -> None:
    info = json.loads((trained[0] / "run.json").read_text())
    prov = info["provenance"]
    assert prov["score"] == {"kind": "scorer", "name": "regularity", "plugin": prov["score"]["plugin"],
                             "distribution": "vadkit", "version": prov["score"]["version"]}
    assert prov["model.memory"]["name"] == "memory_bank" and prov["model.decoder"]["kind"] == "decoder"
    assert prov["score"]["version"]  # the installed vadkit's version


@pytest.mark.parametrize("command", ["eval", "calibrate", "detect"])
def test_a_component_from_another_distribution_is_refused(trained: tuple[Path, Path], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str], command: str) -> None:
    run, data = trained
    info_path = run / "run.json"
    original = info_path.read_text()
    info = json.loads(original)
    info["provenance"]["score"].update(distribution="vadkit-other-scorers", version="9.9")
    info_path.write_text(json.dumps(info))
    args = {"eval": ["eval", "--run", str(run), "--data", str(data)],
            "calibrate": ["calibrate", "--run", str(run)],
            "detect": ["detect", str(data / "testing" / "frames" / "01"), "--run", str(run), "--no-video",
                       "--out", str(tmp_path / "out")]}[command]
    try:
        assert main(args) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert "score = scorer 'regularity' came from vadkit-other-scorers 9.9 at training" in err, err
        assert "--allow-plugin-change" in err and "Traceback" not in err
        assert main([*args, "--allow-plugin-change"]) == 0
        assert "warning:" in " ".join(capsys.readouterr().out.split())
    finally:
        info_path.write_text(original)
