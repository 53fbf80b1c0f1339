"""Shots, and why a frame should not be a key frame.

All of it comes from the model-independent measurements of
:mod:`vidaesthetic.curve.framestats`, so it holds whichever model scored the
frames. A frame is judged on its own terms and against its own shot, never
because its shot is softer or flatter than another: a hazy sky or a dim room
is a picture, not a defect (and no measure here tells a hazy shot from one
out of focus throughout; the model's score and the picker's ranking do).

Shots: a hard cut is a spike of the thumbnail difference (above
``CUT_CHANGE`` and ``CUT_SPIKE`` times the typical change around it, so a
shaky camera does not cut); a run of blank frames also separates shots.

Reasons a frame is never picked (defects), in the order reported when several apply:

- ``blank``: nearly black or white, or nearly uniform;
- ``flash``: a shot shorter than ``MIN_SHOT`` next to a longer one;
- ``fade``: less than ``FADE_RATIO`` of the shot's typical contrast (fading in or out);
- ``blur``: less than ``BLUR_RATIO`` of the detail the same shot reaches (its
  90th percentile): motion blur or a focus pull.

Margins, picked only when nothing else qualifies:

- ``cut``: within ``CUT_MARGIN`` seconds of a cut;
- ``edge``: within ``EDGE_MARGIN`` seconds (at most ``EDGE_SHARE`` of the
  clip) of its first or last frame, where a camera starts and stops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np
from scipy.ndimage import median_filter

from .duplicates import repeated_shots
from .record import ScoreCurve

MIN_LUMA, MAX_LUMA = 0.03, 0.97
MIN_LUMA_STD = 0.02
BLUR_RATIO = 0.15
CUT_CHANGE = 0.1
CUT_SPIKE = 3.0
CUT_WINDOW = 5
"""Samples either side whose median change is the typical change around a frame."""
CUT_MARGIN = 0.2
MAX_CUT_GAP = 0.25
FADE_RATIO = 0.6
TIME_TOLERANCE = 1e-6
MIN_SHOT = 0.5
EDGE_MARGIN = 0.5
EDGE_SHARE = 0.1

DEFECTS = ("blank", "flash", "fade", "blur")
MARGINS = ("cut", "edge")
REASONS = DEFECTS + MARGINS
"""Every reason, most serious first; a frame reports the first that applies."""


@dataclass(frozen=True)
class FrameClasses:
    """Each frame's shot (-1 in a blank run between shots), why it is not pickable ("" when it is), and
    the shots that repeat an earlier one (see :func:`vidaesthetic.curve.duplicates.repeated_shots`)."""

    shots: np.ndarray
    reasons: np.ndarray
    repeats: Dict[int, int] = field(default_factory=dict)


def blank(luma_mean, luma_std):
    """Whether frames are blank, from their luminance mean and spread (arrays, or one frame's numbers).

    The one blank rule: live scoring applies it frame by frame, a curve all at once.
    """
    return (luma_mean < MIN_LUMA) | (luma_mean > MAX_LUMA) | (luma_std < MIN_LUMA_STD)


def blank_frames(curve: ScoreCurve) -> np.ndarray:
    return blank(curve.luma_mean, curve.luma_std)


def cut_frames(curve: ScoreCurve) -> np.ndarray:
    """Frames that start a new shot with a hard cut.

    A curve that carries its :attr:`~ScoreCurve.cuts` (found on more frames
    than were scored, see :mod:`vidaesthetic.curve.fast`) starts a shot at the
    first frame at or after each cut; any other curve finds them with
    :func:`cut_spikes` on its own frames.
    """
    if curve.cuts is not None:
        first_after = np.searchsorted(curve.times, np.asarray(curve.cuts) - TIME_TOLERANCE)
        cuts = np.zeros(len(curve), dtype=bool)
        cuts[first_after[(first_after > 0) & (first_after < len(curve))]] = True
        return cuts
    if curve.change is None:
        return np.zeros(len(curve), dtype=bool)
    return cut_spikes(curve.times, curve.change)


def cut_spikes(times: np.ndarray, change: np.ndarray) -> np.ndarray:
    """Which frames, measured at ``times`` with ``change`` from the frame before, are a hard cut's first.

    Only judged between frames close together (``MAX_CUT_GAP``): over longer
    gaps ordinary motion changes a picture as much as a cut does.
    """
    if len(times) == 0:
        return np.zeros(0, dtype=bool)
    change = np.asarray(change, dtype=np.float64)
    typical = median_filter(change, size=2 * CUT_WINDOW + 1, mode="nearest")
    gaps = np.diff(times, prepend=-np.inf)
    return (change > CUT_CHANGE) & (change > CUT_SPIKE * typical) & (gaps <= MAX_CUT_GAP)


def shot_ids(curve: ScoreCurve) -> np.ndarray:
    """A shot number per frame; blank runs between shots belong to no shot (-1)."""
    is_blank = blank_frames(curve)
    starts = cut_frames(curve) | (~is_blank & np.concatenate(([True], is_blank[:-1])))
    ids = np.cumsum(starts & ~is_blank) - 1
    ids[is_blank] = -1
    return ids


def _shot_members(shots: np.ndarray) -> List[np.ndarray]:
    return [shots == shot for shot in np.unique(shots[shots >= 0])]


def flash_frames(curve: ScoreCurve, shots: np.ndarray) -> np.ndarray:
    """Shots shorter than ``MIN_SHOT`` next to a longer one (a video short throughout still has spots)."""
    flash = np.zeros(len(curve), dtype=bool)
    members_of = _shot_members(shots)
    lengths = [float(np.ptp(curve.times[members])) for members in members_of]
    longest = max(lengths, default=0.0)
    for members, length in zip(members_of, lengths):
        if length < MIN_SHOT <= longest:  # a single frame is a flash too
            flash |= members
    return flash


def fade_frames(curve: ScoreCurve, shots: np.ndarray) -> np.ndarray:
    """Frames with far less contrast than their shot typically has: fading in or out."""
    fading = np.zeros(len(curve), dtype=bool)
    for members in _shot_members(shots):
        fading |= members & (curve.luma_std < FADE_RATIO * np.median(curve.luma_std[members]))
    return fading


def blurred_frames(curve: ScoreCurve, shots: np.ndarray) -> np.ndarray:
    """Frames with far less detail than the same shot reaches: motion blur or a focus pull."""
    blurred = np.zeros(len(curve), dtype=bool)
    if curve.sharpness is None:
        return blurred
    for members in _shot_members(shots):
        blurred |= members & (curve.sharpness < BLUR_RATIO * np.percentile(curve.sharpness[members], 90))
    return blurred


def near_cut_frames(curve: ScoreCurve) -> np.ndarray:
    near = np.zeros(len(curve), dtype=bool)
    for cut_time in curve.times[cut_frames(curve)]:
        near |= np.abs(curve.times - cut_time) <= CUT_MARGIN
    return near


def edge_frames(curve: ScoreCurve) -> np.ndarray:
    if len(curve) == 0:
        return np.zeros(0, dtype=bool)
    first, last = float(curve.times[0]), float(curve.times[-1])
    margin = min(EDGE_MARGIN, EDGE_SHARE * (last - first))
    return (curve.times < first + margin) | (curve.times > last - margin)


def classify_frames(curve: ScoreCurve) -> FrameClasses:
    """Each frame's shot and reason, and the repeated shots: what :attr:`ScoreCurve.shots`,
    :attr:`ScoreCurve.reasons` and :attr:`ScoreCurve.repeats` hold, worked out here once per curve."""
    shots = shot_ids(curve)
    tests = {
        "blank": blank_frames(curve),
        "flash": flash_frames(curve, shots),
        "fade": fade_frames(curve, shots),
        "blur": blurred_frames(curve, shots),
        "cut": near_cut_frames(curve),
        "edge": edge_frames(curve),
    }
    reasons = np.full(len(curve), "", dtype=object)
    for reason in reversed(REASONS):  # the most serious reason is written last, so it wins
        reasons[tests[reason]] = reason
    return FrameClasses(shots=shots, reasons=reasons, repeats=repeated_shots(curve.hashes, shots, reasons == ""))


def rejected_shots(curve: ScoreCurve) -> List[Dict[str, object]]:
    """Whole shots that may not be picked from, with why: rare, so ``spots.json`` lists each."""
    rejected = []
    for shot in np.unique(curve.shots[curve.shots >= 0]):
        members = curve.shots == shot
        reasons = set(curve.reasons[members])
        if "" in reasons or reasons & set(MARGINS):
            continue
        times = curve.times[members]
        rejected.append({"shot": int(shot), "start": float(times[0]), "end": float(times[-1]),
                         "reasons": sorted(reasons, key=REASONS.index)})
    return rejected
