"""FFmpeg chapters (``ffmetadata``): a chapter per spot, lasting until the next one."""

from __future__ import annotations

import re
from typing import Sequence

from ...curve.spots import Spot
from ...video.types import VideoInfo
from .base import MarkerFormat, label, spans


def render(spots: Sequence[Spot], info: VideoInfo) -> str:
    """Chapters only, to add with ``ffmpeg -i VIDEO -i spots.ffmetadata -map_chapters 1 -c copy OUT``."""
    lines = [";FFMETADATA1"]
    for spot, (start, end) in zip(spots, spans(spots, info)):
        title = re.sub(r"([=;#\\\n])", r"\\\1", label(spot))
        lines += ["", "[CHAPTER]", "TIMEBASE=1/1000", f"START={round(start * 1000)}", f"END={round(end * 1000)}",
                  f"title={title}"]
    return "\n".join(lines) + "\n"


FORMAT = MarkerFormat("chapters", "ffmetadata", render)
