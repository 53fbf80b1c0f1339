"""Interruptions, resources and concurrency: what an overnight archive run needs."""

import functools
import http.server
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from media import segments_video, textured, write_video
from vidaesthetic import VideoError, load_model, score_video
from vidaesthetic._internal.atomic import TEMP_SUFFIX
from vidaesthetic.cli import main

ROOT = Path(__file__).resolve().parents[1]


def long_video(path: Path, seconds: int = 60) -> Path:
    pictures = [textured(160, 96, seed=s) for s in range(4)]
    return write_video(path, (pictures[(i // 25) % 4] for i in range(25 * seconds)), fps=25)


def opened(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (it is decoding it)."""
    folder = Path(f"/proc/{pid}/fd")
    try:
        return any(os.path.realpath(folder / fd) == str(path.resolve()) for fd in os.listdir(folder))
    except OSError:
        return False


def leftovers(folder: Path):
    return [p for p in folder.rglob(f"*{TEMP_SUFFIX}")]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_scoring_leaves_no_outputs_and_a_rerun_succeeds(tmp_path, signum):
    video = long_video(tmp_path / "long.mp4")
    command = [sys.executable, "-m", "vidaesthetic", "spots", str(video), "-o", str(tmp_path / "out"), "-q",
               "--model", "baseline"]
    process = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not opened(process.pid, video) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "out").exists()
    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "out" / "spots.json").is_file()


def test_sigterm_during_frame_export_discards_everything(tmp_path, bsk_video, monkeypatch):
    from PIL import Image

    original = Image.Image.save

    def save_then_terminate(self, *args, **kwargs):
        original(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(Image.Image, "save", save_then_terminate)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        result = CliRunner().invoke(main, ["spots", str(bsk_video), "-o", str(tmp_path / "out"), "-q"])
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert result.exit_code == 130 and "interrupted" in result.output
    assert not (tmp_path / "out").exists()


def test_killed_run_leftovers_are_ignored_and_cleaned(tmp_path, bsk_video):
    out = tmp_path / "out"
    out.mkdir()
    stale = out / f".spots.json.abc123{TEMP_SUFFIX}"
    stale.write_text("half")
    result = CliRunner().invoke(main, ["spots", str(bsk_video), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert not stale.exists() and json.loads((out / "spots.json").read_text())["spots"]


class SlowHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files in small chunks with pauses, so a download can be interrupted half-way."""

    delay = 0.02

    def copyfile(self, source, destination):
        while chunk := source.read(64 * 1024):
            destination.write(chunk)
            time.sleep(self.delay)

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_release(tmp_path, monkeypatch):
    """A fake release of the right layout (random weights), served slowly on 127.0.0.1."""
    import torch

    from vidaesthetic._internal.download import git_blob_sha1
    from vidaesthetic.models import release
    from vidaesthetic.models.slim_resnet import ResNetV1
    from tf_writer import slim_variables_from_state_dict, write_checkpoint

    root = tmp_path / "www"
    root.mkdir()
    torch.manual_seed(0)
    write_checkpoint(root / "ae_model", slim_variables_from_state_dict(ResNetV1(50).state_dict()))
    # A mean image in the released layout: the authors' weights are never converted without one.
    (root / release.MEAN).write_bytes(pickle.dumps(np.full((3, 224, 224), 110.0, dtype=np.float32), protocol=4))
    files = {name: release.ReleaseFile(git_blob_sha1(root / name), (root / name).stat().st_size)
             for name in (release.INDEX, release.DATA, release.MEAN)}
    monkeypatch.setattr(release, "FILES", files)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(SlowHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("VIDAESTHETIC_RELEASE_URL", f"http://127.0.0.1:{server.server_port}/")
    yield root
    server.shutdown()
    server.server_close()


def test_interrupted_fetch_resumes_and_concurrent_fetches_agree(slow_release, monkeypatch):
    from vidaesthetic._internal.download import PART_SUFFIX
    from vidaesthetic.models import fetch_release, read_metadata, release
    from vidaesthetic.models.registry import cache_dir, cached_weights_path

    parts = cache_dir() / "downloads"
    finished = threading.Event()

    def interrupt_once_data_arrived():
        """Ctrl-C half-way through the weights, however long the machine takes to get there."""
        while not finished.wait(0.02):
            if any(part.stat().st_size > 0 for part in parts.rglob(release.DATA + PART_SUFFIX)):
                os.kill(os.getpid(), signal.SIGINT)
                return

    watcher = threading.Thread(target=interrupt_once_data_arrived)
    watcher.start()
    try:
        result = CliRunner().invoke(main, ["weights", "fetch", "-q"])
    finally:
        finished.set()
        watcher.join()
    assert result.exit_code == 130 and "resumes" in result.output
    assert not cached_weights_path().exists()
    assert any(p.stat().st_size > 0 for p in parts.rglob("*.part"))

    SlowHandler.delay = 0.0
    results, errors = [], []

    def fetch():
        try:
            results.append(fetch_release(progress=False))
        except Exception as error:  # reported below
            errors.append(error)

    fetchers = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in fetchers:
        thread.start()
    for thread in fetchers:
        thread.join(timeout=120)
    assert not errors and results == [cached_weights_path()] * 2
    assert read_metadata(cached_weights_path())["name"] == "aesthetic-resnet50"
    assert not leftovers(cache_dir())


def test_two_processes_writing_one_folder_agree_with_a_single_run(tmp_path, bsk_video):
    base = [sys.executable, "-m", "vidaesthetic", "spots", str(bsk_video), "-q", "--model", "baseline", "--force"]
    single = subprocess.run([*base, "-o", str(tmp_path / "single")], capture_output=True, text=True, timeout=120)
    assert single.returncode == 0, single.stderr
    runs = [subprocess.Popen([*base, "-o", str(tmp_path / "shared")], stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    for run in runs:
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 0, stderr
    expected = json.loads((tmp_path / "single" / "spots.json").read_text())
    shared = json.loads((tmp_path / "shared" / "spots.json").read_text())
    assert [s["time"] for s in shared["spots"]] == [s["time"] for s in expected["spots"]]
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == \
        sorted(p.name for p in (tmp_path / "single").iterdir())
    assert not leftovers(tmp_path)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_threads_and_file_handles_return_after_scoring_and_after_errors(tmp_path, bsk_video):
    model = load_model("baseline", device="cpu")
    score_video(bsk_video, model, progress=False)  # warm-up: libraries open what they keep open
    threads, handles = threading.active_count(), len(os.listdir("/proc/self/fd"))
    score_video(bsk_video, model, progress=False)
    broken = tmp_path / "broken.mp4"
    data = bsk_video.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError):
        score_video(broken, model, progress=False)
    with pytest.raises(RuntimeError, match="model failed"):  # an error in the model stops the decoder thread too
        score_video(bsk_video, FailingModel(), batch_size=8, progress=False)
    assert threading.active_count() == threads
    assert len(os.listdir("/proc/self/fd")) == handles


class FailingModel:
    """A model that fails on its second batch, while the decoder thread is busy."""

    def __new__(cls):
        from vidaesthetic.models import BaselineModel

        class Failing(BaselineModel):
            calls = 0

            def embed(self, frames):
                Failing.calls += 1
                if Failing.calls == 2:
                    raise RuntimeError("model failed")
                return super().embed(frames)

        return Failing()


MEMORY_PROBE = """
import resource, sys
from vidaesthetic import load_model, score_video
score_video(sys.argv[1], load_model("baseline", device="cpu"), progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_peak_memory_does_not_grow_with_the_video(tmp_path):
    short = segments_video(tmp_path / "short.mp4", "s" * 10, size=(320, 240))
    long = segments_video(tmp_path / "long.mp4", "s" * 120, size=(320, 240))
    peaks = {}
    for name, video in (("short", short), ("long", long)):
        result = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(video)], capture_output=True, text=True,
                                timeout=300, cwd=ROOT)
        assert result.returncode == 0, result.stderr
        peaks[name] = int(result.stdout.split()[-1])
    assert peaks["long"] <= 1.10 * peaks["short"], peaks
