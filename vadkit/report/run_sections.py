"""The sections of one run in the report: recipe and model, training curves, frame AUC,
score curves, most anomalous frames, detection. Each returns HTML and says what is absent."""

from __future__ import annotations

from typing import Any

from ..detect.pseudo_recall import recall_text, recall_warnings, threshold_source
from .charts import score_curve, training_figures
from .collect import RunData
from .html import Raw, fmt, img, join, kv_table, pct, table, tag
from .modelinfo import ModelInfo

TOP_FRAMES = "top_frames.png"


def _shape(shape: Any) -> str:
    if isinstance(shape, dict):
        return ", ".join(f"{k} {_shape(v)}" for k, v in shape.items())
    if isinstance(shape, list) and shape and all(isinstance(s, int) for s in shape):
        return "(" + ", ".join(map(str, shape)) + ")"
    if isinstance(shape, list):
        return " ".join(_shape(s) for s in shape)
    return "-"


def _params(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n:,}"


def model_table(info: ModelInfo) -> Raw:
    """Components per model section with parameters, GFLOPs and output shapes, plus totals."""
    if info.summary is None:
        return tag("p", f"The model could not be built from recipe.toml: {info.error}", cls="error")
    s = info.summary
    rows, classes = [], []
    for comp in s["components"]:
        for row, cls in [(comp, None)] + [(c, "child") for c in comp["children"]]:
            source = f"{row['plugin']} ({row['distribution']})" if row.get("plugin") else "core"
            gflops = f"{row['gflops']:.3f}" if row.get("gflops") else "-"
            rows.append(
                (
                    row["path"],
                    row["kind"],
                    row["name"],
                    source,
                    _params(row["params"]),
                    gflops,
                    _shape(row.get("output_shape")),
                )
            )
            classes.append(cls)
    res = "x".join(map(str, s.get("resolution", [])))
    totals = tag(
        "p",
        f"total {_params(s['total_params'])} parameters ({s['total_params']:,}; trainable "
        f"{s['trainable_params']:,}), {s['gflops_per_frame']:.3f} GFLOPs per frame at {res}; "
        f"scorer {s.get('scorer', '-')}",
    )
    header = ["component", "kind", "name", "from", "params", "GFLOPs", "output shape"]
    return join([table(header, rows, numeric=(4, 5), row_classes=classes), totals])


def run_facts(run: RunData, info: ModelInfo) -> Raw:
    """Seed, epochs, data and environment from run.json and metrics.json."""
    env = (run.info.get("environment") or [{}])[-1] if isinstance(run.info.get("environment"), list) else {}
    m = run.metrics or {}
    facts = {
        "seed": run.seed,
        "epochs completed": run.info.get("epochs_completed"),
        "evaluated checkpoint epoch": m.get("checkpoint_epoch"),
        "data": run.info.get("data_root") or m.get("data_root"),
        "recipe source": run.info.get("recipe_source"),
        "device": run.info.get("device"),
        "vadkit": run.info.get("vadkit_version"),
        "torch / threads": f"{env.get('torch', '-')} / {env.get('torch_threads', '-')}" if env else None,
        "machine": env.get("processor") if env else None,
    }
    rows = [(k, fmt(v)) for k, v in facts.items() if v is not None]
    recipe = tag("details", join([tag("summary", "recipe.toml"), tag("pre", run.recipe_text or "(unreadable)")]))
    return join([table(None, rows), model_table(info), recipe])


def training(run: RunData) -> Raw:
    """Every numeric key of log.jsonl, one figure per group (loss terms, epoch means, memory/..., diag/...)."""
    if not run.log:
        return tag("p", "No training records (log.jsonl missing or empty).", cls="muted")
    figures = training_figures(run.log)
    if not figures:
        return tag("p", "log.jsonl holds no numeric keys with a step or an epoch.", cls="muted")
    parts = []
    for name, keys, png in figures:
        parts.append(tag("div", f"{name}: {', '.join(keys)}", cls="muted"))
        parts.append(img(png, f"training curves: {name}"))
    return join(parts)


def auc(run: RunData) -> Raw:
    """Micro / macro AUC, per category, diagnostics and the per-video table."""
    m = run.metrics
    if m is None:
        return tag("p", "No metrics.json: run `vadkit eval` on this run.", cls="muted")
    sigma = m.get("temporal_sigma") or 0
    micro = f"micro AUC % (smoothed in time, sigma {sigma:g} frames)" if sigma else "micro AUC % (paper protocol)"
    bigs = [
        tag("span", join([tag("b", pct(m.get(k))), label]), cls="big")
        for k, label in (("auc_micro", micro), ("auc_macro", "macro AUC % (mean over videos)"))
    ]
    if sigma and isinstance(m.get("unsmoothed"), dict):
        bigs.append(
            tag(
                "span",
                join([tag("b", pct(m["unsmoothed"].get("auc_micro"))), "micro AUC % unsmoothed (paper protocol)"]),
                cls="big",
            )
        )
    parts = [join(bigs)]
    if m.get("note"):
        parts.append(tag("p", m["note"], cls="muted"))
    if isinstance(m.get("auc_per_category"), dict):
        parts.append(
            table(["category", "AUC %"], [(k, pct(v)) for k, v in m["auc_per_category"].items()], numeric=(1,))
        )
    if isinstance(m.get("diagnostics"), dict):
        parts.append(table(["diagnostic", "AUC %"], [(k, pct(v)) for k, v in m["diagnostics"].items()], numeric=(1,)))
    parts.append(per_video_table(run))
    if m.get("protocol"):
        parts.append(tag("p", m["protocol"], cls="muted"))
    return join(parts)


def _table(d: Any, key: str) -> dict[str, Any]:
    """``d[key]`` when it is a table, else an empty one (a damaged file shows as missing)."""
    value = d.get(key) if isinstance(d, dict) else None
    return value if isinstance(value, dict) else {}


def validation(run: RunData) -> Raw | None:
    """``vadkit validate`` results: AUC on pseudo-anomalies in held-out normal videos."""
    if not run.validations:
        return None
    rows = []
    for name, v in run.validations.items():
        if not isinstance(v, dict):
            continue
        kinds = _table(v, "auc_per_category")
        rows.append(
            (
                name,
                pct(v.get("auc_micro")),
                pct(v.get("auc_macro")),
                ", ".join(f"{k} {pct(x)}" for k, x in kinds.items()),
                ", ".join(v.get("held_out_videos") or []),
            )
        )
    note = tag(
        "p",
        "Pseudo-anomalies drawn into training videos held out of training; no test data "
        "(docs/validation.md). A number to choose settings by, not a test AUC.",
        cls="muted",
    )
    return join(
        [table(["settings", "micro AUC %", "macro AUC %", "per kind", "held-out videos"], rows, numeric=(1, 2)), note]
    )


def calibration(run: RunData) -> Raw | None:
    """calibration.json: how the detection score is formed, each statistic's weight and the
    evidence behind it, the frames it was fitted on and the threshold."""
    cal = run.calibration
    if not isinstance(cal, dict) or not cal:
        return None
    state = _table(cal, "state")
    weights = _table(state, "weights")
    evidence = _table(cal, "evidence")
    aucs = _table(evidence, "auc_pooled")
    rows = [
        (k, fmt(w), pct(aucs.get(k)) if isinstance(aucs.get(k), (int, float)) else "n/a") for k, w in weights.items()
    ]
    holdout = _table(cal, "holdout")
    facts = {
        "method": state.get("method", "zscore"),
        "weights from": state.get("weights_source", "scorer weights"),
        "evidence": evidence.get("source") or evidence.get("note"),
        "rule": state.get("rule"),
        "calibration frames": cal.get("frames"),
        "held-out videos": ", ".join(holdout.get("held_out_videos") or []),
        "hold-out note": holdout.get("fallback") or holdout.get("note"),
        "threshold": cal.get("threshold"),
        "threshold quantile": cal.get("threshold_quantile"),
        "pseudo-anomalies at the threshold": _recall_fact(cal),
    }
    parts = [
        table(["statistic", "weight", "pooled pseudo-anomaly AUC %"], rows, numeric=(1, 2)) if rows else None,
        kv_table({k: v for k, v in facts.items() if v not in (None, "")}),
        _operating_points(cal),
    ]
    notes = [n for n in state.get("notes") or [] if isinstance(n, str)]
    recall = _table(cal, "pseudo_recall")
    if "spans" in recall:
        notes += recall_warnings(recall, threshold_source(cal, absolute=False))
    parts += [tag("p", f"warning: {n}", cls="muted") for n in notes]
    return join([x for x in parts if x is not None])


def _operating_points(cal: dict[str, Any]) -> Raw | None:
    """calibration.json's operating_points (vadkit/detect/operating_points.py) as a table."""
    points = [p for p in cal.get("operating_points") or [] if isinstance(p, dict)]
    if not points:
        return None

    def share(x: Any) -> str:
        return f"{100 * x:.1f}" if isinstance(x, (int, float)) else "n/a"

    rows = [
        (
            f"{p.get('quantile', 0):g}",
            fmt(p.get("threshold")),
            share(p.get("plain_flagged")),
            share(p.get("shifted_flagged")),
            f"{p['pseudo_caught']} of {p['pseudo_spans']}" if "pseudo_spans" in p else "n/a",
        )
        for p in points
    ]
    head = ["threshold quantile", "threshold", "held-out normal flagged %", "shifted copies flagged %", "pseudo caught"]
    return table(head, rows, numeric=(1, 2, 3))


def _recall_fact(cal: dict[str, Any]) -> str | None:
    """calibration.json's pseudo_recall in words (vadkit/detect/pseudo_recall.py), or its note."""
    recall = _table(cal, "pseudo_recall")
    if "spans" in recall:
        return recall_text(recall).removeprefix("at this threshold ")
    return recall.get("note")


def per_video_table(run: RunData) -> Raw:
    m = run.metrics or {}
    per_video = _table(m, "auc_per_video")
    skipped = set(m.get("macro_skipped_videos") or [])
    names = sorted(set(per_video) | set(run.videos) | skipped)
    rows = []
    for name in names:
        cols = run.videos.get(name)
        frames = str(cols["frame"].size) if cols is not None else "-"
        abnormal = str(int((cols["label"] == 1).sum())) if cols is not None else "-"
        value = pct(per_video[name]) if name in per_video else ("one class: not in macro" if name in skipped else "n/a")
        rows.append((name, frames, abnormal, value))
    return table(["video", "frames scored", "abnormal", "AUC %"], rows, numeric=(1, 2, 3)) if rows else Raw("")


def score_curves(run: RunData, max_videos: int) -> Raw:
    """plots/regularity_<video>.png when present, else drawn from scores.csv."""
    names = sorted(set(run.videos) | {n[len("regularity_") : -4] for n in run.plots if n.startswith("regularity_")})
    if not names:
        return tag("p", "No scores.csv and no plots/regularity_*.png: nothing to draw.", cls="muted")
    parts = []
    for name in names[:max_videos]:
        png = run.plots.get(f"regularity_{name}.png")
        if png is None:
            png = score_curve(name, run.videos[name], run.stat_columns)
        parts.append(img(png, f"score curve of video {name}"))
    note = (
        f"{len(names) - max_videos} more videos not shown (--max-videos {max_videos})."
        if len(names) > max_videos
        else ""
    )
    return join([tag("div", join(parts), cls="grid"), tag("p", note, cls="muted") if note else ""])


def top_frames(run: RunData) -> Raw:
    if TOP_FRAMES in run.plots:
        return img(run.plots[TOP_FRAMES], "most anomalous frames with error heatmaps", cls="narrow")
    return tag("p", "No plots/top_frames.png (written by `vadkit eval` when eval.top_frames > 0).", cls="muted")


def other_plots(run: RunData) -> Raw:
    names = [n for n in sorted(run.plots) if n != TOP_FRAMES and not n.startswith("regularity_")]
    return join(join([tag("div", f"plots/{n}", cls="muted"), img(run.plots[n], f"plots/{n}")]) for n in names)


def detection(run: RunData) -> Raw:
    """Each detect output (settings, events, score curve) and any ``detection`` key of metrics.json."""
    parts = []
    for det in run.detections:
        rel = det.path.relative_to(run.root)
        parts.append(tag("div", str(rel), cls="muted"))
        keys = (
            "source",
            "status",
            "message",
            "threshold",
            "threshold_rule",
            "frames_read",
            "frames_scored",
            "frames_per_s",
            "merge_gap",
            "min_event",
        )
        parts.append(kv_table({k: det.info[k] for k in keys if det.info.get(k) is not None}))
        events = [
            (
                e.get("start_frame"),
                e.get("end_frame"),
                e.get("frames"),
                e.get("peak_frame"),
                fmt(e.get("peak_score")),
                fmt(e.get("start_time")),
                fmt(e.get("end_time")),
            )
            for e in det.events
        ]
        header = ["start frame", "end frame", "frames", "peak frame", "peak score", "start s", "end s"]
        parts.append(
            table(header, [tuple(fmt(c) for c in row) for row in events], numeric=tuple(range(7)))
            if events
            else tag("p", "no events", cls="muted")
        )
        if det.curve is not None:
            parts.append(img(det.curve, f"detection score curve {rel.parent}"))
    extra = (run.metrics or {}).get("detection")
    if isinstance(extra, dict):
        parts.append(join([tag("div", "metrics.json: detection", cls="muted"), kv_table(extra)]))
    elif extra is not None:
        parts.append(tag("p", f"metrics.json: detection = {fmt(extra)}"))
    return join(parts)
