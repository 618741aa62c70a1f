"""Read one run folder for the report: every file is optional and a missing or corrupt one
becomes a message naming it (``RunData.problems``), never an exception; only a path that is
not a run folder at all is an error."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import VadkitError
from ..run_folder import DETECT_CURVE, RunFolder
from ..run_schema import CALIBRATION, LOG_RECORD, METRICS, RUN_INFO, VALIDATION, Shape, clean
from ..training.loggers import flatten

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCORE_KEYS = ("video", "frame", "label", "score")


class ReportError(VadkitError):
    """A path given to ``vadkit report`` is not a run folder (nor a folder of runs)."""


@dataclass
class Detection:
    """One ``detect*/.../events.json`` with the score-curve picture beside it."""

    path: Path
    info: dict[str, Any]
    events: list[dict[str, Any]]
    curve: bytes | None = None


@dataclass
class RunData:
    """What a run folder holds, as far as it could be read."""

    root: Path
    name: str
    recipe_text: str | None = None
    recipe: Any = None  # vadkit.recipe.Recipe when recipe.toml loads
    info: dict[str, Any] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] | None = None
    videos: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    stat_columns: list[str] = field(default_factory=list)
    plots: dict[str, bytes] = field(default_factory=dict)
    detections: list[Detection] = field(default_factory=list)
    validations: dict[str, dict[str, Any]] = field(default_factory=dict)  # validation/<settings>.json
    calibration: dict[str, Any] | None = None  # calibration.json: state, weights, evidence, threshold
    problems: list[str] = field(default_factory=list)

    @property
    def seed(self) -> Any:
        seed = self.recipe.get("train.seed") if self.recipe is not None else None
        return seed if seed is not None else (self.info.get("train") or {}).get("seed")


def is_run_folder(path: Path) -> bool:
    return RunFolder.is_run(path)


def run_folders(paths: list[Path]) -> list[tuple[Path, str]]:
    """(run folder, name) for runs named directly (name: the folder's) or found inside a folder
    of runs such as ``vadkit ablate --out`` (name: the path below that folder, e.g. ``E-full/seed1``)."""
    found: list[tuple[Path, int]] = []
    for path in map(Path, paths):
        if not path.exists():
            raise ReportError(f"{path}: no such file or folder")
        if is_run_folder(path):
            found.append((path, 1))
            continue
        subs = runs_inside(path) if path.is_dir() else []
        if not subs:
            raise ReportError(
                f"{path} is not a run folder (no recipe.toml) and holds no run folders; pass a folder written "
                "by `vadkit train`, `vadkit demo` or `vadkit ablate`"
            )
        found.extend((sub, len(sub.relative_to(path).parts)) for sub in subs)
    unique: dict[Path, tuple[Path, int]] = {}
    for p, depth in found:
        unique.setdefault(p.resolve(), (p, depth))
    runs = list(unique.values())
    return list(zip([p for p, _ in runs], display_names(runs)))


def runs_inside(folder: Path, depth: int = 2) -> list[Path]:
    """Run folders up to ``depth`` levels down: ``ablate/<variant>`` or ``ablate/<variant>/seed<k>``."""
    found: list[Path] = []
    for path in sorted(p for p in folder.iterdir() if p.is_dir()):
        if is_run_folder(path):
            found.append(path)
        elif depth > 1:
            found.extend(runs_inside(path, depth - 1))
    return found


def display_names(runs: list[tuple[Path, int]]) -> list[str]:
    """The last ``depth`` parts of each path, lengthened where two runs would share a name."""
    parts = [p.resolve().parts for p, _ in runs]
    names = ["/".join(q[-d:]) for q, (_, d) in zip(parts, runs)]
    for extra in (1, 2):
        if len(set(names)) == len(names):
            break
        names = ["/".join(q[-(d + extra) :]) for q, (_, d) in zip(parts, runs)]
    return names


def _json_file(path: Path, rel: str, problems: list[str]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        problems.append(f"{rel} is not UTF-8 text; ignored")
    except json.JSONDecodeError as exc:
        problems.append(f"{rel} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); ignored")
    except OSError as exc:
        problems.append(f"{rel} cannot be read ({exc.strerror}); ignored")
    return None


def _checked(data: Any, shape: Shape, rel: str, problems: list[str]) -> Any:
    """``data`` without the keys whose values have the wrong type (vadkit/run_schema.py), each
    named in ``problems``."""
    data, found = clean(data, shape, rel)
    problems.extend(found)
    return data


def read_log(path: Path, problems: list[str]) -> list[dict[str, Any]]:
    """log.jsonl as flat records; lines that are not JSON objects are counted and skipped, values
    of the wrong type (or a key that is a number in one record and a list in another) dropped."""
    records, bad = [], []
    rel = path.name
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        problems.append(f"{rel} cannot be read ({exc.strerror}); no training curves")
        return []
    kinds: dict[str, bool] = {}  # key -> holds lists (vectors)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if isinstance(record, dict):
            records.append(
                _consistent(
                    _checked(flatten(record), LOG_RECORD, f"{rel} line {number}", problems),
                    kinds,
                    f"{rel} line {number}",
                    problems,
                )
            )
        else:
            bad.append(number)
    if bad:
        problems.append(
            f"{rel}: {len(bad)} line(s) are not JSON objects (first at line {bad[0]}; a run killed while "
            "writing leaves a cut last line); skipped"
        )
    return records


def _consistent(record: dict[str, Any], kinds: dict[str, bool], where: str, problems: list[str]) -> dict[str, Any]:
    """``record`` without values that are a list where earlier records had a number, or the reverse."""
    out = {}
    for key, value in record.items():
        if isinstance(value, (int, float, list)) and not isinstance(value, bool):
            vector = isinstance(value, list)
            if kinds.setdefault(key, vector) != vector:
                want = "a list" if kinds[key] else "a number"
                problems.append(
                    f"{where}: key '{key}' must be {want} as in earlier lines, got {value!r:.40}; key ignored"
                )
                continue
        out[key] = value
    return out


def _number(text: str) -> float:
    value = float(text) if text.strip() else math.nan
    return value


def read_scores(path: Path, problems: list[str]) -> tuple[dict[str, dict[str, np.ndarray]], list[str]]:
    """scores.csv grouped by video: ``frame``, ``label``, ``score`` and every other numeric column."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        problems.append(f"{path.name} cannot be read ({exc}); no score curves")
        return {}, []
    if not rows:
        problems.append(f"{path.name} holds no rows; no score curves")
        return {}, []
    missing = [k for k in SCORE_KEYS if k not in rows[0]]
    if missing:
        problems.append(f"{path.name} lacks column(s) {', '.join(missing)}; no score curves")
        return {}, []
    numeric = [k for k in rows[0] if k not in ("video",) and _is_numeric(r.get(k) for r in rows)]
    stats = [k for k in numeric if k not in SCORE_KEYS]
    grouped: dict[str, list[dict[str, str]]] = {}
    bad = 0
    for row in rows:
        if any(not (row.get(k) or "").strip() for k in SCORE_KEYS[1:]) or None in row.values():
            bad += 1
            continue
        grouped.setdefault(row["video"], []).append(row)
    if bad:
        problems.append(f"{path.name}: {bad} row(s) with a missing frame, label or score; skipped")
    for key in ("frame", "label", "score"):
        if key not in numeric:
            problems.append(f"{path.name}: column '{key}' is not numeric; no score curves")
            return {}, []
    videos = {
        name: {k: np.asarray([_number(r[k]) for r in group], dtype=np.float64) for k in numeric}
        for name, group in grouped.items()
    }
    return videos, stats


def _is_numeric(values: Any) -> bool:
    seen = False
    for value in values:
        if value is None or not str(value).strip():
            continue
        try:
            float(value)
        except ValueError:
            return False
        seen = True
    return seen


def read_png(path: Path, rel: str, problems: list[str]) -> bytes | None:
    """A PNG's bytes if it decodes (checked with OpenCV), else a message naming it."""
    import cv2

    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(f"{rel} cannot be read ({exc.strerror}); skipped")
        return None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data.startswith(PNG_MAGIC) else None
    if image is None:
        problems.append(f"{rel} is not a readable PNG image; skipped")
        return None
    return data


def read_detections(root: Path, problems: list[str]) -> list[Detection]:
    """Every ``detect*/**/events.json`` of the run, with ``score_curve.png`` beside it."""
    found = []
    for path in RunFolder(root).detections():
        rel = str(path.relative_to(root))
        data = _json_file(path, rel, problems)
        if data is None:
            continue
        if not isinstance(data, dict):
            problems.append(f"{rel} is not a JSON object; ignored")
            continue
        events = data.get("events")
        if not isinstance(events, list):
            problems.append(f"{rel} has no 'events' list; showing its other keys only")
            events = []
        info = {k: v for k, v in data.items() if k != "events"}
        curve_path = path.parent / DETECT_CURVE
        curve = read_png(curve_path, str(curve_path.relative_to(root)), problems) if curve_path.is_file() else None
        found.append(Detection(path, info, [e for e in events if isinstance(e, dict)], curve))
    return found


def read_recipe(run: RunData) -> None:
    """recipe.toml as text and as a loaded Recipe (its error text when it does not load)."""
    from ..recipe import load_recipe

    path = RunFolder(run.root).recipe
    try:
        run.recipe_text = path.read_text(encoding="utf-8")
        run.recipe = load_recipe(path)
    except UnicodeDecodeError:
        run.problems.append(f"{path.name} is not UTF-8 text")
    except Exception as exc:  # any failure to load is shown in the report, not raised
        run.problems.append(f"{path.name} does not load: {exc}")


def _json_object(path: Path, shape: Shape, problems: list[str]) -> dict[str, Any] | None:
    """A run's JSON file as an object checked against ``shape``; None (and a message) when it
    cannot be read, is not an object, or when it is missing (no message: the caller says why)."""
    if not path.is_file():
        return None
    data = _json_file(path, path.name, problems)
    if data is not None and not isinstance(data, dict):
        problems.append(f"{path.name} is not a JSON object; ignored")
        return None
    return _checked(data, shape, path.name, problems) if data is not None else None


def collect_run(root: Path, name: str | None = None) -> RunData:
    """Everything the report shows about one run folder; problems are collected, not raised."""
    root = Path(root)
    if not is_run_folder(root):
        raise ReportError(f"{root} is not a run folder (no recipe.toml)")
    run = RunData(root=root, name=name or root.resolve().name)
    folder, problems = RunFolder(root), run.problems
    read_recipe(run)
    run.info = _json_object(folder.info, RUN_INFO, problems) or {}
    if not folder.info.is_file():
        problems.append(f"{folder.info.name} is missing (the run was not written by `vadkit train`)")
    if folder.log.is_file():
        run.log = read_log(folder.log, problems)
    else:
        problems.append(f"{folder.log.name} is missing: no training curves")
    run.metrics = _json_object(folder.metrics, METRICS, problems)
    if not folder.metrics.is_file():
        problems.append(f"{folder.metrics.name} is missing: run `vadkit eval` on this run for AUCs")
    if folder.scores.is_file():
        run.videos, run.stat_columns = read_scores(folder.scores, problems)
    else:
        problems.append(f"{folder.scores.name} is missing: no per-video score curves")
    for path in sorted(folder.plots.glob("*.png")):
        data = read_png(path, f"{folder.plots.name}/{path.name}", problems)
        if data is not None:
            run.plots[path.name] = data
    run.detections = read_detections(root, problems)
    run.validations = read_validations(root, problems)
    if folder.calibration.is_file():
        run.calibration = _json_object(folder.calibration, CALIBRATION, problems)
    return run


def read_validations(root: Path, problems: list[str]) -> dict[str, dict[str, Any]]:
    """``vadkit validate`` results, by file stem (the settings they were drawn with)."""
    out: dict[str, dict[str, Any]] = {}
    folder = RunFolder(root).validation
    for path in sorted(folder.glob("*.json")):
        rel = f"{folder.name}/{path.name}"
        data = _json_file(path, rel, problems)
        if isinstance(data, dict):
            out[path.stem] = _checked(data, VALIDATION, rel, problems)
        elif data is not None:
            problems.append(f"{rel} is not a JSON object; ignored")
    return out
