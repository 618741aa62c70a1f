"""`vadkit detect` outputs scored against frame labels (`vadkit eval --detections DIR --data ROOT`).

A user who ran detection on footage and labelled it wants the numbers `vadkit eval` gives a run:
event and frame precision / recall, false alarms per hour, normal frames flagged, pooled AUC,
the equal error rate, false alarms per hour at 90 % event recall and the detection latency
(vadkit.detect.detection_metrics). Here they come from what detection wrote, not from the
model: each source's ``scores.csv`` (score, flag and raw score per scored frame) and
``events.json`` (the events, threshold and settings), matched by video name to the labels of a
dataset root (any layout vadkit reads; docs/data.md).

False alarms at 90 % event recall re-stream the raw scores at lower thresholds, which needs the
stream settings events.json records (since this release) and a fixed threshold: a source
re-fitted on its first frames (``refit_frames``) or scored with the test-time memory update
(its raw scores depend on the threshold) gets no such figure, and the result says why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.factory import open_dataset
from ..detect.detection_metrics import VideoDetection, detection_metrics
from ..detect.events import Event
from ..detect.online import StreamSettings
from ..detect.outputs import read_scores, read_status
from ..errors import DataError
from ..registry import Registry

RESULT_NAME = "detection_metrics.json"
KIND = "vadkit eval --detections"  # marks the result file as ours (overwritten only when it carries it)
COLUMNS = ("frame", "score", "flagged", "score_raw")


@dataclass
class DetectOutput:
    """One source's detection outputs, read back."""

    folder: Path
    name: str
    status: dict[str, Any]
    columns: dict[str, np.ndarray]


def output_folders(folder: Path) -> list[Path]:
    """``folder`` itself when detection wrote into it (one source), else its sub-folders that
    hold detection outputs (several sources: ``DIR/<name>/``), in name order."""
    if read_status(folder) is not None:
        return [folder]
    return sorted(p for p in folder.iterdir() if p.is_dir() and read_status(p) is not None)


def _video_name(folder: Path, status: dict[str, Any]) -> str:
    """The name detection gave the source: its file stem or folder name."""
    source = str(status.get("source", ""))
    if source and not source.isdigit() and "://" not in source:
        return Path(source).stem
    return folder.name


def read_output(folder: Path) -> DetectOutput:
    """scores.csv and events.json of one source; a missing column is one line naming the file."""
    status = read_status(folder)
    path = folder / "scores.csv"
    if status is None or not path.is_file():
        raise DataError(f"{folder}: no `vadkit detect` outputs (events.json and scores.csv)")
    try:
        columns = read_scores(path)
    except (OSError, ValueError, IndexError) as exc:
        raise DataError(f"{path}: cannot be read as detection scores ({exc})") from None
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; is it a `vadkit detect` scores.csv?")
    return DetectOutput(folder, _video_name(folder, status), status, columns)


def _labelled(output: DetectOutput, videos: dict[str, Any], where: str) -> VideoDetection:
    """The output with its frames' labels, as detection's metrics read it."""
    video = videos.get(output.name)
    if video is None:
        raise DataError(f"{output.folder}: no video '{output.name}' in {where} (videos are matched by name)")
    if video.labels is None:
        raise DataError(f"{where}: video '{output.name}' has no frame labels")
    frames = output.columns["frame"].astype(int)
    beyond = frames[(frames < 0) | (frames >= len(video.labels))]
    if beyond.size:
        raise DataError(
            f"{output.folder / 'scores.csv'}: frame {int(beyond[0])} lies outside video '{output.name}' "
            f"({len(video.labels)} labelled frames)"
        )
    labels = np.asarray(video.labels, int)[frames]
    if (labels < 0).any():
        raise DataError(f"{where}: video '{output.name}' has unknown labels (-1) at scored frames")
    try:
        events = [Event(**{k: e[k] for k in Event.__dataclass_fields__}) for e in output.status["events"]]
    except (KeyError, TypeError) as exc:
        raise DataError(f"{output.folder / 'events.json'}: an event lacks {exc}") from None
    return VideoDetection(
        output.name,
        frames,
        labels,
        output.columns["score_raw"],
        output.columns["score"],
        output.columns["flagged"].astype(bool),
        events,
    )


def _restream_settings(outputs: list[DetectOutput]) -> tuple[StreamSettings | None, str | None]:
    """The stream settings every output was scored with at one fixed threshold (what re-streaming
    at other thresholds needs), or None and why not."""
    if any("refit" in o.status for o in outputs):
        return None, "a source was re-fitted on its first frames (refit_frames): its threshold changed mid-stream"
    if any(o.status.get("memory_update") for o in outputs):
        return None, "the test-time memory update makes raw scores depend on the threshold"
    streams = [o.status.get("stream") for o in outputs]
    if any(not isinstance(s, dict) for s in streams):
        return None, "events.json records no stream settings (written before this release): run detection again"
    if any(json.dumps(s, sort_keys=True) != json.dumps(streams[0], sort_keys=True) for s in streams):
        return None, "the sources were scored with different stream settings"
    if len({o.status.get("threshold") for o in outputs}) > 1:
        return None, "the sources were scored at different thresholds"
    s = streams[0]
    assert isinstance(s, dict)  # checked above
    return StreamSettings(
        s["smoothing"], s["running_norm"], s["running_window"], s["running_warmup"], s["reference"]
    ), None


def _one(outputs: list[DetectOutput], key: str) -> Any:
    values = {json.dumps(o.status.get(key)) for o in outputs}
    if len(values) > 1:
        raise DataError(f"the detection outputs differ in '{key}' ({', '.join(sorted(values))}): score them separately")
    return outputs[0].status.get(key)


def score_detections(folder: Path, data_root: Path, registry: Registry, split: str = "testing") -> dict[str, Any]:
    """Detection metrics of the `vadkit detect` outputs in ``folder`` against the labels of
    ``data_root``'s ``split``; every source must be a labelled video of it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"--detections {folder}: not a folder")
    outputs = [read_output(p) for p in output_folders(folder)]
    if not outputs:
        raise DataError(f"{folder}: no `vadkit detect` outputs here or in its sub-folders (events.json + scores.csv)")
    names = [o.name for o in outputs]
    if len(set(names)) != len(names):
        raise DataError(f"{folder}: several outputs name the same video ({', '.join(sorted(names))})")
    where = f"{data_root} ({split})"
    videos = {v.name: v for v in open_dataset(data_root, registry).videos(split)}
    streamed = [_labelled(o, videos, where) for o in outputs]
    fps, merge_gap, min_event = (_one(outputs, k) for k in ("fps", "merge_gap", "min_event"))
    settings, no_recall = _restream_settings(outputs)
    metrics = detection_metrics(streamed, float(fps), settings, int(merge_gap), int(min_event))
    incomplete = {o.name: o.status.get("status") for o in outputs if o.status.get("status") != "complete"}
    return {
        "kind": KIND,
        **metrics,
        "videos": names,
        "incomplete": incomplete,
        "complete": not incomplete,
        "at_recall_note": no_recall,
        "settings": {
            "detections": str(folder),
            "labels": where,
            "threshold": {o.name: o.status.get("threshold") for o in outputs},
            "threshold_rule": {o.name: o.status.get("threshold_rule") for o in outputs},
            "merge_gap": merge_gap,
            "min_event": min_event,
            "fps": fps,
        },
    }


__all__ = ["KIND", "RESULT_NAME", "output_folders", "read_output", "score_detections"]
