"""Detection settings compared on validation: pseudo-anomalous held-out videos streamed through
``vadkit detect``'s decision path (calibration, running normalisation, smoothing, threshold,
events), never the test split (issue 19).

Each candidate is a set of ``[detect]`` overrides that the run's calibration can serve without
re-fitting the scorer (``running_norm``, ``smoothing``, ``threshold_quantile``, ``running_warmup``,
...; the threshold is re-derived from the stored calibration statistics as ``vadkit eval
--set`` does). Two sets of streams, both from the same pseudo-videos (seed 1, 4 copies; seed 0
is the one the calibration's evidence weights came from):

- ``as drawn``: each pseudo-video from its first frame; the anomaly starts after the first clip;
- ``starts inside``: the same pseudo-videos with every scored frame before the anomaly's first
  frame left out, so the stream starts inside the event (a service restarted or a camera
  switched on during an event; benchmark clips cut mid-event).

The rule for the running normalisation, written before the run (docs/detect-validation.md, "Streams that
start inside an event"): ``running_norm = false`` replaces the default ``true`` only when its
pooled AUC of the detection score is not lower by more than 0.005 on "as drawn" *and* higher by
at least 0.005 on "starts inside", median over the runs given.

    python benchmarks/stream_validation.py --runs runs/ped2-cpu \\
        --candidate default: --candidate no-running-norm:running_norm=false --out /tmp/sv.json
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from vadkit import default_registry
from vadkit.detect.detection_metrics import detection_metrics
from vadkit.evaluation.detection import stream_videos
from vadkit.inference import VideoScores, collect_stats
from vadkit.pseudo.clips import pseudo_clips
from vadkit.trained_run import TrainedRun

QUIET = Console(file=io.StringIO())
MARGIN = 0.005


def parse_candidate(text: str) -> tuple[str, dict[str, Any]]:
    """``NAME:key=value,key=value`` -> (NAME, overrides); values parsed as JSON where they can be."""
    name, _, rest = text.partition(":")
    overrides: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        try:
            overrides[key.strip()] = json.loads(value)
        except ValueError:
            overrides[key.strip()] = value
    return name, overrides


def starts_inside(video: VideoScores) -> VideoScores | None:
    """``video`` from its first abnormal frame on (None when it has none)."""
    labels = np.asarray(video.labels)
    first = np.flatnonzero(labels > 0)
    if not first.size:
        return None
    k = int(first[0])
    return replace(video, name=f"{video.name}@inside", frames=list(video.frames[k:]), labels=list(labels[k:]),
                   stats={n: list(v[k:]) for n, v in video.stats.items()})


def measure(run_dir: Path, candidates: dict[str, dict[str, Any]], copies: int, seed: int) -> dict[str, Any]:
    registry = default_registry()
    run = TrainedRun.open(run_dir, registry, device="cpu")
    _held, _videos, clips = pseudo_clips(run, registry, run.data_root(), copies, seed)
    scored = collect_stats(run.model, clips, run.scorer, run.device, fast=run.fast, precision=run.precision)
    sets = {"as drawn": scored, "starts inside": [v for v in map(starts_inside, scored) if v is not None]}
    out: dict[str, Any] = {}
    for name, overrides in candidates.items():
        for label, videos in sets.items():
            streamed, used = stream_videos(run, videos, overrides)
            m = detection_metrics(streamed, used["fps"])
            out.setdefault(name, {})[label] = {
                "auc_pooled": m["auc_pooled"], "auc_pooled_raw": m["auc_pooled_raw"], "eer": m["eer"],
                "spans_found": m["spans_found"], "anomaly_spans": m["anomaly_spans"],
                "normal_frames_flagged": m["normal_frames_flagged"], "threshold": used["threshold"],
                "frames": int(sum(len(v.frames) for v in videos)),
            }
            print(f"{run_dir.name} {name:18s} {label:13s} pooled AUC {m['auc_pooled']:.4f} "
                  f"(raw {m['auc_pooled_raw']:.4f}), spans {m['spans_found']}/{m['anomaly_spans']}, "
                  f"normal flagged {m['normal_frames_flagged']:.1%}", flush=True)
    return out


def decide(results: list[dict[str, Any]]) -> str:
    """The running-normalisation rule over the median of the runs (see the module docstring)."""
    def med(name: str, label: str) -> float:
        return statistics.median(r[name][label]["auc_pooled"] for r in results)
    if not all("default" in r and "no-running-norm" in r for r in results):
        return "rule not applied: needs candidates 'default' and 'no-running-norm'"
    drawn = med("no-running-norm", "as drawn") - med("default", "as drawn")
    inside = med("no-running-norm", "starts inside") - med("default", "starts inside")
    switch = drawn >= -MARGIN and inside >= MARGIN
    return (f"no-running-norm minus default: as drawn {drawn:+.4f}, starts inside {inside:+.4f} -> "
            + ("switch the default to running_norm = false" if switch else "keep running_norm = true"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=Path, nargs="+", required=True)
    p.add_argument("--candidate", action="append", default=[], metavar="NAME:key=value,...")
    p.add_argument("--copies", type=int, default=4)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    candidates = dict(map(parse_candidate, args.candidate or ["default:", "no-running-norm:running_norm=false"]))
    results = [measure(run, candidates, args.copies, args.seed) for run in args.runs]
    verdict = decide(results)
    print(verdict)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"runs": [str(r) for r in args.runs], "results": results,
                                        "rule_margin": MARGIN, "verdict": verdict}, indent=2) + "\n")


if __name__ == "__main__":
    main()
