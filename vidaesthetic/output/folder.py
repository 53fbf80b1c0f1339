"""Writing a run's results: key frames at full resolution, JSON, CSV and the plot.

Everything is written through one :class:`OutputSet`, so the folder gets all
of a run's files or none of them.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from .._internal.atomic import OutputSet, clean_stale_temporaries
from .._version import __version__
from ..curve.record import ScoreCurve
from ..curve.spots import Spot
from ..errors import InputError, PathLike, VideoError
from ..timecode import filename_timecode
from ..video import VideoSource, open_video
from .image import IMAGE_FORMATS, write_image
from .markers import check_formats, write_markers
from .plot import PLOT_FORMATS, plot_curve, write_figure
from .report import REPORT_FILE, render_report, report_data, video_source
from .scores import write_scores, write_scores_csv

SPOTS_FILE = "spots.json"
SCORES_FILE = "scores.json"
CSV_FILE = "scores.csv"
THUMBNAIL_HEIGHT = 160


def spot_image_name(spot: Spot, image_format: str) -> str:
    """File name that sorts by rank and tells the time, e.g. ``spot-01_00-00-12.345.jpg``."""
    return f"spot-{spot.rank:02d}_{filename_timecode(spot.time)}.{image_format}"


def save_spots(
    video: Union[PathLike, VideoSource],
    curve: ScoreCurve,
    spots: Sequence[Spot],
    out_dir: PathLike,
    *,
    image_format: str = "jpg",
    plot_format: str = "png",
    selection: Optional[Dict[str, Any]] = None,
    backend: str = "auto",
    markers: Sequence[str] = (),
    settings: Optional[str] = None,
    report: bool = True,
) -> Dict[str, Any]:
    """Write key frames, ``spots.json``, ``scores.csv``, ``scores.json``, the curve plot and ``report.html``.

    Key frames are decoded again at full display resolution (rotation and
    pixel aspect applied) at the spots' presentation times.

    Args:
        video: the video the curve was scored from (path or open source).
        curve: its (smoothed) score curve.
        spots: the spots to export; their ``image`` is set to the written file name.
        out_dir: output folder, created if needed.
        image_format: ``jpg``, ``png`` or ``webp``.
        plot_format: ``png``, ``svg`` or ``pdf``.
        selection: how the spots were chosen, recorded in ``spots.json``.
        backend: decoder when ``video`` is a path.
        markers: editor/player exports to add, from ``MARKER_FORMATS`` (edl, vtt, otio, chapters).
        settings: the run's settings as text, recorded so a batch can tell a finished video.
        report: also write ``report.html``, the page to look at (see :mod:`vidaesthetic.output.report`).

    Returns:
        The ``spots.json`` document.
    """
    if image_format not in IMAGE_FORMATS:
        raise InputError(f"unsupported image format {image_format!r}; use one of {', '.join(IMAGE_FORMATS)}")
    if plot_format not in PLOT_FORMATS:
        raise InputError(f"unsupported plot format {plot_format!r}; use one of {', '.join(PLOT_FORMATS)}")
    markers = check_formats(markers)
    source = video if isinstance(video, VideoSource) else open_video(video, backend=backend)
    try:
        with OutputSet(out_dir) as outputs:
            clean_stale_temporaries(out_dir)  # safe: the set holds the folder's lock
            thumbnails = _write_key_frames(source, spots, outputs, image_format)
            curve_name = f"curve.{plot_format}"
            write_figure(plot_curve(curve, spots, thumbnails=thumbnails), outputs, curve_name)
            write_scores(curve, outputs, SCORES_FILE)
            write_scores_csv(curve, outputs.reserve(CSV_FILE))
            document = spots_document(curve, spots, selection)
            document["settings"] = settings
            document["files"] = {"curve": curve_name, "scores": SCORES_FILE, "csv": CSV_FILE}
            document["files"]["markers"] = write_markers(spots, curve.video, markers, outputs)
            if report:
                data = report_data(curve, spots, document, video_source(source.info.path, Path(out_dir)))
                with open(outputs.reserve(REPORT_FILE), "w", encoding="utf-8") as handle:
                    handle.write(render_report(data))
                document["files"]["report"] = REPORT_FILE
            with open(outputs.reserve(SPOTS_FILE), "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=2)
                handle.write("\n")
        return document
    finally:
        if source is not video:
            source.close()


def _write_key_frames(source: VideoSource, spots: Sequence[Spot], outputs: OutputSet, image_format: str) -> List[np.ndarray]:
    """Write each spot's frame; returns a thumbnail per spot, in the order of ``spots``.

    A frame is asked for as the curve knows it, by index and time: the index
    finds it where its time is derived, and the time it comes back with
    proves it is the frame that was scored.
    """
    by_time = {spot.time: spot for spot in spots}
    times = sorted(by_time)
    frames = source.frames_at(times, [by_time[time].frame_index for time in times])
    thumbnails: Dict[float, np.ndarray] = {}
    for wanted, (found, picture) in zip(times, frames):
        if abs(found - wanted) > 1e-3:
            raise VideoError(f"the frame at {wanted:.3f} s could not be decoded again (got {found:.3f} s)", source.info.path)
        spot = by_time[wanted]
        spot.image = spot_image_name(spot, image_format)
        image = write_image(picture, outputs, spot.image, image_format)
        image.thumbnail((THUMBNAIL_HEIGHT * 4, THUMBNAIL_HEIGHT))
        thumbnails[wanted] = np.asarray(image)
    return [thumbnails[spot.time] for spot in spots]


def spots_document(curve: ScoreCurve, spots: Sequence[Spot], selection: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The ``spots.json`` record: video, model, parameters and every spot."""
    return {
        "format": "vidaesthetic.spots",
        "version": 1,
        "vidaesthetic": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "video": curve.video.to_dict(),
        "source": curve.source,
        "model": curve.model,
        "sampling": curve.sampling,
        "smoothing": curve.smoothing,
        "selection": selection or {},
        "frames_scored": len(curve),
        "corrupt_frames": curve.corrupt_frames,
        "spots": [spot.to_dict() for spot in spots],
    }
