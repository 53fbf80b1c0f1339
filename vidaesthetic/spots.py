"""Spots: the peaks of the smoothed score curve, ranked, as key-frame choices.

A spot is a local maximum of the smoothed curve with enough prominence,
kept at least ``min_gap`` seconds from every better spot. Within a short
window around each peak the frame with the best raw score is chosen, so the
picked frame is the crispest one of the best moment. Black and near-uniform
frames are never picked, whatever the model says of them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional

import numpy as np
from scipy.signal import find_peaks

from .curve import ScoreCurve
from .timecode import format_timecode

# Frames darker/brighter than this mean luminance, or flatter than this
# luminance spread, are black, white or blank: never a key frame.
MIN_LUMA, MAX_LUMA = 0.03, 0.97
MIN_LUMA_STD = 0.02

DEFAULT_MIN_GAP = 2.0
DEFAULT_MIN_PROMINENCE = 0.05
DEFAULT_REFINE_WINDOW = 0.25
AUTO_SECONDS_PER_SPOT = 10.0
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
    image: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def usable_frames(curve: ScoreCurve) -> np.ndarray:
    """Boolean mask of frames that may be picked (not black, white or blank)."""
    mean, spread = curve.luma_mean, curve.luma_std
    return (mean >= MIN_LUMA) & (mean <= MAX_LUMA) & (spread >= MIN_LUMA_STD)


def find_spots(
    curve: ScoreCurve,
    top: Optional[int] = None,
    min_gap: float = DEFAULT_MIN_GAP,
    min_prominence: float = DEFAULT_MIN_PROMINENCE,
    refine_window: float = DEFAULT_REFINE_WINDOW,
) -> List[Spot]:
    """The best moments of a scored video, best first.

    Args:
        curve: a scored (ideally smoothed) curve.
        top: how many spots at most; None chooses automatically (one per
            ``AUTO_SECONDS_PER_SPOT`` seconds of video at most, peaks of at
            least twice ``min_prominence``).
        min_gap: seconds between any two spots.
        min_prominence: how far a peak must rise above its surroundings, as a
            share of the curve's range.
        refine_window: seconds either side of a peak searched for the frame
            with the best raw score.
    """
    if top is not None and top < 1:
        raise ValueError("top must be at least 1")
    if min_gap < 0 or min_prominence < 0 or refine_window < 0:
        raise ValueError("min_gap, min_prominence and refine_window must not be negative")
    usable = usable_frames(curve)
    if len(curve) == 0 or not usable.any():
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
    limit = top if top is not None else _automatic_count(curve)

    chosen: List[int] = []
    chosen_prominence: List[float] = []
    for order in np.argsort(-masked[peaks], kind="stable"):
        peak = int(peaks[order])
        if not usable[peak]:
            continue
        frame = _best_raw_near(curve, usable, peak, refine_window)
        if all(abs(curve.times[frame] - curve.times[other]) >= min_gap for other in chosen):
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
        )
        for rank, (frame, prominence) in enumerate(zip(chosen, chosen_prominence), start=1)
    ]


def _automatic_count(curve: ScoreCurve) -> int:
    span = float(curve.times[-1] - curve.times[0]) if len(curve) else 0.0
    return max(1, min(AUTO_MAX_SPOTS, math.ceil(span / AUTO_SECONDS_PER_SPOT)))


def _best_raw_near(curve: ScoreCurve, usable: np.ndarray, peak: int, window: float) -> int:
    """Index of the usable frame with the best raw score within ``window`` seconds of ``peak``."""
    near = np.flatnonzero((np.abs(curve.times - curve.times[peak]) <= window) & usable)
    return int(near[np.argmax(curve.raw[near])])


def selection_parameters(top: Optional[int], min_gap: float, min_prominence: float, refine_window: float) -> Dict[str, Any]:
    """How spots were chosen, as recorded in ``spots.json``."""
    return {
        "top": top,
        "automatic_count": top is None,
        "min_gap": min_gap,
        "min_prominence": min_prominence,
        "refine_window": refine_window,
        "usable_frames": {"min_luma": MIN_LUMA, "max_luma": MAX_LUMA, "min_luma_std": MIN_LUMA_STD},
    }
