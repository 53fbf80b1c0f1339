"""Batch runs: finished videos are skipped only when their results came from the same file and settings;
``--shard`` and torchrun's RANK/WORLD_SIZE share a folder out without overlap or gaps."""

import json
import os
from dataclasses import replace

import pytest
from click.testing import CliRunner

from media import segments_video
from vidaesthetic.batch import Job, already_done, parse_shard
from vidaesthetic.cli import main
from vidaesthetic.errors import InputError
from vidaesthetic.models import load_model
from vidaesthetic.pipeline import extract_spots
from vidaesthetic.settings import SpotSettings

SETTINGS = SpotSettings(model_name="baseline", top=2, min_gap=2.0, progress=False)

# What ``spots -q --model baseline --top 2`` recorded before the settings were a dataclass.
EARLIER_RECORD = (
    '{"backend": "auto", "batch_size": 32, "fast": false, "image_format": "jpg", "markers": [], '
    '"max_similarity": 0.95, "min_gap": 2.0, "model": {"compile": false, "device": "auto", "name": "baseline", '
    '"precision": "auto", "weights": null}, "per_shot": null, "plot_format": "png", '
    '"sampling": "Sampling(stride=1, fps=None)", "time_constant": 1.0, "top": 2}'
)


def tiny_video(path):
    """Ten small frames: enough for a spot, quick to score."""
    return segments_video(path, "s", seconds_each=0.4, size=(64, 48))


def test_already_done_needs_the_same_file_and_the_same_settings(tmp_path):
    job = Job(tiny_video(tmp_path / "clip.mp4"), tmp_path / "out")
    assert not already_done(job, SETTINGS.digest())  # nothing there yet
    extract_spots(job.video, job.out_dir, load_model("baseline"), SETTINGS)
    assert already_done(job, SETTINGS.digest())
    assert already_done(job, replace(SETTINGS, progress=None, threads=4).digest())
    assert not already_done(job, replace(SETTINGS, top=3).digest())
    assert not already_done(job, replace(SETTINGS, min_gap=1.0).digest())
    stat = job.video.stat()
    os.utime(job.video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the video was replaced
    assert not already_done(job, SETTINGS.digest())


def spots(library, out, *options):
    result = CliRunner().invoke(main, ["spots", str(library), "-o", str(out), "-q", "--model", "baseline", *options])
    assert result.exit_code == 0, result.output
    return result


def test_a_rerun_skips_force_redoes_and_changed_settings_redo(tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    tiny_video(library / "clip.mp4")
    out = tmp_path / "out"
    record = out / "clip" / "spots.json"

    assert "1 done, 0 already done" in spots(library, out, "--top", "2").stderr
    first = record.stat().st_ino
    assert "0 done, 1 already done" in spots(library, out, "--top", "2").stderr
    assert record.stat().st_ino == first  # untouched
    assert json.loads(record.read_text())["settings"] == EARLIER_RECORD  # so earlier folders count as done too

    assert "1 done, 0 already done" in spots(library, out, "--top", "2", "--force").stderr
    forced = record.stat().st_ino
    assert forced != first  # written again

    assert "1 done, 0 already done" in spots(library, out, "--top", "3").stderr
    assert json.loads(record.read_text())["selection"]["top"] == 3
    assert "1 done, 0 already done" in spots(library, out, "--top", "3", "--min-gap", "0.1").stderr
    assert json.loads(record.read_text())["selection"]["min_gap"] == 0.1
    assert "0 done, 1 already done" in spots(library, out, "--top", "3", "--min-gap", "0.1").stderr


@pytest.fixture(scope="module")
def library_of_seven(tmp_path_factory):
    library = tmp_path_factory.mktemp("library")
    for number in range(7):
        tiny_video(library / f"v{number}.mp4")
    return library


def shares(library, tmp_path, how):
    """The videos each of three runs processed, by the folders they wrote."""
    processed = []
    for index in range(3):
        out = tmp_path / f"share{index}"
        if how == "option":
            result = CliRunner().invoke(main, ["spots", str(library), "-o", str(out), "-q", "--model", "baseline",
                                               "--shard", f"{index}/3"])
        else:
            result = CliRunner(env={"RANK": str(index), "WORLD_SIZE": "3"}).invoke(
                main, ["spots", str(library), "-o", str(out), "-q", "--model", "baseline"])
        assert result.exit_code == 0, result.output
        assert f"in share {index}/3" in result.stderr
        processed.append({folder.name for folder in out.iterdir() if (folder / "spots.json").is_file()})
    return processed


@pytest.mark.parametrize("how", ["option", "torchrun"])
def test_three_shares_cover_the_folder_once(library_of_seven, tmp_path, how):
    processed = shares(library_of_seven, tmp_path, how)
    assert all(processed)
    assert set().union(*processed) == {f"v{number}" for number in range(7)}
    assert sum(map(len, processed)) == 7  # so no video is in two shares


@pytest.mark.parametrize("text", ["3", "1/2/3", "a/3", "3/3", "-1/3", "0/0", ""])
def test_bad_shards_are_refused_in_one_line(text):
    with pytest.raises(InputError, match="--shard") as refused:
        parse_shard(text)
    assert "\n" not in str(refused.value)


def test_a_bad_shard_is_a_usage_error_before_any_work(tmp_path):
    tiny_video(tmp_path / "clip.mp4")
    result = CliRunner().invoke(main, ["spots", str(tmp_path / "clip.mp4"), "-o", str(tmp_path / "out"),
                                       "--shard", "2/2"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == ["vidaesthetic: error: --shard 2/2: I must be from 0 to N-1"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("rank, world", [("3", "3"), ("one", "3"), ("0", "")])
def test_a_bad_torchrun_environment_is_refused_before_any_work(tmp_path, rank, world):
    tiny_video(tmp_path / "clip.mp4")
    result = CliRunner(env={"RANK": rank, "WORLD_SIZE": world}).invoke(
        main, ["spots", str(tmp_path / "clip.mp4"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"vidaesthetic: error: RANK/WORLD_SIZE is {rank}/{world}: both must be integers with 0 <= RANK < WORLD_SIZE"]
    assert not (tmp_path / "out").exists()
