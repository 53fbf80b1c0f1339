"""Fast mode: find the same spots while scoring a fraction of the frames.

1. A coarse pass decodes only reference frames where the codec allows
   (every frame otherwise), measures each of them and finds the hard cuts
   among them as dense mode does, but runs the model on only
   ``coarse_fps`` frames per second.
2. Around the candidates that the spot picker chooses on that curve (the
   spots wanted and a couple more, by the same shot, defect, edge and count
   rules as dense mode), a second pass scores ``refine_fps`` frames per
   second within one coarse period.
3. Around the refined candidates, every frame within ``dense_window``
   seconds is scored, so the chosen frame is the one a dense run would choose.

The passes are merged into one curve (the Kalman smoother handles its uneven
spacing) that carries the coarse pass's cuts, on which spots are found as usual.
It keeps the embeddings of the frames scored around the candidates, so that
the near-duplicate check need not decode them again.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import PathLike
from ..models import AestheticModel, load_model
from ..video import Sampling, VideoSource, open_video
from .framestats import MEASURES
from .record import ScoreCurve
from .scoring import score_video
from .smoothing import DEFAULT_TIME_CONSTANT, smooth
from .spots import DEFAULT_MIN_GAP, DEFAULT_MIN_PROMINENCE, automatic_count, find_spots

DEFAULT_COARSE_FPS = 2.0
DEFAULT_REFINE_FPS = 8.0
DEFAULT_DENSE_WINDOW = 0.1
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
    min_prominence: float = DEFAULT_MIN_PROMINENCE,
    per_shot: Optional[int] = None,
    batch_size: int = 32,
    backend: str = "auto",
    progress: Optional[bool] = None,
) -> ScoreCurve:
    """A score curve that is dense only where the best spots are (see the module docstring).

    Args:
        top: how many spots will be asked for (None: the automatic count);
            that many candidates, and a couple more, are refined.
        coarse_fps, refine_fps, dense_window: the three passes' rates and window.
        time_constant, min_gap, min_prominence, per_shot: as given later to
            :func:`smooth` and :func:`find_spots`, so that candidates follow the same rules.
    """
    model = model if model is not None else load_model()
    source = video if isinstance(video, VideoSource) else open_video(video, backend=backend)
    options = {"batch_size": batch_size, "progress": progress}
    picking = {"min_gap": min_gap, "min_prominence": min_prominence, "per_shot": per_shot}
    try:
        curves = [score_video(source, model, sampling=Sampling(fps=coarse_fps), reference_only=True, find_cuts=True,
                              **options)]
        for sampling, reach in ((Sampling(fps=refine_fps), 1.0 / coarse_fps), (Sampling(), dense_window)):
            candidates = _candidate_times(smooth(merge_curves(curves), time_constant), top, picking)
            curves.append(score_video(source, model, sampling=sampling, spans=_windows(candidates, reach),
                                      keep_embeddings=True, **options))
    finally:
        if source is not video:
            source.close()
    merged = merge_curves(curves)
    merged.sampling = {"mode": "fast", "coarse_fps": coarse_fps, "refine_fps": refine_fps,
                       "dense_window": dense_window, "top": top}
    return merged


def _candidate_times(curve: ScoreCurve, top: Optional[int], picking: Dict[str, Any]) -> List[float]:
    """The spots the picker would choose now, and ``EXTRA_CANDIDATES`` more in case refining reorders them."""
    wanted = top if top is not None else automatic_count(curve, picking["per_shot"])
    return sorted(spot.time for spot in find_spots(curve, top=wanted + EXTRA_CANDIDATES, **picking))


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
    """One curve of every frame scored by any of ``curves`` (same video and model), in time order.

    Embeddings are kept where a curve has them; other frames' rows are NaN.
    """
    indices = np.concatenate([curve.indices for curve in curves])
    _, first = np.unique(indices, return_index=True)

    def joined(field: str) -> np.ndarray:
        return np.concatenate([getattr(curve, field) for curve in curves])[first]

    times = joined("times")
    order = np.argsort(times, kind="stable")
    # Each pass measured change from its own previous frame, which means nothing in the
    # merged order: its shots come from the cuts the coarse pass found on every frame it decoded.
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
        cuts=next((curve.cuts for curve in curves if curve.cuts is not None), None),
        smoothed=None,
        smoothing=None,
        embeddings=_joined_embeddings(curves, first, order),
    )


def _joined_embeddings(curves: Sequence[ScoreCurve], first: np.ndarray, order: np.ndarray) -> Optional[np.ndarray]:
    kept = [curve.embeddings for curve in curves if curve.embeddings is not None]
    if not kept:
        return None
    missing = np.full((1, kept[0].shape[1]), np.nan, dtype=kept[0].dtype)
    rows = [curve.embeddings if curve.embeddings is not None else np.repeat(missing, len(curve), axis=0)
            for curve in curves]
    return np.concatenate(rows)[first][order]
