"""Spots as markers for editors and players: CMX3600 EDL, WebVTT, OpenTimelineIO, FFmpeg chapters.

Each format is one module here that defines ``FORMAT`` (a
:class:`~.base.MarkerFormat`); every module of this package is read into
:data:`MARKER_FORMATS`, so a new format is a new file and nothing else.

Every time here is measured from the video's first frame, which is where
players put zero and where editors put 00:00:00:00 for a file without
embedded timecode. EDL timecodes are frame labels: exact for constant integer
and NTSC (N*1000/1001) rates; for variable-frame-rate or odd-rate video they
count at the nearest standard rate, are approximate to the frame, and every
event says so. WebVTT and FFmpeg chapters carry milliseconds, OTIO exact
seconds.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Dict, Iterable, List, Sequence, Tuple

from ..._internal.atomic import OutputSet
from ...curve.spots import Spot
from ...errors import InputError
from ...video.types import VideoInfo
from .base import MarkerFormat


def _formats_here() -> Dict[str, MarkerFormat]:
    modules = (importlib.import_module(f"{__name__}.{module.name}") for module in pkgutil.iter_modules(__path__))
    found = sorted((module.FORMAT for module in modules if hasattr(module, "FORMAT")), key=lambda marker: marker.name)
    return {marker.name: marker for marker in found}


MARKER_FORMATS: Dict[str, MarkerFormat] = _formats_here()
"""Every marker format by the name ``--export`` knows it by, in alphabetical order."""


def check_formats(formats: Iterable[str]) -> Tuple[str, ...]:
    """The requested formats without repeats; raises :class:`InputError` now, before anything is written."""
    wanted = tuple(dict.fromkeys(formats))
    unknown = [name for name in wanted if name not in MARKER_FORMATS]
    if unknown:
        raise InputError(f"unknown export format {unknown[0]!r}; use one of {', '.join(MARKER_FORMATS)}")
    for name in wanted:
        if MARKER_FORMATS[name].check is not None:
            MARKER_FORMATS[name].check()
    return wanted


def write_markers(spots: Sequence[Spot], info: VideoInfo, formats: Sequence[str], outputs: OutputSet,
                  stem: str = "spots") -> List[str]:
    """Write ``stem.edl``, ``.vtt``, ``.otio`` and/or ``.ffmetadata`` through ``outputs``; returns the names.

    Spots go in time order (editors and players need it), not rank order.
    """
    ordered = sorted(spots, key=lambda spot: spot.time)
    names = []
    for name in check_formats(formats):
        marker = MARKER_FORMATS[name]
        file_name = f"{stem}.{marker.suffix}"
        with open(outputs.reserve(file_name), "w", encoding="utf-8", newline="\n") as handle:
            handle.write(marker.render(ordered, info))
        names.append(file_name)
    return names
