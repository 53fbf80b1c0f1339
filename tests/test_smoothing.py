import numpy as np
import pytest

from vidaesthetic import ScoreCurve, VideoInfo, smooth
from vidaesthetic.curve.shots import FrameClasses
from vidaesthetic.curve.smoothing import CausalSmoother, kalman_smooth


def bump(times, centre=5.0, width=0.8):
    return np.exp(-((times - centre) ** 2) / (2 * width**2))


def test_rts_peak_does_not_lag_but_the_forward_filter_does():
    times = np.arange(0, 10, 1 / 30)
    values = bump(times)
    smoothed = kalman_smooth(times, values, 1.0)
    forward = kalman_smooth(times, values, 1.0, causal=True)
    assert abs(times[np.argmax(smoothed)] - 5.0) <= 1 / 30
    assert times[np.argmax(forward)] - 5.0 > 0.3


def test_noise_is_reduced():
    rng = np.random.default_rng(0)
    times = np.arange(0, 60, 1 / 25)
    truth = np.sin(times / 5)
    noisy = truth + rng.normal(0, 0.3, len(times))
    smoothed = kalman_smooth(times, noisy, 1.0)
    assert np.abs(smoothed - truth).mean() < 0.4 * np.abs(noisy - truth).mean()


def test_result_does_not_depend_on_frame_rate_or_stride():
    dense = np.arange(0, 10, 1 / 30)
    sparse = dense[::5]
    signal = lambda t: bump(t, 4.0) + 0.5 * bump(t, 7.0, 0.4)  # noqa: E731
    a = kalman_smooth(dense, signal(dense), 1.0)
    b = kalman_smooth(sparse, signal(sparse), 1.0)
    assert np.abs(a[::5] - b).max() < 0.03


def test_uneven_and_duplicated_timestamps_are_handled():
    times = np.array([0.0, 0.04, 0.04, 0.3, 0.31, 1.5, 1.6, 3.0])
    values = np.array([1.0, 2.0, 2.0, 1.5, 1.4, 3.0, 2.8, 1.0])
    smoothed = kalman_smooth(times, values, 0.5)
    assert np.isfinite(smoothed).all()
    assert values.min() <= smoothed.min() and smoothed.max() <= values.max()


def test_zero_time_constant_keeps_the_raw_scores():
    times = np.arange(5.0)
    values = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    assert np.array_equal(kalman_smooth(times, values, 0.0), values)
    with pytest.raises(ValueError):
        kalman_smooth(times, values, -1.0)


def test_streaming_smoother_matches_the_forward_filter():
    rng = np.random.default_rng(1)
    times = np.cumsum(rng.uniform(0.02, 0.06, 200))
    values = rng.normal(size=200)
    smoother = CausalSmoother(0.7)
    streamed = [smoother.update(t, v) for t, v in zip(times, values)]
    assert np.allclose(streamed, kalman_smooth(times, values, 0.7, causal=True))


def test_scale_of_the_scores_does_not_change_the_shape():
    times = np.arange(0, 5, 1 / 25)
    values = bump(times, 2.5) + 0.1 * np.cos(times * 7)
    assert np.allclose(kalman_smooth(times, values * 1e6, 1.0) / 1e6, kalman_smooth(times, values, 1.0))


INFO = VideoInfo(path="clip.mp4", width=64, height=48, coded_width=64, coded_height=48, rotation=0,
                 sample_aspect_ratio=1.0, fps=25.0, frame_count=250, frame_count_exact=True, duration=10.0,
                 codec="h264", variable_frame_rate=False)


def curve_of(times, raw, sharpness=None, change=None):
    n = len(times)
    return ScoreCurve(times=times, indices=np.arange(n), raw=np.asarray(raw, float),
                      luma_mean=np.full(n, 0.5, np.float32), luma_std=np.full(n, 0.2, np.float32),
                      sharpness=np.ones(n, np.float32) if sharpness is None else np.asarray(sharpness, np.float32),
                      change=np.zeros(n, np.float32) if change is None else np.asarray(change, np.float32),
                      video=INFO, model={"name": "test"}, sampling={})


def test_defective_frames_do_not_pull_the_smoothed_curve():
    """A blurred stretch the model scores low must not drag its sharp neighbours down."""
    times = np.arange(0, 10, 1 / 25)
    blurred = (times >= 4) & (times < 6)
    curve = curve_of(times, np.where(blurred, 0.0, 0.8), sharpness=np.where(blurred, 0.01, 1.0))
    assert (curve.defective == blurred).all()
    assert np.allclose(smooth(curve, 1.0).smoothed, 0.8)


def test_the_default_time_constant_is_one_second():
    times = np.arange(0, 10, 1 / 25)
    values = np.random.default_rng(0).normal(size=len(times))
    assert np.array_equal(kalman_smooth(times, values), kalman_smooth(times, values, 1.0))
    curve = curve_of(times, values)
    assert np.array_equal(smooth(curve).smoothed, smooth(curve, 1.0).smoothed)


def test_each_shot_is_smoothed_on_its_own_unless_asked_otherwise():
    """A cut is a jump to other content, not noise: the dull shot before it is not lifted by the next."""
    times = np.arange(0, 10, 1 / 25)
    change = np.where(np.arange(len(times)) == 125, 1.0, 0.0)  # a cut at 5 s
    curve = curve_of(times, np.where(times < 5, 0.2, 0.8), change=change)
    before_cut = 110  # 4.4 s
    assert smooth(curve).smoothed[before_cut] == pytest.approx(0.2)
    assert smooth(curve, across_cuts=True).smoothed[before_cut] > 0.25


@pytest.mark.parametrize("count", [2, 3, 50])
def test_smoothing_has_no_direction(count):
    """Reversing time reverses the result: the RTS pass leaves no lag either way, from two samples up."""
    times = np.arange(count) / 25
    values = np.random.default_rng(count).normal(size=count)
    forward = kalman_smooth(times, values, 1.0)
    assert forward == pytest.approx(kalman_smooth(times, values[::-1], 1.0)[::-1], abs=1e-3)


def test_two_frames_a_twenty_fifth_of_a_second_apart_are_smoothed_to_their_mean():
    """A one-second time constant spans many frames; the spacing comes from the times, even with two samples."""
    smoothed = kalman_smooth(np.array([0.0, 0.04]), np.array([0.0, 1.0]), 1.0)
    assert smoothed == pytest.approx([0.5, 0.5], abs=0.01)


def reference_smooth(times, values, time_constant, causal=False):
    """The filter written out by hand, one scalar step at a time, to check the filterpy version against.

    Random walk with variance ``dt`` per step, measurement variance ``tau**2 / dt``; the first
    sample starts the filter with the variance of one measurement at the second sample's spacing;
    a duplicated timestamp counts as a step of 0.1 ms.
    """
    steps = np.maximum(np.diff(times, prepend=times[0]), 1e-4)
    steps[0] = max(times[1] - times[0], 1e-4)
    means, variances = [values[0]], [time_constant**2 / steps[0]]
    for step, value in zip(steps[1:], values[1:]):
        predicted = variances[-1] + step
        gain = predicted / (predicted + time_constant**2 / step)
        means.append(means[-1] + gain * (value - means[-1]))
        variances.append((1 - gain) * predicted)
    if causal:
        return np.array(means)
    smoothed = list(means)
    for i in range(len(values) - 2, -1, -1):
        gain = variances[i] / (variances[i] + steps[i + 1])
        smoothed[i] = means[i] + gain * (smoothed[i + 1] - means[i])
    return np.array(smoothed)


@pytest.mark.parametrize("causal", [False, True])
def test_the_filter_is_the_documented_random_walk(causal):
    """Uneven spacing, a duplicated timestamp and a long gap, compared with a hand-written filter."""
    times = np.array([0.0, 0.5, 0.52, 0.52, 0.6, 2.5, 2.54, 2.58, 6.0, 6.1])
    values = np.array([1.0, 3.0, 2.0, 8.0, 2.5, 0.5, 0.7, 0.6, 4.0, 3.5])
    expected = reference_smooth(times, values, 0.8, causal)
    assert kalman_smooth(times, values, 0.8, causal) == pytest.approx(expected, rel=1e-9)
    smoother = CausalSmoother(0.8)
    if causal:
        assert [smoother.update(t, v) for t, v in zip(times, values)] == pytest.approx(expected, rel=1e-9)


def classified(monkeypatch, shots, usable):
    """Have every curve classified as given (unusable frames blurred), so that smoothing is tested on its own."""
    classes = FrameClasses(np.asarray(shots), np.where(np.asarray(usable, dtype=bool), "", "blur").astype(object))
    monkeypatch.setattr("vidaesthetic.curve.shots.classify_frames", lambda curve: classes)


def test_no_frame_crosses_a_cut(monkeypatch):
    """The first and last frames of each shot keep their shot's level exactly."""
    times = np.arange(0, 6, 1 / 25)
    shots = np.repeat([0, 1, 2], 50)
    levels = np.array([0.2, 0.9, 0.4])
    classified(monkeypatch, shots, np.ones(150))
    smoothed = smooth(curve_of(times, levels[shots]), 1.0).smoothed
    assert smoothed == pytest.approx(levels[shots], abs=1e-12)


def test_a_shot_with_two_usable_frames_is_drawn_through_them(monkeypatch):
    """Two usable frames are enough to smooth on: the unusable ones in between do not count."""
    times = np.arange(0, 2, 1 / 25)
    pickable = np.zeros(50, dtype=bool)
    pickable[[10, 40]] = True
    raw = np.where(pickable, 0.8, 0.0)
    classified(monkeypatch, np.zeros(50, dtype=int), pickable)
    assert smooth(curve_of(times, raw), 1.0).smoothed == pytest.approx(np.full(50, 0.8))


def test_files_are_smoothed_without_lag_by_default():
    times = np.arange(0, 10, 1 / 25)
    curve = smooth(curve_of(times, bump(times)))
    assert abs(times[np.argmax(curve.smoothed)] - 5.0) <= 1 / 25


def test_the_curve_records_how_it_was_smoothed():
    """scores.json keeps the method and options, so a reader knows what the smoothed column means."""
    curve = curve_of(np.arange(0, 4, 1 / 25), np.zeros(100))
    assert smooth(curve).smoothing == {"method": "kalman-rts", "time_constant": 1.0, "split_at_cuts": True,
                                       "skips_defective_frames": True}
    assert smooth(curve, 0.5, causal=True, across_cuts=True).smoothing == {
        "method": "kalman-forward", "time_constant": 0.5, "split_at_cuts": False, "skips_defective_frames": True}


def test_the_live_smoother_uses_the_same_default_and_zero_turns_it_off():
    times = np.arange(0, 3, 1 / 25)
    values = np.random.default_rng(3).normal(size=len(times))
    default, off = CausalSmoother(), CausalSmoother(0.0)
    assert [default.update(t, v) for t, v in zip(times, values)] == pytest.approx(
        kalman_smooth(times, values, 1.0, causal=True))
    assert [off.update(t, v) for t, v in zip(times, values)] == pytest.approx(values)


def test_a_single_sample_is_its_own_smoothed_value():
    assert kalman_smooth(np.array([2.0]), np.array([0.7]), 1.0) == pytest.approx([0.7])
    assert CausalSmoother(1.0).update(2.0, 0.7) == pytest.approx(0.7)
