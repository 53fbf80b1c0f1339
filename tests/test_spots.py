import numpy as np
import pytest

from vidaesthetic import ScoreCurve, VideoInfo, find_spots
from vidaesthetic.curve.spots import automatic_count, choose_spots, selection_parameters

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
    spaced = find_spots(curve_of(TIMES, values), top=2, min_gap=2.0)
    assert sorted(round(s.time) for s in spaced) == [5, 20]
    close = find_spots(curve_of(TIMES, values), top=3, min_gap=0.5)
    assert sorted(round(s.time) for s in close) == [5, 6, 20]


def test_an_explicit_count_is_honoured_when_the_peaks_run_out():
    """Three spots asked, two peaks far enough apart: the best frame elsewhere fills the count, and the
    record says so; the gap still holds."""
    values = bumps(TIMES, [5, 6, 20], [1.0, 0.95, 0.5], width=1.0)
    selection = choose_spots(curve_of(TIMES, values), top=3, min_gap=2.0)
    times = sorted(spot.time for spot in selection.spots)
    assert len(times) == 3 and min(np.diff(times)) >= 2.0
    assert selection.relaxed == ["frames other than peaks taken"] and selection.shortfall is None


def test_small_wiggles_are_not_spots():
    values = bumps(TIMES, [15], [1.0], width=3) + 0.01 * np.sin(TIMES * 9)
    spots = find_spots(curve_of(TIMES, values))
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


def test_a_maximum_at_the_start_gives_a_spot_just_after_the_edge_and_automatic_count_scales_with_length():
    falling = curve_of(TIMES, np.linspace(1, 0, len(TIMES)))
    assert find_spots(falling)[0].time == pytest.approx(0.52)  # the first frame past the half-second edge margin
    many = bumps(TIMES, np.arange(2, 30, 3), np.linspace(1, 0.5, 10), width=0.4)
    assert len(find_spots(curve_of(TIMES, many))) == 3  # 30 s at one spot per 10 s


def test_no_usable_frame_means_no_spots():
    assert find_spots(curve_of(TIMES, np.ones(len(TIMES)), luma_mean=np.zeros(len(TIMES)))) == []


def test_automatic_count_takes_only_clearly_prominent_peaks():
    """Without --top, a peak must rise twice the minimum prominence; with --top, once is enough."""
    clear, weak = 2.5 * 0.05, 1.5 * 0.05  # above twice the minimum prominence; between once and twice
    values = bumps(TIMES, [8, 15, 22], [1.0, clear, weak], width=0.4)
    assert [round(s.time) for s in find_spots(curve_of(TIMES, values))] == [8, 15]
    assert [round(s.time) for s in find_spots(curve_of(TIMES, values), top=3)] == [8, 15, 22]


@pytest.mark.parametrize("per_shot", [1, 2, 3])
def test_per_shot_limit_is_exact(per_shot):
    """Peaks far apart in one shot: the per-shot limit alone decides how many are kept."""
    values = bumps(TIMES, [4, 12, 20, 27], [1.0, 0.9, 0.8, 0.7], width=0.4)
    spots = find_spots(curve_of(TIMES, values), top=4, per_shot=per_shot)
    assert [round(s.time) for s in spots] == [4, 12, 20, 27][:per_shot]
    assert {s.shot for s in spots} == {0}


def test_default_min_gap_is_two_seconds():
    values = bumps(TIMES, [10, 11.5, 14], [1.0, 0.9, 0.8], width=0.2)
    assert sorted(round(s.time, 1) for s in find_spots(curve_of(TIMES, values), top=2)) == [10.0, 14.0]


def test_the_best_raw_frame_is_searched_only_a_quarter_second_around_the_peak():
    values = bumps(TIMES, [10], [1.0], width=1.0)
    raw = values.copy()
    raw[np.argmin(np.abs(TIMES - 10.4))] = 5.0  # a spike outside the window does not move the spot
    assert find_spots(curve_of(TIMES, values, raw=raw), top=1)[0].time == pytest.approx(10.0)


def test_a_short_clip_gets_one_spot_and_a_long_one_at_most_fifty():
    short = np.arange(0, 8, 1 / 25)
    assert len(find_spots(curve_of(short, bumps(short, [2, 6], [1.0, 0.9], width=0.3)), per_shot=0)) == 1
    long = np.arange(0, 700, 1.0)
    assert len(find_spots(curve_of(long, bumps(long, np.arange(5, 700, 10), np.linspace(1, 0.5, 70), width=2)))) == 50


def test_negative_settings_are_refused_and_zero_is_allowed():
    curve = curve_of(TIMES, bumps(TIMES, [10], [1.0]))
    for option in ("min_gap", "min_prominence", "refine_window", "per_shot"):
        with pytest.raises(ValueError, match="must not be negative"):
            find_spots(curve, top=1, **{option: -1})
        assert len(find_spots(curve, top=1, **{option: 0})) == 1
    with pytest.raises(ValueError, match="top must be at least 1"):
        find_spots(curve, top=0)


def test_black_frames_are_defective():
    luma = np.where(np.abs(TIMES - 10) < 2, 0.0, 0.5)
    curve = curve_of(TIMES, np.ones(len(TIMES)), luma_mean=luma)
    assert (curve.defective == (luma == 0)).all() and set(curve.reasons[luma == 0]) == {"blank"}


def test_near_duplicates_by_embedding_are_skipped_at_the_default_similarity():
    values = bumps(TIMES, [5, 15, 25], [1.0, 0.9, 0.8], width=0.4)
    curve = curve_of(TIMES, values)
    peaks = {round(t): int(np.argmin(np.abs(TIMES - t))) for t in (5, 15, 25)}
    base = np.array([1.0, 0.0, 0.0])
    embeddings = {peaks[5]: base, peaks[15]: np.array([1.0, 0.25, 0.0]), peaks[25]: np.array([0.0, 1.0, 0.0])}
    # cos(base, 15 s) = 0.970 > 0.95: skipped; 25 s is distinct.
    assert [round(s.time) for s in find_spots(curve, top=2, embeddings=embeddings)] == [5, 25]
    assert [round(s.time) for s in find_spots(curve, top=2, embeddings=embeddings, max_similarity=0.99)] == [5, 15]
    at_limit = {**embeddings, peaks[15]: np.array([0.6, 0.0, 0.8])}  # cosine 0.6 exactly: kept at a limit of 0.6
    assert [round(s.time) for s in find_spots(curve, top=2, embeddings=at_limit, max_similarity=0.6)] == [5, 15]
    del embeddings[peaks[25]]  # a candidate that could not be embedded is kept
    assert [round(s.time) for s in find_spots(curve, top=2, embeddings=embeddings)] == [5, 25]


def test_selection_record_says_how_the_count_was_chosen():
    curve = curve_of(TIMES, bumps(TIMES, [10], [1.0]))
    automatic = selection_parameters(curve, None, 2.0, 0.05, None, 0.95)
    assert automatic["automatic_count"]["limit"] == automatic_count(curve) == 3
    assert "0.1 of the curve's range" in automatic["automatic_count"]["rule"]
    assert automatic["shots"] == 1
    explicit = selection_parameters(curve, 4, 2.0, 0.05, 2, 0.95)
    assert explicit["automatic_count"] is None and explicit["top"] == 4 and explicit["per_shot"] == 2
    assert selection_parameters(curve_of([], []), 4, 2.0, 0.05, 2, 0.95)["shots"] == 0


def test_a_single_frame_is_its_own_spot_and_an_empty_curve_has_none():
    one = find_spots(curve_of([0.0], [0.7]))
    assert [(s.time, s.score) for s in one] == [(0.0, 0.7)]
    assert find_spots(curve_of([], [])) == []


def test_automatic_count_follows_the_length_not_the_start_time():
    late = TIMES[:25 * 25] + 1000.0  # 25 s of a video that starts at 1000 s
    curve = curve_of(late, bumps(late, [1003, 1010, 1017, 1023], [1.0, 0.9, 0.8, 0.7], width=0.4))
    assert automatic_count(curve) == 3 and len(find_spots(curve)) == 3


def test_a_dull_stretch_between_black_frames_is_no_peak_whatever_the_scores_scale():
    """Black frames are valleys; usable frames at the curve's minimum are valleys too, not islands."""
    values = 1e5 + bumps(TIMES, [8], [1.0])
    luma = np.where(((TIMES >= 14) & (TIMES < 16)) | ((TIMES >= 18) & (TIMES < 20)), 0.0, 0.5)
    assert [round(s.time) for s in find_spots(curve_of(TIMES, values, luma_mean=luma), top=1, min_prominence=0.0)] == [8]


def test_shots_are_worked_out_once_per_curve_and_travel_with_it(monkeypatch):
    from dataclasses import replace

    from vidaesthetic import plot_curve, smooth
    from vidaesthetic.curve import shots

    calls = []
    classify = shots.classify_frames
    monkeypatch.setattr(shots, "classify_frames", lambda curve: calls.append(curve) or classify(curve))
    luma = np.where(np.abs(TIMES - 10) < 2, 0.0, 0.5)
    curve = smooth(curve_of(TIMES, bumps(TIMES, [5, 20], [1.0, 0.8]), luma_mean=luma))
    find_spots(curve, top=6)
    spots = find_spots(curve, top=3)
    assert selection_parameters(curve, 3, 2.0, 0.05, None, 0.95)["shots"] == 2
    plot_curve(curve, spots)
    assert len(calls) == 1
    assert (curve.shots == shots.shot_ids(curve)).all() and (curve.defective == (luma == 0)).all()
    with pytest.raises(ValueError):
        curve.reasons[0] = ""  # shared by every stage: read-only
    other = replace(curve, luma_mean=np.full(len(TIMES), 0.5, np.float32))  # other frames: worked out again
    assert not other.defective.any() and len(calls) == 2


def test_spots_exactly_min_gap_apart_are_both_kept():
    quarters = np.arange(0, 30, 0.25)  # times exact in binary
    values = bumps(quarters, [10, 12], [1.0, 0.9], width=0.3)
    assert [s.time for s in find_spots(curve_of(quarters, values), top=2, min_gap=2.0)] == [10.0, 12.0]


@pytest.mark.parametrize("start", [0.0, 1000.0])
def test_a_shot_gets_one_spot_per_ten_seconds_unless_more_are_asked_for(start):
    """30 s of one shot gives 3, 5 s gives 1, wherever the shot starts; an explicit count lifts the limit first."""
    long, short = TIMES + start, TIMES[:125] + start
    many = bumps(long, start + np.arange(2, 30, 3), np.linspace(1, 0.5, 10), width=0.4)
    assert len(find_spots(curve_of(long, many))) == 3
    asked = choose_spots(curve_of(long, many), top=10)
    assert len(asked.spots) == 10 and asked.relaxed == ["per-shot limit lifted"]
    two = bumps(short, [start + 1.5, start + 4], [1.0, 0.9], width=0.3)
    assert len(find_spots(curve_of(short, two), min_gap=0.5)) == 1


def curve_with_shots(times, values, cuts=()):
    """A curve whose hard cuts are at ``cuts`` (seconds)."""
    curve = curve_of(times, values)
    change = np.zeros(len(times), np.float32)
    for cut in cuts:
        change[np.argmin(np.abs(times - cut))] = 1.0
    curve.change = change
    return curve


def test_a_shot_whose_peaks_are_too_close_to_a_better_spot_still_gets_one():
    """Automatic count: both shots are usable, so each gets a spot, away from the other's."""
    times = np.arange(0, 10, 1 / 25)
    values = np.where(times < 5, bumps(times, [4.6], [1.0], width=0.3), 0.5 + bumps(times, [5.6], [0.3], width=0.3))
    selection = choose_spots(curve_with_shots(times, values, cuts=[5.0]))
    assert sorted(spot.shot for spot in selection.spots) == [0, 1]
    assert abs(np.diff([spot.time for spot in selection.spots])[0]) >= 2.0
    assert selection.relaxed == ["best frames of shots without a spot taken"]


@pytest.mark.parametrize("usable, counted", [(0.8, False), (1.2, True)])
def test_a_shot_counts_in_the_automatic_count_with_a_second_of_usable_frames(usable, counted):
    """Usable span = the shot less 0.2 s after its cut (and the end's half second): 8 s + the last shot."""
    last = 0.2 + usable + 0.5
    times = np.arange(0, 8 + last, 1 / 25)
    curve = curve_with_shots(times, np.ones(len(times)), cuts=[8.0])
    assert automatic_count(curve) == 1 + counted


def test_a_flash_with_no_usable_frame_does_not_count():
    times = np.arange(0, 8, 1 / 25)
    curve = curve_with_shots(times, np.ones(len(times)), cuts=[3.0, 3.3])  # 0.3 s between two cuts
    assert automatic_count(curve) == 2


def test_an_explicit_count_lowers_the_gap_to_half_a_second_and_no_further():
    times = np.arange(0, 3, 1 / 25)
    selection = choose_spots(curve_of(times, bumps(times, [1.5], [1.0], width=1.0)), top=10)
    gaps = np.diff(sorted(spot.time for spot in selection.spots))
    assert gaps.min() >= 0.5 and gaps.min() < 1.0
    assert "min-gap lowered to 0.5 s" in selection.relaxed and selection.shortfall.startswith(
        f"{len(selection.spots)} of 10: ")


def test_a_count_takes_a_peak_among_the_weaker_frames_but_not_their_slopes():
    """One shot under 10 s (one spot before relaxing): the better half (up to 5 s) cannot hold 30 spots;
    the small bump at 9 s is a moment of the weaker half, its slopes are not."""
    times = np.arange(0, 9.9, 1 / 25)
    values = np.interp(times, [0, 1.5, 9.9], [1.0, 0.5, 0.0]) + bumps(times, [9], [0.1], width=0.2)
    selection = choose_spots(curve_of(times, values), top=30)
    assert "peaks of the weaker half taken" in selection.relaxed
    weak = [spot.time for spot in selection.spots if spot.time > 5.5]
    assert len(weak) == 1 and abs(weak[0] - 9) < 0.1


def test_a_count_takes_the_edges_last():
    times = np.arange(0, 1, 1 / 25)  # a 1 s clip: the edge margins are its first and last tenth of a second
    selection = choose_spots(curve_of(times, np.ones(len(times))), top=3, min_gap=0.3)
    assert selection.relaxed[-1] == "frames next to a cut or an end taken"
    assert any(spot.time < 0.1 or spot.time > 0.86 for spot in selection.spots)


def test_a_frame_without_an_embedding_is_compared_by_a_close_embedded_frame_of_its_shot():
    """Within a second, one shot shows much the same picture; further away it may not."""
    times = np.arange(0, 20, 1 / 25)
    at = lambda t: int(np.argmin(np.abs(times - t)))  # noqa: E731
    for second, kept in ((5.8, False), (6.5, True)):
        curve = curve_of(times, bumps(times, [5.0, second], [1.0, 0.9], width=0.15))
        spots = choose_spots(curve, top=2, min_gap=0.5, embeddings={at(5.0): np.array([1.0, 0.0])}).spots
        assert (any(abs(spot.time - second) < 0.1 for spot in spots)) == kept


def test_with_nothing_else_the_automatic_count_takes_an_edge():
    """Only the first and last half second show anything: the spot comes from an edge rather than none."""
    times = np.arange(0, 10, 1 / 25)
    luma = np.where((times < 0.48) | (times > 9.5), 0.5, 0.0)
    selection = choose_spots(curve_of(times, bumps(times, [0.2], [1.0]), luma_mean=luma))
    assert [round(spot.time, 1) for spot in selection.spots] == [0.2]
    assert selection.relaxed == ["frames next to a cut or an end taken"] and selection.shortfall is None


def test_prominence_is_a_share_of_the_usable_frames_range():
    """One 20 s shot may hold two spots; the second needs twice the minimum prominence (0.1 of the range).
    A bump of 0.14 on a range of 2 is 0.07: no second spot."""
    times = np.arange(0, 20, 1 / 25)
    assert len(find_spots(curve_of(times, bumps(times, [5, 12], [2.0, 0.14], width=0.4)))) == 1
    assert len(find_spots(curve_of(times, bumps(times, [5, 12], [2.0, 0.3], width=0.4)))) == 2


def test_the_scores_of_black_frames_do_not_shrink_the_range():
    """Black frames scored far below everything else: a clear second peak stays clear."""
    times = np.arange(0, 20, 1 / 25)
    black = (times >= 16) & (times < 18)
    values = np.where(black, -10.0, 0.5 + bumps(times, [5, 12], [1.0, 0.3], width=0.4))
    spots = find_spots(curve_of(times, values, luma_mean=np.where(black, 0.0, 0.5)))
    assert any(abs(spot.time - 12) < 0.3 for spot in spots)


def test_each_shots_best_peak_is_a_candidate_however_flat_the_shot():
    """A flat second shot still gets its spot in the first pass, nothing relaxed."""
    times = np.arange(0, 20, 1 / 25)
    values = np.where(times < 10, 0.5 + bumps(times, [5], [1.0], width=0.4), 0.001 * bumps(times, [15], [1.0]))
    selection = choose_spots(curve_with_shots(times, values, cuts=[10.0]))
    assert sorted(spot.shot for spot in selection.spots) == [0, 1] and selection.relaxed == []


def test_refining_a_peak_never_moves_it_into_a_margin():
    """The best raw frame near a peak just past the edge margin is searched among pickable frames only."""
    times = np.arange(0, 10, 1 / 25)
    values = bumps(times, [0.6], [1.0], width=0.3)
    raw = values.copy()
    raw[np.argmin(np.abs(times - 0.44))] = 5.0  # inside the first half second
    spot = find_spots(curve_of(times, values, raw=raw), top=1)[0]
    assert spot.time >= 0.5 and spot.raw_score < 5.0
