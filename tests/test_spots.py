import numpy as np
import pytest

from vidaesthetic import ScoreCurve, VideoInfo, find_spots

INFO = VideoInfo(path="clip.mp4", width=64, height=48, coded_width=64, coded_height=48, rotation=0,
                 sample_aspect_ratio=1.0, fps=25.0, frame_count=0, frame_count_exact=False, duration=0.0,
                 codec="h264", variable_frame_rate=False)


def curve_of(times, values, luma_mean=None, raw=None):
    n = len(times)
    return ScoreCurve(
        times=np.asarray(times, float), indices=np.arange(n), raw=np.asarray(raw if raw is not None else values, float),
        luma_mean=np.full(n, 0.5, np.float32) if luma_mean is None else np.asarray(luma_mean, np.float32),
        luma_std=np.full(n, 0.2, np.float32), video=INFO, model={"name": "test"}, sampling={},
        smoothed=np.asarray(values, float),
    )


def bumps(times, centres, heights, width=0.5):
    return sum(h * np.exp(-((times - c) ** 2) / (2 * width**2)) for c, h in zip(centres, heights))


TIMES = np.arange(0, 30, 1 / 25)


def test_peaks_are_found_and_ranked_by_score():
    spots = find_spots(curve_of(TIMES, bumps(TIMES, [5, 12, 20], [0.6, 1.0, 0.8])), top=3)
    assert [round(s.time) for s in spots] == [12, 20, 5]
    assert [s.rank for s in spots] == [1, 2, 3]
    assert spots[0].timecode == "00:00:12.000"
    assert spots[0].prominence == pytest.approx(1.0, abs=0.02)


def test_top_limits_and_min_gap_separates():
    values = bumps(TIMES, [5, 6, 20], [1.0, 0.95, 0.5], width=0.2)
    assert len(find_spots(curve_of(TIMES, values), top=1)) == 1
    spaced = find_spots(curve_of(TIMES, values), top=3, min_gap=2.0)
    assert sorted(round(s.time) for s in spaced) == [5, 20]
    close = find_spots(curve_of(TIMES, values), top=3, min_gap=0.5)
    assert sorted(round(s.time) for s in close) == [5, 6, 20]


def test_small_wiggles_are_not_spots():
    values = bumps(TIMES, [15], [1.0], width=3) + 0.01 * np.sin(TIMES * 9)
    spots = find_spots(curve_of(TIMES, values), top=5)
    assert len(spots) == 1 and abs(spots[0].time - 15) < 0.3


def test_black_frames_are_never_picked_even_when_the_model_loves_them():
    values = bumps(TIMES, [10, 20], [1.0, 0.5])
    luma = np.where(np.abs(TIMES - 10) < 2, 0.0, 0.5)
    spots = find_spots(curve_of(TIMES, values, luma_mean=luma), top=3)
    assert spots and all(abs(s.time - 10) >= 2 for s in spots)


def test_frame_is_the_best_raw_one_near_the_peak():
    values = bumps(TIMES, [10], [1.0], width=1.0)
    raw = values.copy()
    raw[np.argmin(np.abs(TIMES - 10.12))] = 5.0
    spots = find_spots(curve_of(TIMES, values, raw=raw), top=1)
    assert spots[0].time == pytest.approx(10.12) and spots[0].raw_score == 5.0


def test_a_maximum_at_the_start_is_a_spot_and_automatic_count_scales_with_length():
    rising = curve_of(TIMES, np.linspace(1, 0, len(TIMES)))
    assert find_spots(rising)[0].time == 0.0
    many = bumps(TIMES, np.arange(2, 30, 3), np.linspace(1, 0.5, 10), width=0.4)
    assert len(find_spots(curve_of(TIMES, many))) == 3  # 30 s at one spot per 10 s


def test_no_usable_frame_means_no_spots():
    assert find_spots(curve_of(TIMES, np.ones(len(TIMES)), luma_mean=np.zeros(len(TIMES)))) == []
