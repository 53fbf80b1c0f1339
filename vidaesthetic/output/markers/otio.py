"""OpenTimelineIO: a timeline of the whole video with a marker per spot (needs ``opentimelineio``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from ...curve.spots import Spot
from ...errors import InputError
from ...timecode import edit_rate
from ...video.types import VideoInfo
from .base import MARKER_COLOUR, MarkerFormat, from_first_frame, label


def render(spots: Sequence[Spot], info: VideoInfo) -> str:
    """A timeline of one clip, the whole video, with a marker per spot (frame-exact when the rate allows)."""
    otio = _opentimelineio()
    rate, exact = edit_rate(info)
    fps = float(rate)

    def at(seconds: float) -> "otio.opentime.RationalTime":
        frames = seconds * fps
        return otio.opentime.RationalTime(round(frames) if exact else frames, fps)

    starts = [from_first_frame(spot, info) for spot in spots]
    length = max([info.duration] + [start + 1 / fps for start in starts])
    whole = otio.opentime.TimeRange(at(0.0), at(length))
    reference = otio.schema.ExternalReference(
        target_url=otio.url_utils.url_from_filepath(os.path.abspath(info.path)), available_range=whole
    )
    clip = otio.schema.Clip(name=Path(info.path).name, media_reference=reference, source_range=whole)
    for spot, start in zip(spots, starts):
        clip.markers.append(otio.schema.Marker(
            name=label(spot),
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


FORMAT = MarkerFormat("otio", "otio", render, check=_opentimelineio)
