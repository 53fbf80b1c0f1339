"""One time module: what people type, what files and axes show, and the frame labels editors count in."""

from fractions import Fraction
from types import SimpleNamespace

import pytest

from vidaesthetic.timecode import (
    clock_timecode,
    edit_rate,
    filename_timecode,
    format_timecode,
    parse_time,
    smpte_timecode,
    timecode_rate,
)

NTSC = 30000 / 1001


@pytest.mark.parametrize("text, seconds", [
    ("72.5", 72.5), ("7", 7.0), (".5", 0.5), ("3.", 3.0), ("1:12.5", 72.5), ("02:03", 123.0),
    ("01:02:03.250", 3723.25), ("00:01:12.500", 72.5),
])
def test_parse_time(text, seconds):
    assert parse_time(text) == seconds


@pytest.mark.parametrize("text", ["", "-3", "1:2:3:4", "1.5:00", "12s", "a:00", ":30", "1::2", " 12"])
def test_parse_time_refuses_anything_else_in_one_line(text):
    with pytest.raises(ValueError, match=r"^not a time: .*; use seconds \(72\.5\) or \[HH:\]MM:SS\[\.mmm\] \(1:12\.5\)$"):
        parse_time(text)


@pytest.mark.parametrize("seconds", [0.0, 0.001, 59.999, 72.5, 3723.25, 86399.5])
def test_format_and_parse_round_trip(seconds):
    assert parse_time(format_timecode(seconds)) == pytest.approx(seconds, abs=5e-4)


def test_format_timecode_rounds_to_the_millisecond_and_never_goes_negative():
    assert format_timecode(62.3454) == "00:01:02.345"
    assert format_timecode(3599.9996) == "01:00:00.000"
    assert format_timecode(-1.0) == "00:00:00.000"
    assert filename_timecode(62.345) == "00-01-02.345"


def test_clock_timecode_is_short_under_an_hour():
    assert clock_timecode(0.0) == "0:00.0"
    assert clock_timecode(72.54) == "1:12.5"
    assert clock_timecode(3599.0) == "59:59.0"
    assert clock_timecode(3723.9) == "1:02:03"
    assert clock_timecode(-5.0) == "0:00.0"


@pytest.mark.parametrize("frame, expected", [
    (0, "00:00:00;00"), (1799, "00:00:59;29"), (1800, "00:01:00;02"), (3598, "00:02:00;02"),
    (17982, "00:10:00;00"), (17983, "00:10:00;01"), (107892, "01:00:00;00"),
])
def test_drop_frame_at_29_97(frame, expected):
    assert smpte_timecode(frame / NTSC, 29.97) == expected


@pytest.mark.parametrize("frame, expected", [
    (3599, "00:00:59;59"), (3600, "00:01:00;04"), (35964, "00:10:00;00"), (215784, "01:00:00;00"),
])
def test_drop_frame_at_59_94(frame, expected):
    assert smpte_timecode(frame / (2 * NTSC), 60000 / 1001) == expected


def test_non_drop_rates():
    # 23.976 counts real frames (86314 in an hour) but labels 24 a second, so it falls behind the clock.
    assert smpte_timecode(3600.0, 24000 / 1001) == "00:59:56:10"
    assert smpte_timecode(3600.0, 24.0) == "01:00:00:00"
    assert smpte_timecode(3723.48, 25.0) == "01:02:03:12"
    assert smpte_timecode(1800 / NTSC, NTSC, drop_frame=False) == "00:01:00:00"


def test_bad_rates_are_refused():
    with pytest.raises(ValueError):
        smpte_timecode(1.0, 12.5)
    with pytest.raises(ValueError):
        smpte_timecode(1.0, 25.0, drop_frame=True)


def test_variable_frame_rate_counts_at_the_nearest_standard_rate():
    assert edit_rate(SimpleNamespace(fps=29.9, variable_frame_rate=True)) == (pytest.approx(NTSC), False)
    assert edit_rate(SimpleNamespace(fps=29.97, variable_frame_rate=False))[1] is True
    assert edit_rate(SimpleNamespace(fps=12.5, variable_frame_rate=False)) == (pytest.approx(24000 / 1001), False)


def test_clock_timecode_counts_hours_from_the_hour():
    assert clock_timecode(3600.0) == "1:00:00"
    assert clock_timecode(7200.0) == "2:00:00"


def test_drop_and_non_drop_labels_can_be_asked_for_at_29_97():
    assert smpte_timecode(1800 / NTSC, 29.97, drop_frame=False) == "00:01:00:00"
    assert smpte_timecode(1800 / NTSC, 29.97, drop_frame=True) == "00:01:00;02"


@pytest.mark.parametrize("fps, rate", [(0.0, None), (1.0, 1), (30.004, None), (29.972, Fraction(30000, 1001))])
def test_timecode_rates_are_exact_or_none(fps, rate):
    assert timecode_rate(fps) == rate
