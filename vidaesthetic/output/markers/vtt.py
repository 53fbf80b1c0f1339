"""WebVTT: a cue per spot, lasting until the next one, for players and web pages."""

from __future__ import annotations

from typing import Sequence

from ...curve.spots import Spot
from ...timecode import format_timecode
from ...video.types import VideoInfo
from .base import MarkerFormat, label, spans


def render(spots: Sequence[Spot], info: VideoInfo) -> str:
    blocks = ["WEBVTT"]
    for spot, (start, end) in zip(spots, spans(spots, info)):
        blocks.append(f"spot-{spot.rank:02d}\n{format_timecode(start)} --> {format_timecode(end)}\n{label(spot)}")
    return "\n\n".join(blocks) + "\n"


FORMAT = MarkerFormat("vtt", "vtt", render)
