"""Fast mode: find the same spots while scoring a fraction of the frames.

1. A coarse pass scores ``coarse_fps`` frames per second, decoding only
   reference frames where the codec allows.
2. Around the best candidate peaks of that smoothed curve, a second pass
   scores ``refine_fps`` frames per second within one coarse period.
3. Around the refined peaks, every frame within ``dense_window`` seconds is
   scored, so the chosen frame is the same one a dense run would choose.

The three passes are merged into one curve (the Kalman smoother handles its
uneven spacing), on which spots are found as usual, except that hard cuts
are not detected (they cannot be told from motion between coarse samples).
"""

from __future__ import annotations

from dataclasses import replace
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import PathLike
from ..models import AestheticModel, load_model
from ..video import Sampling, VideoSource, open_video
from .framestats import MEASURES
from .record import ScoreCurve
from .scoring import score_video
from .smoothing import DEFAULT_TIME_CONSTANT, smooth
from .spots import DEFAULT_MIN_GAP, find_spots

DEFAULT_COARSE_FPS = 2.0
DEFAULT_REFINE_FPS = 8.0
DEFAULT_DENSE_WINDOW = 0.2
EXTRA_CANDIDATES = 2
"""Candidates beyond the spots wanted, in case refinement reorders them."""


def score_video_fast(
    video: Union[PathLike, VideoSource],
    model: Optional[AestheticModel] = None,
    *,
    top: Optional[int] = 5,
    coarse_fps: float = DEFAULT_COARSE_FPS,
    refine_fps: float = DEFAULT_REFINE_FPS,
    dense_window: float = DEFAULT_DENSE_WINDOW,
    time_constant: float = DEFAULT_TIME_CONSTANT,
    min_gap: float = DEFAULT_MIN_GAP,
    batch_size: int = 32,
    backend: str = "auto",
    progress: Optional[bool] = None,
) -> ScoreCurve:
    """A score curve that is dense only where the best spots are (see the module docstring).

    Args:
        top: how many spots will be asked for (None: the automatic count);
            that many peaks, and a couple more, are refined.
        coarse_fps, refine_fps, dense_window: the three passes' rates and window.
        time_constant, min_gap: as given later to :func:`smooth` and :func:`find_spots`.
    """
    model = model if model is not None else load_model()
    source = video if isinstance(video, VideoSource) else open_video(video, backend=backend)
    options = {"batch_size": batch_size, "progress": progress}
    try:
        curves = [score_video(source, model, sampling=Sampling(fps=coarse_fps), reference_only=True, **options)]
        wanted = None if top is None else top + EXTRA_CANDIDATES
        for sampling, reach in ((Sampling(fps=refine_fps), 1.0 / coarse_fps), (Sampling(), dense_window)):
            peaks = _peak_times(merge_curves(curves), wanted, time_constant, min_gap)
            curves.append(score_video(source, model, sampling=sampling, spans=_windows(peaks, reach), **options))
    finally:
        if source is not video:
            source.close()
    merged = merge_curves(curves)
    merged.sampling = {"mode": "fast", "coarse_fps": coarse_fps, "refine_fps": refine_fps,
                       "dense_window": dense_window, "top": top}
    return merged


def _peak_times(curve: ScoreCurve, top: Optional[int], time_constant: float, min_gap: float) -> List[float]:
    spots = find_spots(smooth(curve, time_constant), top=top, min_gap=min_gap)
    return sorted(spot.time for spot in spots)


def _windows(centres: Sequence[float], reach: float) -> List[Tuple[float, float]]:
    """Spans of ``reach`` seconds either side of each centre, overlapping ones joined."""
    spans: List[Tuple[float, float]] = []
    for centre in centres:
        start, end = centre - reach, centre + reach
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def merge_curves(curves: Sequence[ScoreCurve]) -> ScoreCurve:
    """One curve of every frame scored by any of ``curves`` (same video and model), in time order."""
    indices = np.concatenate([curve.indices for curve in curves])
    _, first = np.unique(indices, return_index=True)

    def joined(field: str) -> np.ndarray:
        return np.concatenate([getattr(curve, field) for curve in curves])[first]

    times = joined("times")
    order = np.argsort(times, kind="stable")
    # Between coarse samples motion changes a picture as much as a cut does, so
    # a merged curve carries no cut measure: its shots are split by blank runs only.
    measured = {name: joined(name)[order] for name in (*MEASURES, "hashes")
                if name != "change" and all(getattr(c, name) is not None for c in curves)}
    return replace(
        curves[0],
        times=times[order],
        indices=joined("indices")[order],
        raw=joined("raw")[order],
        **measured,
        corrupt_frames=sum(curve.corrupt_frames for curve in curves),
        change=None,
        smoothed=None,
        smoothing=None,
        embeddings=None,
    )
