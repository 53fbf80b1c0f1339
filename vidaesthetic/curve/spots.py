"""Spots: the peaks of the smoothed score curve, ranked, as key-frame choices.

A spot is a local maximum of the smoothed curve with enough prominence. It is
kept only if it is at least ``min_gap`` seconds from every better spot, its
shot does not already have its share of spots, and it does not look like a
better spot (embeddings too similar), so a static shot does not fill the list
with copies. Within a short window around each peak the frame with the best
raw score is chosen: the crispest frame of the best moment. Blank, blurred
and transition frames are never picked, whatever the model says of them
(see :mod:`vidaesthetic.curve.shots`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional

import numpy as np
from scipy.signal import find_peaks

from ..timecode import format_timecode
from . import shots as rules
from .record import ScoreCurve

DEFAULT_MIN_GAP = 2.0
DEFAULT_MIN_PROMINENCE = 0.05
DEFAULT_REFINE_WINDOW = 0.25
DEFAULT_MAX_SIMILARITY = 0.95
AUTO_SECONDS_PER_SPOT = 10.0
AUTO_SHOT_SECONDS_PER_SPOT = 10.0
AUTO_MAX_SPOTS = 50


@dataclass
class Spot:
    """One chosen key frame."""

    rank: int
    frame_index: int
    time: float
    timecode: str
    score: float
    """Smoothed score at the spot."""
    raw_score: float
    prominence: float
    """Prominence of the peak, as a share of the curve's range (0..1)."""
    shot: int = 0
    """Number of the shot the spot is in (0 = first)."""
    image: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def automatic_count(curve: ScoreCurve) -> int:
    """How many spots a video gets when none is asked for: one per ``AUTO_SECONDS_PER_SPOT`` seconds."""
    span = float(curve.times[-1] - curve.times[0]) if len(curve) else 0.0
    return max(1, min(AUTO_MAX_SPOTS, math.ceil(span / AUTO_SECONDS_PER_SPOT)))


def find_spots(
    curve: ScoreCurve,
    top: Optional[int] = None,
    min_gap: float = DEFAULT_MIN_GAP,
    min_prominence: float = DEFAULT_MIN_PROMINENCE,
    refine_window: float = DEFAULT_REFINE_WINDOW,
    per_shot: Optional[int] = None,
    embeddings: Optional[Mapping[int, np.ndarray]] = None,
    max_similarity: float = DEFAULT_MAX_SIMILARITY,
) -> List[Spot]:
    """The best moments of a scored video, best first.

    Args:
        curve: a scored (ideally smoothed) curve.
        top: how many spots at most; None chooses automatically (see
            :func:`automatic_count`; peaks of at least twice ``min_prominence``).
        min_gap: seconds between any two spots.
        min_prominence: how far a peak must rise above its surroundings, as a
            share of the curve's range.
        refine_window: seconds either side of a peak searched for the frame
            with the best raw score.
        per_shot: spots per shot at most; None allows one per
            ``AUTO_SHOT_SECONDS_PER_SPOT`` seconds of the shot, 0 sets no limit.
        embeddings: embeddings of candidate frames by frame index; a candidate
            whose cosine similarity to a better spot exceeds ``max_similarity``
            is skipped as a near-duplicate.
    """
    if top is not None and top < 1:
        raise ValueError("top must be at least 1")
    if min_gap < 0 or min_prominence < 0 or refine_window < 0 or (per_shot is not None and per_shot < 0):
        raise ValueError("min_gap, min_prominence, refine_window and per_shot must not be negative")
    if len(curve) == 0:
        return []
    shots, usable = curve.shots, curve.pickable
    if not usable.any():
        return []
    values = curve.values.astype(np.float64)
    low, high = float(values[usable].min()), float(values[usable].max())
    span = (high - low) or 1.0
    # Unusable frames become valleys; padding lets a maximum at either end be a peak.
    masked = np.where(usable, (values - low) / span, 0.0)
    padded = np.concatenate(([-1.0], masked, [-1.0]))
    threshold = min_prominence if top is not None else 2 * min_prominence
    peaks, properties = find_peaks(padded, prominence=threshold)
    peaks -= 1
    prominences = np.minimum(properties["prominences"], 1.0)
    limit = top if top is not None else automatic_count(curve)
    shot_limit = _shot_limits(curve, shots, per_shot)

    chosen: List[int] = []
    chosen_prominence: List[float] = []
    for order in np.argsort(-masked[peaks], kind="stable"):
        frame = _best_raw_near(curve, usable, int(peaks[order]), refine_window)
        if any(abs(curve.times[frame] - curve.times[other]) < min_gap for other in chosen):
            continue
        if sum(shots[other] == shots[frame] for other in chosen) >= shot_limit[shots[frame]]:
            continue
        if embeddings is not None and _duplicate(embeddings, curve, frame, chosen, max_similarity):
            continue
        chosen.append(frame)
        chosen_prominence.append(float(prominences[order]))
        if len(chosen) == limit:
            break
    return [
        Spot(
            rank=rank,
            frame_index=int(curve.indices[frame]),
            time=float(curve.times[frame]),
            timecode=format_timecode(float(curve.times[frame])),
            score=float(values[frame]),
            raw_score=float(curve.raw[frame]),
            prominence=prominence,
            shot=int(shots[frame]),
        )
        for rank, (frame, prominence) in enumerate(zip(chosen, chosen_prominence), start=1)
    ]


def _shot_limits(curve: ScoreCurve, shots: np.ndarray, per_shot: Optional[int]) -> Dict[int, float]:
    limits: Dict[int, float] = {}
    for shot in np.unique(shots[shots >= 0]):
        if per_shot == 0:
            limits[int(shot)] = math.inf
        elif per_shot is not None:
            limits[int(shot)] = per_shot
        else:
            times = curve.times[shots == shot]
            limits[int(shot)] = max(1, math.ceil((times[-1] - times[0]) / AUTO_SHOT_SECONDS_PER_SPOT))
    return limits


def _duplicate(embeddings: Mapping[int, np.ndarray], curve: ScoreCurve, frame: int, chosen: List[int],
               max_similarity: float) -> bool:
    vector = embeddings.get(int(curve.indices[frame]))
    if vector is None:
        return False
    for other in chosen:
        kept = embeddings.get(int(curve.indices[other]))
        if kept is not None and _cosine(vector, kept) > max_similarity:
            return True
    return False


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norms) if norms else 1.0


def _best_raw_near(curve: ScoreCurve, usable: np.ndarray, peak: int, window: float) -> int:
    """Index of the usable frame with the best raw score within ``window`` seconds of ``peak``."""
    near = np.flatnonzero((np.abs(curve.times - curve.times[peak]) <= window) & usable)
    return int(near[np.argmax(curve.raw[near])])


def selection_parameters(curve: ScoreCurve, top: Optional[int], min_gap: float, min_prominence: float,
                         per_shot: Optional[int], max_similarity: Optional[float]) -> Dict[str, Any]:
    """How spots were chosen, as recorded in ``spots.json``."""
    automatic = None
    if top is None:
        automatic = {
            "limit": automatic_count(curve),
            "rule": f"one spot per {AUTO_SECONDS_PER_SPOT:g} s of video (at most {AUTO_MAX_SPOTS}), "
                    f"from peaks with a prominence of at least {2 * min_prominence:g} of the curve's range",
        }
    return {
        "top": top,
        "automatic_count": automatic,
        "min_gap": min_gap,
        "min_prominence": min_prominence,
        "refine_window": DEFAULT_REFINE_WINDOW,
        "per_shot": per_shot if per_shot is not None else
        f"one per {AUTO_SHOT_SECONDS_PER_SPOT:g} s of shot",
        "max_similarity": max_similarity,
        "shots": int(curve.shots.max() + 1) if len(curve) else 0,
        "never_picked": {
            "blank": {"min_luma": rules.MIN_LUMA, "max_luma": rules.MAX_LUMA, "min_luma_std": rules.MIN_LUMA_STD},
            "blurred_below_share_of_shot_p90_sharpness": rules.BLUR_RATIO,
            "blurred_below_share_of_video_p90_sharpness": rules.HEAVY_BLUR_RATIO,
            "cut_change": rules.CUT_CHANGE,
            "cut_margin_s": rules.CUT_MARGIN,
            "fade_below_share_of_shot_contrast": rules.FADE_RATIO,
            "shots_shorter_than_s": rules.MIN_SHOT,
        },
    }
