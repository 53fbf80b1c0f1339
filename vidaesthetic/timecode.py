"""Time at the edges, in one place: seconds (float) inside, text for people, files, axes and editors.

- :func:`parse_time` reads what people type: ``72.5``, ``1:12.5``, ``00:01:12.500``.
- :func:`format_timecode` writes ``HH:MM:SS.mmm``; :func:`filename_timecode`
  the same without colons; :func:`clock_timecode` the short ``m:ss.s`` of a
  plot axis.
- :func:`smpte_timecode` writes the ``HH:MM:SS:FF`` frame labels of editors,
  drop-frame (``HH:MM:SS;FF``) at 29.97 and 59.94 fps; :func:`edit_rate` says
  which rate a video's labels count in.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import TYPE_CHECKING, Optional, Tuple

if TYPE_CHECKING:
    from .video.types import VideoInfo

_TIME = re.compile(r"(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d*)?|\.\d+)")
STANDARD_RATES = tuple(Fraction(rate) for rate in ("24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60"))
"""The frame rates editors count in, for video whose own rate is none of them."""


def parse_time(text: str) -> float:
    """Seconds from ``SS[.fff]``, ``MM:SS[.fff]`` or ``HH:MM:SS[.fff]``, e.g. ``"1:12.5"`` -> 72.5.

    Raises:
        ValueError: one line saying what is accepted, for anything else (negative times included).
    """
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"not a time: {text!r}; use seconds (72.5) or [HH:]MM:SS[.mmm] (1:12.5)")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)


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


def clock_timecode(seconds: float) -> str:
    """The short form of a time axis: ``m:ss.s`` under an hour (``1:02.3``), ``h:mm:ss`` beyond."""
    minutes, secs = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes)}:{secs:04.1f}" if minutes < 60 else f"{int(minutes // 60)}:{int(minutes % 60):02d}:{int(secs):02d}"


def smpte_timecode(seconds: float, fps: float, drop_frame: Optional[bool] = None) -> str:
    """``HH:MM:SS:FF`` (``HH:MM:SS;FF`` drop-frame) of the frame shown at ``seconds``.

    ``fps`` must be an integer or NTSC rate. NTSC rates count frames in real
    time (23.976 fps: ``round(seconds * 24000/1001)``) and label them at the
    nominal rate (24 a second). ``drop_frame=None`` drops at 29.97 and 59.94
    fps only, so that those labels keep up with the clock.
    """
    rate = timecode_rate(fps)
    if rate is None:
        raise ValueError(f"no SMPTE timecode runs at {fps:g} fps")
    if drop_frame is None:
        drop_frame = drops_frames(rate)
    elif drop_frame and not drops_frames(rate):
        raise ValueError("drop-frame timecode exists only at 29.97 and 59.94 fps")
    return frame_label(round(max(seconds, 0.0) * rate), rate, drop_frame)


def timecode_rate(fps: float) -> Optional[Fraction]:
    """``fps`` as an exact integer or N*1000/1001 rate, or None when it is neither."""
    nominal = round(fps)
    for rate in (Fraction(nominal), Fraction(nominal * 1000, 1001)):
        if nominal > 0 and math.isclose(fps, rate, rel_tol=1e-4):
            return rate
    return None


def edit_rate(info: "VideoInfo") -> Tuple[Fraction, bool]:
    """The rate a video's frame labels count in, and whether it is the video's own (frame-exact).

    Variable-frame-rate and odd-rate video counts at the nearest of ``STANDARD_RATES``.
    """
    rate = None if info.variable_frame_rate else timecode_rate(info.fps)
    if rate is not None:
        return rate, True
    return min(STANDARD_RATES, key=lambda standard: abs(standard - info.fps)), False


def drops_frames(rate: Fraction) -> bool:
    """Whether labels at ``rate`` are drop-frame (29.97 and 59.94 fps)."""
    return rate in (Fraction(30000, 1001), Fraction(60000, 1001))


def frame_label(frame: int, rate: Fraction, drop_frame: bool) -> str:
    """Label frame ``frame``; drop-frame skips labels 0-1 (0-3 at 59.94) each minute but every tenth."""
    nominal = math.ceil(rate)
    if drop_frame:
        dropped = nominal // 15
        per_minute = 60 * nominal - dropped
        per_ten_minutes = 10 * per_minute + dropped
        tens, rest = divmod(frame, per_ten_minutes)
        frame += 9 * dropped * tens + dropped * max(0, (rest - dropped) // per_minute)
    seconds, frames = divmod(frame, nominal)
    separator = ";" if drop_frame else ":"
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{separator}{frames:02d}"
