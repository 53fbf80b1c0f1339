"""The never-pick rules at their limits, on hand-built curves.

The numbers are the documented behaviour (recorded in ``spots.json`` under
``never_picked``), so a changed limit fails here on purpose.
"""

import numpy as np
import pytest

from vidaesthetic import ScoreCurve, VideoInfo
from vidaesthetic.curve import shots as rules
from vidaesthetic.curve.shots import blank_frames, blurred_frames, classify_frames, cut_frames, rejected_shots, shot_ids

FPS = 25
INFO = VideoInfo(path="clip.mp4", width=64, height=48, coded_width=64, coded_height=48, rotation=0,
                 sample_aspect_ratio=1.0, fps=FPS, frame_count=0, frame_count_exact=False, duration=0.0,
                 codec="h264", variable_frame_rate=False)


def curve_of(times, luma_mean=0.5, luma_std=0.2, sharpness=1.0, change=0.0):
    """A curve whose measurements are constants unless given per frame."""
    times = np.asarray(times, float)
    n = len(times)

    def column(value):
        return np.broadcast_to(np.asarray(value, np.float32), (n,)).copy()

    return ScoreCurve(times=times, indices=np.arange(n), raw=np.ones(n), luma_mean=column(luma_mean),
                      luma_std=column(luma_std), sharpness=column(sharpness), change=column(change), video=INFO,
                      model={"name": "test"}, sampling={})


def seconds(length, start=0.0):
    return start + np.arange(round(length * FPS)) / FPS


@pytest.mark.parametrize("luma_mean, luma_std, blank", [
    (0.02, 0.2, True), (0.04, 0.2, False), (0.98, 0.2, True), (0.96, 0.2, False), (0.5, 0.015, True), (0.5, 0.025, False),
])
def test_blank_means_nearly_black_white_or_uniform(luma_mean, luma_std, blank):
    assert blank_frames(curve_of(seconds(1), luma_mean=luma_mean, luma_std=luma_std)).all() == blank


def reasons(curve):
    return classify_frames(curve).reasons


@pytest.mark.parametrize("share, blurred", [(0.14, True), (0.16, False)])
def test_blur_is_judged_against_the_sharp_frames_of_the_same_shot(share, blurred):
    sharpness = np.ones(2 * FPS)
    sharpness[FPS:FPS + 5] = share
    curve = curve_of(seconds(2), sharpness=sharpness)
    assert blurred_frames(curve, shot_ids(curve))[FPS:FPS + 5].all() == blurred
    assert (reasons(curve)[FPS:FPS + 5] == "blur").all() == blurred


@pytest.mark.parametrize("share", [0.05, 0.5])
def test_a_whole_shot_is_never_rejected_for_being_softer_than_another(share):
    """A hazy sky after a sharp street is a picture: blur is judged within a shot only."""
    change = np.zeros(4 * FPS)
    change[2 * FPS] = 1.0  # a cut between a sharp shot and an evenly soft one
    sharpness = np.where(np.arange(4 * FPS) < 2 * FPS, 1.0, share)
    curve = curve_of(seconds(4), sharpness=sharpness, change=change)
    assert not curve.defective.any()
    assert rejected_shots(curve) == []


def test_a_shot_with_no_usable_frame_is_listed_with_why():
    """Shots rejected whole are rare: spots.json lists each with its reasons."""
    layout = [(50, 0.5), (10, 0.0), (5, 0.5), (10, 0.0), (50, 0.5)]  # 2 s, black, a 0.16 s flash, black, 2 s
    luma = np.concatenate([np.full(count, level) for count, level in layout])
    curve = curve_of(np.arange(len(luma)) / FPS, luma_mean=luma)
    assert rejected_shots(curve) == [{"shot": 1, "start": 60 / FPS, "end": 64 / FPS, "reasons": ["flash"]}]


@pytest.mark.parametrize("jump, cut", [(0.08, False), (0.12, True)])
def test_a_cut_is_a_change_above_the_threshold(jump, cut):
    change = np.zeros(2 * FPS)
    change[FPS] = jump
    assert cut_frames(curve_of(seconds(2), change=change))[FPS] == cut


@pytest.mark.parametrize("jump, cut", [(0.29, False), (0.31, True)])
def test_a_cut_stands_out_three_times_above_the_motion_around_it(jump, cut):
    """A shaky camera changes every frame a lot: only a spike over that is a cut."""
    change = np.full(2 * FPS, 0.1)
    change[FPS] = jump
    assert cut_frames(curve_of(seconds(2), change=change))[FPS] == cut


@pytest.mark.parametrize("gap, cut", [(0.2, True), (0.3, False)])
def test_cuts_are_judged_only_between_frames_scored_close_together(gap, cut):
    times = np.concatenate([seconds(1), 1 - 1 / FPS + gap + seconds(1)])
    change = np.zeros(len(times))
    change[FPS] = 1.0
    assert cut_frames(curve_of(times, change=change))[FPS] == cut


def test_frames_within_the_margin_of_a_cut_or_an_end_are_margins():
    change = np.zeros(4 * FPS)
    change[2 * FPS] = 1.0
    curve = curve_of(seconds(4), change=change)
    why = reasons(curve)
    distance = np.abs(curve.times - 2.0)
    assert (why[distance < 0.19] == "cut").all()  # 0.2 s either side
    edge = (curve.times < 0.39) | (curve.times > 3.96 - 0.39)  # a tenth of a clip shorter than 5 s
    assert (why[edge] == "edge").all()
    assert (why[(distance > 0.21) & ~edge & (curve.times > 0.4) & (curve.times < 3.56)] == "").all()
    assert not curve.defective.any() and not curve.pickable[edge | (distance < 0.19)].any()


def test_the_edge_margin_is_half_a_second_on_longer_clips():
    curve = curve_of(seconds(20))
    why = reasons(curve)
    assert (why[curve.times < 0.5] == "edge").all() and (why[curve.times > 19.96 - 0.5] == "edge").all()
    assert (why[(curve.times >= 0.5) & (curve.times <= 19.46)] == "").all()


@pytest.mark.parametrize("share, fading", [(0.5, True), (0.7, False)])
def test_a_fade_is_contrast_well_below_the_shot_typical(share, fading):
    luma_std = np.full(2 * FPS, 0.2)
    luma_std[:5] = 0.2 * share
    curve = curve_of(seconds(2), luma_std=luma_std)
    assert (reasons(curve)[:5] == "fade").all() == fading  # a defect outranks the edge margin


@pytest.mark.parametrize("length, flash", [(0.4, True), (0.65, False)])
def test_a_shot_shorter_than_the_minimum_next_to_a_longer_one_is_a_flash(length, flash):
    times = np.concatenate([seconds(3), seconds(length, start=3.0)])
    change = np.zeros(len(times))
    change[3 * FPS] = 1.0
    curve = curve_of(times, change=change)
    away_from_cut = np.abs(curve.times - 3.0) > 0.21
    assert (reasons(curve)[(curve.times >= 3.0) & away_from_cut] == "flash").all() == flash


@pytest.mark.parametrize("luma_mean, luma_std", [(0.03, 0.2), (0.97, 0.2), (0.5, 0.02)])
def test_a_frame_exactly_at_a_blank_limit_is_not_blank(luma_mean, luma_std):
    assert not blank_frames(curve_of(seconds(1), luma_mean=luma_mean, luma_std=luma_std)).any()


def test_a_few_very_sharp_frames_do_not_make_the_rest_of_the_video_blurred():
    """Sharpness is judged against the 90th percentile, so up to a tenth of outliers change nothing."""
    sharpness = np.where(np.arange(100) < 90, 1.0, 10.0)
    curve = curve_of(seconds(4), sharpness=sharpness)
    assert not blurred_frames(curve, shot_ids(curve)).any()


def test_frames_a_quarter_second_apart_are_still_judged_for_cuts():
    times = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    assert cut_frames(curve_of(times, change=[0, 0, 1, 0, 0]))[2]


@pytest.mark.parametrize("frames, flash", [(13, True), (14, False), (1, True)])
def test_flash_length_counts_from_first_to_last_frame(frames, flash):
    """13 frames at 25 fps last 0.48 s, 14 last 0.52 s; one frame between black frames is a flash too."""
    layout = [(75, 0.5), (5, 0.0), (frames, 0.5), (5, 0.0), (25, 0.5)]  # 3 s shot, black, short shot, black, 1 s
    luma = np.concatenate([np.full(count, level) for count, level in layout])
    curve = curve_of(np.arange(len(luma)) / FPS, luma_mean=luma)
    short = slice(80, 80 + frames)
    assert (reasons(curve)[short] == "flash").all() == flash


def test_edges_are_measured_from_the_first_frame_wherever_the_video_starts():
    """A 4 s clip starting at 1000 s: its margins are its first and last tenth, not 0.5 s from 1000 s."""
    curve = curve_of(seconds(4, start=1000.0))
    edge = reasons(curve) == "edge"
    assert edge[curve.times < 1000.39].all() and not edge[(curve.times > 1000.41) & (curve.times < 1003.5)].any()


def test_the_typical_change_is_the_median_of_five_frames_either_side():
    """Checked against the rule written out frame by frame, on changes where the window decides."""
    rng = np.random.default_rng(7)
    change = rng.uniform(0.0, 0.2, 400)
    change[rng.choice(400, 80, replace=False)] = rng.uniform(0.2, 0.6, 80)
    padded = np.pad(change, 5, mode="edge")
    typical = np.array([np.median(padded[i:i + 11]) for i in range(len(change))])
    expected = (change > 0.1) & (change > 3 * typical)
    curve = curve_of(seconds(16), change=change)
    curve.change = change  # float64, as written here
    assert expected.sum() > 10 and (cut_frames(curve) == expected).all()


@pytest.mark.parametrize("level, jump", [(0.0, rules.CUT_CHANGE), (0.125, 0.375)])
def test_a_change_exactly_at_a_cut_limit_is_not_a_cut(level, jump):
    change = np.full(2 * FPS, level)
    change[FPS] = jump
    curve = curve_of(seconds(2))
    curve.change = change
    assert not cut_frames(curve)[FPS]


def test_a_frame_exactly_at_the_fade_or_blur_limit_is_kept():
    luma_std, sharpness = np.full(2 * FPS, 0.2, np.float32), np.ones(2 * FPS, np.float32)
    luma_std[FPS] = rules.FADE_RATIO * np.float32(0.2)
    sharpness[FPS + 5] = rules.BLUR_RATIO * np.float32(1.0)
    assert (reasons(curve_of(seconds(2), luma_std=luma_std, sharpness=sharpness))[[FPS, FPS + 5]] == "").all()


def test_margins_include_frames_exactly_at_a_cut_margin_and_exclude_those_exactly_at_an_edge_margin():
    """At 20 frames a second the times below are exact: 0.45 s is 0.2 s after the cut at 0.25 s;
    0.5 s and 19.45 s are 0.5 s from the ends of a 19.95 s clip."""
    times = np.arange(400) / 20
    change = np.zeros(len(times))
    change[5] = 1.0
    why = reasons(curve_of(times, change=change))
    assert list(why[[9, 10, 11, 389, 390]]) == ["cut", "", "", "", "edge"]


def test_one_frame_and_no_frame_are_classified():
    one = classify_frames(curve_of([3.0]))
    assert one.shots.tolist() == [0] and one.reasons.tolist() == [""]
    none = classify_frames(curve_of([]))
    assert none.shots.shape == (0,) and none.reasons.shape == (0,)


def test_a_first_shot_with_no_usable_frame_is_listed_too():
    layout = [(5, 0.5), (10, 0.0), (75, 0.5)]  # a 0.16 s flash, black, a 3 s shot
    luma = np.concatenate([np.full(count, level) for count, level in layout])
    curve = curve_of(np.arange(len(luma)) / FPS, luma_mean=luma)
    assert rejected_shots(curve) == [{"shot": 0, "start": 0.0, "end": 4 / FPS, "reasons": ["flash"]}]


@pytest.mark.parametrize("step", [1 / FPS, 0.5])
def test_a_shot_counts_as_long_as_it_is_shown_however_sparsely_it_was_scored(step):
    """The automatic count reads each shot's length from the time every frame stands for (half the gap to
    each neighbour), so fast mode's coarse frames count a shot as dense frames do."""
    from dataclasses import replace

    from vidaesthetic.curve.spots import automatic_count

    times = np.arange(0.0, 24.0, step)
    curve = replace(curve_of(times), change=None, cuts=np.array([2.0, 12.25]))  # shots of 2, 10.25 and 11.75 s
    assert len(np.unique(curve.shots)) == 3
    # 2 s: 1.3 s pickable (edge and cut margins) is usable; over 10 s: two spots each (from first to last
    # frame, the sparse 10.25 s shot would look 10 s long: one spot).
    assert automatic_count(curve) == 5
    short = replace(curve_of(times), change=None, cuts=np.array([1.0, 14.0]))  # 1 s: 0.3 s pickable, not usable
    assert automatic_count(short) == 3


def test_cut_times_start_shots_at_the_first_frame_at_or_after_each():
    """Cuts found on more frames than were scored (fast mode): each starts a shot at the first scored frame at or
    after it; a cut before the first frame or after the last starts none."""
    from dataclasses import replace

    times = np.arange(10) * 0.5
    curve = replace(curve_of(times), change=None)
    starts = lambda cuts: np.flatnonzero(cut_frames(replace(curve, cuts=np.asarray(cuts, float)))).tolist()
    assert starts([0.5]) == [1]  # exactly on the second frame
    assert starts([0.5 + 1e-9]) == [1]  # a rounding error after it
    assert starts([0.6, 2.0]) == [2, 4]  # between frames: the next one
    assert starts([-1.0, 0.0, 4.6, 9.0]) == []  # before or on the first frame, after the last
    assert starts([]) == [] and not cut_frames(curve).any()
