import json
import re
import sys
from dataclasses import replace

import pytest
from click.testing import CliRunner

from media import segments_video
from vidaesthetic import VideoInfo
from vidaesthetic._internal.atomic import OutputSet
from vidaesthetic.cli import main
from vidaesthetic.errors import InputError
from vidaesthetic.output.markers import check_formats, write_markers
from vidaesthetic.curve.spots import Spot

NTSC = 30000 / 1001
INFO = VideoInfo(path="/footage/clip.mp4", width=64, height=48, coded_width=64, coded_height=48, rotation=0,
                 sample_aspect_ratio=1.0, fps=25.0, frame_count=750, frame_count_exact=True, duration=30.0,
                 codec="h264", variable_frame_rate=False)


def spot(rank, time, score):
    return Spot(rank=rank, frame_index=round(time * 25), time=time, timecode="", score=score, raw_score=score,
                prominence=0.5)


# Best first, as find_spots returns them; the exports put them in time order.
SPOTS = [spot(1, 12.0, 0.91), spot(2, 3.48, 0.8), spot(3, 25.0, 0.5)]


def export(tmp_path, formats, info=INFO, spots=SPOTS):
    with OutputSet(tmp_path) as outputs:
        names = write_markers(spots, info, formats, outputs)
    return {name: (tmp_path / name).read_text(encoding="utf-8") for name in names}


EVENT = re.compile(r"^(\d{3})  (.{8}) (.{5}) (.{4}) (.{3}) "
                   r"(\d\d:\d\d:\d\d[:;]\d\d) (\d\d:\d\d:\d\d[:;]\d\d) (\d\d:\d\d:\d\d[:;]\d\d) (\d\d:\d\d:\d\d[:;]\d\d)$")


def test_edl_has_cmx3600_columns_and_locators(tmp_path):
    text = export(tmp_path, ["edl"])["spots.edl"]
    lines = text.splitlines()
    assert lines[:2] == ["TITLE: clip spots", "FCM: NON-DROP FRAME"]
    events = [EVENT.match(line) for line in lines if line[:1].isdigit()]
    assert all(events) and len(events) == 3
    assert [e[1] for e in events] == ["001", "002", "003"]
    assert {(e[2].strip(), e[3].strip(), e[4].strip(), e[5].strip()) for e in events} == {("AX", "V", "C", "")}
    assert [e[6] for e in events] == ["00:00:03:12", "00:00:12:00", "00:00:25:00"]
    assert all(e[6] == e[8] and e[7] == e[9] for e in events)
    assert events[0][7] == "00:00:03:13"
    assert "* LOC: 00:00:03:12 GREEN   #2 score 0.8" in lines
    assert "* FROM CLIP NAME: clip.mp4" in lines
    assert "APPROXIMATE" not in text


def test_edl_is_drop_frame_at_29_97_and_flags_variable_rate(tmp_path):
    info = replace(INFO, fps=29.8, variable_frame_rate=True, start_time=1.0)
    text = export(tmp_path, ["edl"], info=info, spots=[spot(1, 1.0 + 1800 / NTSC, 0.9)])["spots.edl"]
    assert "FCM: DROP FRAME" in text
    assert EVENT.match(text.splitlines()[3])[6] == "00:01:00;02"
    assert "VARIABLE FRAME RATE SOURCE" in text and "APPROXIMATE TO THE FRAME" in text


CUE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})$")


def seconds(h, m, s, ms):
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def test_vtt_cues_are_ordered_chapters(tmp_path):
    text = export(tmp_path, ["vtt"], info=replace(INFO, start_time=0.5))["spots.vtt"]
    assert text.startswith("WEBVTT\n\n")
    blocks = text.strip().split("\n\n")[1:]
    cues = [CUE.match(block.splitlines()[1]).groups() for block in blocks]
    spans = [(seconds(*cue[:4]), seconds(*cue[4:])) for cue in cues]
    assert spans == [(2.98, 11.5), (11.5, 24.5), (24.5, 30.0)]
    assert [block.splitlines()[2] for block in blocks] == ["#2 score 0.8", "#1 score 0.91", "#3 score 0.5"]


def test_ffmetadata_chapters_in_milliseconds(tmp_path):
    text = export(tmp_path, ["chapters"])["spots.ffmetadata"]
    assert text.startswith(";FFMETADATA1\n")
    chapters = [dict(line.split("=", 1) for line in block.splitlines()[1:])
                for block in text.split("\n\n")[1:]]
    assert all(chapter["TIMEBASE"] == "1/1000" for chapter in chapters)
    bounds = [(int(chapter["START"]), int(chapter["END"])) for chapter in chapters]
    assert bounds == [(3480, 12000), (12000, 25000), (25000, 30000)]
    assert all(start < end for start, end in bounds)
    assert chapters[0]["title"] == r"\#2 score 0.8"


def test_formats_and_names(tmp_path):
    with OutputSet(tmp_path) as outputs:
        names = write_markers(SPOTS, INFO, ["vtt", "edl", "vtt", "chapters"], outputs, stem="clip")
    assert names == ["clip.vtt", "clip.edl", "clip.ffmetadata"]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(names)
    with pytest.raises(InputError, match="unknown export format 'xml'"):
        check_formats(["edl", "xml"])


def test_otio_markers_read_back(tmp_path):
    otio = pytest.importorskip("opentimelineio")
    info = replace(INFO, fps=NTSC, duration=90.0)
    export(tmp_path, ["otio"], info=info, spots=[spot(1, 1800 / NTSC, 0.9), spot(2, 10 / NTSC, 0.7)])
    timeline = otio.adapters.read_from_file(str(tmp_path / "spots.otio"))
    (clip,) = timeline.tracks[0]
    assert clip.media_reference.target_url == "file:///footage/clip.mp4"
    assert clip.source_range.duration.to_seconds() == pytest.approx(90.0, abs=1 / NTSC)
    starts = [marker.marked_range.start_time for marker in clip.markers]
    assert [(time.value, time.rate) for time in starts] == [(10, pytest.approx(NTSC)), (1800, pytest.approx(NTSC))]
    assert starts[1].to_timecode() == "00:01:00;02"
    assert [marker.name for marker in clip.markers] == ["#2 score 0.7", "#1 score 0.9"]


def test_otio_keeps_exact_seconds_for_variable_rate(tmp_path):
    otio = pytest.importorskip("opentimelineio")
    info = replace(INFO, fps=27.3, variable_frame_rate=True)
    export(tmp_path, ["otio"], info=info, spots=[spot(1, 7.123, 0.9)])
    (clip,) = otio.adapters.read_from_file(str(tmp_path / "spots.otio")).tracks[0]
    assert clip.markers[0].marked_range.start_time.to_seconds() == pytest.approx(7.123, abs=1e-9)


def test_missing_otio_fails_before_writing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "opentimelineio", None)
    with pytest.raises(InputError, match="pip install opentimelineio"):
        check_formats(["edl", "otio"])
    with pytest.raises(InputError, match="pip install opentimelineio"):
        export(tmp_path / "out", ["edl", "otio"])
    assert not (tmp_path / "out").exists()


def test_spots_export_option_writes_every_marker_file_for_the_spots_found(tmp_path):
    """The wiring from ``spots --export`` through ``save_spots``: markers name the spots that were written."""
    video = segments_video(tmp_path / "clip.mp4", "sksks", seconds_each=1.0)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["spots", str(video), "-o", str(out), "-q", "--export", "vtt,edl,chapters"])
    assert result.exit_code == 0, result.output
    document = json.loads((out / "spots.json").read_text(encoding="utf-8"))
    assert document["files"]["markers"] == ["spots.vtt", "spots.edl", "spots.ffmetadata"]
    assert document["spots"]
    in_time_order = sorted(document["spots"], key=lambda spot: spot["time"])
    vtt = (out / "spots.vtt").read_text(encoding="utf-8")
    starts = [seconds(*CUE.match(block.splitlines()[1]).groups()[:4]) for block in vtt.strip().split("\n\n")[1:]]
    assert starts == pytest.approx([spot["time"] for spot in in_time_order], abs=1e-3)
    edl = (out / "spots.edl").read_text(encoding="utf-8")
    assert edl.count("LOC:") == len(document["spots"])
    chapters = (out / "spots.ffmetadata").read_text(encoding="utf-8")
    assert [int(line.split("=")[1]) for line in chapters.splitlines() if line.startswith("START=")] == \
        [round(spot["time"] * 1000) for spot in in_time_order]


def test_otio_clip_of_unknown_length_spans_from_zero_past_the_last_spot(tmp_path):
    """Without a duration the clip runs from 0 to one frame after the last spot; markers are points."""
    otio = pytest.importorskip("opentimelineio")
    export(tmp_path, ["otio"], info=replace(INFO, duration=0.0), spots=[spot(1, 12.0, 0.9), spot(2, 3.48, 0.8)])
    (clip,) = otio.adapters.read_from_file(str(tmp_path / "spots.otio")).tracks[0]
    assert clip.source_range.start_time.to_seconds() == 0.0
    assert clip.source_range.duration.to_seconds() == pytest.approx(12.0 + 1 / 25)
    assert [marker.marked_range.duration.to_seconds() for marker in clip.markers] == [0.0, 0.0]


@pytest.mark.parametrize("duration", [0.0, 25.0])
def test_the_last_chapter_lasts_two_seconds_when_the_video_ends_at_or_before_it(tmp_path, duration):
    text = export(tmp_path, ["chapters"], info=replace(INFO, duration=duration))["spots.ffmetadata"]
    ends = [int(line.split("=")[1]) for line in text.splitlines() if line.startswith("END=")]
    assert ends[-1] == 27000
