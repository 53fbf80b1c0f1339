"""What every marker format shares: its entry in the table, and how a spot becomes a time and a label."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

from ...curve.spots import Spot
from ...video.types import VideoInfo

MARKER_COLOUR = "GREEN"
LAST_SPAN_SECONDS = 2.0
"""How long the last cue or chapter lasts when the video's end is unknown."""


@dataclass(frozen=True)
class MarkerFormat:
    """One marker format: the name ``--export`` knows it by, its file's suffix, and its writer."""

    name: str
    suffix: str
    render: Callable[[Sequence[Spot], VideoInfo], str]
    """The file's text, for spots in time order."""
    check: Optional[Callable[[], object]] = None
    """Raises :class:`~vidaesthetic.errors.InputError` when the format cannot be written here (a missing package)."""


def from_first_frame(spot: Spot, info: VideoInfo) -> float:
    """The spot's time counted from the video's first frame, where players and editors put zero."""
    return max(spot.time - info.start_time, 0.0)


def label(spot: Spot) -> str:
    return f"#{spot.rank} score {spot.score:.4g}"


def spans(spots: Sequence[Spot], info: VideoInfo) -> List[Tuple[float, float]]:
    """Chapters: each spot lasts until the next one, the last until the video ends."""
    starts = [from_first_frame(spot, info) for spot in spots]
    if not starts:
        return []
    last_end = info.duration if info.duration > starts[-1] else starts[-1] + LAST_SPAN_SECONDS
    return list(zip(starts, starts[1:] + [last_end]))
