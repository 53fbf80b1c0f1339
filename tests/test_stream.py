"""Live scoring (stream_scores) and the best handy shot (best_frame): files, pipes, stalls, dead URLs."""

import io
import os
import signal
import socket
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from media import segments_video
from vidaesthetic.errors import InputError, VideoError
from vidaesthetic.models import BaselineModel
from vidaesthetic.apps.best import best_frame, save_best, stream_scores
from vidaesthetic.video import Sampling, open_live, open_video

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
FRAMES = 45  # ts_bytes: "bsk", 15 frames each at 25 fps


@pytest.fixture(autouse=True)
def deadline():
    """No test here may hang CI, whatever a pipe or socket does."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum, frame):
        raise TimeoutError("test ran past its 30 s deadline")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def model():
    return BaselineModel()


@pytest.fixture(scope="module")
def ts_bytes(tmp_path_factory):
    """A short "bsk" video as MPEG-TS bytes: a container that can be read as it arrives."""
    return segments_video(tmp_path_factory.mktemp("ts") / "bsk.ts", "bsk", seconds_each=FRAMES / 3 / 25).read_bytes()


class Writer(threading.Thread):
    """Writes the first ``split`` bytes into a pipe, waits for ``go``, then the rest unless ``stall``."""

    def __init__(self, open_pipe, data: bytes, split: int, stall: bool = False) -> None:
        super().__init__(daemon=True)
        self.open_pipe, self.data, self.split, self.stall = open_pipe, data, split, stall
        self.go = threading.Event()
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            with self.open_pipe() as pipe:  # a FIFO opens once the reader has opened it
                pipe.write(self.data[: self.split])
                self.go.wait(20)
                if not self.stall:
                    pipe.write(self.data[self.split :])
        except BrokenPipeError:
            pass  # the reader gave up first
        finally:
            self.finished.set()


def accepted(server: socket.socket):
    """The writing end of the next connection to ``server`` (the socket closes with it)."""
    connection, _ = server.accept()
    with connection:
        return connection.makefile("wb", buffering=0)


@pytest.fixture(params=["fifo", "stdin"])
def pipe(request, tmp_path, monkeypatch):
    """(source, opener for the writing end): a named pipe, or stdin as an anonymous pipe."""
    if request.param == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no named pipes here")
        fifo = tmp_path / "live.ts"
        os.mkfifo(fifo)
        yield str(fifo), lambda: open(fifo, "wb", buffering=0)
        return
    if os.name == "nt":
        pytest.skip("stdin deadlines need select() on pipes")
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        yield "-", lambda: os.fdopen(write_end, "wb", buffering=0)


def test_file_scores_come_in_time_order_and_the_best_moves_into_the_sharp_second(bsk_video, model):
    scores = list(stream_scores(bsk_video, model, time_constant=0.3, max_fps=5, batch_size=4))
    times = np.array([score.time for score in scores])
    assert len(scores) == 15  # 3 s at 5 of its 25 fps
    assert np.all(np.diff(times) > 0)
    assert all(score.dropped == 0 for score in scores)  # a file waits for the model
    assert scores[4].best_time < 1.0  # while blurred: the best so far is blurred
    assert 1.0 <= scores[-1].best_time < 2.0  # black frames never win
    best = [score.best_score for score in scores]
    assert best == sorted(best)


def test_scores_arrive_from_a_pipe_while_the_writer_is_still_writing(pipe, ts_bytes, model):
    source, open_pipe = pipe
    writer = Writer(open_pipe, ts_bytes, split=len(ts_bytes) // 4)  # no waiting for seconds of stream to probe
    writer.start()
    scores = []
    for score in stream_scores(source, model, time_constant=0.3, read_timeout=5):
        if not scores:
            assert not writer.finished.is_set()
            writer.go.set()
        scores.append(score)
    writer.join(5)
    assert writer.finished.is_set()
    assert len(scores) + scores[-1].dropped == FRAMES  # every frame scored or counted as dropped
    assert [score.time for score in scores] == sorted(score.time for score in scores)


@needs_fifo
@pytest.mark.parametrize("share", [0.02, 0.5])
def test_a_stalled_pipe_ends_with_an_error_within_the_read_timeout(tmp_path, ts_bytes, model, share):
    threads = threading.active_count()
    fifo = tmp_path / "stalled.ts"
    os.mkfifo(fifo)
    writer = Writer(lambda: open(fifo, "wb", buffering=0), ts_bytes, split=int(len(ts_bytes) * share), stall=True)
    writer.start()
    start = time.monotonic()
    received = []
    # the read timeout ended it (1 s, while opening or later), not the open timeout (5 s)
    with pytest.raises(VideoError, match=r"(timed out after|no data for) 1 s") as error:
        received.extend(stream_scores(str(fifo), model, open_timeout=5, read_timeout=1))
    assert time.monotonic() - start < 10  # a sanity bound only: a busy machine may take a while to score
    assert str(fifo) in str(error.value)
    if share == 0.5:
        assert received  # the frames that came before the stall were scored
    writer.go.set()
    writer.join(5)
    assert threading.active_count() == threads


def test_a_dead_url_fails_quickly(model):
    """A refused connection ends at once, not after the open timeout."""
    threads = threading.active_count()
    start = time.monotonic()
    with pytest.raises(VideoError, match=r"http://127.0.0.1:9/x.ts: cannot be opened \(Connection refused\)"):
        next(stream_scores("http://127.0.0.1:9/x.ts", model, open_timeout=20, read_timeout=20))
    assert time.monotonic() - start < 20
    assert threading.active_count() == threads


def test_a_server_that_never_answers_times_out(model):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)  # connections are accepted by the system, and never answered
        url = f"http://127.0.0.1:{server.getsockname()[1]}/live.ts"
        start = time.monotonic()
        with pytest.raises(VideoError, match=r"cannot be opened \(timed out after 1 s\)"):
            next(stream_scores(url, model, open_timeout=1, read_timeout=1))
        assert time.monotonic() - start < 10  # a sanity bound only


def test_a_network_stream_that_stalls_times_out(ts_bytes, model):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        writer = Writer(lambda: accepted(server), ts_bytes, split=len(ts_bytes) // 2, stall=True)
        writer.start()
        received = []
        with pytest.raises(VideoError, match="stalled: no data for 1 s"):
            received.extend(stream_scores(f"tcp://127.0.0.1:{server.getsockname()[1]}", model, read_timeout=1))
        assert received
        writer.go.set()
        writer.join(5)


def test_closing_early_stops_the_decoder_thread(bsk_video, model):
    threads = threading.active_count()
    scores = stream_scores(bsk_video, model)
    next(scores)
    assert threading.active_count() == threads + 1
    scores.close()
    assert threading.active_count() == threads


@needs_fifo
def test_closing_while_a_pipe_waits_for_data_returns_promptly(tmp_path, ts_bytes, model):
    threads = threading.active_count()
    fifo = tmp_path / "quiet.ts"
    os.mkfifo(fifo)
    writer = Writer(lambda: open(fifo, "wb", buffering=0), ts_bytes, split=len(ts_bytes) // 2, stall=True)
    writer.start()
    scores = stream_scores(str(fifo), model, read_timeout=20)
    next(scores)
    start = time.monotonic()
    scores.close()
    assert time.monotonic() - start < 10  # well before the 20 s read timeout
    writer.go.set()
    writer.join(5)
    assert threading.active_count() == threads


def test_a_file_object_is_read_as_a_stream(ts_bytes, model):
    scores = list(stream_scores(io.BytesIO(ts_bytes), model, max_fps=5))
    assert len(scores) == 9  # 1.8 s at 5 fps
    assert scores[-1].dropped == 0  # in memory, not live: nothing to drop


def test_missing_file_and_bad_options_are_input_errors(tmp_path, model):
    with pytest.raises(VideoError, match="cannot be opened"):
        next(stream_scores(tmp_path / "missing.mp4", model))
    with pytest.raises(InputError, match="batch size"):
        next(stream_scores(tmp_path / "missing.mp4", model, batch_size=0))


def test_best_frame_is_in_the_sharp_second_at_full_resolution(bsk_video, model, tmp_path):
    shot = best_frame(bsk_video, model)
    assert 1.0 <= shot.time < 2.0
    assert shot.frame.shape == (96, 160, 3) and shot.frame.dtype == np.uint8
    assert shot.smoothed > 0
    for name in ("best.jpg", "best.png", "best.webp"):
        with Image.open(save_best(shot, tmp_path / "out" / name)) as image:
            assert image.size == (160, 96)
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["best.jpg", "best.png", "best.webp"]
    with pytest.raises(InputError, match="unsupported image format"):
        save_best(shot, tmp_path / "best.gif")


@needs_fifo
def test_best_frame_from_a_pipe_scores_every_frame(tmp_path, ts_bytes, model):
    fifo = tmp_path / "capture.ts"
    os.mkfifo(fifo)
    writer = Writer(lambda: open(fifo, "wb", buffering=0), ts_bytes, split=len(ts_bytes))
    writer.go.set()
    writer.start()
    shot = best_frame(str(fifo), model)  # the pipe waits for the model rather than losing frames
    writer.join(5)
    assert shot.time == best_frame(io.BytesIO(ts_bytes), model).time


def test_best_frame_is_upright(tmp_path, model):
    video = segments_video(tmp_path / "turned.mp4", "s", seconds_each=0.2, rotation=90)
    shot = best_frame(video, model, duration=0.1)
    assert shot.time <= 0.12  # duration stopped it early
    with open_video(video) as source:
        [(_, expected)] = source.frames_at([shot.time])
    assert shot.frame.shape == expected.shape == (160, 96, 3)
    assert np.array_equal(shot.frame, expected)


def test_best_frame_of_a_black_video_is_an_error(tmp_path, model):
    video = segments_video(tmp_path / "black.mp4", "k", seconds_each=0.2)
    with pytest.raises(VideoError, match="no usable frame"):
        best_frame(video, model)


def test_a_live_source_reads_once_and_gives_back_only_frames_of_its_latest_batch(tmp_path, ts_bytes):
    video = segments_video(tmp_path / "turned.mp4", "s", seconds_each=0.2, rotation=90)
    with open_live(video) as live, open_video(video) as source:
        for field in ("width", "height", "rotation", "start_time", "codec"):
            assert getattr(live.info, field) == getattr(source.info, field), field
        assert live.info.rotation
        batches = live.batches(batch_size=2, size=(32, 48), sampling=Sampling())
        first, second = next(batches), next(batches)
        assert first.frames.shape[1:] == (3, 32, 48) and first.indices[0] == 0
        [(time, picture)] = live.frames_at([second.times[0]])
        [(_, expected)] = source.frames_at([time])
        assert np.array_equal(picture, expected)  # upright at full display size, as a file backend gives it
        with pytest.raises(VideoError, match="cannot seek"):
            live.frames_at([first.times[0]])
        with pytest.raises(VideoError, match="read only once"):
            next(live.batches())
    with open_live(io.BytesIO(ts_bytes)) as live:
        assert live.info.frame_count == 0 and not live.info.frame_count_exact  # unknown until the end


def test_a_malformed_webcam_is_an_input_error():
    with pytest.raises(InputError, match="bad webcam 'webcam:x'"):
        open_live("webcam:x")
