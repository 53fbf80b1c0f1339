"""Timecodes at the edges: seconds (float) inside, ``HH:MM:SS.mmm`` for people and file names."""

from __future__ import annotations


def format_timecode(seconds: float) -> str:
    """``HH:MM:SS.mmm``, e.g. ``00:01:02.345``."""
    millis = int(round(max(seconds, 0.0) * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def filename_timecode(seconds: float) -> str:
    """A timecode safe in file names on every system, e.g. ``00-01-02.345``."""
    return format_timecode(seconds).replace(":", "-")
