"""The curve figure says what it shows: spot labels, never-picked shading and the thumbnail strip."""

import numpy as np
import pytest

from vidaesthetic import ScoreCurve, VideoInfo, find_spots
from vidaesthetic.output.plot import plot_curve

INFO = VideoInfo(path="clip.mp4", width=64, height=48, coded_width=64, coded_height=48, rotation=0,
                 sample_aspect_ratio=1.0, fps=25.0, frame_count=500, frame_count_exact=True, duration=20.0,
                 codec="h264", variable_frame_rate=False)
TIMES = np.arange(0, 20, 1 / 25)


def curve_with_defects(black=(), blurred=()):
    """Three bumps (best in the middle) with black and blurred stretches given as (start, end) seconds."""
    def inside(spans):
        return np.any([(TIMES >= start) & (TIMES < end) for start, end in spans], axis=0) if spans else TIMES < 0

    scores = sum(h * np.exp(-((TIMES - c) ** 2) / 0.5) for c, h in ((3, 0.6), (10, 1.0), (17, 0.8)))
    n = len(TIMES)
    return ScoreCurve(
        times=TIMES, indices=np.arange(n), raw=scores, luma_mean=np.where(inside(black), 0.0, 0.5).astype(np.float32),
        luma_std=np.full(n, 0.2, np.float32), video=INFO, model={"name": "test"}, sampling={}, smoothed=scores,
        sharpness=np.where(inside(blurred), 0.01, 1.0).astype(np.float32), change=np.zeros(n, np.float32),
    )


def three_spots(curve):
    """No per-shot limit: the defect-free curve is one 20 s shot, which would allow only two."""
    return find_spots(curve, top=3, per_shot=0)


def seconds(timecode: str) -> float:
    hours, minutes, secs = timecode.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(secs)


def test_each_spot_is_labelled_with_its_rank_and_timecode_at_its_time():
    curve = curve_with_defects()
    spots = three_spots(curve)
    assert len(spots) == 3
    labels = plot_curve(curve, spots).axes[0].texts
    assert len(labels) == len(spots)
    for label, spot in zip(labels, spots):
        rank, timecode = label.get_text().split("\n")
        assert (rank, timecode) == (f"#{spot.rank}", spot.timecode)
        assert label.xy[0] == spot.time and seconds(timecode) == pytest.approx(spot.time, abs=5e-4)
        assert label.xy[1] == curve.values[spot.frame_index]


def shaded_frames(figure, label_start):
    """Which of TIMES lie under the figure's shading whose legend label starts with ``label_start``."""
    shading = [collection for collection in figure.axes[0].collections
               if collection.get_label().startswith(label_start)]
    spans = [(path.vertices[:, 0].min(), path.vertices[:, 0].max()) for collection in shading
             for path in collection.get_paths()]
    return np.array([any(low <= time <= high for low, high in spans) for time in TIMES])


def test_shading_covers_exactly_the_defective_frames_and_lighter_the_margins():
    curve = curve_with_defects(black=[(5, 7), (14, 15)], blurred=[(11, 12)])
    assert curve.defective.any() and not curve.defective.all()
    figure = plot_curve(curve, three_spots(curve))
    np.testing.assert_array_equal(shaded_frames(figure, "never picked"), curve.defective)
    margins = ~curve.pickable & ~curve.defective
    assert margins[:12].all()  # the first half second
    np.testing.assert_array_equal(shaded_frames(figure, "picked only if nothing else"), margins)


def test_a_curve_without_defects_shades_only_its_ends():
    curve = curve_with_defects()
    assert not curve.defective.any()
    figure = plot_curve(curve, three_spots(curve))
    assert not shaded_frames(figure, "never picked").any()
    np.testing.assert_array_equal(shaded_frames(figure, "picked only if nothing else"), (TIMES < 0.5) | (TIMES > 19.46))


def test_the_smoothed_line_has_gaps_where_the_smoother_skipped_frames():
    """Over skipped (defective) frames the smoothed curve is an interpolation: dotted, never a solid line."""
    curve = curve_with_defects(black=[(5, 7)], blurred=[(11, 12)])
    lines = {line.get_label(): line for line in plot_curve(curve).axes[0].get_lines()}
    solid, dotted = lines["smoothed"], lines["smoothed across skipped frames"]
    np.testing.assert_array_equal(np.isnan(solid.get_ydata()), curve.defective)
    assert dotted.get_linestyle() == ":" and not np.isnan(dotted.get_ydata()[curve.defective]).any()
    assert np.isnan(dotted.get_ydata()[(TIMES > 1) & (TIMES < 4)]).all()  # far from a gap: nothing dotted
    assert "smoothed across skipped frames" not in {
        line.get_label() for line in plot_curve(curve_with_defects()).axes[0].get_lines()}


def test_the_strip_shows_each_spots_own_thumbnail_in_time_order():
    curve = curve_with_defects()
    spots = three_spots(curve)
    by_time = sorted(spots, key=lambda spot: spot.time)
    assert [spot.rank for spot in by_time] != sorted(spot.rank for spot in spots)  # time order is not rank order
    thumbnails = [np.full((9, 16, 3), 50 * spot.rank, np.uint8) for spot in spots]
    figure = plot_curve(curve, spots, thumbnails=thumbnails)
    insets = figure.axes[1].child_axes
    assert len(insets) == len(spots)
    for inset, spot in zip(insets, by_time):
        (image,) = inset.images
        np.testing.assert_array_equal(image.get_array(), np.full((9, 16, 3), 50 * spot.rank, np.uint8))
        assert inset.get_title() == f"#{spot.rank}  {spot.timecode}"


def test_thumbnails_that_do_not_match_the_spots_are_left_out_rather_than_mislabelled():
    curve = curve_with_defects()
    spots = three_spots(curve)
    figure = plot_curve(curve, spots, thumbnails=[np.zeros((9, 16, 3), np.uint8)] * (len(spots) - 1))
    assert len(figure.axes) == 1
