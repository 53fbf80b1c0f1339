"""Picks a person would choose, on generated clips, and the arithmetic of ``benchmarks/picks.py``."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from media import textured, write_video
from vidaesthetic.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import picks  # noqa: E402

FPS = 25
SECONDS = 12


@pytest.fixture(scope="module")
def middle_best(tmp_path_factory):
    """12 s of one panning shot whose contrast peaks in the middle (6 s), with two lesser highs on the
    very first and last frames, where the camera starts and stops."""
    scene = textured(160 + 30 * SECONDS, 96, seed=4).astype(np.float32)
    frames = []
    for t in np.arange(SECONDS * FPS) / FPS:
        contrast = (0.55 + 0.45 * np.exp(-(t - 6) ** 2 / 2) + 0.3 * np.exp(-t ** 2 / 0.1)
                    + 0.3 * np.exp(-(t - SECONDS + 1 / FPS) ** 2 / 0.1))
        picture = scene[:, round(30 * t):round(30 * t) + 160]  # the camera pans: every moment looks different
        frames.append(np.clip(128 + contrast * (picture - 128), 0, 255).astype(np.uint8))
    return write_video(tmp_path_factory.mktemp("middle") / "middle.mp4", frames, fps=FPS)


def spots_of(video, out_dir, *options):
    result = CliRunner().invoke(main, ["spots", str(video), "-o", str(out_dir), "--model", "baseline", *options])
    assert result.exit_code == 0, result.output
    return json.loads((out_dir / "spots.json").read_text()), result.output


def test_no_spot_on_the_first_or_last_half_second(middle_best, tmp_path):
    document, _ = spots_of(middle_best, tmp_path / "out", "--top", "3")
    times = [spot["time"] for spot in document["spots"]]
    assert len(times) == 3 and abs(times[0] - 6.0) < 0.5  # the best, first
    last = SECONDS - 1 / FPS
    assert all(0.5 <= time <= last - 0.5 for time in times)


def test_an_explicit_count_is_honoured_and_the_terminal_says_how(middle_best, tmp_path):
    """12 s is long enough for 5 spots a second apart: 5 come out, though the clip has one peak."""
    document, output = spots_of(middle_best, tmp_path / "out", "--top", "5", "--min-gap", "1")
    times = sorted(spot["time"] for spot in document["spots"])
    assert len(times) == 5 and min(np.diff(times)) >= 1.0
    relaxed = document["selection"]["relaxed"]
    assert relaxed and document["selection"]["shortfall"] is None
    assert f"5 spots -> {tmp_path / 'out'}/ ({', '.join(relaxed)})" in output


def test_fewer_spots_than_asked_say_why(tmp_path):
    clip = write_video(tmp_path / "short.mp4", [textured(160, 96, seed=s) for s in [1] * 40], fps=FPS)
    document, output = spots_of(clip, tmp_path / "out", "--top", "5")
    count = len(document["spots"])
    shortfall = document["selection"]["shortfall"]
    assert 1 <= count < 5 and shortfall.startswith(f"{count} of 5: ")
    assert shortfall in output


LABELS = picks.ClipLabels(bad=[(4.0, 5.0)], shots=[(0.0, 3.0), (3.0, 10.0)])
TIMES = np.arange(0, 10.01, 0.5)  # 21 frames, 0 .. 10 s


def test_benchmark_counts_defects_edges_and_coverage():
    figures = picks.clip_metrics(LABELS, TIMES, np.ones(len(TIMES), bool), [0.2, 4.5, 7.0])
    assert figures["defects"] == 1  # 4.5 s is in the bad interval
    assert figures["edge_spots"] == 1  # 0.2 s is within half a second of the start
    assert (figures["shots_covered"], figures["coverage"]) == (2, 1.0)  # both shots, of min(2 shots, 3 spots)
    one = picks.clip_metrics(LABELS, TIMES, np.ones(len(TIMES), bool), [7.0])
    assert (one["shots_covered"], one["coverage"]) == (1, 1.0)  # one spot can cover one shot at most


def test_benchmark_over_rejection_counts_only_clean_frames():
    """Clean: not bad (4-5 s), not within 0.5 s of an end, not within 0.25 s of the labelled cut at 3 s."""
    clean = ~((TIMES >= 4) & (TIMES <= 5)) & (TIMES >= 0.5) & (TIMES <= 9.5) & (np.abs(TIMES - 3) > 0.25)
    rejected = (TIMES == 4.5) | (TIMES == 0.0) | (TIMES == 3.0) | (TIMES == 6.0) | (TIMES == 7.0)
    figures = picks.clip_metrics(LABELS, TIMES, ~rejected, [6.5])
    assert figures["clean_frames"] == clean.sum() == 15
    assert figures["over_rejection"] == pytest.approx(2 / 15)  # 6 and 7 s; the others are not clean


def test_benchmark_summary_holds_the_targets_to_their_figures():
    good = {"clip": "a", "auto": {**picks.clip_metrics(LABELS, TIMES, np.ones(len(TIMES), bool), [2.0, 7.0]),
                                  "duplicate_pairs": 0},
            "top": {"3": {"defects": 0, "honoured": True, "duplicate_pairs": 1}}}
    summary = picks.summarize([good, {"clip": "b", "error": "VideoError: broken"}], [3])
    assert summary["failures"] == 1 and not summary["targets_met"]["no failures"]
    assert summary["duplicate_pairs"] == 1 and not summary["targets_met"]["no duplicate spots"]
    assert summary["coverage"] == 1.0 and summary["targets_met"]["shot coverage >= 90 % on multi-shot clips"]
    one_shot, two_shots = picks.ClipLabels(), picks.ClipLabels(shots=[(0.0, 6.0), (6.0, 12.0)])
    assert picks.top_honoured(2, 3, duration=11.9, min_gap=2.0, labels=one_shot) is None  # too short
    assert picks.top_honoured(2, 3, duration=12.0, min_gap=2.0, labels=one_shot) is False
    assert picks.top_honoured(2, 3, duration=12.0, min_gap=2.0, labels=two_shots) is None  # two moments known
    assert picks.top_honoured(2, 2, duration=12.0, min_gap=2.0, labels=two_shots) is True


def test_the_benchmark_counts_pairs_of_images_that_show_one_picture(tmp_path):
    from PIL import Image

    from vidaesthetic import load_model

    pictures = [textured(320, 240, 1), textured(320, 240, 1), textured(320, 240, 2), textured(320, 240, 3)]
    images = []
    for number, picture in enumerate(pictures):
        images.append(tmp_path / f"{number}.jpg")
        Image.fromarray(picture).save(images[-1], quality=80)
    model = load_model("baseline")
    assert picks.duplicate_pairs(images, model, 1.0) == 1  # the two copies, by their hashes
    assert picks.duplicate_pairs(images, model, -1.0) == 6  # every pair, by embeddings that count all alike


def test_fast_recall_counts_a_spot_found_near_or_showing_the_same_picture():
    """long_clip.recall: a dense top-5 spot counts when a fast spot is within 0.5 s or shows the same picture."""
    import long_clip

    rng = np.random.default_rng(0)
    pictures = {index: rng.integers(0, 256, 32, dtype=np.uint8).tobytes() for index in range(10)}
    pictures[9] = pictures[1]  # frame 9 shows frame 1's picture again (a still shot)
    dense = {"spots": [(1.0, 1), (5.0, 5), (7.0, 7)], "hashes": pictures}
    fast = {"spots": [(1.4, 2), (9.0, 9)]}  # near spot 1, and frame 9 is also frame 1's picture; 5 and 7 missed
    assert long_clip.recall(dense, fast) == 1 / 3
    fast = {"spots": [(5.6, 6), (9.0, 9)]}  # 0.6 s from 5.0 is too far; frame 9 shows frame 1
    assert long_clip.recall(dense, fast) == 1 / 3
    fast = {"spots": [(5.5, 6), (7.0, 7), (0.8, 3)]}
    assert long_clip.recall(dense, fast) == 1.0
