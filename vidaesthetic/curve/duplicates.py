"""Near-duplicates: one picture shown at two times must not give two spots.

A loop, a recurring intro, an interview cutting back to the same framing or
a static shot shows one picture at many times. Every scored frame carries a
perceptual hash (:func:`vidaesthetic.curve.framestats.picture_hashes`), and
two frames whose hashes differ in at most ``MAX_HASH_DISTANCE`` of their
256 bits show the same picture, whichever model scored them. A shot most
of whose pictures an earlier shot already showed repeats it, and shares its
spots. A model's
embeddings add a second test (cosine similarity above ``max_similarity``,
see :func:`vidaesthetic.choose_spots`) that also knows a scene seen again
with small changes, where they can tell this video's pictures apart: an
untrained network, or one that maps every frame of a video close to one
direction, would call every picture a copy of the first spot.

The threshold comes from the fixture clips, hashed at 224 x 224: one frame
re-encoded at CRF 30 differed from itself in at most 17 bits (99th
percentile 13); frames one second apart in a moving shot in 97 or more.
"""

from __future__ import annotations

from collections import Counter
from typing import Dict, Optional

import numpy as np

MAX_HASH_DISTANCE = 20
"""Bits (of 256) in which two frames' hashes may differ and the frames still show the same picture."""
PROBES = 3
"""Frames spread over a shot that are looked for in earlier shots, to tell whether it repeats one."""
CONFUSED_SHARE = 0.5
"""Embeddings are not used when they call more than this share of clearly different pictures alike."""
_BITS_SET = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(axis=1)


def hash_distances(hashes: np.ndarray, other: np.ndarray) -> np.ndarray:
    """How many bits hashes differ in (uint8 arrays of hashes, the last axis a hash, broadcast)."""
    return _BITS_SET[np.bitwise_xor(hashes, other)].sum(axis=-1)


def same_picture(hashes: np.ndarray, one: np.ndarray) -> np.ndarray:
    """Which rows of ``hashes`` show the same picture as the frame hashed ``one``."""
    return hash_distances(hashes, one) <= MAX_HASH_DISTANCE


def confusion(hashes: np.ndarray, embeddings: np.ndarray, max_similarity: float) -> float:
    """Of the pairs of frames whose hashes show clearly different pictures (over twice
    ``MAX_HASH_DISTANCE`` bits apart), the share whose embeddings (rows, in the same order) are
    more similar than ``max_similarity``; 0 when no pair is clearly different."""
    apart = np.triu(hash_distances(hashes[:, None], hashes[None]) > 2 * MAX_HASH_DISTANCE, k=1)
    if not apart.any():
        return 0.0
    vectors = embeddings.astype(np.float64)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return float((apart & (unit @ unit.T > max_similarity)).sum() / apart.sum())


def repeated_shots(hashes: Optional[np.ndarray], shots: np.ndarray, pickable: np.ndarray) -> Dict[int, int]:
    """Shots that show again what an earlier shot showed, each mapped to the first shot that showed it.

    A shot repeats an earlier one when most of its ``PROBES`` pickable frames
    (spread over it) show the same picture as some frame of that shot: a
    loop, a recurring intro, a cut back to one framing.
    """
    originals: Dict[int, int] = {}
    if hashes is None:
        return originals
    for shot in np.unique(shots[shots >= 0]):
        members = np.flatnonzero((shots == shot) & pickable)
        earlier = np.flatnonzero((shots >= 0) & (shots < shot))
        if not members.size or not earlier.size:
            continue
        probes = np.unique(members[np.linspace(0, len(members) - 1, PROBES).round().astype(int)])
        found: Counter = Counter()
        for probe in probes:
            found.update(np.unique(shots[earlier[same_picture(hashes[earlier], hashes[probe])]]).tolist())
        repeated = [other for other, count in found.items() if count > len(probes) / 2]
        if repeated:
            originals[int(shot)] = originals.get(min(repeated), min(repeated))
    return originals
