"""Damaged videos fail cleanly, a decoder crash fails only its own file, and a decoder that cannot load is one line.

The fuzz test mutates the bytes of small generated videos at random and
decodes each mutant in a child process (``crashers.check_decodable``): the
outcome must be success or a one-line :class:`VidaestheticError` naming the
file, never another exception and never a hang. A crash of the decoder is
contained (it becomes such an error) and is reported as a warning.

``VIDAESTHETIC_FUZZ_CASES=N`` runs N cases per backend (default 40);
``VIDAESTHETIC_FUZZ_SEED=S`` draws other mutants. A failure names its seed,
case and mutations, which reproduce it.
"""

import os
import random
import signal
import time
import warnings
from pathlib import Path
from typing import Dict, Set, Tuple

import pytest
from click.testing import CliRunner

import crashers
from media import textured, write_video
from vidaesthetic.batch import Job, run_jobs
from vidaesthetic.cli import main
from vidaesthetic.errors import VidaestheticError, VideoError
from vidaesthetic._internal.isolation import ChildTraceback, run_isolated
from vidaesthetic.video import BACKENDS, available_backends
from vidaesthetic.video import open as video_open

CASES = int(os.environ.get("VIDAESTHETIC_FUZZ_CASES", "40"))
SEED = int(os.environ.get("VIDAESTHETIC_FUZZ_SEED", "0"))
TIMEOUT = 10.0
AVAILABLE = available_backends()

# file name -> (codec, pixel format)
SOURCES = {
    "h264.mp4": ("libx264", "yuv420p"),
    "mpeg4.avi": ("mpeg4", "yuv420p"),
    "ffv1.mkv": ("ffv1", "yuv420p"),
    "anim.gif": ("gif", "rgb8"),
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Dict[str, bytes]:
    folder = tmp_path_factory.mktemp("sources")
    return {name: write_video(folder / name, (textured(32, 24, seed=i) for i in range(10)), codec=codec,
                              pix_fmt=pix_fmt).read_bytes()
            for name, (codec, pix_fmt) in SOURCES.items()}


def _span(data: bytearray, rng: random.Random) -> Tuple[int, int]:
    start = rng.randrange(len(data))
    return start, min(len(data), start + rng.randint(1, 512))


def flip(data: bytearray, rng: random.Random) -> str:
    count = rng.randint(1, 16)
    for _ in range(count):
        data[rng.randrange(len(data))] ^= rng.randint(1, 255)
    return f"flip {count} bytes"


def truncate(data: bytearray, rng: random.Random) -> str:
    at = rng.randrange(1, len(data))
    del data[at:]
    return f"truncate at {at}"


def insert(data: bytearray, rng: random.Random) -> str:
    at, size = rng.randrange(len(data)), rng.randint(1, 512)
    data[at:at] = rng.randbytes(size)
    return f"insert {size} random bytes at {at}"


def delete(data: bytearray, rng: random.Random) -> str:
    start, end = _span(data, rng)
    del data[start:end]
    return f"delete {start}:{end}"


def zero(data: bytearray, rng: random.Random) -> str:
    start, end = _span(data, rng)
    data[start:end] = bytes(end - start)
    return f"zero {start}:{end}"


def duplicate(data: bytearray, rng: random.Random) -> str:
    start, end = _span(data, rng)
    at = rng.randrange(len(data))
    data[at:at] = data[start:end]
    return f"copy {start}:{end} to {at}"


MUTATIONS = (flip, truncate, insert, delete, zero, duplicate)


def mutant(sources: Dict[str, bytes], case: int) -> Tuple[str, bytes, str]:
    """(source name, mutated bytes, what was done): one to three random mutations, the same for a seed and case."""
    rng = random.Random(f"{SEED}-{case}")
    name = rng.choice(sorted(sources))
    data = bytearray(sources[name])
    # (stopping should a single byte be left)
    steps = [rng.choice(MUTATIONS)(data, rng) for _ in range(rng.randint(1, 3)) if len(data) > 1]
    return name, bytes(data), ", ".join(steps)


@pytest.mark.parametrize("case", range(CASES))
@pytest.mark.parametrize("backend", list(BACKENDS))
def test_a_damaged_video_decodes_or_fails_with_one_clear_line(sources, tmp_path_factory, backend, case):
    if backend not in AVAILABLE:
        pytest.skip(f"{backend} is not installed")
    name, data, steps = mutant(sources, case)
    path = tmp_path_factory.getbasetemp() / f"fuzz-{SEED}-{case}-{backend}-{name}"
    path.write_bytes(data)
    reproducer = f"VIDAESTHETIC_FUZZ_SEED={SEED} case {case}, {backend}, {name}: {steps}"
    try:
        crashers.check_decodable(path, backend=backend, timeout=TIMEOUT)
    except VidaestheticError as error:
        message = str(error)
        assert message.startswith(f"{path}: ") and "\n" not in message, f"{reproducer}: {message!r}"
        assert "timed out" not in message, f"{reproducer}: the decoder hung"
        if "crashed" in message:
            warnings.warn(f"{reproducer}: {message} (contained)")
    except Exception as error:
        pytest.fail(f"{reproducer}: {type(error).__name__} escaped: {error}\n{error.__cause__ or ''}", pytrace=False)
    path.unlink()


def test_a_decoder_that_cannot_load_is_one_clear_line(sources, tmp_path, monkeypatch):
    """Never skipped: torchcodec imports without FFmpeg's libraries and fails only when it loads them."""
    def cannot_load():
        raise RuntimeError("Could not load libtorchcodec. Likely causes:\n  1. FFmpeg is not properly installed")

    monkeypatch.setitem(video_open._LOADS, "torchcodec", cannot_load)
    (tmp_path / "clip.mp4").write_bytes(sources["h264.mp4"])
    result = CliRunner().invoke(main, ["spots", str(tmp_path / "clip.mp4"), "-o", str(tmp_path / "out"), "-q",
                                       "--backend", "torchcodec"])
    lines = result.stderr.splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and "the torchcodec backend is not available" in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_an_undamaged_video_decodes_whole_in_a_child(sources, tmp_path):
    path = tmp_path / "h264.mp4"
    path.write_bytes(sources["h264.mp4"])
    assert crashers.check_decodable(path, timeout=TIMEOUT) == crashers.DecodeCheck(frames=10, corrupt_frames=0)


@pytest.mark.parametrize("number", [signal.SIGSEGV, signal.SIGABRT, signal.SIGKILL])
def test_a_crashed_child_is_a_video_error_for_the_file(number):
    with pytest.raises(VideoError) as caught:
        run_isolated(crashers.die_by, number, what="decoding it", path="bad.mp4")
    assert str(caught.value) == f"bad.mp4: the decoder crashed ({number.name}) while decoding it"


def test_a_child_that_exits_without_an_answer_is_a_crash():
    with pytest.raises(VideoError, match=r"crashed \(exit code 3\)"):
        run_isolated(crashers.exit_with, 3, path="bad.mp4")


def test_a_hung_child_is_killed_at_the_timeout():
    started = time.monotonic()
    with pytest.raises(VideoError) as caught:
        run_isolated(crashers.sleep, 60, timeout=0.5, what="decoding it", path="slow.mp4")
    assert str(caught.value) == "slow.mp4: timed out after 0.5 s while decoding it"
    assert time.monotonic() - started < 10


def test_results_and_exceptions_come_back_as_raised(monkeypatch):
    assert run_isolated(crashers.add, 1, 2, scale=3) == 9
    with pytest.raises(VideoError) as caught:
        run_isolated(crashers.refuse, "some.mp4")
    assert caught.value.path == "some.mp4" and caught.value.message == "has no video stream"
    with pytest.raises(ValueError, match="a bug") as caught:
        run_isolated(crashers.fail)
    assert isinstance(caught.value.__cause__, ChildTraceback) and "crashers.py" in str(caught.value.__cause__)
    with pytest.raises(RuntimeError, match=r"crashers\.Stubborn: 7: native trouble"):
        run_isolated(crashers.raise_stubborn)
    with pytest.raises(Exception, match="pickle"):
        run_isolated(crashers.unpicklable_result)
    monkeypatch.setenv("VIDAESTHETIC_TEST_VALUE", "from the caller")
    assert run_isolated(crashers.environment, "VIDAESTHETIC_TEST_VALUE") == "from the caller"


def _descendants() -> Set[int]:
    """Ids of this process's descendants, zombies included, from /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        try:
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue  # not a process, or gone meanwhile
    found: Set[int] = set()
    generation = {os.getpid()}
    while generation:
        generation = {pid for pid, parent in parents.items() if parent in generation} - found
        found |= generation
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_children_leave_no_processes_or_pipes_behind():
    run_isolated(crashers.add, 1, 1)  # starts multiprocessing's own helper processes
    helpers, descriptors = _descendants(), len(os.listdir("/proc/self/fd"))
    for function, args in [(crashers.add, (1, 2)), (crashers.die_by, (signal.SIGSEGV,)), (crashers.sleep, (60,)),
                           (crashers.fail, ()), (crashers.exit_with, (1,))] * 3:
        try:
            run_isolated(function, *args, timeout=0.5)
        except (VidaestheticError, ValueError):
            pass
    assert _descendants() == helpers  # no child left, not even a zombie
    assert len(os.listdir("/proc/self/fd")) == descriptors


def test_a_crash_in_a_parallel_batch_fails_only_its_own_video(tmp_path):
    names = ("waits.mp4", "crashes.mp4", "bad.mp4", "fine.mp4")
    jobs = [Job(tmp_path / name, tmp_path / f"{name}_spots") for name in names]
    told = []
    report = run_jobs(jobs, crashers.batch_work, "settings", parallel=2,
                      on_result=lambda job, result, error: told.append(job.video.name))
    # waits.mp4 was running beside the crash: rerun, not blamed
    assert sorted(job.video.name for job in report.done) == ["fine.mp4", "waits.mp4"]
    failures = {job.video.name: str(error) for job, error in report.failed}
    assert failures == {
        "crashes.mp4": f"{tmp_path / 'crashes.mp4'}: the decoder crashed (SIGSEGV) while processing it",
        "bad.mp4": f"{tmp_path / 'bad.mp4'}: has no video stream",
    }
    assert sorted(told) == sorted(names)


def test_isolate_keeps_a_one_at_a_time_batch_out_of_harm(tmp_path):
    jobs = [Job(tmp_path / name, tmp_path / f"{name}_spots") for name in ("crashes.mp4", "fine.mp4")]
    report = run_jobs(jobs, crashers.batch_work, "settings", isolate=True)
    assert [job.video.name for job in report.done] == ["fine.mp4"]
    assert [(job.video.name, "crashed (SIGSEGV)" in str(error)) for job, error in report.failed] == [
        ("crashes.mp4", True)]
