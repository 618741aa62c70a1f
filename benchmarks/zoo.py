"""The zoo's comparison table (docs/zoo.md) from one run on one machine at one budget.

For every model of recipes/zoo/catalogue.json with a Ped2 CPU recipe: parameters and
GFLOP/frame (`vadkit zoo`'s count), the model's forward frames/s per backend (torch fp32 and
the fastest exported backend, benchmarks/export_speed.py's timing: batch 8 at the recipe's
resolution, worker processes timed in rounds, median pass), and unless ``--no-train``: seed 0
trained and evaluated with `vadkit train --eval` (Ped2 micro, macro and pooled calibrated AUC,
wall minutes), then seeds 1-2 for every model whose seed 0 lands within ``--within`` points of
the best seed 0. Results go to OUT/zoo.json; the table replaces the block between
``<!-- zoo-table:start -->`` and ``<!-- zoo-table:end -->`` of ``--doc``.

    python benchmarks/zoo.py --data ../shared/data/ped2 --out runs/zoo                  # the full run (hours on 2 cores)
    python benchmarks/zoo.py --no-train --out runs/zoo-speed                            # params, GFLOPs, frames/s only
    python benchmarks/zoo.py --quick --out /tmp/zoo-smoke --doc /tmp/zoo-smoke/zoo.md   # a smoke run on synthetic data
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # export_speed, next to this file

from export_speed import machine, measure  # noqa: E402
from zoo_record import add, find, recipe_digest, train_digest  # noqa: E402

from vadkit import default_registry  # noqa: E402
from vadkit.atomic import atomic_write_text  # noqa: E402
from vadkit.cli.zoo_cmd import catalogue_path, count, read_catalogue  # noqa: E402
from vadkit.config import EvalConfig  # noqa: E402
from vadkit.recipe import load_recipe  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
START, END = "<!-- zoo-table:start -->", "<!-- zoo-table:end -->"
NOT_YET = "not yet measured"
# --quick: tiny settings that only prove the script runs end to end (numbers mean nothing)
QUICK_SETS = ["model.resolution=[32, 32]", "train.epochs=1", "train.max_steps_per_epoch=2", "train.time_budget=0",
              "train.batch_size=2", "detect.holdout_videos=1"]


def models_with_cpu_recipes(names: list[str] | None) -> list[dict[str, Any]]:
    """Catalogue entries that have a Ped2 CPU recipe (optionally only ``names``), in catalogue order."""
    models = [m for m in read_catalogue() if "ped2_cpu" in m["recipes"]]
    if names:
        unknown = set(names) - {m["name"] for m in models}
        if unknown:
            sys.exit(f"unknown zoo model(s) {', '.join(sorted(unknown))}; with a Ped2 CPU recipe: "
                     f"{', '.join(m['name'] for m in models)}")
        models = sorted((m for m in models if m["name"] in names), key=lambda m: names.index(m["name"]))
    for m in models:
        m["recipe"] = (catalogue_path().parent.parent / m["recipes"]["ped2_cpu"]).resolve()
    return models


def train_and_eval(model: str, recipe: Path, folder: Path, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """`vadkit train --eval` in a child process: wall minutes and the AUCs of metrics.json.

    A seed already finished (in ``--record`` with the same merged recipe, or by an earlier call
    into the same ``--out``: its ``zoo_run.json`` beside metrics.json) is read back, not retrained,
    so a table is built up over several sittings and machines; a seed stopped part-way is resumed
    by `vadkit train` itself and its minutes then count only the last sitting. The run folder,
    ``folder/seed{N}-{digest}``, is named by the merged recipe's digest, so a recipe changed since
    an earlier call trains afresh instead of reading back (or resuming) the other recipe's run;
    a recipe changed only in its [eval] table re-evaluates that run instead (:func:`reevaluate`)."""
    digest = recipe_digest(recipe)
    recorded = None if args.quick or args.extra else find(args.record, model, seed, digest)
    if recorded is not None:
        return recorded | {"reused": True}
    out = folder / f"seed{seed}-{digest}"
    done_file = out / "zoo_run.json"
    if done_file.is_file() and (out / "metrics.json").is_file():
        return json.loads(done_file.read_text()) | {"reused": True}
    row = (None if args.extra else reevaluate(recipe, folder, seed, args)) or _train(recipe, args.data, out, seed, args.extra)
    if "micro" in row:
        if "reevaluated" not in row:  # a re-scored run lives in its own folder, not in ``out``
            atomic_write_text(done_file, json.dumps(row, indent=2) + "\n")
        if not (args.quick or args.extra):  # the record holds the recipes' own runs only
            m = machine(int(os.environ.get("ZOO_THREADS", "2")))
            add(args.record, row | {"model": model, "recipe_digest": digest, "date": time.strftime("%Y-%m-%d"),
                                    "machine": f"{m['cpu']} ({', '.join(m['flags'])}), {m['threads']} threads"})
    return row


def reevaluate(recipe: Path, folder: Path, seed: int, args: argparse.Namespace) -> dict[str, Any] | None:
    """A finished run under ``folder`` of this seed trained from the same recipe but for its
    [eval] table, scored again by `vadkit eval --run` with this recipe's [eval] (every key that
    differs set, absent ones at their defaults) instead of trained again. Its metrics.json is
    replaced; the training minutes and epochs are the run's own (``zoo_run.json``). None if no
    such run."""
    want = train_digest(recipe, [f"train.seed={seed}"])
    for run in sorted([*folder.glob(f"seed{seed}"), *folder.glob(f"seed{seed}-*")]):  # folders before digests were added
        if not ((run / "zoo_run.json").is_file() and (run / "checkpoints" / "last.pt").is_file()):
            continue
        if train_digest(run / "recipe.toml") != want:
            continue
        new, old = load_recipe(recipe).data.get("eval", {}), load_recipe(run / "recipe.toml").data.get("eval", {})
        defaults = EvalConfig()
        sets = [f"eval.{k}={json.dumps(new.get(k, getattr(defaults, k)))}" for k in sorted({*new, *old})]
        cmd = [sys.executable, "-m", "vadkit", "eval", "--run", str(run), "--data", str(args.data)]
        start = time.perf_counter()
        done = subprocess.run([*cmd, *(a for s in sets for a in ("--set", s))], capture_output=True, text=True)
        minutes = (time.perf_counter() - start) / 60
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
            return {"seed": seed, "error": tail[0], "minutes": round(minutes, 2)}
        metrics = json.loads((run / "metrics.json").read_text())
        trained = json.loads((run / "zoo_run.json").read_text())
        pooled = metrics.get("detection", {}).get("auc_pooled")  # absent without calibration.json
        return {**{k: v for k, v in trained.items() if k != "pooled"}, "micro": 100 * metrics["auc_micro"],
                "macro": 100 * metrics["auc_macro"], **({"pooled": 100 * pooled} if pooled is not None else {}),
                "eval_minutes": round(minutes, 2), "reevaluated": {"run": run.name, "eval": sets}}
    return None


def _train(recipe: Path, data: Path, out: Path, seed: int, extra: list[str]) -> dict[str, Any]:
    sets = [a for s in [f"train.seed={seed}", *extra] for a in ("--set", s)]
    cmd = [sys.executable, "-m", "vadkit", "train", "--recipe", str(recipe), "--data", str(data),
           "--out", str(out), "--eval", *sets]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    minutes = (time.perf_counter() - start) / 60
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        return {"seed": seed, "error": tail[0], "minutes": round(minutes, 2)}
    metrics = json.loads((out / "metrics.json").read_text())
    return {"seed": seed, "minutes": round(minutes, 2), "micro": 100 * metrics["auc_micro"],
            "macro": 100 * metrics["auc_macro"], "pooled": 100 * metrics["detection"]["auc_pooled"],
            "epochs": metrics.get("checkpoint_epoch"), "loadavg_end": os.getloadavg()[0]}


def speed(recipe: Path, size: int, quick: bool) -> dict[str, float]:
    """Forward frames/s at batch 8 per backend (export_speed.measure, its own worker processes)."""
    args = argparse.Namespace(threads=int(os.environ.get("ZOO_THREADS", "2")), batches=[8],
                              rounds=1 if quick else 3, per_block=2 if quick else 3, budget=20.0, settle=1.0)
    return {row["backend"]: row["fps"] for row in measure(str(recipe), size, args)}


def fastest(fps: dict[str, float]) -> tuple[str, float]:
    """The fastest backend measured (torch fp32, torch in the recipe's fast mode, onnxruntime, OpenVINO)."""
    name = max(fps, key=fps.get)
    return name, fps[name]


def seeds_to_repeat(rows: list[dict[str, Any]], within: float) -> list[str]:
    """Models whose seed-0 micro AUC lies within ``within`` points of the best seed 0."""
    firsts = {r["name"]: r["runs"][0]["micro"] for r in rows if r["runs"] and "micro" in r["runs"][0]}
    if not firsts:
        return []
    best = max(firsts.values())
    return [name for name, auc in firsts.items() if auc >= best - within]


def spread(runs: list[dict[str, Any]], key: str) -> str:
    values = [r[key] for r in runs if key in r]
    if not values:
        return NOT_YET if not runs else "failed"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f} (n={len(values)})"


def _fps(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def table(rows: list[dict[str, Any]], info: dict[str, Any]) -> str:
    """The markdown table for docs/zoo.md, with the settings it was measured under."""
    head = ("| model | recipe | params | GFLOP/frame | micro AUC | macro AUC | pooled AUC (calibrated) | train + eval min "
            "| forward frames/s torch fp32 | fastest backend |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        minutes = [x["minutes"] for x in r["runs"] if "micro" in x]
        mins = f"{statistics.median(minutes):.1f}" if minutes else (NOT_YET if not r["runs"] else "failed")
        name, fps = fastest(r["fps"])
        lines.append(f"| {r['name']} | `{r['recipe_rel']}` | {r['params']:,} | {r['gflops']:.2f} | "
                     f"{spread(r['runs'], 'micro')} | {spread(r['runs'], 'macro')} | {spread(r['runs'], 'pooled')} | "
                     f"{mins} | {_fps(r['fps'].get('torch fp32', 0))} | {_fps(fps)} ({name}) |")
    sizes = sorted({r["fps_size"] for r in rows})
    m = info["machine"]
    lines += ["", f"Measured by `{info['command']}` on {info['date']}: {m['cpu']} ({', '.join(m['flags'])}), "
              f"{m['threads']} threads, torch {m['torch']}, no GPU; load average {m['loadavg_before'][0]:.1f} before, "
              f"{m['loadavg_after'][0]:.1f} after (other processes shared the cores). Frames/s: the model's forward "
              f"pass at batch 8 and {' / '.join(f'{z}x{z}' for z in sizes)}, random weights, median pass of blocks "
              "timed in rounds across the backends (benchmarks/export_speed.py); 'torch fast (recipe)' is the recipe's "
              "[train] fast mode (channels_last, bf16 only on CPUs with native bf16) and 'openvino bf16' OpenVINO in "
              "bf16 (measured only on CPUs with native bf16); every other backend float32; "
              "flow is not included (only MSTI-Net uses it). AUCs: "
              + (f"{info['data']}, seeds as shown (n), last checkpoint; trained on {_trained_on(rows)}."
                 if info.get("data") else "not measured (--no-train).")]
    return "\n".join(lines) + "\n"


def _trained_on(rows: list[dict[str, Any]]) -> str:
    """The machines and dates the AUCs come from (recorded seeds may come from other sittings)."""
    where: dict[str, list[str]] = {}
    for r in rows:
        for run in r["runs"]:
            if "micro" in run:
                label = f"{run.get('machine', 'this machine')}, {run.get('date', 'this run')}"
                rescored = f" (re-scored with the recipe's [eval], trained as {run['reevaluated']['run']})" if "reevaluated" in run else ""
                where.setdefault(label, []).append(f"{r['name']} seed {run['seed']}{rescored}")
    return "; ".join(f"{label}: {', '.join(runs)}" for label, runs in where.items()) or "no machine yet"


def write_doc(doc: Path, text: str) -> None:
    """Replace the table block of ``doc`` (the markers must exist), atomically."""
    body = doc.read_text(encoding="utf-8")
    if START not in body or END not in body:
        sys.exit(f"{doc}: no '{START}' ... '{END}' block to replace")
    before, rest = body.split(START, 1)
    after = rest.split(END, 1)[1]
    atomic_write_text(doc, f"{before}{START}\n{text}{END}{after}")


def measure_models(models: list[dict[str, Any]], args: argparse.Namespace, info: dict[str, Any]) -> list[dict[str, Any]]:
    """Counts, frames/s and seed 0 of every model, the results written after each model (a run
    stopped early keeps what it measured); then the extra seeds of the close ones."""
    registry, rows = default_registry(), []
    for m in models:
        counted = count(m["recipe"], registry)
        size = 64 if args.quick else counted["resolution"][0]
        row = {"name": m["name"], "recipe_rel": m["recipes"]["ped2_cpu"], "params": counted["params"],
               "gflops": counted["gflops_per_frame"], "resolution": counted["resolution"], "fps_size": size,
               "fps": speed(m["recipe"], size, args.quick), "runs": []}
        if not args.no_train:
            row["runs"].append(train_and_eval(m["name"], m["recipe"], args.out / m["name"], 0, args))
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "runs"} | {"runs": row["runs"]}), flush=True)
        publish(rows, info, args)
    if not args.no_train:
        repeat = seeds_to_repeat(rows, args.within)
        for row in rows:
            if row["name"] in repeat:
                for seed in args.more_seeds:
                    row["runs"].append(train_and_eval(row["name"], _recipe(models, row),
                                                      args.out / row["name"], seed, args))
                    publish(rows, info, args)
    return rows


def publish(rows: list[dict[str, Any]], info: dict[str, Any], args: argparse.Namespace) -> str:
    """zoo.json and the doc's table from the rows measured so far."""
    info["machine"]["loadavg_after"] = os.getloadavg()
    atomic_write_text(args.out / "zoo.json", json.dumps({**info, "models": rows}, indent=2, default=str) + "\n")
    text = table(rows, info)
    write_doc(args.doc, text)
    return text


def _recipe(models: list[dict[str, Any]], row: dict[str, Any]) -> Path:
    return next(m["recipe"] for m in models if m["name"] == row["name"])


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "ped2")
    p.add_argument("--out", type=Path, required=True, help="folder for the runs and zoo.json")
    p.add_argument("--doc", type=Path, default=REPO / "docs" / "zoo.md", help="markdown file whose table block is replaced")
    p.add_argument("--models", type=lambda s: [x for x in s.split(",") if x], default=None, help="e.g. mnad-pred,ffp")
    p.add_argument("--no-train", action="store_true", help="only parameters, GFLOPs and frames/s; AUCs stay 'not yet measured'")
    p.add_argument("--within", type=float, default=2.0, help="points of micro AUC from the best seed 0 that earn seeds 1-2")
    p.add_argument("--more-seeds", type=int, nargs="*", default=[1, 2])
    p.add_argument("--set", dest="extra", action="append", default=[], help="recipe override for every training run")
    p.add_argument("--record", type=Path, default=REPO / "docs" / "measurements" / "zoo_runs.json",
                   help="finished seeds kept across machines: reused when the merged recipe is unchanged")
    p.add_argument("--quick", action="store_true", help="smoke run: synthetic data, 32x32, 2 steps, one speed round")
    p.add_argument("--republish", action="store_true",
                   help="rewrite the doc's table from OUT/zoo.json as measured (no timing, training or evaluation)")
    args = p.parse_args()
    if args.quick:
        from vadkit.data.synth import generate

        args.data = generate(args.out / "synth", seed=1, train_videos=3, test_videos=2, frames=20, size=32, object_size=8)
        args.extra, args.more_seeds = QUICK_SETS + args.extra, [1]
    return args


def main() -> None:
    args = parse_args()
    if args.republish:
        saved = json.loads((args.out / "zoo.json").read_text())
        text = table(saved.pop("models"), saved)
        write_doc(args.doc, text)
        print(text)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    models = models_with_cpu_recipes(args.models)
    info: dict[str, Any] = {"command": "python benchmarks/zoo.py " + " ".join(sys.argv[1:]),
                            "date": time.strftime("%Y-%m-%d"), "machine": machine(int(os.environ.get("ZOO_THREADS", "2")))}
    info["data"] = None if args.no_train else str(args.data)
    print(publish(measure_models(models, args, info), info, args))


if __name__ == "__main__":
    main()
