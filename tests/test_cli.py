import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from media import fixture_videos, segments_video, textured, write_audio
from vidaesthetic.cli import main


def vidaesthetic(*args, cwd):
    return subprocess.run([sys.executable, "-m", "vidaesthetic", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def corrupt_middle(data: bytes) -> bytes:
    damaged = bytearray(data)
    middle = len(damaged) // 2
    for position in range(middle, middle + 2000, 7):
        damaged[position] ^= 0xFF
    return bytes(damaged)


def zero_payload(data: bytes) -> bytes:
    """Keep the container, blank every coded picture."""
    damaged = bytearray(data)
    start, end = damaged.find(b"mdat") + 20, damaged.find(b"moov") - 8
    damaged[start:end] = bytes(end - start)
    return bytes(damaged)


def make_bad_inputs(folder: Path, good: Path) -> dict:
    """name -> (expected exit code, expected words in the error)."""
    data = good.read_bytes()
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.mp4").write_text("not a video\n" * 50)
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (folder / "blank.mp4").write_bytes(zero_payload(data))
    (folder / "a folder.mp4").mkdir()
    write_audio(folder / "tone.m4a")
    Image.fromarray(textured(64, 48)).save(folder / "still.png")
    return {
        "missing.mp4": (2, "no such file"),
        "a folder.mp4": (2, "no video files"),
        "empty.mp4": (2, "empty file"),
        "notes.mp4": (2, "not a readable video"),
        "truncated.mp4": (2, "not a readable video"),
        "blank.mp4": (2, "no decodable video frames"),
        "tone.m4a": (2, "no video stream"),
        "still.png": (2, "still image"),
    }


def test_every_bad_input_gets_one_clear_line_and_no_outputs(tmp_path, bsk_video):
    cases = make_bad_inputs(tmp_path, bsk_video)
    for name, (code, words) in cases.items():
        result = vidaesthetic("spots", name, "-o", "out", "-q", cwd=tmp_path)
        assert result.returncode == code, (name, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and name in lines[0] and words in lines[0], (name, result.stderr)
        assert "Traceback" not in result.stderr and result.stdout == ""
        assert not (tmp_path / "out").exists(), name


def test_unwritable_output_is_refused_before_any_work(tmp_path, bsk_video):
    (tmp_path / "a-file").write_text("x")
    for output in ("a-file", "a-file/below"):
        result = vidaesthetic("spots", bsk_video, "-o", output, cwd=tmp_path)
        assert result.returncode == 2 and output in result.stderr and len(result.stderr.splitlines()) == 1


def test_read_only_output_directory_is_refused(tmp_path, bsk_video, permission_denied):
    """One line naming the output, before any work. In-process, where the simulated refusal applies (CI is root)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    permission_denied(locked)
    result = CliRunner().invoke(main, ["spots", str(bsk_video), "-o", str(locked / "out")])
    lines = result.stderr.splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and str(locked / "out") in lines[0] and "not writable" in lines[0], lines
    assert not any(locked.iterdir())


def test_damage_mid_stream_is_counted_as_reported_and_the_rest_is_scored(tmp_path):
    """Whether FFmpeg rejects or conceals the damaged packets depends on its build: either way the run
    goes on to the end, and any rejected packets are counted in spots.json and named in the warning."""
    good = segments_video(tmp_path / "good.mp4", "ssss")
    (tmp_path / "damaged.mp4").write_bytes(corrupt_middle(good.read_bytes()))
    result = vidaesthetic("spots", "damaged.mp4", "-o", "out", "--json", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    corrupt = document["corrupt_frames"]
    warned = f"skipped {corrupt} corrupt packet(s)" in result.stderr
    assert warned if corrupt else "corrupt" not in result.stderr
    with open(tmp_path / "out" / "scores.csv", encoding="utf-8") as handle:
        times = [float(row["time"]) for row in csv.DictReader(handle)]
    assert times[-1] >= 3.9  # the last of the four seconds is scored


def test_bad_options_are_usage_errors(tmp_path, bsk_video):
    runner = CliRunner()
    result = runner.invoke(main, ["spots", str(bsk_video), "--stride", "2", "--sample-fps", "3", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "either --stride or --sample-fps" in result.output
    assert runner.invoke(main, ["spots", str(bsk_video), "--top", "0"]).exit_code == 2
    assert runner.invoke(main, ["spots", str(bsk_video), "--model", "nope", "-o", str(tmp_path / "o")]).exit_code == 2
    assert not (tmp_path / "o").exists()


def test_json_output_and_replot_without_the_video(tmp_path, bsk_video):
    clip = tmp_path / "clip.mp4"
    shutil.copy(bsk_video, clip)
    runner = CliRunner()
    result = runner.invoke(main, ["spots", str(clip), "-o", str(tmp_path / "out"), "--top", "2", "--json", "-q"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["selection"]["top"] == 2 and 1 <= len(document["spots"]) <= 2
    clip.unlink()  # re-plotting must not need to decode
    plot = tmp_path / "again.svg"
    result = runner.invoke(main, ["curve", str(tmp_path / "out" / "scores.json"), "-o", str(plot), "--top", "2"])
    assert result.exit_code == 0, result.output
    assert plot.read_text().lstrip().startswith("<?xml") and "<image" in plot.read_text()


def test_several_videos_continue_past_a_bad_one(tmp_path, bsk_video):
    result = CliRunner().invoke(main, ["spots", str(bsk_video), str(tmp_path / "gone.mp4"), "-o", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 2
    assert "gone.mp4: no such file" in result.output and "1 of 2 videos failed" in result.output
    assert (tmp_path / "out" / bsk_video.stem / "spots.json").is_file()
    assert not (tmp_path / "out" / "gone").exists()


def test_curve_of_a_video(tmp_path, bsk_video):
    result = CliRunner().invoke(main, ["curve", str(bsk_video), "-o", str(tmp_path / "c.png"), "-q"])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "c.png") as image:
        assert image.format == "PNG"


@pytest.mark.parametrize("clip", fixture_videos(), ids=lambda p: p.name)
def test_spots_on_every_real_clip(clip, tmp_path):
    from vidaesthetic import ScoreCurve, open_video

    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["spots", str(clip), "-o", str(out), "--json", "-q"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    info = document["video"]
    curve = ScoreCurve.load(out / "scores.json")
    assert document["spots"]
    for spot in document["spots"]:
        assert spot["time"] in set(curve.times.tolist())
        with Image.open(out / spot["image"]) as image:
            assert image.size == (info["width"], info["height"])
    with Image.open(out / "curve.png") as plot:
        assert plot.size[0] >= 800 and plot.getextrema() != ((255, 255),) * 3
    with open_video(clip) as source:
        assert (source.info.width, source.info.height) == (info["width"], info["height"])


def test_rank_and_explain_commands(tmp_path):
    import numpy as np
    import torch
    from PIL import ImageFilter

    from vidaesthetic.models import AestheticResNet, save_weights

    sharp = Image.fromarray(textured(128, 96, seed=4))
    sharp.save(tmp_path / "b_sharp.png")
    sharp.filter(ImageFilter.GaussianBlur(4)).save(tmp_path / "a_blurred.png")
    (tmp_path / "c_broken.jpg").write_text("not an image")
    runner = CliRunner()
    result = runner.invoke(main, ["rank", str(tmp_path), "--json", "--model", "baseline",
                                  "--copy-to", str(tmp_path / "best"), "--top", "1", "-q"])
    assert result.exit_code == 0, result.output
    ranking = json.loads(result.stdout)
    assert Path(ranking["ranked"][0]["path"]).name == "b_sharp.png"
    assert [p.name for p in (tmp_path / "best").iterdir()] == ["001_b_sharp.png"]
    assert "c_broken.jpg" in result.stderr

    no_weights = runner.invoke(main, ["explain", str(tmp_path / "b_sharp.png"), "-o", str(tmp_path / "s.png")])
    assert no_weights.exit_code == 2 and "weights fetch" in no_weights.output
    torch.manual_seed(0)
    weights = tmp_path / "w.safetensors"
    save_weights(AestheticResNet(depth=18, width=0.125, input_size=(64, 64), embedding_dim=8), weights)
    result = runner.invoke(main, ["explain", str(tmp_path / "b_sharp.png"), "--weights", str(weights),
                                  "-o", str(tmp_path / "s.png"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "s.png") as figure:
        assert figure.format == "PNG" and np.asarray(figure).std() > 5


def test_a_folder_of_videos_is_processed_resumed_and_sharded(tmp_path):
    library = tmp_path / "library"
    (library / "day2").mkdir(parents=True)
    segments_video(library / "a.mp4", "sk")
    segments_video(library / "day2" / "b.mp4", "ks")
    (library / "day2" / "broken.mp4").write_text("not a video")
    runner = CliRunner()
    out = tmp_path / "out"
    first = runner.invoke(main, ["spots", str(library), "-o", str(out), "-q"])
    assert first.exit_code == 0, first.output  # without --recursive only a.mp4
    assert (out / "a" / "spots.json").is_file() and not (out / "day2").exists()
    second = runner.invoke(main, ["spots", str(library), "-r", "-o", str(out), "-q"])
    assert second.exit_code == 2
    assert "broken.mp4" in second.output and "1 done, 1 already done, 1 failed" in second.output
    assert (out / "day2" / "b" / "spots.json").is_file() and not (out / "day2" / "broken").exists()
    forced = runner.invoke(main, ["spots", str(library / "a.mp4"), str(library / "day2" / "b.mp4"),
                                  "-o", str(tmp_path / "shard"), "--shard", "1/2", "--force", "-q"])
    assert forced.exit_code == 0, forced.output
    assert [p.name for p in (tmp_path / "shard").iterdir()] == ["b"]


def test_parallel_jobs_give_the_same_spots(tmp_path):
    videos = [segments_video(tmp_path / f"v{i}.mp4", pattern) for i, pattern in enumerate(("skb", "bks"))]
    runner = CliRunner()
    serial = runner.invoke(main, ["spots", *map(str, videos), "-o", str(tmp_path / "serial"), "-q", "--model", "baseline"])
    parallel = runner.invoke(main, ["spots", *map(str, videos), "-o", str(tmp_path / "parallel"), "-q", "-j", "2",
                                    "--model", "baseline"])
    assert serial.exit_code == 0 and parallel.exit_code == 0, parallel.output
    for video in videos:
        a = json.loads((tmp_path / "serial" / video.stem / "spots.json").read_text())
        b = json.loads((tmp_path / "parallel" / video.stem / "spots.json").read_text())
        assert [s["time"] for s in a["spots"]] == [s["time"] for s in b["spots"]]


def test_best_handy_shot_command(tmp_path, bsk_video):
    result = CliRunner().invoke(main, ["best", str(bsk_video), "-o", str(tmp_path / "best.png"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "best.png") as image:
        assert image.size == (160, 96)
    assert "00:00:01." in result.output  # the sharp second
    bad = CliRunner().invoke(main, ["best", str(bsk_video), "-o", str(tmp_path / "best.gif")])
    assert bad.exit_code == 2 and not (tmp_path / "best.gif").exists()


def test_videos_with_the_same_stem_get_their_own_folders(tmp_path):
    from vidaesthetic.batch import plan_jobs

    jobs = plan_jobs([tmp_path / "a.mkv", tmp_path / "a.ts", tmp_path / "b.mp4"], tmp_path / "out")
    assert [job.out_dir.name for job in jobs] == ["a.mkv", "a.ts", "b"]


def test_an_internal_error_is_one_line_with_exit_1_and_debug_shows_the_traceback(tmp_path, bsk_video, monkeypatch):
    """A bug deep in the library is not blamed on the input (exit 1, not 2); --debug shows where it is."""
    def broken_peak_finder(*args, **kwargs):
        raise RuntimeError("peak finder exploded")

    monkeypatch.setattr("vidaesthetic.curve.spots.find_peaks", broken_peak_finder)
    arguments = ["spots", str(bsk_video), "-o", str(tmp_path / "out"), "-q", "--model", "baseline"]
    message = "vidaesthetic: error: internal error: RuntimeError: peak finder exploded (run with --debug for details)"
    runner = CliRunner()
    plain = runner.invoke(main, arguments)
    assert plain.exit_code == 1
    assert plain.stderr.splitlines() == [message] and plain.stdout == ""
    assert not (tmp_path / "out" / "spots.json").exists()
    debug = runner.invoke(main, ["--debug", *arguments])
    assert debug.exit_code == 1
    lines = debug.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):" and lines[-1] == message
    assert "in find_spots" in debug.stderr and "RuntimeError: peak finder exploded" in lines[-2]


def test_a_learned_model_on_a_cpu_runs_fast_unless_told_dense(tmp_path):
    """Scoring every frame with a learned model on a CPU is slow: by default fast mode runs, and says so."""
    from vidaesthetic.models import AestheticResNet, save_weights

    weights = tmp_path / "w.safetensors"
    save_weights(AestheticResNet(depth=18, width=0.125, input_size=(64, 64), embedding_dim=8), weights)
    video = segments_video(tmp_path / "v.mp4", "sbsbsbsb", seconds_each=1.0)
    runner = CliRunner()

    def run(out, *options):
        result = runner.invoke(main, ["spots", str(video), "-o", str(tmp_path / out), "-q", *options])
        assert result.exit_code == 0, result.output
        return result.output, json.loads((tmp_path / out / "spots.json").read_text())

    learned = ("--weights", str(weights), "--device", "cpu")
    said, document = run("default", *learned)
    assert document["sampling"]["mode"] == "fast" and document["sampling"]["chosen"] == "by default"
    assert document["frames_scored"] < document["video"]["frame_count"] == 200
    assert f"[fast mode: {document['frames_scored']} of ~200 frames scored; --dense scores every frame]" in said
    said, document = run("dense", *learned, "--dense")
    assert document["frames_scored"] == 200 and "mode" not in document["sampling"] and "fast mode" not in said
    assert run("sampled", *learned, "--sample-fps", "5")[1]["frames_scored"] == 40  # a sampling asked for: dense
    said, document = run("baseline", "--model", "baseline")
    assert document["frames_scored"] == 200  # the baseline model scores every frame quickly
    said, document = run("asked", "--model", "baseline", "--fast")
    assert document["sampling"]["chosen"] == "asked" and "fast mode" in said and "--dense" not in said
