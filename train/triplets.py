"""Triplet sampling by score ratios (Eq. 3 of the WACV 2018 paper).

An anchor ``a`` and a positive ``p`` are drawn uniformly, then up to
``max_negatives`` candidate negatives ``n``; the first ``n`` with

    alpha < |S(a) - S(p)| / |S(x) - S(n)| < beta    for both x in {a, p}

is accepted, otherwise the pair is redrawn. The defaults (alpha 0.3, beta 0.7,
50 negatives) are those of the authors' training script.

Kinds of triplet. Since ``beta <= 1``, both ratios below ``beta`` mean that
``n`` is farther in score from each of ``a`` and ``p`` than they are from each
other. A score between ``S(a)`` and ``S(p)`` is at most ``|S(a) - S(p)|`` from
both, so ``n`` is never between them (nor tied with either): it is worse than
both ("2 good + 1 bad") or better than both ("1 good + 2 bad"), and those are
the only two kinds. ``a`` and ``p`` never tie either (the ratio must exceed
``alpha >= 0``). This is why ``beta > 1`` is refused: it would accept
negatives closer in score to the anchor than the positive is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

TWO_GOOD_ONE_BAD = "2 good + 1 bad"
ONE_GOOD_TWO_BAD = "1 good + 2 bad"

# Consecutive (a, p) draws without an accepted negative before giving up: the
# scores and alpha/beta may admit no triplet at all, which would otherwise hang.
_MAX_PAIR_DRAWS = 10_000


class TripletSampler:
    """Endless, seeded, shardable and resumable stream of ``(a, p, n)`` index triplets.

    Sharding: rank ``r`` of ``world_size`` takes anchors only from the indices
    ``i`` with ``i % world_size == r``, so no two ranks can produce the same
    triplet; positives and negatives come from all images. Data-loader workers
    are sharded the same way by folding them into the rank
    (``rank = global_rank * num_workers + worker_id``,
    ``world_size = global_world_size * num_workers``). Each rank has its own
    random stream, ``SeedSequence(seed).spawn(world_size)[rank]``.

    Statistics: ``accepted`` triplets, ``rejected`` negative candidates,
    ``pairs`` drawn, and ``kinds`` (counts of the two kinds, see the module
    docstring).
    """

    def __init__(
        self,
        scores: Sequence[float],
        *,
        alpha: float = 0.3,
        beta: float = 0.7,
        max_negatives: int = 50,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        s = np.asarray(scores, dtype=np.float64)
        if s.ndim != 1 or len(s) < 3:
            raise ValueError(f"need a 1-d sequence of at least 3 scores, got shape {s.shape}")
        if not np.all(np.isfinite(s)):
            raise ValueError("scores must be finite (S = log F / log V is undefined for V <= 1 or F = 0)")
        if s.min() == s.max():
            raise ValueError("all scores are equal: no triplet can satisfy Eq. 3")
        if not 0 <= alpha < beta <= 1:
            raise ValueError(f"need 0 <= alpha < beta <= 1, got alpha={alpha}, beta={beta}")
        if max_negatives < 1:
            raise ValueError(f"max_negatives must be at least 1, got {max_negatives}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
        if rank >= len(s):
            raise ValueError(f"rank {rank} has no anchor among {len(s)} images")
        self.scores = s
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.max_negatives = int(max_negatives)
        self.seed = int(seed)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self._n_anchors = (len(s) - 1 - rank) // world_size + 1
        self._rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(self.rank,)))
        self.accepted = 0
        self.rejected = 0
        self.pairs = 0
        self.first_accepted = 0
        self.kinds = {TWO_GOOD_ONE_BAD: 0, ONE_GOOD_TWO_BAD: 0}

    @property
    def reject_rate(self) -> float:
        """Share of negative candidates rejected: the sampling cost, not the share of invalid triplets.

        Pairs that admit no negative spend all ``max_negatives`` candidates, so
        this overstates the invalid share (about 0.98 against 0.93 for uniform
        S at the defaults); :meth:`estimated_valid_triplets` avoids that bias.
        """
        tried = self.accepted + self.rejected
        return self.rejected / tried if tried else float("nan")

    def estimated_valid_triplets(self, n_images: int | None = None) -> float:
        """The paper's estimate of |D|: ordered triplets times the acceptance probability of a candidate.

        ``|D| ~= N (N - 1) (N - 2) * first_accepted / pairs``, N = ``n_images``
        (default: the number of scores). The first candidate of every pair is
        a uniform ordered triplet of distinct images, so the share of pairs
        whose first candidate was accepted estimates P(valid) without bias.
        Counting every candidate (``1 - reject_rate``) would not: the stream
        stops at the first success, and pairs with no valid negative add
        ``max_negatives`` rejections each (a factor of about 4 too low for
        uniform S). With sharding the anchors are this rank's shard only.
        """
        n = len(self.scores) if n_images is None else n_images
        if not self.pairs:
            return float("nan")
        return n * (n - 1) * (n - 2) * self.first_accepted / self.pairs

    def sample(self, k: int) -> np.ndarray:
        """The next ``k`` triplets as an int64 array of shape ``(k, 3)``."""
        if k < 0:
            raise ValueError(f"k must be non-negative, got {k}")
        return np.array([self._draw() for _ in range(k)], dtype=np.int64).reshape(k, 3)

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        while True:
            yield self._draw()

    def state_dict(self) -> dict[str, Any]:
        """Random state and counters; :meth:`load_state_dict` continues with exactly the same triplets."""
        return {
            "config": self._config(),
            "bit_generator": self._rng.bit_generator.state,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "pairs": self.pairs,
            "first_accepted": self.first_accepted,
            "kinds": dict(self.kinds),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["config"] != self._config():
            raise ValueError(f"state is from a sampler configured as {state['config']}, this one is {self._config()}")
        self._rng.bit_generator.state = state["bit_generator"]
        self.accepted = state["accepted"]
        self.rejected = state["rejected"]
        self.pairs = state["pairs"]
        self.first_accepted = state["first_accepted"]
        self.kinds = dict(state["kinds"])

    def _config(self) -> dict[str, Any]:
        return {
            "n_scores": len(self.scores),
            "alpha": self.alpha,
            "beta": self.beta,
            "max_negatives": self.max_negatives,
            "seed": self.seed,
            "rank": self.rank,
            "world_size": self.world_size,
        }

    def _draw(self) -> tuple[int, int, int]:
        s, rng, n = self.scores, self._rng, len(self.scores)
        for _ in range(_MAX_PAIR_DRAWS):
            a = self.rank + self.world_size * int(rng.integers(self._n_anchors))
            p = int(rng.integers(n - 1))
            p += p >= a
            # Uniform over the n - 2 indices other than a and p: skip over both.
            lo, hi = min(a, p), max(a, p)
            cand = rng.integers(n - 2, size=self.max_negatives)
            cand += cand >= lo
            cand += cand >= hi
            gap = abs(s[a] - s[p])
            ok = np.ones(self.max_negatives, dtype=bool)
            for x in (a, p):
                dist = np.abs(s[x] - s[cand])
                # A zero distance is an infinite ratio, hence rejected.
                ratio = np.divide(gap, dist, out=np.full_like(dist, np.inf), where=dist > 0)
                ok &= (self.alpha < ratio) & (ratio < self.beta)
            self.pairs += 1
            self.first_accepted += bool(ok[0])
            if not ok.any():
                self.rejected += self.max_negatives
                continue
            i = int(np.argmax(ok))
            self.rejected += i
            self.accepted += 1
            neg = int(cand[i])
            self.kinds[TWO_GOOD_ONE_BAD if s[neg] < s[a] else ONE_GOOD_TWO_BAD] += 1
            return a, p, neg
        raise RuntimeError(
            f"no triplet accepted in {_MAX_PAIR_DRAWS} (a, p) draws: do alpha={self.alpha}, "
            f"beta={self.beta} admit any triplet for these scores?"
        )
