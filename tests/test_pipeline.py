import csv
import json

import numpy as np
import pytest
from PIL import Image

from vidaesthetic import (
    InputError, OutputError, Sampling, ScoreCurve, SpotSettings, extract_spots, find_spots, load_model, save_scores,
    score_video, smooth,
)


@pytest.fixture(scope="module")
def run(bsk_video, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "bsk"
    return out, extract_spots(bsk_video, out, settings=SpotSettings(top=3, progress=False))


def test_spots_of_blurred_sharp_black_fall_in_the_sharp_second(run):
    _, document = run
    spots = document["spots"]
    assert spots and all(1.0 <= s["time"] < 2.0 for s in spots)
    assert spots[0]["rank"] == 1


def test_outputs_are_complete_and_consistent(run, bsk_video):
    out, document = run
    names = sorted(p.name for p in out.iterdir())
    images = [s["image"] for s in document["spots"]]
    assert names == sorted(["curve.png", "report.html", "scores.csv", "scores.json", "spots.json", *images])
    assert json.loads((out / "spots.json").read_text()) == document
    assert (document["format"], document["version"]) == ("vidaesthetic.spots", 1)  # what readers of the file check
    assert document["video"]["path"] == str(bsk_video)
    assert document["model"]["name"] == "baseline"
    assert document["frames_scored"] == 75 and document["corrupt_frames"] == 0
    for spot in document["spots"]:
        assert spot["image"].startswith(f"spot-{spot['rank']:02d}_00-00-0")
        with Image.open(out / spot["image"]) as image:
            assert image.size == (160, 96)
    with open(out / "scores.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 75 and float(rows[30]["time"]) == pytest.approx(1.2)
    with Image.open(out / "curve.png") as plot:
        assert plot.size[0] > 800


def test_spot_times_are_presentation_times_of_scored_frames(run):
    out, document = run
    curve = ScoreCurve.load(out / "scores.json")
    for spot in document["spots"]:
        position = int(np.flatnonzero(curve.indices == spot["frame_index"])[0])
        assert curve.times[position] == spot["time"]


def test_saved_scores_are_reused_when_file_model_and_sampling_match(run, bsk_video):
    out, _ = run
    model = load_model("baseline", device="cpu")
    saved = ScoreCurve.load(out / "scores.json")
    saved.raw = saved.raw * 0 + 42.0  # a marker only a reused curve can carry
    save_scores(saved, out / "scores.json")
    reused = score_video(bsk_video, model, cache=out / "scores.json", progress=False)
    assert np.all(reused.raw == 42.0)
    fresh = score_video(bsk_video, model, sampling=Sampling(stride=2), cache=out / "scores.json", progress=False)
    assert not np.any(fresh.raw == 42.0) and len(fresh) == 38


def test_curve_round_trips_with_embeddings(bsk_video, tmp_path):
    curve = smooth(score_video(bsk_video, keep_embeddings=True, progress=False), 0.5)
    save_scores(curve, tmp_path / "scores.json")
    loaded = ScoreCurve.load(tmp_path / "scores.json")
    assert np.array_equal(loaded.times, curve.times) and np.allclose(loaded.smoothed, curve.smoothed)
    assert loaded.embeddings.dtype == np.float16 and loaded.embeddings.shape == (75, 48)
    assert loaded.smoothing["method"] == "kalman-rts" and loaded.smoothing["time_constant"] == 0.5
    assert [s.time for s in find_spots(loaded)] == [s.time for s in find_spots(curve)]


def test_unreadable_scores_file_is_an_input_error(tmp_path):
    (tmp_path / "scores.json").write_text("{not json")
    with pytest.raises(InputError, match="not a readable scores file"):
        ScoreCurve.load(tmp_path / "scores.json")


def test_failed_export_leaves_nothing_behind(bsk_video, tmp_path, monkeypatch):
    def broken_plot(*args, **kwargs):
        raise OutputError("disk full", tmp_path / "x")

    monkeypatch.setattr("vidaesthetic.output.folder.write_figure", broken_plot)
    with pytest.raises(OutputError):
        extract_spots(bsk_video, tmp_path / "new" / "out", settings=SpotSettings(progress=False))
    assert list(tmp_path.iterdir()) == []
