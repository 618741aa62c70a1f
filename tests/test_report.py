"""`vadkit report`: the HTML a person reads. A tiny trained run is reported and opened in a real
headless Chromium (every image decodes, no console message, the screenshot is not blank); runs
with broken or missing files give messages naming the file; a path that is no run is an error."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from _helpers import TINY_MODEL

import vadkit
from vadkit.cli import main
from vadkit.evaluation.evaluate import evaluate
from vadkit.recipe import load_recipe
from vadkit.report import write_report
from vadkit.report.compare import PAPER_TABLE_II, seed_groups
from vadkit.training.trainer import train

TINY = TINY_MODEL + """[train]
epochs = 2
batch_size = 4
max_steps_per_epoch = 2
lr = 1e-3
threads = 1
seed = 0
[eval]
batch_size = 16
top_frames = 2
"""
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--hide-scrollbars"]
# Injected into a copy of the report: records script errors and console errors / warnings, and
# once the page has loaded writes how many images decoded into the DOM for --dump-dom to show.
CHECK_SCRIPT = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push("error: " + (e.message || "resource failed")), true);
for (const level of ["error", "warn"]) {
  const original = console[level];
  console[level] = (...args) => { window.__errors.push(level + ": " + args.join(" ")); original.apply(console, args); };
}
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const bad = images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt);
  const out = document.createElement("pre");
  out.id = "report-check";
  out.textContent = JSON.stringify({images: images.length, bad: bad, errors: window.__errors});
  document.body.appendChild(out);
});
</script>"""


@pytest.fixture(scope="module")
def registry() -> vadkit.registry.Registry:
    return vadkit.create_registry(autoload=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, registry) -> Path:
    """A tiny trained and evaluated run, plus memory diagnostics records and a detect folder."""
    from vadkit.data.synth import generate
    from vadkit.detect.events import Event
    from vadkit.detect.outputs import write_events

    base = tmp_path_factory.mktemp("report")
    data = generate(base / "synth", seed=1, train_videos=2, test_videos=2, frames=20, size=32, object_size=8)
    recipe = base / "tiny.toml"
    recipe.write_text(TINY)
    run = train(load_recipe(recipe), data, base / "run", registry).root
    evaluate(run, registry)
    with (run / "log.jsonl").open("a") as fh:  # the shape of per-epoch diagnostics records
        for epoch, entropy in ((1, 0.9), (2, 0.7)):
            fh.write(json.dumps({"epoch": epoch, "memory/entropy": entropy, "memory/usage": 3.0 + epoch,
                                 "diag": {"grad_norm": 1.5 / epoch}}) + "\n")
    event = Event(5, 9, 0.2, 0.36, 2.5, 7, 0.28, 5)
    write_events(run / "detect" / "clip" / "events.json", [event], {"source": "clip.avi", "threshold": 1.25, "status": "complete"})
    return run


def _copy_run(src: Path, dst: Path, *, seed: int | None = None, auc: float | None = None) -> Path:
    shutil.copytree(src, dst)
    if seed is not None:
        text = (dst / "recipe.toml").read_text()
        (dst / "recipe.toml").write_text(re.sub(r"(?m)^seed = \d+$", f"seed = {seed}", text))
    if auc is not None:
        metrics = json.loads((dst / "metrics.json").read_text())
        metrics["auc_micro"] = auc
        (dst / "metrics.json").write_text(json.dumps(metrics))
    return dst


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no Chromium on PATH: `apt-get install chromium` (.ci/run installs it when it can)")


def _browser_check(browser: str, page: Path, profile: Path) -> dict:
    """Open a copy of ``page`` with the check script; the JSON the script wrote into the DOM."""
    checked = page.with_name(page.stem + ".check.html")
    checked.write_text(page.read_text(encoding="utf-8").replace("<head>", "<head>" + CHECK_SCRIPT, 1), encoding="utf-8")
    out = subprocess.run([browser, *CHROME_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000",
                          "--dump-dom", checked.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="report-check">(.*?)</pre>', out.stdout, re.S)
    assert found, f"the check script did not run; chromium said:\n{out.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def _screenshot(browser: str, page: Path, png: Path, profile: Path) -> str:
    """Screenshot of the unmodified page; chromium's stderr (console messages are logged there)."""
    out = subprocess.run([browser, *CHROME_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                          "--window-size=1280,2000", f"--screenshot={png}", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert png.is_file(), f"no screenshot; chromium said:\n{out.stderr[-2000:]}"
    return out.stderr


def test_the_browser_check_catches_a_broken_image_and_a_console_error(tmp_path: Path) -> None:
    browser = _chromium()
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
                    '<img alt="broken" src="data:image/png;base64,iVBORw0KGgoAAAAbroken">'
                    '<script>console.error("boom")</script></body></html>')
    result = _browser_check(browser, page, tmp_path / "profile")
    assert result["bad"] == ["broken"] and any("boom" in e for e in result["errors"])
    log = _screenshot(browser, page, tmp_path / "shot.png", tmp_path / "profile2")
    assert "boom" in log and ":CONSOLE" in log


def test_report_opens_in_headless_chromium(trained: Path, registry, tmp_path: Path) -> None:
    browser = _chromium()
    second = _copy_run(trained, tmp_path / "seed1", seed=1, auc=0.5)
    out = tmp_path / "report.html"
    result = write_report([trained, second], out, registry=registry)
    text = out.read_text(encoding="utf-8")
    # self-contained: nothing fetched, no script
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text, re.I)
    assert "<script" not in text.lower() and 'rel="stylesheet"' not in text
    check = _browser_check(browser, out, tmp_path / "profile")
    assert check["bad"] == [] and check["errors"] == []
    n_images = text.count("<img ")
    assert check["images"] == n_images >= 2 * (1 + 2 + 1 + 1 + 1)  # per run: training, 2 videos, top frames, detect
    log = _screenshot(browser, out, tmp_path / "shot.png", tmp_path / "profile2")
    assert ":CONSOLE" not in log, log
    import cv2

    shot = cv2.imread(str(tmp_path / "shot.png"))
    assert shot is not None and shot.shape[1] == 1280
    assert shot.std() > 10 and len(np.unique(shot.reshape(-1, 3), axis=0)) > 50  # not one colour
    assert result.infos[0].summary is not None and result.infos[0] is result.infos[1]  # built once for both seeds


def test_report_shows_every_part_of_a_run(trained: Path, registry, tmp_path: Path) -> None:
    second = _copy_run(trained, tmp_path / "seed1", seed=1, auc=0.5)
    first_auc = json.loads((trained / "metrics.json").read_text())["auc_micro"]
    out = tmp_path / "r.html"
    result = write_report([trained, second], out, registry=registry)
    text = html.unescape(out.read_text(encoding="utf-8"))
    losses = {k for line in (trained / "log.jsonl").read_text().splitlines()
              for k in json.loads(line) if k in ("intensity", "compact", "separate", "total")}
    assert losses and all(k in text for k in losses)
    for key in ("memory/entropy", "memory/usage", "diag/grad_norm", "mean_total"):
        assert key in text, key
    info = result.infos[0].summary
    assert f"{info['total_params']:,}" in text and f"{info['gflops_per_frame']:.3f} GFLOPs" in text
    assert "astfm" in text and "memory_bank" in text  # components of the model sections
    assert f"{100 * first_auc:.1f}" in text
    values = [100 * first_auc, 50.0]
    assert f"{np.mean(values):.1f} ± {np.std(values, ddof=1):.1f}" in text  # the two seeds, grouped
    assert "detect/clip/events.json" in text and "clip.avi" in text and "1.25" in text
    assert "most anomalous frames" in text and "Table II" not in text


def test_an_ablate_folder_expands_and_gets_the_paper_values(trained: Path, registry, tmp_path: Path) -> None:
    ablate = tmp_path / "ablate"
    _copy_run(trained, ablate / "A-single-stream" / "seed0", seed=0, auc=0.6)
    _copy_run(trained, ablate / "A-single-stream" / "seed1", seed=1, auc=0.7)
    _copy_run(trained, ablate / "E-full", auc=0.8)
    (ablate / "table.md").write_text("| model |\n")
    result = write_report([ablate], tmp_path / "a.html", build=False)
    assert [r.name for r in result.runs] == ["A-single-stream/seed0", "A-single-stream/seed1", "E-full"]
    groups = seed_groups(result.runs)
    assert [(g.letter, len(g.runs)) for g in groups] == [("A", 2), ("E", 1)]
    mean, std = groups[0].mean_std("auc_micro")
    assert mean == pytest.approx(65.0) and std == pytest.approx(np.std([60.0, 70.0], ddof=1))
    text = html.unescape((tmp_path / "a.html").read_text(encoding="utf-8"))
    assert f"A: {PAPER_TABLE_II['A']:.1f}" in text and f"E: {PAPER_TABLE_II['E']:.1f}" in text
    assert "ShanghaiTech" in text and "65.0 ± 7.1" in text


def test_missing_and_corrupt_files_are_named_not_raised(trained: Path, tmp_path: Path, capsys) -> None:
    run = _copy_run(trained, tmp_path / "broken")
    (run / "metrics.json").write_text('{"auc_micro": 0.9,')
    (run / "scores.csv").unlink()
    with (run / "log.jsonl").open("a") as fh:
        fh.write('{"epoch": 3, "step": 1, "tot')
    (run / "plots" / "top_frames.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    out = tmp_path / "b.html"
    assert main(["report", str(run), "--out", str(out), "--no-build"]) == 0
    err = capsys.readouterr().err
    text = html.unescape(out.read_text(encoding="utf-8"))
    for needle in ("metrics.json is not valid JSON", "scores.csv is missing", "log.jsonl: 1 line(s) are not JSON",
                   "plots/top_frames.png is not a readable PNG"):
        assert needle in text and needle in " ".join(err.split()), needle
    assert "Traceback" not in err


def test_a_model_that_does_not_build_shows_its_error(trained: Path, registry, tmp_path: Path) -> None:
    run = _copy_run(trained, tmp_path / "nobuild")
    text = (run / "recipe.toml").read_text()
    (run / "recipe.toml").write_text(text.replace('type = "memory_bank"', 'type = "no_such_memory"', 1))
    result = write_report([run], tmp_path / "n.html", registry=registry)
    assert result.infos[0].summary is None and "no_such_memory" in result.infos[0].error
    page = html.unescape((tmp_path / "n.html").read_text(encoding="utf-8"))
    assert "could not be built" in page and "no_such_memory" in page


@pytest.mark.parametrize("make", ["missing", "empty_folder", "file"])
def test_a_path_that_is_no_run_exits_non_zero_without_traceback(make: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / "thing"
    if make == "empty_folder":
        path.mkdir()
    elif make == "file":
        path.write_text("hello")
    out = tmp_path / "x.html"
    assert main(["report", str(path), "--out", str(out)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert str(path.name) in err and ("no such file" in err or "not a run folder" in err)
    assert "Traceback" not in err and not out.exists()


def test_out_that_is_a_folder_is_refused(trained: Path, tmp_path: Path, capsys) -> None:
    assert main(["report", str(trained), "--out", str(tmp_path), "--no-build"]) == 2
    assert "is a folder" in " ".join(capsys.readouterr().err.split())


def test_validation_results_are_shown_and_a_corrupt_one_is_named(trained: Path, tmp_path: Path) -> None:
    run = _copy_run(trained, tmp_path / "validated")
    (run / "validation").mkdir()
    (run / "validation" / "recipe.json").write_text(json.dumps(
        {"auc_micro": 0.9123, "auc_macro": 0.877, "auc_per_category": {"speed": 0.95, "object": 0.8},
         "held_out_videos": ["05", "13"]}))
    (run / "validation" / "score.patch=16.json").write_text('{"auc_micro": ')
    out = tmp_path / "v.html"
    write_report([run], out, build=False)
    text = html.unescape(out.read_text(encoding="utf-8"))
    assert "Validation without test labels" in text
    for needle in ("91.2", "87.7", "speed 95.0, object 80.0", "05, 13", "validation/score.patch=16.json is not valid JSON"):
        assert needle in text, needle
    bare = _copy_run(trained, tmp_path / "bare")
    write_report([bare], tmp_path / "b.html", build=False)
    assert "Validation without test labels" not in (tmp_path / "b.html").read_text(encoding="utf-8")


def test_a_smoothed_evaluation_shows_the_unsmoothed_auc_beside(trained: Path, tmp_path: Path) -> None:
    run = _copy_run(trained, tmp_path / "smoothed")
    metrics = json.loads((run / "metrics.json").read_text())
    metrics.update({"auc_micro": 0.9345, "temporal_sigma": 4.0, "unsmoothed": {"auc_micro": 0.8771}})
    (run / "metrics.json").write_text(json.dumps(metrics))
    write_report([run], tmp_path / "s.html", build=False)
    text = html.unescape((tmp_path / "s.html").read_text(encoding="utf-8"))
    assert "smoothed in time, sigma 4 frames" in text and "93.5" in text
    assert "87.7" in text and "unsmoothed (paper protocol)" in text
