"""Shots and the frames a key frame must never be: blank, blurred, or in a transition.

All of it comes from the model-independent measurements of
:mod:`vidaesthetic.curve.framestats`, so it holds whichever model scored the frames.

- Blank: nearly black or white, or nearly uniform (tiny luminance spread).
- Blurred: far less detail than the sharp frames of the same shot
  (sharpness below ``BLUR_RATIO`` of the shot's 90th percentile), or than the
  video's sharpest shots (below ``HEAVY_BLUR_RATIO`` of its 90th percentile);
  being relative, it does not reject a video that is soft throughout, or a
  shot whose content simply has little texture.
- Shots: a hard cut is a jump of the thumbnail difference above
  ``CUT_CHANGE``; a run of blank frames (a fade through black) also separates
  shots.
- Transitions: frames within ``CUT_MARGIN`` seconds of a cut, frames of a
  fade, i.e. with less than ``FADE_RATIO`` of their shot's typical contrast,
  and shots shorter than ``MIN_SHOT`` seconds (flashes, glitches).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from .record import ScoreCurve

MIN_LUMA, MAX_LUMA = 0.03, 0.97
MIN_LUMA_STD = 0.02
BLUR_RATIO = 0.4
HEAVY_BLUR_RATIO = 0.15
CUT_CHANGE = 0.1
CUT_MARGIN = 0.2
MAX_CUT_GAP = 0.25
FADE_RATIO = 0.6
MIN_SHOT = 0.5


def blank(luma_mean, luma_std):
    """Whether frames are blank, from their luminance mean and spread (arrays, or one frame's numbers).

    The one blank rule: live scoring applies it frame by frame, a curve all at once.
    """
    return (luma_mean < MIN_LUMA) | (luma_mean > MAX_LUMA) | (luma_std < MIN_LUMA_STD)


def blank_frames(curve: ScoreCurve) -> np.ndarray:
    return blank(curve.luma_mean, curve.luma_std)


def blurred_frames(curve: ScoreCurve, shots: np.ndarray) -> np.ndarray:
    blurred = np.zeros(len(curve), dtype=bool)
    if curve.sharpness is None or len(curve) == 0:
        return blurred
    sharpness = curve.sharpness
    usable = ~blank_frames(curve)
    if usable.any():
        blurred |= sharpness < HEAVY_BLUR_RATIO * np.percentile(sharpness[usable], 90)
    for shot in np.unique(shots[shots >= 0]):
        members = shots == shot
        blurred |= members & (sharpness < BLUR_RATIO * np.percentile(sharpness[members], 90))
    return blurred


def cut_frames(curve: ScoreCurve) -> np.ndarray:
    """Frames that start a new shot with a hard cut.

    Only judged between frames scored close together (``MAX_CUT_GAP``): over
    longer gaps ordinary motion changes a picture as much as a cut does.
    """
    if curve.change is None:
        return np.zeros(len(curve), dtype=bool)
    gaps = np.diff(curve.times, prepend=-np.inf)
    return (curve.change > CUT_CHANGE) & (gaps <= MAX_CUT_GAP)


def shot_ids(curve: ScoreCurve) -> np.ndarray:
    """A shot number per frame; blank runs between shots belong to no shot (-1)."""
    blank = blank_frames(curve)
    starts = cut_frames(curve) | (~blank & np.concatenate(([True], blank[:-1])))
    ids = np.cumsum(starts & ~blank) - 1
    ids[blank] = -1
    return ids


def transition_frames(curve: ScoreCurve, shots: np.ndarray) -> np.ndarray:
    """Frames near a cut or inside a fade."""
    transition = np.zeros(len(curve), dtype=bool)
    for cut_time in curve.times[cut_frames(curve)]:
        transition |= np.abs(curve.times - cut_time) <= CUT_MARGIN
    ids = np.unique(shots[shots >= 0])
    # A short shot is a flash only next to a longer one: a video short throughout still has spots.
    longest = max((np.ptp(curve.times[shots == shot]) for shot in ids), default=0.0)
    for shot in ids:
        members = shots == shot
        typical = np.median(curve.luma_std[members])
        transition |= members & (curve.luma_std < FADE_RATIO * typical)
        times = curve.times[members]
        if times[-1] - times[0] < MIN_SHOT <= longest:  # a single frame is a flash too
            transition |= members
    return transition


def unusable_frames(curve: ScoreCurve, shots: np.ndarray) -> np.ndarray:
    """Frames never to pick: blank, blurred or in a transition."""
    return blank_frames(curve) | blurred_frames(curve, shots) | transition_frames(curve, shots)


def classify_frames(curve: ScoreCurve) -> Tuple[np.ndarray, np.ndarray]:
    """Each frame's shot and whether it may be picked: what :attr:`ScoreCurve.shots` and
    :attr:`ScoreCurve.pickable` hold, worked out here once per curve."""
    shots = shot_ids(curve)
    return shots, ~unusable_frames(curve, shots)
