"""Content that recurs gives one spot per distinct moment, whichever model and mode."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from vidaesthetic import ScoreCurve, SpotSettings, VideoInfo, choose_spots, extract_spots, load_model, score_video
from vidaesthetic.curve.duplicates import MAX_HASH_DISTANCE, confusion, hash_distances
from vidaesthetic.curve.framestats import FrameMeasures
from vidaesthetic.models.slim_resnet import AestheticResNet
from vidaesthetic.output.folder import SCORES_FILE

from media import panning_shots, repeat_video, textured, write_video

FPS = 10
SHOT_SECONDS = 2.4
SEEDS = (1, 2, 3)
PERIOD = len(SEEDS) * SHOT_SECONDS


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {"baseline": load_model("baseline"), "resnet50": AestheticResNet(depth=50)}


@pytest.fixture(scope="module")
def looped(tmp_path_factory):
    """One encoded segment of three panning shots, and the same packets three times over."""
    folder = tmp_path_factory.mktemp("looped")
    segment = write_video(folder / "segment.mp4", panning_shots(SEEDS, SHOT_SECONDS, FPS), fps=FPS)
    return segment, repeat_video(segment, folder / "looped.mp4", 3)


def spot_times(video, out_dir, model, **settings):
    document = extract_spots(video, out_dir, model, SpotSettings(progress=False, **settings))
    return document, [spot["time"] for spot in document["spots"]]


def phase_distances(times, others):
    """Distances between each of ``times`` and each of ``others`` once whole periods are taken away."""
    distances = np.abs(np.mod(np.asarray(times)[:, None] - np.asarray(others)[None], PERIOD))
    return np.minimum(distances, PERIOD - distances)


def closest_pair(times):
    distances = phase_distances(times, times)
    return distances[np.triu_indices(len(times), k=1)].min() if len(times) > 1 else np.inf


@pytest.mark.parametrize("fast", [False, True], ids=["dense", "fast"])
@pytest.mark.parametrize("name", ["baseline", "resnet50"])
def test_a_loop_gives_each_moment_once(looped, models, tmp_path, name, fast):
    segment, loop = looped
    document, times = spot_times(loop, tmp_path / "loop", models[name], fast=fast)
    assert closest_pair(times) > 1.01 / FPS, times
    assert len(times) == len(SEEDS)
    if not fast:  # fast mode sees no cuts yet: the segment alone is one 7 s shot, with one spot
        assert len(spot_times(segment, tmp_path / "once", models[name])[1]) == len(SEEDS)
        for spot in document["spots"]:  # each spot's copies in the other two loops are accounted for
            copies = [duplicate["time"] for duplicate in spot["duplicates"]]
            assert len(copies) == 2 and (phase_distances([spot["time"]], copies) < 1.01 / FPS).all()
        skipped = [spot["duplicates_skipped"] for spot in document["spots"]]
        assert document["selection"]["duplicates"]["candidates_skipped"] == sum(skipped) > 0
        assert [entry["repeats"] for entry in document["selection"]["duplicates"]["repeated_shots"]] == [0, 1, 2] * 2


@pytest.mark.parametrize("fast", [False, True], ids=["dense", "fast"])
@pytest.mark.parametrize("name", ["baseline", "resnet50"])
def test_a_count_beyond_the_distinct_pictures_falls_back_to_them(tmp_path, models, name, fast):
    """Three still pictures shown three times: asked for nine spots, a user gets the three pictures."""
    stills = [textured(96, 64, seed) for seed in SEEDS]
    segment = write_video(tmp_path / "stills.mp4", (still for still in stills for _ in range(20)), fps=FPS)
    loop = repeat_video(segment, tmp_path / "looped.mp4", 3)
    document, times = spot_times(loop, tmp_path / "out", models[name], fast=fast, top=9)
    pictures = [int(np.mod(time, 6.0) // 2.0) for time in times]
    assert len(set(pictures)) == len(pictures), times  # never one picture twice
    # Fast mode sees no cuts yet: a still scored below its neighbours lies on a slope, never a peak.
    assert sorted(pictures) == [0, 1, 2] or fast and len(pictures) == 2
    assert document["selection"]["shortfall"].startswith(f"{len(times)} of 9")


def test_copies_are_kept_when_the_check_is_off(looped, models, tmp_path):
    _, loop = looped
    _, times = spot_times(loop, tmp_path, models["baseline"], top=6, max_similarity=None)
    assert len(times) == 6 and closest_pair(times) < 1.01 / FPS


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


def test_scores_saved_without_hashes_are_scored_again(looped, models, tmp_path):
    segment, _ = looped
    curve = score_video(segment, models["baseline"])
    assert curve.hashes.shape == (len(curve), 32)
    cache = tmp_path / SCORES_FILE
    cache.write_text(json.dumps(replace(curve, hashes=None).to_dict()))
    assert ScoreCurve.load(cache).hashes is None
    assert (score_video(segment, models["baseline"], cache=cache).hashes == curve.hashes).all()
    saved = curve.to_dict()
    saved["frames"]["raw"][0] = -1.0  # marks the saved curve, to show it is the one reused
    cache.write_text(json.dumps(saved))
    reused = score_video(segment, models["baseline"], cache=cache)
    assert reused.raw[0] == -1.0 and (reused.hashes == curve.hashes).all()
