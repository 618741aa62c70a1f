"""The ``detection`` part of metrics.json: the test videos streamed through ``vadkit detect``'s
decision path (the run's calibration, threshold, running normalisation, smoothing and event
merging, frame by frame in order), measured against the labels. Beside the benchmark's
per-video min-max AUCs it says what one fixed, label-free threshold achieves."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CheckpointError, DataError
from ..inference import VideoScores
from ..trained_run import TrainedRun


def stream_videos(
    run: TrainedRun, videos: list[VideoScores], overrides: dict[str, Any] | None = None
) -> tuple[list[Any], dict[str, Any]]:
    """Each labelled video through detection's path; (VideoDetection list, the settings used)."""
    from ..detect.calibration import load_calibration, resolve_threshold, stream_settings
    from ..detect.config import detect_settings
    from ..detect.detection_metrics import detect_video

    cal = load_calibration(run)
    cfg = run.configured(detect_settings(overrides)).detect
    threshold, rule = resolve_threshold(run, cal, cfg)
    settings = stream_settings(cal, cfg)
    out = []
    for v in videos:
        order = np.argsort(np.asarray(v.frames), kind="stable")
        frames = np.asarray(v.frames)[order]
        raw = run.scorer.anomaly(
            {k: np.asarray(v.stats[k], np.float64)[order] for k in run.scorer.stat_names}, cal["state"]
        )
        out.append(
            detect_video(
                v.name,
                frames,
                np.asarray(v.labels)[order],
                raw,
                settings,
                threshold,
                cfg.merge_gap,
                cfg.min_event,
                cfg.fps,
            )
        )
    used = {
        "threshold": threshold,
        "threshold_rule": rule,
        **settings.describe(),
        "merge_gap": cfg.merge_gap,
        "min_event": cfg.min_event,
        "fps": cfg.fps,
        "holdout": cal.get("holdout"),
    }
    return out, used


def detection_section(run: TrainedRun, videos: list[VideoScores]) -> dict[str, Any]:
    """Detection metrics of the run at its calibrated threshold, or a note saying why not."""
    from ..detect.calibration import load_calibration, resolve_recall, stream_settings
    from ..detect.detection_metrics import detection_metrics

    labelled = [v for v in videos if v.labels and min(v.labels) >= 0]
    if not labelled:
        return {"note": "no frame labels: detection metrics not computed"}
    try:
        streamed, used = stream_videos(run, labelled)
    except (CheckpointError, DataError) as exc:
        return {"note": f"detection metrics not computed: {exc}"}
    cal = load_calibration(run)
    cfg = run.config.detect
    settings = stream_settings(cal, cfg)
    pseudo = resolve_recall(run, cal, cfg, used["threshold"])  # the label-free count beside the real one
    return {
        **detection_metrics(streamed, used["fps"], settings, used["merge_gap"], used["min_event"]),
        "settings": used,
        "pseudo_recall": pseudo if pseudo is not None else {"note": "the calibration kept no pseudo-anomalies"},
    }


def detection_text(metrics: dict[str, Any]) -> str | None:
    """One line of the detection metrics for the terminal (None when there are none)."""
    d = metrics.get("detection") or {}
    if "event_f1" not in d:
        return None

    def f(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.2f}"

    def h(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.1f}"

    at = d.get("at_recall") or {}
    lat = (d.get("latency") or {}).get("median_frames")
    return (
        f"detection at the calibrated threshold: event F1 {f(d['event_f1'])} (P {f(d['event_precision'])}, "
        f"R {f(d['event_recall'])}), frame F1 {f(d['frame_f1'])}, {h(d.get('false_alarms_per_hour'))} false "
        f"alarms/hour, pooled AUC {f(d['auc_pooled'])}, EER {f(d.get('eer'))}, "
        f"{h(at.get('false_alarms_per_hour'))} false alarms/hour at 90% event recall, "
        f"median latency {h(lat)} frames"
    )


__all__ = ["detection_section", "detection_text", "stream_videos"]
