"""Content that recurs gives one spot per distinct moment, whichever model and mode: generated loops."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from media import panning_shots, repeat_video, textured, write_video
from vidaesthetic import ScoreCurve, SpotSettings, extract_spots, load_model, score_video
from vidaesthetic.models.slim_resnet import AestheticResNet
from vidaesthetic.output.folder import SCORES_FILE

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


SPARSE_REPEATS = pytest.mark.xfail(strict=True, reason=(
    "fast mode finds repeated shots among the frames it scored only; in a panning loop its frames rarely "
    "land on the same picture twice, so a copy can count as a shot of its own"))


@pytest.mark.parametrize("name, fast", [("baseline", False), ("baseline", True), ("resnet50", False),
                                        pytest.param("resnet50", True, marks=SPARSE_REPEATS)],
                         ids=["baseline-dense", "baseline-fast", "resnet50-dense", "resnet50-fast"])
def test_a_loop_gives_each_moment_once(looped, models, tmp_path, name, fast):
    segment, loop = looped
    document, times = spot_times(loop, tmp_path / "loop", models[name], fast=fast)
    assert closest_pair(times) > 1.01 / FPS, times
    assert len(times) == len(SEEDS)
    assert len(spot_times(segment, tmp_path / "once", models[name], fast=fast)[1]) == len(SEEDS)
    # Each spot's copies in the other two loops are accounted for; fast mode knows only the frames it scored.
    for spot in document["spots"]:
        copies = [duplicate["time"] for duplicate in spot["duplicates"]]
        assert len(copies) == 2 or fast and len(copies) <= 2
        assert (phase_distances([spot["time"]], copies) < 1.01 / FPS).all()
    skipped = [spot["duplicates_skipped"] for spot in document["spots"]]
    assert document["selection"]["duplicates"]["candidates_skipped"] == sum(skipped) > 0
    repeated = document["selection"]["duplicates"]["repeated_shots"]
    assert all(entry["shot"] % 3 == entry["repeats"] % 3 for entry in repeated)  # never a false repeat
    assert [entry["repeats"] for entry in repeated] == [0, 1, 2] * 2 or fast


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
    assert sorted(pictures) == [0, 1, 2]
    assert document["selection"]["shortfall"].startswith(f"{len(times)} of 9")


def test_copies_are_kept_when_the_check_is_off(looped, models, tmp_path):
    _, loop = looped
    _, times = spot_times(loop, tmp_path, models["baseline"], top=6, max_similarity=None)
    assert len(times) == 6 and closest_pair(times) < 1.01 / FPS


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
