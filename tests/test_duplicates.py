"""When two frames show the same picture, and what the picker does with copies: hashes and hand-built curves."""

import numpy as np
import pytest
import torch

from media import textured
from vidaesthetic import ScoreCurve, VideoInfo, choose_spots
from vidaesthetic.curve.duplicates import MAX_HASH_DISTANCE, confusion, hash_distances, repeated_shots, same_picture
from vidaesthetic.curve.framestats import FrameMeasures

FPS = 10


def test_the_same_picture_hashes_alike_and_different_pictures_do_not():
    picture = torch.from_numpy(textured(320, 240, 1)).permute(2, 0, 1)
    noisy = (picture.int() + torch.randint(-6, 7, picture.shape, generator=torch.Generator().manual_seed(0)))
    shifted = torch.roll(picture, shifts=1, dims=2)
    other = torch.from_numpy(textured(320, 240, 2)).permute(2, 0, 1)
    frames = torch.stack([picture, noisy.clamp(0, 255).to(torch.uint8), shifted, other])
    hashes = FrameMeasures()(frames)["hash"].numpy()
    distances = hash_distances(hashes, hashes[0])
    assert hashes.shape == (4, 32) and distances[0] == 0
    assert distances[1] <= MAX_HASH_DISTANCE and distances[2] <= MAX_HASH_DISTANCE
    assert distances[3] > 4 * MAX_HASH_DISTANCE


INFO = VideoInfo(path="clip.mp4", width=64, height=48, coded_width=64, coded_height=48, rotation=0,
                 sample_aspect_ratio=1.0, fps=FPS, frame_count=0, frame_count_exact=False, duration=0.0,
                 codec="h264", variable_frame_rate=False)


def hand_built(values, hashes, cut=None):
    n = len(values)
    change = np.zeros(n, np.float32)
    if cut is not None:
        change[cut] = 1.0
    return ScoreCurve(times=np.arange(n) / FPS, indices=np.arange(n), raw=np.asarray(values, float),
                      luma_mean=np.full(n, 0.5, np.float32), luma_std=np.full(n, 0.2, np.float32), change=change,
                      video=INFO, model={"name": "test"}, sampling={}, hashes=np.asarray(hashes, np.uint8))


def random_hashes(count, seed, frames_each=1):
    hashes = np.random.default_rng(seed).integers(0, 256, (count // frames_each + 1, 32), dtype=np.uint8)
    return np.repeat(hashes, frames_each, axis=0)[:count]


def test_the_best_copy_is_kept_and_where_the_picture_recurs_is_listed():
    """Two shots whose bumps show the same pictures, the second a little weaker."""
    bump = np.sin(np.linspace(0, np.pi, 40))
    values = np.concatenate([np.zeros(5), bump, np.zeros(10), 0.9 * bump, np.zeros(5)])
    hashes = random_hashes(len(values), 0)
    hashes[55:95] = hashes[5:45]
    curve = hand_built(values, hashes, cut=50)
    assert curve.repeats == {1: 0}
    first, second = choose_spots(curve, top=2, min_gap=1.0).spots
    assert first.time == pytest.approx(2.45, abs=0.06) and first.duplicates_skipped == 1
    assert [(duplicate.time, duplicate.shot) for duplicate in first.duplicates] == [(pytest.approx(first.time + 5), 1)]
    assert hash_distances(hashes[second.frame_index], hashes[first.frame_index]) > MAX_HASH_DISTANCE
    assert choose_spots(curve, top=2, min_gap=1.0, max_similarity=None).spots[1].time == pytest.approx(
        first.time + 5.0)  # without the check, the copy
    assert [spot.time for spot in choose_spots(curve).spots] == [first.time]  # the repeated shot counts once


def test_embeddings_that_call_different_pictures_alike_are_not_used():
    frames = np.arange(30)
    values = np.where(frames <= 15, 1.0 - (15 - frames) / 15, 1.0 - (frames - 15) / 3)  # falls faster after 15
    curve = hand_built(values, random_hashes(30, 1))
    alike = {frame: np.ones(8) + 0.01 * frame for frame in range(10, 16)}
    apart = {frame: np.eye(8)[frame - 10] for frame in range(10, 16)}
    assert confusion(curve.hashes[10:16], np.stack(list(alike.values())), 0.95) == 1.0
    assert confusion(curve.hashes[10:16], np.stack(list(apart.values())), 0.95) == 0.0
    ignored = choose_spots(curve, top=3, min_gap=0.0, embeddings=alike)
    assert [spot.frame_index for spot in ignored.spots] == [15, 14, 13] and ignored.embeddings_confused == 1.0
    near = {**apart, 14: apart[15] + 0.01}  # frame 14 is another picture that the embedding calls alike
    used = choose_spots(curve, top=3, min_gap=0.0, embeddings=near)
    assert [spot.frame_index for spot in used.spots] == [15, 13, 12] and used.embeddings_confused is None


def flipped(hash_, bits):
    """``hash_`` with its first ``bits`` bits flipped."""
    mask = np.packbits(np.arange(hash_.size * 8) < bits)
    return np.bitwise_xor(hash_, mask)


def test_the_same_picture_is_within_twenty_bits_and_clearly_different_beyond_forty():
    one = random_hashes(1, 3)[0]
    assert [bool(same_picture(flipped(one, bits)[None], one)[0]) for bits in (0, 20, 21)] == [True, True, False]
    at_60_degrees = np.array([[10.0, 0.0], [5.0, 5.0 * np.sqrt(3)]])  # cosine 0.5, norms 10
    assert confusion(np.stack([one, flipped(one, 41)]), at_60_degrees, 0.95) == 0.0
    assert confusion(np.stack([one, flipped(one, 41)]), at_60_degrees, 0.4) == 1.0
    assert confusion(np.stack([one, flipped(one, 41)]), at_60_degrees, 0.5) == 0.0  # alike means above the limit
    assert confusion(np.stack([one, flipped(one, 40)]), at_60_degrees, 0.4) == 0.0  # not clearly different
    assert confusion(np.stack([one, one]), at_60_degrees, -1.0) == 0.0  # no different pictures: nothing to judge


def test_a_shot_repeats_an_earlier_one_when_most_of_three_probes_show_its_pictures():
    """The probes are a shot's first, middle and last pickable frames."""
    shots = np.repeat([0, 1, 2], 10)
    hashes = random_hashes(30, 4)
    hashes[10], hashes[19] = hashes[2], hashes[7]  # shot 1's first and last frames show shot 0's pictures
    pickable = shots != 2  # shot 2 has no frame that may be picked
    assert repeated_shots(hashes, shots, pickable) == {1: 0}
    hashes[19] = random_hashes(1, 5)[0]  # now one probe of three
    assert repeated_shots(hashes, shots, pickable) == {}
    assert repeated_shots(None, shots, pickable) == {}
