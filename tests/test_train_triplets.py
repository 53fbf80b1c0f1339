import itertools
import pickle

import numpy as np
import pytest

from train.triplets import ONE_GOOD_TWO_BAD, TWO_GOOD_ONE_BAD, TripletSampler

ALPHA, BETA = 0.3, 0.7


def uniform_scores(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random(n)


def ratios(s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both ratios of Eq. 3 for triplets ``t`` (k x 3)."""
    a, p, n = s[t[:, 0]], s[t[:, 1]], s[t[:, 2]]
    gap = np.abs(a - p)
    with np.errstate(divide="ignore"):
        return gap / np.abs(a - n), gap / np.abs(p - n)


def valid(s: np.ndarray, t: np.ndarray) -> np.ndarray:
    ra, rp = ratios(s, t)
    return (ALPHA < ra) & (ra < BETA) & (ALPHA < rp) & (rp < BETA)


@pytest.fixture(scope="module")
def uniform_run():
    s = uniform_scores(2000)
    sampler = TripletSampler(s, seed=3)
    return s, sampler, sampler.sample(4000)


def test_accepted_triplets_satisfy_both_ratios(uniform_run):
    s, _, t = uniform_run
    assert t.shape == (4000, 3) and t.dtype == np.int64
    assert np.all((t[:, 0] != t[:, 1]) & (t[:, 0] != t[:, 2]) & (t[:, 1] != t[:, 2]))
    assert valid(s, t).all()


def test_kinds_are_the_only_two_and_balanced_for_uniform_scores(uniform_run):
    s, sampler, t = uniform_run
    a, p, n = s[t[:, 0]], s[t[:, 1]], s[t[:, 2]]
    worse = n < np.minimum(a, p)
    better = n > np.maximum(a, p)
    assert np.all(worse ^ better)  # never between a and p, never tied
    assert sampler.kinds == {TWO_GOOD_ONE_BAD: int(worse.sum()), ONE_GOOD_TWO_BAD: int(better.sum())}
    assert 0.4 < worse.mean() < 0.6


def test_estimate_of_valid_triplets_agrees_with_direct_measurement(uniform_run):
    s, sampler, _ = uniform_run
    n = len(s)
    ordered = n * (n - 1) * (n - 2)
    assert sampler.accepted == 4000
    assert sampler.reject_rate == sampler.rejected / (sampler.accepted + sampler.rejected)
    estimate = sampler.estimated_valid_triplets()
    assert estimate == ordered * sampler.first_accepted / sampler.pairs
    assert sampler.estimated_valid_triplets(4 * n) == pytest.approx(estimate * 64, rel=0.01)

    # P(valid) measured directly on uniform random ordered triplets of distinct images.
    rng = np.random.default_rng(0)
    t = np.stack([rng.permutation(n)[:3] for _ in range(20_000)])
    direct = valid(s, t).mean()
    assert estimate / ordered == pytest.approx(direct, rel=0.1)
    # Counting every candidate is biased low: pairs with no valid negative burn all 50.
    assert (1 - sampler.reject_rate) < 0.5 * direct


def test_estimate_matches_exhaustive_count_on_a_small_set():
    s = uniform_scores(120, seed=5)
    idx = np.array(list(itertools.permutations(range(len(s)), 3)))
    exact = valid(s, idx).sum()
    sampler = TripletSampler(s, seed=0)
    sampler.sample(3000)
    assert sampler.estimated_valid_triplets() == pytest.approx(exact, rel=0.1)


def test_seeded_streams_are_deterministic():
    s = uniform_scores(500)
    first = TripletSampler(s, seed=7).sample(300)
    assert np.array_equal(first, TripletSampler(s, seed=7).sample(300))
    assert not np.array_equal(first, TripletSampler(s, seed=8).sample(300))
    streamed = list(itertools.islice(TripletSampler(s, seed=7), 300))
    assert all(type(i) is int for i in streamed[0])
    assert streamed == [tuple(row) for row in first.tolist()]


def test_state_dict_resumes_with_the_same_triplets():
    s = uniform_scores(500)
    sampler = TripletSampler(s, seed=11, rank=1, world_size=2)
    sampler.sample(200)
    state = pickle.loads(pickle.dumps(sampler.state_dict()))
    expected = sampler.sample(200)
    counters = (sampler.accepted, sampler.rejected, sampler.pairs, sampler.first_accepted, sampler.kinds)

    restored = TripletSampler(s, seed=11, rank=1, world_size=2)
    restored.load_state_dict(state)
    assert np.array_equal(restored.sample(200), expected)
    assert (restored.accepted, restored.rejected, restored.pairs, restored.first_accepted, restored.kinds) == counters


def test_state_dict_refuses_another_configuration():
    s = uniform_scores(500)
    state = TripletSampler(s, seed=11, rank=1, world_size=2).state_dict()
    with pytest.raises(ValueError, match="configured"):
        TripletSampler(s, seed=11, rank=0, world_size=2).load_state_dict(state)


def test_ranks_use_their_own_anchors_and_never_share_a_triplet():
    s = uniform_scores(600)
    world = 3
    runs = [TripletSampler(s, seed=4, rank=r, world_size=world).sample(1000) for r in range(world)]
    for r, t in enumerate(runs):
        assert np.all(t[:, 0] % world == r)
        assert valid(s, t).all()
        assert len(np.unique(t[:, 1])) > 300  # positives come from all images
    sets = [set(map(tuple, t.tolist())) for t in runs]
    for x, y in itertools.combinations(sets, 2):
        assert not x & y


@pytest.mark.parametrize(
    "scores, kwargs, message",
    [
        ([0.1, 0.2], {}, "at least 3"),
        ([[0.1, 0.2, 0.3]], {}, "1-d"),
        ([0.1, float("nan"), 0.3], {}, "finite"),
        ([0.1, float("inf"), 0.3], {}, "finite"),
        ([0.4, 0.4, 0.4], {}, "equal"),
        ([0.1, 0.2, 0.3], {"alpha": 0.7, "beta": 0.7}, "alpha < beta"),
        ([0.1, 0.2, 0.3], {"alpha": 0.8, "beta": 0.7}, "alpha < beta"),
        ([0.1, 0.2, 0.3], {"beta": 1.5}, "beta <= 1"),
        ([0.1, 0.2, 0.3], {"alpha": -0.1}, "0 <= alpha"),
        ([0.1, 0.2, 0.3], {"max_negatives": 0}, "max_negatives"),
        ([0.1, 0.2, 0.3], {"rank": 2, "world_size": 2}, "rank"),
        ([0.1, 0.2, 0.3], {"world_size": 0}, "rank"),
        ([0.1, 0.2, 0.3], {"rank": 3, "world_size": 4}, "no anchor"),
    ],
)
def test_invalid_inputs_raise(scores, kwargs, message):
    with pytest.raises(ValueError, match=message):
        TripletSampler(scores, **kwargs)


def test_negative_sample_size_raises():
    with pytest.raises(ValueError, match="non-negative"):
        TripletSampler([0.1, 0.2, 0.3]).sample(-1)


def test_scores_admitting_no_triplet_raise_instead_of_hanging():
    # With scores 0, 0.5, 1 every triplet has a ratio of 1 or 2, outside (0.3, 0.7).
    with pytest.raises(RuntimeError, match="no triplet accepted"):
        TripletSampler([0.0, 0.5, 1.0]).sample(1)
