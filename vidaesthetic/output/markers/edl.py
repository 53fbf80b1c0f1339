"""CMX3600 EDL: one short event per spot with a locator, for editors that import EDLs."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ...curve.spots import Spot
from ...timecode import drops_frames, edit_rate, format_timecode, frame_label
from ...video.types import VideoInfo
from .base import MARKER_COLOUR, MarkerFormat, from_first_frame, label

REEL = "AX"
EDL_EVENT_FRAMES = 1


def render(spots: Sequence[Spot], info: VideoInfo) -> str:
    """One short event per spot with record = source timecode, so a locator lands on the spot either way."""
    rate, exact = edit_rate(info)
    drop_frame = drops_frames(rate)
    lines = [f"TITLE: {Path(info.path).stem} spots", f"FCM: {'DROP FRAME' if drop_frame else 'NON-DROP FRAME'}"]
    for number, spot in enumerate(spots, start=1):
        start = round(from_first_frame(spot, info) * rate)
        tc_in = frame_label(start, rate, drop_frame)
        tc_out = frame_label(start + EDL_EVENT_FRAMES, rate, drop_frame)
        lines += [
            "",
            f"{number:03d}  {REEL:<8} {'V':<5} {'C':<4} {'':3} {tc_in} {tc_out} {tc_in} {tc_out}",
            f"* FROM CLIP NAME: {Path(info.path).name}",
            f"* LOC: {tc_in} {MARKER_COLOUR:<7} {label(spot)}",
            f"* COMMENT: RANK {spot.rank} SCORE {spot.score:.4g} AT {format_timecode(spot.time)}",
        ]
        if not exact:
            source = "VARIABLE FRAME RATE" if info.variable_frame_rate else f"{info.fps:.5g} FPS"
            lines.append(f"* COMMENT: {source} SOURCE, TIMECODE AT {float(rate):.5g} FPS IS APPROXIMATE TO THE FRAME")
    return "\n".join(lines) + "\n"


FORMAT = MarkerFormat("edl", "edl", render)
