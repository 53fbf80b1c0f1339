"""Spots: the peaks of the smoothed score curve, ranked, as key-frame choices.

A spot is a local maximum of the smoothed curve; each shot's best peak is a
candidate, other peaks need enough prominence. A candidate is kept only if
it is at least ``min_gap`` seconds from every better spot, its shot does
not already have its share of spots, and it does not show the same picture
as a better spot (see :mod:`vidaesthetic.curve.duplicates`), so neither a
static shot nor content that recurs fills the list with copies; a shot that
repeats an earlier one shares its spots. Within a short window around each
peak the frame with the best raw score is chosen: the crispest frame of the
best moment. Defective frames
(blank, blurred, fading) are never picked, and frames next to a cut or an
end of the video only when nothing else qualifies (see
:mod:`vidaesthetic.curve.shots`).

Every usable shot (over ``AUTO_MIN_SHOT_SECONDS`` of pickable frames) gets
a spot when the count allows: a shot whose peaks all fall too close to
better spots gets its best frame away from them. An explicit count is honoured whenever the video has that many
distinct moments: when the first pass gives fewer, the default per-shot
limit is lifted, then the best frames between peaks are taken, then
``min_gap`` is halved down to ``MIN_GAP_FLOOR``, then the peaks of the
weaker half of the frames (by smoothed score) and the frames next to a cut
or an end come in; a frame that is neither a peak nor in the better half
(the slope of a transition, a covered lens that no rule can tell from a
soft picture) is never taken. Each step taken is recorded, and a shortfall
says why.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from scipy.signal import find_peaks

from ..timecode import format_timecode
from . import shots as rules
from .duplicates import CONFUSED_SHARE, MAX_HASH_DISTANCE, confusion, same_picture
from .record import ScoreCurve

DEFAULT_MIN_GAP = 2.0
DEFAULT_MIN_PROMINENCE = 0.05
DEFAULT_REFINE_WINDOW = 0.25
DEFAULT_MAX_SIMILARITY = 0.95
MIN_GAP_FLOOR = 0.5
"""Seconds: the closest two spots may come when an explicit count needs it."""
PROXY_SECONDS = 1.0
"""A frame with no embedding of its own is compared by an embedded frame of its shot this close."""
AUTO_SHOT_SECONDS_PER_SPOT = 10.0
AUTO_MIN_SHOT_SECONDS = 1.0
"""A shot earns a spot of its own in the automatic count when its pickable frames span this long."""
AUTO_MAX_SPOTS = 50


@dataclass
class Duplicate:
    """Where another shot shows a spot's picture again."""

    frame_index: int
    time: float
    timecode: str
    shot: int


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
    duplicates: List[Duplicate] = field(default_factory=list)
    """Other shots that show the spot's picture again: the first such frame of each."""
    duplicates_skipped: int = 0
    """Candidate frames left out as copies of this spot (by their hashes or embeddings)."""

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class Selection:
    """Spots, and how they came about: the steps relaxed to reach the count and, if short, why."""

    spots: List[Spot]
    relaxed: List[str] = field(default_factory=list)
    shortfall: Optional[str] = None
    embeddings_confused: Optional[float] = None
    """When the embeddings given were not used: the share of clearly different pictures they called alike."""


def automatic_count(curve: ScoreCurve, per_shot: Optional[int] = None) -> int:
    """How many spots a video gets when none is asked for: each usable shot (pickable frames over
    ``AUTO_MIN_SHOT_SECONDS``) gets its limit (one per ``AUTO_SHOT_SECONDS_PER_SPOT`` seconds of shot
    unless ``per_shot`` says), a shot that repeats an earlier one counting with it, at most
    ``AUTO_MAX_SPOTS`` in all, and at least one."""
    limits = _shot_limits(curve, per_shot or None)  # no limit per shot (0) still counts one per 10 s
    by_original: Dict[int, float] = {}
    for shot, limit in limits.items():
        if _usable_span(curve, shot) >= AUTO_MIN_SHOT_SECONDS:
            original = curve.repeats.get(shot, shot)
            by_original[original] = max(limit, by_original.get(original, 0))
    return int(max(1, min(AUTO_MAX_SPOTS, sum(by_original.values()))))


def _usable_span(curve: ScoreCurve, shot: int) -> float:
    return _seconds(curve, (curve.shots == shot) & curve.pickable)


def _seconds(curve: ScoreCurve, frames: np.ndarray) -> float:
    """How long the ``frames`` (a mask) are shown: each stands for half the time to each neighbour, so
    that a curve scored sparsely (fast mode) measures its shots as one scored densely does."""
    times = curve.times
    if len(times) < 2:
        return 0.0
    gaps = np.diff(times)
    shares = (np.concatenate(([0.0], gaps)) + np.concatenate((gaps, [0.0]))) / 2
    return float(shares[frames].sum())


def find_spots(curve: ScoreCurve, top: Optional[int] = None, **options: Any) -> List[Spot]:
    """The best moments of a scored video, best first: :func:`choose_spots` without its account."""
    return choose_spots(curve, top, **options).spots


def choose_spots(
    curve: ScoreCurve,
    top: Optional[int] = None,
    min_gap: float = DEFAULT_MIN_GAP,
    min_prominence: float = DEFAULT_MIN_PROMINENCE,
    refine_window: float = DEFAULT_REFINE_WINDOW,
    per_shot: Optional[int] = None,
    embeddings: Optional[Mapping[int, np.ndarray]] = None,
    max_similarity: Optional[float] = DEFAULT_MAX_SIMILARITY,
) -> Selection:
    """The best moments of a scored video, best first, with how they were found.

    Args:
        curve: a scored (ideally smoothed) curve.
        top: how many spots; given, it is honoured whenever the video has that
            many distinct moments (see the module docstring). None chooses
            automatically (see :func:`automatic_count`; peaks other than a
            shot's best need twice ``min_prominence``).
        min_gap: seconds between any two spots.
        min_prominence: how far a peak must rise above its surroundings, as a
            share of the curve's range.
        refine_window: seconds either side of a peak searched for the frame
            with the best raw score.
        per_shot: spots per shot at most; None allows one per
            ``AUTO_SHOT_SECONDS_PER_SPOT`` seconds of the shot (lifted when
            ``top`` needs it), 0 sets no limit.
        embeddings: embeddings of candidate frames by frame index; a candidate
            whose cosine similarity to a better spot exceeds ``max_similarity``
            is skipped as a near-duplicate; one without an embedding is compared by
            an embedded frame of its shot at most ``PROXY_SECONDS`` away. Whatever
            the embeddings, a candidate whose perceptual hash matches a better
            spot's is skipped (see :mod:`vidaesthetic.curve.duplicates`); embeddings
            that call most clearly different pictures alike are not used.
        max_similarity: None keeps near-duplicates (neither test is made).
    """
    if top is not None and top < 1:
        raise ValueError("top must be at least 1")
    if min_gap < 0 or min_prominence < 0 or refine_window < 0 or (per_shot is not None and per_shot < 0):
        raise ValueError("min_gap, min_prominence, refine_window and per_shot must not be negative")
    if len(curve) == 0:
        return Selection([], shortfall="no frames were scored")
    picker = _Picker(curve, refine_window, embeddings, max_similarity)
    limit = top if top is not None else automatic_count(curve, per_shot)
    threshold = min_prominence if top is not None else 2 * min_prominence
    pickable = curve.pickable
    margins = np.isin(curve.reasons, rules.MARGINS)
    shot_limits = _shot_limits(curve, per_shot)
    picker.take(picker.peaks(pickable, threshold), limit, min_gap, shot_limits)
    relaxed: List[str] = []

    def relax(step: str, candidates: Sequence[Candidate], gap: float, limits: Mapping[int, float]) -> None:
        if picker.take(candidates, limit, gap, limits):
            relaxed.append(step)

    uncovered = pickable & ~picker.covered()
    relax("best frames of shots without a spot taken", picker.frames(uncovered), min_gap, shot_limits)
    gap = min_gap
    if top is not None:
        # Relaxed picks are moments: peaks, or frames from the better half; never the slopes of weak stretches.
        typical = np.median(picker.values[pickable]) if pickable.any() else -np.inf
        better = pickable & (picker.values >= typical)
        if per_shot is None:
            shot_limits = {shot: math.inf for shot in shot_limits}
            relax("per-shot limit lifted", picker.peaks(better, threshold), gap, shot_limits)
        relax("frames other than peaks taken", picker.frames(better), gap, shot_limits)
        while len(picker.chosen) < limit and gap / 2 >= MIN_GAP_FLOOR:
            gap /= 2
            relax(f"min-gap lowered to {gap:g} s", picker.frames(better), gap, shot_limits)
        relax("peaks of the weaker half taken", picker.peaks(pickable, threshold), gap, shot_limits)
        relax("frames next to a cut or an end taken", picker.frames(margins & (picker.values >= typical)), gap,
              shot_limits)
    elif not picker.chosen:
        relax("frames next to a cut or an end taken", picker.frames(margins), gap, shot_limits)
    return Selection(picker.spots(), relaxed, _shortfall(top, len(picker.chosen)), picker.confused)


def _shortfall(top: Optional[int], found: int) -> Optional[str]:
    if found == 0:
        return "every frame is blank, blurred, fading or a flash"
    if top is None or found >= top:
        return None
    return (f"{found} of {top}: no other frame that may be picked is at least {MIN_GAP_FLOOR:g} s from "
            f"the spots and unlike them")


class Candidate(NamedTuple):
    """A frame that may become a spot; a peak's frame is refined to the best raw frame near it."""

    frame: int
    prominence: float
    is_peak: bool


class _Picker:
    """Greedy choice of spots from candidates, keeping the gap, per-shot and near-duplicate rules."""

    def __init__(self, curve: ScoreCurve, refine_window: float, embeddings: Optional[Mapping[int, np.ndarray]],
                 max_similarity: Optional[float]) -> None:
        self.curve, self.refine_window = curve, refine_window
        self.max_similarity = max_similarity
        self.values = curve.values.astype(np.float64)
        self.chosen: List[Tuple[int, float]] = []
        self.vectors: List[Optional[np.ndarray]] = []  # the embedding each chosen spot is compared by
        self.copies: List[Dict[int, None]] = []  # the frames left out as each chosen spot's copies, in turn
        checked = max_similarity is not None
        self.repeats = curve.repeats if checked else {}
        self.hashes = curve.hashes if checked else None
        self.embeddings, self.confused = self._trusted(embeddings if checked else None)
        self.embedded = np.flatnonzero(np.isin(curve.indices, list(self.embeddings)))
        self.pickable, self.defective = curve.pickable, curve.defective

    def _trusted(self, embeddings: Optional[Mapping[int, np.ndarray]]
                 ) -> Tuple[Mapping[int, np.ndarray], Optional[float]]:
        """The embeddings to compare by; none when they call most clearly different pictures alike,
        with the share they did."""
        if not embeddings or self.hashes is None:
            return embeddings or {}, None
        positions = np.flatnonzero(np.isin(self.curve.indices, list(embeddings)))
        if len(positions) < 2:
            return embeddings, None
        vectors = np.stack([embeddings[int(index)] for index in self.curve.indices[positions]])
        share = confusion(self.hashes[positions], vectors, self.max_similarity)
        return ({}, share) if share > CONFUSED_SHARE else (embeddings, None)

    def peaks(self, allowed: np.ndarray, threshold: float) -> List[Candidate]:
        """Peaks among ``allowed`` frames (each a valley elsewhere), best first: each shot's best, and the
        others with at least ``threshold`` prominence."""
        if not allowed.any():
            return []
        usable = self.values[~self.defective] if not self.defective.all() else self.values
        low, span = float(usable.min()), float(np.ptp(usable)) or 1.0
        masked = np.where(allowed, (self.values - low) / span, 0.0)
        # Padding lets a maximum at either end be a peak.
        peaks, properties = find_peaks(np.concatenate(([-1.0], masked, [-1.0])), prominence=0.0)
        peaks -= 1
        keep = allowed[peaks]
        peaks, prominences = peaks[keep], np.minimum(properties["prominences"][keep], 1.0)
        shots = self.curve.shots[peaks]
        best_of_shot = np.zeros(len(peaks), dtype=bool)
        for shot in np.unique(shots):
            members = np.flatnonzero(shots == shot)
            best_of_shot[members[np.argmax(masked[peaks[members]])]] = True
        order = np.argsort(-masked[peaks], kind="stable")
        return [Candidate(int(peaks[i]), float(prominences[i]), True) for i in order
                if best_of_shot[i] or prominences[i] >= threshold]

    def frames(self, allowed: np.ndarray) -> List[Candidate]:
        """Every ``allowed`` frame, best first, as a candidate taken as it is (no prominence, not refined)."""
        frames = np.flatnonzero(allowed)
        return [Candidate(int(frame), 0.0, False) for frame in frames[np.argsort(-self.values[frames], kind="stable")]]

    def take(self, candidates: Sequence[Candidate], limit: int, min_gap: float,
             shot_limits: Mapping[int, float]) -> int:
        """Add candidates that keep the rules until ``limit`` spots are chosen; returns how many were added."""
        times, shots = self.curve.times, self.curve.shots
        before = len(self.chosen)
        for candidate, prominence, is_peak in candidates:
            if len(self.chosen) >= limit:
                break
            frame = self._best_raw_near(candidate) if is_peak else candidate
            chosen = [other for other, _ in self.chosen]
            if any(abs(times[frame] - times[other]) < min_gap for other in chosen):
                continue
            vector = self._vector(frame)
            original = self._original(frame, vector)
            if original is not None:
                self.copies[original].setdefault(frame)
                continue
            group = self._group(int(shots[frame]))
            if sum(self._group(int(shots[other])) == group for other in chosen) >= shot_limits.get(group, 1):
                continue
            self.chosen.append((frame, prominence))
            self.vectors.append(vector)
            self.copies.append({})
        return len(self.chosen) - before

    def _original(self, frame: int, vector: Optional[np.ndarray]) -> Optional[int]:
        """The first chosen spot (its position) that ``frame`` is a near-duplicate of, if any."""
        if self.hashes is not None and self.chosen:
            same = same_picture(self.hashes[[other for other, _ in self.chosen]], self.hashes[frame])
            if same.any():
                return int(np.argmax(same))
        if vector is not None:
            for position, kept in enumerate(self.vectors):
                if kept is not None and _cosine(vector, kept) > self.max_similarity:
                    return position
        return None

    def _group(self, shot: int) -> int:
        """The shot whose share of spots ``shot`` takes: itself, or the one it repeats."""
        return self.repeats.get(shot, shot)

    def covered(self) -> np.ndarray:
        """Frames of shots that have a spot, themselves or through the shot they repeat."""
        shots = self.curve.shots
        groups = {self._group(int(shots[frame])) for frame, _ in self.chosen}
        return np.isin(shots, [shot for shot in np.unique(shots) if self._group(int(shot)) in groups])

    def _vector(self, frame: int) -> Optional[np.ndarray]:
        """The frame's embedding, else that of the nearest embedded frame of its shot within
        ``PROXY_SECONDS``: within a second, one shot shows much the same picture."""
        if not self.embedded.size:
            return None
        curve = self.curve
        vector = self.embeddings.get(int(curve.indices[frame]))
        if vector is not None:
            return vector
        near = self.embedded[(curve.shots[self.embedded] == curve.shots[frame])
                             & (np.abs(curve.times[self.embedded] - curve.times[frame]) <= PROXY_SECONDS)]
        if not near.size:
            return None
        nearest = near[np.argmin(np.abs(curve.times[near] - curve.times[frame]))]
        return self.embeddings[int(curve.indices[nearest])]

    def _best_raw_near(self, peak: int) -> int:
        """The frame with the best raw score within the refine window of ``peak``, in its shot and as pickable as it."""
        curve = self.curve
        times = curve.times
        start = int(np.searchsorted(times, times[peak] - self.refine_window, side="left"))
        end = int(np.searchsorted(times, times[peak] + self.refine_window, side="right"))
        window = slice(start, end)
        same_kind = self.pickable[window] if self.pickable[peak] else ~self.defective[window]
        near = start + np.flatnonzero(same_kind & (curve.shots[window] == curve.shots[peak]))
        return int(near[np.argmax(curve.raw[near])])

    def spots(self) -> List[Spot]:
        curve = self.curve
        return [
            Spot(
                rank=rank,
                frame_index=int(curve.indices[frame]),
                time=float(curve.times[frame]),
                timecode=format_timecode(float(curve.times[frame])),
                score=float(self.values[frame]),
                raw_score=float(curve.raw[frame]),
                prominence=prominence,
                shot=int(curve.shots[frame]),
                duplicates=self._recurrences(frame),
                duplicates_skipped=len(copies),
            )
            for rank, ((frame, prominence), copies) in enumerate(zip(self.chosen, self.copies), start=1)
        ]

    def _recurrences(self, frame: int) -> List[Duplicate]:
        """The first frame of each other shot that shows ``frame``'s picture."""
        curve = self.curve
        if self.hashes is None:
            return []
        elsewhere = (curve.shots >= 0) & (curve.shots != curve.shots[frame])
        same = np.flatnonzero(elsewhere & same_picture(self.hashes, self.hashes[frame]))
        _, first = np.unique(curve.shots[same], return_index=True)
        return [Duplicate(int(curve.indices[other]), float(curve.times[other]),
                          format_timecode(float(curve.times[other])), int(curve.shots[other]))
                for other in np.sort(same[first])]


def _shot_limits(curve: ScoreCurve, per_shot: Optional[int]) -> Dict[int, float]:
    limits: Dict[int, float] = {}
    shots = curve.shots
    for shot in np.unique(shots[shots >= 0]):
        if per_shot == 0:
            limits[int(shot)] = math.inf
        elif per_shot is not None:
            limits[int(shot)] = per_shot
        else:
            limits[int(shot)] = max(1, math.ceil(_seconds(curve, shots == shot) / AUTO_SHOT_SECONDS_PER_SPOT))
    return limits


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norms) if norms else 1.0


def selection_parameters(curve: ScoreCurve, top: Optional[int], min_gap: float, min_prominence: float,
                         per_shot: Optional[int], max_similarity: Optional[float],
                         selection: Optional[Selection] = None) -> Dict[str, Any]:
    """How spots were chosen, as recorded in ``spots.json``."""
    automatic = None
    if top is None:
        automatic = {
            "limit": automatic_count(curve, per_shot),
            "rule": f"each shot with pickable frames over {AUTO_MIN_SHOT_SECONDS:g} s gets one spot per "
                    f"{AUTO_SHOT_SECONDS_PER_SPOT:g} s of shot "
                    f"(at most {AUTO_MAX_SPOTS} in all); peaks other than a shot's best need a prominence of "
                    f"at least {2 * min_prominence:g} of the curve's range",
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
        "duplicates": None if max_similarity is None else {
            "same_picture_within_hash_bits": MAX_HASH_DISTANCE,
            "embeddings": _embedding_use(selection),
            "repeated_shots": [{"shot": shot, "repeats": original} for shot, original in curve.repeats.items()]
            if len(curve) else [],
            "candidates_skipped": sum(spot.duplicates_skipped for spot in selection.spots) if selection else 0,
        },
        "shots": int(curve.shots.max() + 1) if len(curve) else 0,
        "relaxed": selection.relaxed if selection else [],
        "shortfall": selection.shortfall if selection else None,
        "rejected_shots": rules.rejected_shots(curve) if len(curve) else [],
        "never_picked": {
            "blank": {"min_luma": rules.MIN_LUMA, "max_luma": rules.MAX_LUMA, "min_luma_std": rules.MIN_LUMA_STD},
            "flash_shots_shorter_than_s": rules.MIN_SHOT,
            "fade_below_share_of_shot_contrast": rules.FADE_RATIO,
            "blur_below_share_of_shot_p90_sharpness": rules.BLUR_RATIO,
        },
        "picked_only_when_nothing_else_qualifies": {
            "cut": {"change_above": rules.CUT_CHANGE, "spike_over_typical_change": rules.CUT_SPIKE,
                    "margin_s": rules.CUT_MARGIN},
            "edge": {"margin_s": rules.EDGE_MARGIN, "at_most_share_of_video": rules.EDGE_SHARE},
        },
    }


def _embedding_use(selection: Optional[Selection]) -> str:
    if selection is None or selection.embeddings_confused is None:
        return "compared where given"
    return (f"not compared: they called {selection.embeddings_confused:.0%} of clearly different pictures "
            f"alike (more than {CONFUSED_SHARE:.0%})")
