"""Flagged frames -> events: runs of flagged frames merged across short gaps, short runs dropped."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Event:
    """One anomaly event, frames inclusive."""

    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    peak_score: float
    peak_frame: int
    peak_time: float
    flagged_frames: int

    @property
    def length(self) -> int:
        return self.end_frame - self.start_frame + 1

    def as_dict(self) -> dict:
        return {**asdict(self), "frames": self.length}


class EventMerger:
    """Feed frames in order; returns each event when it closes.

    Flagged frames at most ``merge_gap`` frames apart (that many unflagged frames between)
    join one event; events shorter than ``min_event`` frames are dropped.
    """

    def __init__(self, merge_gap: int, min_event: int) -> None:
        self.merge_gap, self.min_event = int(merge_gap), int(min_event)
        self._open: Event | None = None

    def update(self, frame: int, time_s: float, score: float, flagged: bool) -> Event | None:
        ev = self._open
        if flagged:
            if ev is not None and frame - ev.end_frame <= self.merge_gap + 1:
                ev.end_frame, ev.end_time = frame, time_s
                ev.flagged_frames += 1
                if score > ev.peak_score:
                    ev.peak_score, ev.peak_frame, ev.peak_time = score, frame, time_s
                return None
            closed = self.close()
            self._open = Event(frame, frame, time_s, time_s, score, frame, time_s, 1)
            return closed
        if ev is not None and frame - ev.end_frame > self.merge_gap:
            return self.close()
        return None

    @property
    def open_event(self) -> Event | None:
        """The event still open (its last flagged frame may yet be followed by more), if any."""
        return self._open

    def close(self) -> Event | None:
        """End the open event (end of the source); returns it if it is long enough."""
        ev, self._open = self._open, None
        return ev if ev is not None and ev.length >= self.min_event else None


def merge_events(
    frames: list[int], times: list[float], scores: list[float], flags: list[bool], merge_gap: int, min_event: int
) -> list[Event]:
    """All events of a whole sequence at once (tests, offline re-analysis)."""
    merger, out = EventMerger(merge_gap, min_event), []
    for f, t, s, g in zip(frames, times, scores, flags):
        ev = merger.update(f, t, s, g)
        if ev is not None:
            out.append(ev)
    last = merger.close()
    return out + ([last] if last is not None else [])
