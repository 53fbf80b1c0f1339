"""Spots as markers for editors and players: CMX3600 EDL, WebVTT, OpenTimelineIO, FFmpeg chapters.

Every time here is measured from the video's first frame, which is where
players put zero and where editors put 00:00:00:00 for a file without
embedded timecode. EDL timecodes are frame labels: exact for constant integer
and NTSC (N*1000/1001) rates; for variable-frame-rate or odd-rate video they
count at the nearest standard rate, are approximate to the frame, and every
event says so. WebVTT and FFmpeg chapters carry milliseconds, OTIO exact
seconds.
"""

from __future__ import annotations

import math
import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .._internal.atomic import OutputSet
from ..curve.spots import Spot
from ..errors import InputError
from ..timecode import format_timecode
from ..video.types import VideoInfo

MARKER_FORMATS = ("edl", "vtt", "otio", "chapters")
SUFFIXES = {"edl": "edl", "vtt": "vtt", "otio": "otio", "chapters": "ffmetadata"}
STANDARD_RATES = tuple(Fraction(rate) for rate in ("24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60"))
REEL = "AX"
MARKER_COLOUR = "GREEN"
EDL_EVENT_FRAMES = 1
LAST_SPAN_SECONDS = 2.0
"""How long the last VTT cue or chapter lasts when the video's end is unknown."""


def check_formats(formats: Iterable[str]) -> Tuple[str, ...]:
    """The requested formats without repeats; raises :class:`InputError` now, before anything is written."""
    wanted = tuple(dict.fromkeys(formats))
    unknown = [name for name in wanted if name not in MARKER_FORMATS]
    if unknown:
        raise InputError(f"unknown export format {unknown[0]!r}; use one of {', '.join(MARKER_FORMATS)}")
    if "otio" in wanted:
        _opentimelineio()
    return wanted


def write_markers(spots: Sequence[Spot], info: VideoInfo, formats: Sequence[str], outputs: OutputSet,
                  stem: str = "spots") -> List[str]:
    """Write ``stem.edl``, ``.vtt``, ``.otio`` and/or ``.ffmetadata`` through ``outputs``; returns the names.

    Spots go in time order (editors and players need it), not rank order.
    """
    writers: Dict[str, Callable[[Sequence[Spot], VideoInfo], str]] = {
        "edl": _edl, "vtt": _vtt, "otio": _otio, "chapters": _ffmetadata,
    }
    ordered = sorted(spots, key=lambda spot: spot.time)
    names = []
    for name in check_formats(formats):
        text = writers[name](ordered, info)
        file_name = f"{stem}.{SUFFIXES[name]}"
        with open(outputs.reserve(file_name), "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        names.append(file_name)
    return names


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
        drop_frame = _drops(rate)
    elif drop_frame and not _drops(rate):
        raise ValueError("drop-frame timecode exists only at 29.97 and 59.94 fps")
    return _frame_label(round(max(seconds, 0.0) * rate), rate, drop_frame)


def timecode_rate(fps: float) -> Optional[Fraction]:
    """``fps`` as an exact integer or N*1000/1001 rate, or None when it is neither."""
    nominal = round(fps)
    for rate in (Fraction(nominal), Fraction(nominal * 1000, 1001)):
        if nominal > 0 and math.isclose(fps, rate, rel_tol=1e-4):
            return rate
    return None


def edit_rate(info: VideoInfo) -> Tuple[Fraction, bool]:
    """The rate EDL and OTIO times count in, and whether it is the video's own (frame-exact)."""
    rate = None if info.variable_frame_rate else timecode_rate(info.fps)
    if rate is not None:
        return rate, True
    return min(STANDARD_RATES, key=lambda standard: abs(standard - info.fps)), False


def _drops(rate: Fraction) -> bool:
    return rate in (Fraction(30000, 1001), Fraction(60000, 1001))


def _frame_label(frame: int, rate: Fraction, drop_frame: bool) -> str:
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


def _from_first_frame(spot: Spot, info: VideoInfo) -> float:
    return max(spot.time - info.start_time, 0.0)


def _label(spot: Spot) -> str:
    return f"#{spot.rank} score {spot.score:.4g}"


def _spans(spots: Sequence[Spot], info: VideoInfo) -> List[Tuple[float, float]]:
    """Chapters: each spot lasts until the next one, the last until the video ends."""
    starts = [_from_first_frame(spot, info) for spot in spots]
    if not starts:
        return []
    last_end = info.duration if info.duration > starts[-1] else starts[-1] + LAST_SPAN_SECONDS
    return list(zip(starts, starts[1:] + [last_end]))


def _edl(spots: Sequence[Spot], info: VideoInfo) -> str:
    """One short event per spot with record = source timecode, so a locator lands on the spot either way."""
    rate, exact = edit_rate(info)
    drop_frame = _drops(rate)
    lines = [f"TITLE: {Path(info.path).stem} spots", f"FCM: {'DROP FRAME' if drop_frame else 'NON-DROP FRAME'}"]
    for number, spot in enumerate(spots, start=1):
        start = round(_from_first_frame(spot, info) * rate)
        tc_in = _frame_label(start, rate, drop_frame)
        tc_out = _frame_label(start + EDL_EVENT_FRAMES, rate, drop_frame)
        lines += [
            "",
            f"{number:03d}  {REEL:<8} {'V':<5} {'C':<4} {'':3} {tc_in} {tc_out} {tc_in} {tc_out}",
            f"* FROM CLIP NAME: {Path(info.path).name}",
            f"* LOC: {tc_in} {MARKER_COLOUR:<7} {_label(spot)}",
            f"* COMMENT: RANK {spot.rank} SCORE {spot.score:.4g} AT {format_timecode(spot.time)}",
        ]
        if not exact:
            source = "VARIABLE FRAME RATE" if info.variable_frame_rate else f"{info.fps:.5g} FPS"
            lines.append(f"* COMMENT: {source} SOURCE, TIMECODE AT {float(rate):.5g} FPS IS APPROXIMATE TO THE FRAME")
    return "\n".join(lines) + "\n"


def _vtt(spots: Sequence[Spot], info: VideoInfo) -> str:
    blocks = ["WEBVTT"]
    for spot, (start, end) in zip(spots, _spans(spots, info)):
        blocks.append(f"spot-{spot.rank:02d}\n{format_timecode(start)} --> {format_timecode(end)}\n{_label(spot)}")
    return "\n\n".join(blocks) + "\n"


def _ffmetadata(spots: Sequence[Spot], info: VideoInfo) -> str:
    """Chapters only, to add with ``ffmpeg -i VIDEO -i spots.ffmetadata -map_chapters 1 -c copy OUT``."""
    lines = [";FFMETADATA1"]
    for spot, (start, end) in zip(spots, _spans(spots, info)):
        title = re.sub(r"([=;#\\\n])", r"\\\1", _label(spot))
        lines += ["", "[CHAPTER]", "TIMEBASE=1/1000", f"START={round(start * 1000)}", f"END={round(end * 1000)}",
                  f"title={title}"]
    return "\n".join(lines) + "\n"


def _otio(spots: Sequence[Spot], info: VideoInfo) -> str:
    """A timeline of one clip, the whole video, with a marker per spot (frame-exact when the rate allows)."""
    otio = _opentimelineio()
    rate, exact = edit_rate(info)
    fps = float(rate)

    def at(seconds: float) -> "otio.opentime.RationalTime":
        frames = seconds * fps
        return otio.opentime.RationalTime(round(frames) if exact else frames, fps)

    starts = [_from_first_frame(spot, info) for spot in spots]
    length = max([info.duration] + [start + 1 / fps for start in starts])
    whole = otio.opentime.TimeRange(at(0.0), at(length))
    reference = otio.schema.ExternalReference(
        target_url=otio.url_utils.url_from_filepath(os.path.abspath(info.path)), available_range=whole
    )
    clip = otio.schema.Clip(name=Path(info.path).name, media_reference=reference, source_range=whole)
    for spot, start in zip(spots, starts):
        clip.markers.append(otio.schema.Marker(
            name=_label(spot),
            marked_range=otio.opentime.TimeRange(at(start), at(0.0)),
            color=MARKER_COLOUR,
            metadata={"vidaesthetic": {"rank": spot.rank, "score": spot.score, "time": spot.time}},
        ))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(clip)
    timeline = otio.schema.Timeline(name=f"{Path(info.path).stem} spots")
    timeline.tracks.append(track)
    return otio.adapters.write_to_string(timeline, "otio_json")


def _opentimelineio():
    try:
        import opentimelineio
    except ImportError:
        raise InputError("the otio export needs `pip install opentimelineio`") from None
    return opentimelineio
