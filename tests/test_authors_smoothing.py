"""The authors' video tool's curve, reproduced: their smoothing, and their .score files read and timed.

The reference is written independently of vidaesthetic's code, from the
published recursion: filterpy's Kalman filter with x0 = P0 = z0, R = 0.1,
Q = 1e-4, over min-max normalised scores, then log(1 + x) min-max normalised.
"""

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner
from filterpy.kalman import KalmanFilter

from media import FIXTURES, segments_video
from vidaesthetic import InputError, load_model, score_video, smooth
from vidaesthetic.cli import main
from vidaesthetic.curve.readers import read_csv_scores, read_curve
from vidaesthetic.output.scores import write_scores_csv

AUTHORS = FIXTURES / "authors"
SCORE_FILES = sorted(AUTHORS.glob("*.mp4.score")) if AUTHORS.is_dir() else []
needs_scores = pytest.mark.skipif(not SCORE_FILES, reason=f"the authors' .score files are not at {AUTHORS}")


def reference(raw):
    z = (raw - raw.min()) / (raw.max() - raw.min())
    kalman = KalmanFilter(dim_x=1, dim_z=1)
    kalman.x[:], kalman.P[:], kalman.F[:], kalman.H[:], kalman.R[:], kalman.Q[:] = z[0], z[0], 1, 1, 0.1, 1e-4
    estimate = [z[0]]
    for value in z[1:]:
        kalman.predict()
        kalman.update(value)
        estimate.append(kalman.x[0, 0])
    shown = np.log(1 + np.asarray(estimate))
    return (shown - shown.min()) / (shown.max() - shown.min())


def test_the_recursion_on_generated_scores(bsk_video):
    curve = score_video(bsk_video, load_model("baseline"), progress=False)
    curve.raw = np.random.default_rng(0).normal(10, 2, len(curve))
    smoothed = smooth(curve, method="authors")
    assert np.abs(smoothed.smoothed - reference(curve.raw)).max() < 1e-9
    assert smoothed.smoothing["method"] == "authors" and smoothed.smoothing["normalised"]
    with pytest.raises(ValueError, match="unknown smoothing method 'rts'"):
        smooth(curve, method="rts")


@needs_scores
@pytest.mark.parametrize("path", SCORE_FILES, ids=lambda path: path.name)
def test_the_authors_mode_on_their_demo_curves(path):
    curve = read_curve(path)
    authors = smooth(curve, method="authors").smoothed
    difference = np.abs(authors - reference(curve.raw)).max()
    ours = smooth(curve).smoothed
    print(f"{path.name}: {len(curve)} frames, max difference {difference:.2e}, maximum at frame "
          f"{int(np.argmax(authors))} (authors' mode) and {int(np.argmax(ours))} (vidaesthetic's smoothing)")
    assert difference < 1e-9
    # Their forward filter lags: its maximum comes after the lag-free one's.
    assert np.argmax(authors) >= np.argmax(ours)


@needs_scores
def test_a_score_file_is_timed_by_its_video_beside_it(tmp_path):
    path = SCORE_FILES[0]
    curve = read_curve(path)
    assert curve.video.path.endswith("-small.mp4") and np.all(np.diff(curve.times) > 0)
    assert curve.times[1] == pytest.approx(1 / curve.video.fps, rel=1e-3)
    alone = tmp_path / path.name
    alone.write_bytes(path.read_bytes())
    with pytest.raises(InputError, match="has no video beside it") as error:
        read_curve(alone)
    assert str(alone) in str(error.value)


def test_a_score_file_without_h5py_says_what_to_install(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_h5py(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError("no h5py")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_h5py)
    with pytest.raises(InputError, match=r"pip install \"vidaesthetic\[authors\]\""):
        read_curve(tmp_path / "x.mp4.score")


def test_a_csv_of_frames_is_read_back_as_the_curve_it_holds(bsk_video, tmp_path):
    curve = smooth(score_video(bsk_video, load_model("baseline"), progress=False))
    write_scores_csv(curve, tmp_path / "scores.csv")
    again = read_csv_scores(tmp_path / "scores.csv")
    assert np.array_equal(again.indices, curve.indices)
    assert np.allclose(again.times, curve.times, atol=1e-6) and np.allclose(again.raw, curve.raw, rtol=1e-8)
    assert np.isnan(again.luma_mean).all() and not again.defective.any()  # unmeasured frames are not held back


@pytest.mark.parametrize("text, problem", [
    ("frame,raw\n0,1.0\n", "has no time column"),
    ("frame,time,raw\n0,0.0,1.0\n1,later,2.0\n", "line 3 is not a frame number, a time and a score"),
    ("frame,time,raw\n", "holds no frames"),
])
def test_a_bad_csv_is_one_line_naming_the_file(tmp_path, text, problem):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=problem) as error:
        read_curve(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


@needs_scores
def test_the_curve_command_plots_and_writes_the_authors_curve(tmp_path):
    path = SCORE_FILES[0]
    result = CliRunner().invoke(main, ["curve", str(path), "--smoothing", "authors", "-o", str(tmp_path / "c.png"),
                                       "--data", str(tmp_path / "c.csv")])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "c.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    written = np.array([float(row["smoothed"]) for row in rows])
    assert np.abs(written - reference(read_curve(path).raw)).max() < 1e-8  # written with 9 significant digits
    assert (tmp_path / "c.png").stat().st_size > 10_000


def test_spots_with_the_authors_smoothing_records_it(tmp_path):
    video = segments_video(tmp_path / "v.mp4", "sbsb", seconds_each=1.0)
    result = CliRunner().invoke(main, ["spots", str(video), "-o", str(tmp_path / "out"), "-q", "--top", "2",
                                       "--smoothing", "authors"])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "out" / "spots.json").read_text())
    assert document["smoothing"]["method"] == "authors" and '"smoothing": "authors"' in document["settings"]
    assert all(0.0 <= spot["score"] <= 1.0 for spot in document["spots"])
    bad = CliRunner().invoke(main, ["spots", str(video), "-o", str(tmp_path / "x"), "--smoothing", "rts"])
    assert bad.exit_code == 2 and "neither a time constant in seconds nor 'authors'" in bad.output


def test_short_and_flat_curves_stay_defined():
    """Where the authors' tool would divide by zero (a flat curve) or index nothing, the curve is flat at 0."""
    from vidaesthetic import authors_smooth

    assert authors_smooth(np.array([])).shape == (0,)
    assert authors_smooth(np.array([3.0])).tolist() == [0.0]
    assert authors_smooth(np.full(5, 2.5)).tolist() == [0.0] * 5
    rising = authors_smooth(np.array([1.0, 2.0]))
    assert rising[0] == 0.0 and rising[1] == 1.0  # two frames: normalised to the ends of 0..1
