"""The typed configuration: read once, typos refused early, docs and flags generated, recipe.toml round-trips,
and `vadkit detect` builds its model once."""

from __future__ import annotations

import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from test_bad_input import make_dataset, tiny_recipe

from vadkit import config_docs
from vadkit.cli import main
from vadkit.config import DetectConfig, read_config, settings_of
from vadkit.errors import RecipeError
from vadkit.recipe import dumps_toml, load_recipe, recipe_from_dict

ROOT = Path(__file__).resolve().parents[1]


def test_docs_tables_match_the_declarations() -> None:
    text = (ROOT / "docs" / "recipes.md").read_text(encoding="utf-8")
    assert config_docs.render(text) == text, "run: python -m vadkit.config_docs docs/recipes.md"
    for name in ("model", "train", "loss", "eval", "detect", "flow"):
        assert f"<!-- settings:{name} -->" in text


@pytest.mark.parametrize("argv, needle", [
    (["--set", "trian.epochs=3"], "key 'trian': unknown recipe section. Did you mean 'train'?"),
    (["--set", "detect.treshold=2"], "key 'detect.treshold': unknown detect option. Did you mean 'threshold'?"),
    (["--set", "eval.tmporal_sigma=2"], "Did you mean 'temporal_sigma'?"),
    (["--set", "train.lr_schedule=cosin"], "Did you mean 'cosine'?"),
])
def test_a_typo_in_any_section_stops_train_before_data(tmp_path: Path, argv: list[str], needle: str) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(dumps_toml(tiny_recipe()))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "vadkit", "train", "--recipe", str(recipe), *argv,
                           "--data", str(tmp_path / "no-such-data"), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=120)
    took = time.perf_counter() - start
    err = " ".join(proc.stderr.split())
    assert proc.returncode == 2 and needle in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()  # nothing written, no data read (the data root does not exist)
    print(f"typo refused in {took:.2f} s")


def test_an_unknown_section_in_a_recipe_file_names_the_file(tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(dumps_toml({**tiny_recipe(), "detectt": {"threshold": 1.0}}))
    with pytest.raises(RecipeError, match=r"r\.toml.*'detectt'.*Did you mean 'detect'"):
        read_config(load_recipe(recipe))


def test_the_cross_field_rule_and_choices_name_the_key() -> None:
    with pytest.raises(RecipeError, match=r"detect\.refit_frames.*more than smoothing"):
        read_config(recipe_from_dict({**tiny_recipe(), "detect": {"refit_frames": 3, "smoothing": 5}}, "r.toml"))
    with pytest.raises(RecipeError, match=r"model\.resolution"):
        read_config(recipe_from_dict({**tiny_recipe(), "model": {**tiny_recipe()["model"], "resolution": [0, 8]}}))


def test_recipe_toml_round_trips_awkward_values(tmp_path: Path) -> None:
    data = {**tiny_recipe(), "data": {"type": "frames", "labels": "line one\nline two \"quoted\" \\ back"},
            "flow": {"cache": "a folder with spaces/and.dots"},
            "loss": {"weights": {"intensity": 1.0, "a key with space": 0.5, "dotted.key": 0.25}}}
    path = tmp_path / "recipe.toml"
    path.write_text(dumps_toml(data))
    assert tomllib.loads(path.read_text()) == data
    assert load_recipe(path).data == data


def test_detect_flags_come_from_the_declarations(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["detect", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    defaults = {name: default for name, default, _meta, _hint in settings_of(DetectConfig)}
    assert f"[detect] smoothing; default {defaults['smoothing']}" in text
    assert f"[detect] threshold_quantile; default {defaults['threshold_quantile']}" in text
    assert "{torch,onnxruntime,openvino,auto}" in text


def test_detect_builds_the_model_once_and_reads_calibration_once(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole `vadkit detect` call (recipe, [detect] flags, calibration, memory check, scoring):
    one model built, one recipe.toml parse, one calibration.json read."""
    from vadkit import assembly, run_schema, trained_run

    data = make_dataset(tmp_path / "data", frames=12)
    recipe = tmp_path / "r.toml"
    recipe.write_text(dumps_toml({**tiny_recipe(), "detect": {"holdout_videos": 0}}))
    assert main(["train", "--recipe", str(recipe), "--data", str(data), "--out", str(tmp_path / "run")]) == 0
    counts = {"models": 0, "recipes": 0, "calibrations": 0}
    init = assembly.VADModel.__init__

    def counting_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        counts["models"] += 1
        init(self, *args, **kwargs)

    real_load, real_read = trained_run.load_recipe, run_schema.read_json

    def counting_load(*args, **kwargs):  # type: ignore[no-untyped-def]
        counts["recipes"] += 1
        return real_load(*args, **kwargs)

    def counting_read(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        counts["calibrations"] += Path(path).name == "calibration.json"
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(assembly.VADModel, "__init__", counting_init)
    monkeypatch.setattr(trained_run, "load_recipe", counting_load)
    monkeypatch.setattr(trained_run, "read_json", counting_read)
    code = main(["detect", str(data / "testing" / "frames" / "01"), "--run", str(tmp_path / "run"), "--no-video",
                 "--smoothing", "2", "--out", str(tmp_path / "out")])
    assert code == 0
    assert counts == {"models": 1, "recipes": 1, "calibrations": 1}, counts
