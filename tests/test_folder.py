"""What ``save_spots`` leaves in a spots folder, file by file."""

import csv
import json

import numpy as np
import pytest

from media import textured, write_video
from vidaesthetic import find_spots, load_model, save_spots, score_video, smooth
from vidaesthetic.output import folder


@pytest.fixture(scope="module")
def wide_clip(tmp_path_factory):
    """A 10:1 panorama, 2 s: its thumbnails are bounded by width, not height."""
    picture = textured(1000, 100)
    return write_video(tmp_path_factory.mktemp("wide") / "wide.mp4", [np.roll(picture, 5 * i, axis=1)
                                                                       for i in range(50)], fps=25)


@pytest.fixture(scope="module")
def scored(wide_clip):
    curve = smooth(score_video(wide_clip, load_model("baseline", device="cpu"), progress=False))
    return curve, find_spots(curve, top=2, min_gap=0.5)


def test_scores_csv_holds_every_frame_raw_and_smoothed(wide_clip, scored, tmp_path):
    curve, spots = scored
    save_spots(wide_clip, curve, spots, tmp_path)
    with open(tmp_path / "scores.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["frame"]) for row in rows] == curve.indices.tolist()
    assert [float(row["time"]) for row in rows] == pytest.approx(curve.times, abs=1e-6)
    assert [float(row["raw"]) for row in rows] == pytest.approx(curve.raw, rel=1e-5)
    assert [float(row["smoothed"]) for row in rows] == pytest.approx(curve.smoothed, rel=1e-5)


def test_scores_say_for_every_frame_whether_it_may_be_picked_and_why_not(wide_clip, scored, tmp_path):
    """A 2 s clip: its first and last fifth of a second are edge margins, the rest is pickable."""
    curve, spots = scored
    save_spots(wide_clip, curve, spots, tmp_path)
    with open(tmp_path / "scores.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    edge = (curve.times < 0.196) | (curve.times > curve.times[-1] - 0.196)
    assert edge.any() and not edge.all()
    assert [row["reason"] for row in rows] == ["edge" if at_edge else "" for at_edge in edge]
    assert [row["pickable"] for row in rows] == ["0" if at_edge else "1" for at_edge in edge]
    frames = json.loads((tmp_path / "scores.json").read_text(encoding="utf-8"))["frames"]
    assert frames["reason"] == [row["reason"] for row in rows]
    assert frames["pickable"] == [int(row["pickable"]) for row in rows]


def test_an_unsmoothed_curve_has_an_empty_smoothed_column(wide_clip, scored, tmp_path):
    curve, spots = scored
    save_spots(wide_clip, score_video(wide_clip, load_model("baseline", device="cpu"), progress=False), spots, tmp_path)
    with open(tmp_path / "scores.csv", encoding="utf-8") as handle:
        assert {row["smoothed"] for row in csv.DictReader(handle)} == {"nan"}


def test_spots_json_is_an_indented_text_file(wide_clip, scored, tmp_path):
    curve, spots = scored
    save_spots(wide_clip, curve, spots, tmp_path)
    text = (tmp_path / "spots.json").read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text.splitlines()[1].startswith('  "') and not text.splitlines()[1].startswith('   ')
    assert [spot["time"] for spot in json.loads(text)["spots"]] == [spot.time for spot in spots]


def test_thumbnails_in_the_plot_fit_640_by_160(wide_clip, scored, tmp_path, monkeypatch):
    curve, spots = scored
    drawn = []

    def recording_plot(curve, spots, thumbnails):
        drawn.extend(thumbnails)
        return plot(curve, spots, thumbnails=thumbnails)

    plot = folder.plot_curve
    monkeypatch.setattr(folder, "plot_curve", recording_plot)
    save_spots(wide_clip, curve, spots, tmp_path)
    assert [thumbnail.shape for thumbnail in drawn] == [(64, 640, 3)] * len(spots)


def test_leftovers_of_a_killed_run_are_cleaned(wide_clip, scored, tmp_path):
    curve, spots = scored
    leftover = tmp_path / ".spots.json.abc123.vidaesthetic-tmp"
    leftover.write_text("half a file")
    save_spots(wide_clip, curve, spots, tmp_path)
    assert not leftover.exists()
