"""AROD lists: the score S = log F / log V and tolerant parsing."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from train.arod import Record, aesthetic_score, parse_list, record_id, score_histogram
from vidaesthetic.errors import InputError


@pytest.mark.parametrize(
    "faves, views, expected",
    [
        (10, 100, 0.5),  # log 10 / log 100
        (8, 4096, 0.25),  # 3 log 2 / 12 log 2
        (1, 50, 0.0),  # one fave: log 1 = 0, defined
        (7, 7, 1.0),
    ],
)
def test_aesthetic_score(faves, views, expected):
    assert aesthetic_score(faves, views) == pytest.approx(expected)


@pytest.mark.parametrize("faves, views", [(0, 100), (3, 1), (0, 0), (-1, 10), (27, 9)])  # last: more faves than views
def test_aesthetic_score_is_undefined(faves, views):
    assert aesthetic_score(faves, views) is None


def test_record_id_is_a_short_stable_hash():
    url = "http://farm1.example/1.jpg"
    assert record_id(url) == hashlib.sha1(url.encode()).hexdigest()[:16]


def write(tmp_path, text, name="list.txt"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_parse_list_keeps_usable_rows_and_counts_the_rest(tmp_path):
    path = write(
        tmp_path,
        "\ufeffhttp://a/1.jpg;10;100\n"
        "\n"
        "   \n"
        "# a comment\n"
        "http://a/2.jpg;8;4096\r\n"
        "http://a/x.php?a=1;b=2;1;50\n"  # ';' inside the url
        "http://a/3.jpg;10\n"  # two fields
        "http://a/4.jpg;ten;100\n"
        "http://a/5.jpg;-1;100\n"
        "http://a/6.jpg;1.5;100\n"
        ";5;100\n"  # no url
        "http://a/7.jpg;0;100\n"  # no faves
        "http://a/8.jpg;5;1\n"  # one view
        "http://a/9.jpg;50;10\n"  # more faves than views
        "http://a/1.jpg;3;9\n",  # duplicate
    )
    report = parse_list(path)
    assert report.records == [
        Record(record_id("http://a/1.jpg"), "http://a/1.jpg", 10, 100, pytest.approx(0.5)),
        Record(record_id("http://a/2.jpg"), "http://a/2.jpg", 8, 4096, pytest.approx(0.25)),
        Record(record_id("http://a/x.php?a=1;b=2"), "http://a/x.php?a=1;b=2", 1, 50, 0.0),
    ]
    assert report.skipped == Counter(blank=2, comment=1, malformed=5, **{"undefined score": 3, "duplicate url": 1})


def test_parse_list_counts_undecodable_rows_as_malformed(tmp_path):
    report = parse_list(write(tmp_path, b"http://a/\xff.jpg;1;10\nhttp://a/1.jpg;1;10\n"))
    assert [r.url for r in report.records] == ["http://a/1.jpg"]
    assert report.skipped == Counter(malformed=1)


def test_a_list_without_usable_rows_is_an_input_error_naming_the_file(tmp_path):
    path = write(tmp_path, "# header\nhttp://a/1.jpg;0;10\nnonsense\n", name="bad-list.txt")
    with pytest.raises(InputError, match="bad-list.txt.*no usable") as caught:
        parse_list(path)
    assert "1 undefined score" in str(caught.value)


def test_a_missing_list_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="missing.txt"):
        parse_list(tmp_path / "missing.txt")


def test_score_histogram_draws_one_bar_per_bin():
    text = score_histogram([0.05, 0.05, 0.05, 0.05, 0.55, 0.55, 1.0], bins=4, width=8)
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("0.00-0.25 ########") and lines[0].endswith(" 4")
    assert lines[1].split() == ["0.25-0.50", "0"]
    assert lines[2].split() == ["0.50-0.75", "####", "2"]
    assert lines[3].split() == ["0.75-1.00", "##", "1"]  # 1.0 falls in the last bin


def test_score_histogram_of_nothing_is_all_empty_bins():
    assert [line.split() for line in score_histogram([], bins=2).splitlines()] == [["0.00-0.50", "0"], ["0.50-1.00", "0"]]
