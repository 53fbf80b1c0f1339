"""The score-curve figure: raw and smoothed scores, the spots, and their thumbnails."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .._internal.atomic import OutputSet
from ..curve.record import ScoreCurve
from ..curve.smoothing import min_max
from ..curve.spots import Spot
from ..errors import OutputError, PathLike
from ..timecode import clock_timecode

PLOT_FORMATS = ("png", "svg", "pdf")


def plot_curve(
    curve: ScoreCurve,
    spots: Sequence[Spot] = (),
    path: Optional[PathLike] = None,
    thumbnails: Optional[Sequence[np.ndarray]] = None,
    title: Optional[str] = None,
) -> Figure:
    """Draw a score curve with its spots; save it when ``path`` is given.

    Args:
        curve: the scored (and ideally smoothed) curve.
        spots: spots to mark and label with their timecodes.
        path: where to save (``.png``, ``.svg`` or ``.pdf``), written atomically.
        thumbnails: one picture (H x W x 3 uint8) per spot, in the order of
            ``spots``, drawn as a strip under the curve.
        title: defaults to the video's file name and the model.
    """
    with_strip = bool(thumbnails) and len(thumbnails or ()) == len(spots)
    figure = Figure(figsize=(12, 6.5 if with_strip else 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    if with_strip:
        axes, strip = figure.subplots(2, 1, height_ratios=[2.2, 1])
    else:
        axes, strip = figure.subplots(1, 1), None
    _draw_curve(axes, curve, spots)
    axes.set_title(title or f"{Path(curve.video.path).name} - model: {curve.model.get('name', '?')}", loc="left")
    if strip is not None:
        _draw_strip(strip, spots, thumbnails or ())
    if path is not None:
        save_figure(figure, path)
    return figure


def _draw_curve(axes, curve: ScoreCurve, spots: Sequence[Spot]) -> None:
    times = curve.times
    normalised = normalised_view(curve)
    raw = displayed_raw(curve)
    axes.plot(times, raw, color="0.65", linewidth=0.8, label="raw score" + " (min-max normalised)" * normalised)
    defective = curve.defective
    if curve.smoothed is not None:
        # The smoother skips defective frames: over them the curve is a guess, drawn dotted, not a line.
        axes.plot(times, np.where(defective, np.nan, curve.smoothed), color="tab:blue", linewidth=2.0,
                  label="smoothed")
        across = defective | np.convolve(defective, [1, 1, 1], mode="same").astype(bool)
        if defective.any():
            axes.plot(times, np.where(across, curve.smoothed, np.nan), color="tab:blue", linewidth=1.0,
                      linestyle=":", label="smoothed across skipped frames")
    margin = ~curve.pickable & ~defective
    low, high = axes.get_ylim()
    for where, alpha, label in ((defective, 0.14, "never picked (blank, flash, fade, blur)"),
                                (margin, 0.05, "picked only if nothing else (next to a cut or an end)")):
        if where.any():
            axes.fill_between(times, low, high, where=where, color="0.1", alpha=alpha, step="mid", linewidth=0,
                              label=label)
    axes.set_ylim(low, high)
    values = curve.values
    for spot in spots:
        position = int(np.argmin(np.abs(times - spot.time)))
        axes.plot([spot.time], [values[position]], "o", color="tab:red", markersize=7, zorder=5)
        axes.annotate(
            f"#{spot.rank}\n{spot.timecode}",
            (spot.time, values[position]),
            textcoords="offset points",
            xytext=(0, 9),
            ha="center",
            fontsize=8,
            color="tab:red",
        )
    axes.margins(x=0.01, y=0.25)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda seconds, _position: clock_timecode(seconds)))
    axes.set_xlabel("time (m:ss)")
    axes.set_ylabel("normalised score (the authors' view)" if normalised else "aesthetic score")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)


def normalised_view(curve: ScoreCurve) -> bool:
    """Whether the curve is shown in 0..1, as the authors' tool showed it (``--smoothing authors``)."""
    return bool((curve.smoothing or {}).get("normalised"))


def displayed_raw(curve: ScoreCurve) -> np.ndarray:
    """Raw scores as drawn beside the smoothed ones: min-max normalised beside a normalised curve."""
    return min_max(curve.raw) if normalised_view(curve) else curve.raw


def _draw_strip(axes, spots: Sequence[Spot], thumbnails: Sequence[np.ndarray]) -> None:
    """Thumbnails side by side in time order, each labelled with rank and timecode."""
    axes.set_axis_off()
    order = sorted(range(len(spots)), key=lambda i: spots[i].time)
    count = len(order)
    for slot, index in enumerate(order):
        inset = axes.inset_axes((slot / count + 0.005, 0.12, 1 / count - 0.01, 0.88))
        inset.imshow(thumbnails[index])
        inset.set_axis_off()
        inset.set_title(f"#{spots[index].rank}  {spots[index].timecode}", fontsize=8)


def save_figure(figure: Figure, path: PathLike) -> None:
    """Save a figure atomically; the format follows the file's suffix."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in PLOT_FORMATS:
        raise OutputError(f"unsupported plot format {suffix!r}; use one of {', '.join(PLOT_FORMATS)}", path)
    with OutputSet(path.parent) as outputs:
        write_figure(figure, outputs, path.name)


def write_figure(figure: Figure, outputs: OutputSet, name: str) -> None:
    """Render a figure into an :class:`OutputSet` under ``name``."""
    figure.savefig(outputs.reserve(name), format=Path(name).suffix.lstrip(".").lower())
