"""Detect anomalies in the UCSD Ped2 test videos re-encoded as ordinary video files, and
compare the detected events with the ground-truth spans.

1. re-encode each test video (``<ped2>/testing/frames/NN``) to ``<tmp>/NN.avi`` (MJPG) with OpenCV;
2. run ``vadkit detect`` on the folder of videos with ``--run`` (no labels are used);
3. read the ground truth with vadkit.data's label reader and print, per video and overall:
   event-level precision (events overlapping a true span) and recall (true spans overlapped by
   an event), and frame-level IoU / precision / recall of the flagged frames.

    OMP_NUM_THREADS=2 python examples/detect_ped2_video.py --run runs/ped2-cpu \
        [--ped2 ../shared/data/ped2] [--tmp /tmp/ped2_videos] [-- extra vadkit detect flags]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive [start, end] runs of a 0/1 array."""
    edges = np.flatnonzero(np.diff(np.r_[0, np.asarray(mask, np.int8), 0]))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def encode(ped2: Path, out: Path, fps: float = 10.0) -> list[str]:
    """Each test frame folder -> out/NN.avi (MJPG, quality as OpenCV's default)."""
    from vadkit.data import list_dirs, list_images

    out.mkdir(parents=True, exist_ok=True)
    names = []
    for d in list_dirs(ped2 / "testing" / "frames"):
        files = list_images(d)
        first = cv2.imread(str(files[0]))
        target = out / f"{d.name}.avi"
        if not target.is_file():
            writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"MJPG"), fps, (first.shape[1], first.shape[0]))
            for f in files:
                writer.write(cv2.imread(str(f)))
            writer.release()
        names.append(d.name)
    return names


def ground_truth(ped2: Path) -> dict[str, np.ndarray]:
    """Per-video 0/1 frame labels through vadkit.data (ped2.mat, detected automatically)."""
    from vadkit import default_registry
    from vadkit.data import open_dataset

    videos = open_dataset(ped2, default_registry()).videos("testing")
    return {v.name: np.asarray(v.labels, np.uint8) for v in videos}


def compare(labels: np.ndarray, flagged: np.ndarray, scored: np.ndarray, events: list[dict]) -> dict:
    """Event- and frame-level agreement, over the frames detection scored."""
    truth = spans(labels)
    ev = [(e["start_frame"], e["end_frame"]) for e in events]
    overlaps = lambda a, b: a[0] <= b[1] and b[0] <= a[1]  # noqa: E731
    tp_events = sum(any(overlaps(e, t) for t in truth) for e in ev)
    hit_spans = sum(any(overlaps(e, t) for e in ev) for t in truth)
    y, f = labels[scored].astype(bool), flagged.astype(bool)
    inter, union = int((y & f).sum()), int((y | f).sum())
    return {
        "events": len(ev), "true_spans": len(truth), "events_on_truth": tp_events, "spans_found": hit_spans,
        "frames": int(scored.size), "abnormal": int(y.sum()), "flagged": int(f.sum()), "tp_frames": inter,
        "union": union, "event_spans": ev, "truth_spans": truth,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, type=Path, help="a run trained on Ped2 (vadkit train --data <ped2>)")
    p.add_argument("--ped2", type=Path, default=REPO.parent / "shared" / "data" / "ped2")
    p.add_argument("--tmp", type=Path, default=None, help="folder for the .avi files (default: a new temp folder)")
    p.add_argument("--out", type=Path, default=None, help="detection output (default: <tmp>/detect)")
    p.add_argument("detect_args", nargs="*", help="extra `vadkit detect` flags, after --")
    args = p.parse_args()
    tmp = args.tmp or Path(tempfile.mkdtemp(prefix="ped2_videos_"))
    out = args.out or tmp / "detect"
    names = encode(args.ped2, tmp / "videos")
    print(f"re-encoded {len(names)} test videos to {tmp / 'videos'}")
    from vadkit.cli import main as vadkit

    cmd = ["detect", str(tmp / "videos"), "--run", str(args.run), "--out", str(out), *args.detect_args]
    print("$ vadkit", " ".join(cmd))
    code = vadkit(cmd)
    if code not in (0, 2):
        return code
    truth = ground_truth(args.ped2)
    rows, total = [], {}
    for name in names:
        events_file = out / name / "events.json"
        if not events_file.is_file():
            print(f"{name}: no results")
            continue
        events = json.loads(events_file.read_text())
        data = np.genfromtxt(out / name / "scores.csv", delimiter=",", names=True)
        scored = data["frame"].astype(int)
        r = compare(truth[name], data["flagged"], scored, events["events"])
        rows.append((name, r))
        for k in ("events", "true_spans", "events_on_truth", "spans_found", "frames", "abnormal", "flagged",
                  "tp_frames", "union"):
            total[k] = total.get(k, 0) + r[k]
    if not rows:
        return code or 1
    print(f"\n{'video':>5} {'events':>6} {'truth':>5} {'ev.prec':>7} {'ev.rec':>6} {'IoU':>5}  events vs ground truth")
    for name, r in rows:
        prec = r["events_on_truth"] / r["events"] if r["events"] else float("nan")
        rec = r["spans_found"] / r["true_spans"] if r["true_spans"] else float("nan")
        iou = r["tp_frames"] / r["union"] if r["union"] else float("nan")
        print(f"{name:>5} {r['events']:>6} {r['true_spans']:>5} {prec:>7.2f} {rec:>6.2f} {iou:>5.2f}  "
              f"{r['event_spans']} vs {r['truth_spans']}")
    t = total
    if t:
        print(
            f"\noverall: event precision {t['events_on_truth']}/{t['events']} = "
            f"{t['events_on_truth'] / max(1, t['events']):.2f}, event recall {t['spans_found']}/{t['true_spans']} = "
            f"{t['spans_found'] / max(1, t['true_spans']):.2f}; frames: IoU {t['tp_frames'] / max(1, t['union']):.2f}, "
            f"precision {t['tp_frames'] / max(1, t['flagged']):.2f}, recall {t['tp_frames'] / max(1, t['abnormal']):.2f} "
            f"({t['flagged']} flagged, {t['abnormal']} abnormal of {t['frames']} scored frames)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
