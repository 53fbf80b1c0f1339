"""Scoring live video as it arrives, and the paper's "best handy shot".

A live source (a network stream, a pipe, a webcam) has no end to wait for and
cannot be read twice, so it is scored in one pass with the causal Kalman
filter (:class:`CausalSmoother`), one score per frame as frames arrive. A
decoder thread feeds the model through a small bounded queue, so memory
stays bounded; when the model falls behind a live source,
:func:`stream_scores` drops the oldest queued frames (and counts them) so
that latency stays bounded too, while :func:`best_frame`, which needs every
frame more than it needs speed, lets decoding wait. Every read has a
deadline, so a dead or stalled source ends with a :class:`VideoError`
instead of hanging.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import select
import stat
import sys
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Generator, Iterator, List, Optional, Tuple, Union

import av
import numpy as np
import torch
from PIL import Image

from .._internal.atomic import OutputSet
from ..curve.framestats import frame_statistics
from ..curve.shots import MAX_LUMA, MIN_LUMA, MIN_LUMA_STD
from ..curve.smoothing import CausalSmoother
from ..errors import InputError, PathLike, VideoError
from ..models import AestheticModel, load_model
from ..output.folder import IMAGE_FORMATS
from ..video import Sampling
from ..video.geometry import before_rotation, display_size, rotate_array
from ..video.pyav_backend import ffmpeg_reason, first_video_stream

log = logging.getLogger("vidaesthetic")

Source = Union[PathLike, BinaryIO]

_POLL = 0.1
"""Seconds between checks for a stop request while a pipe has no data."""

_OPEN_OPTIONS = {"fpsprobesize": "0"}
"""FFmpeg would read frames ahead to estimate the frame rate, which costs a live
source seconds of latency before its first frame; frame times make the rate unneeded."""

SHOT_FORMATS = {".jpg": "jpg", ".jpeg": "jpg", ".png": "png", ".webp": "webp"}
"""Image suffixes :func:`save_best` writes, and their formats."""


@dataclass
class StreamScore:
    """The score of one frame, and the best usable frame so far (NaN until there is one)."""

    time: float
    score: float
    smoothed: float
    best_time: float
    best_score: float
    """Smoothed score of the best usable frame so far."""
    dropped: int = 0
    """Frames dropped so far because the model fell behind a live source."""


@dataclass
class BestShot:
    """The best frame of a capture, upright at full display resolution (H x W x 3, RGB)."""

    time: float
    score: float
    smoothed: float
    frame: np.ndarray


def stream_scores(
    source: Source,
    model: Optional[AestheticModel] = None,
    *,
    time_constant: float = 1.0,
    max_fps: Optional[float] = None,
    batch_size: int = 1,
    open_timeout: float = 15.0,
    read_timeout: float = 10.0,
) -> Iterator[StreamScore]:
    """Score a video while it arrives, yielding one :class:`StreamScore` per scored frame.

    Args:
        source: a file path; a URL (``rtsp://``, ``http(s)://``, ``udp://``,
            ``tcp://``, ...); ``"-"`` for stdin (read from its descriptor) or
            the path of a FIFO; an open binary file object (read with its own
            ``read``, so without a read deadline); or a webcam, ``/dev/videoN``
            (Linux) or ``"webcam:N"`` (Linux, macOS).
        model: the model to score with; the default model when None.
        time_constant: of the causal Kalman filter, in seconds (0: no smoothing).
        max_fps: score at most this many frames per second of the source.
        batch_size: frames per model call at most; each call takes the frames
            that have arrived and never waits for a batch to fill.
        open_timeout: seconds to wait for the source to open.
        read_timeout: seconds without data after which the source has stalled.

    Times are the frames' presentation times; frames without one get the
    wall-clock seconds since the source opened. Frames of a live source (not
    a regular file) are dropped, oldest first, when the model falls behind;
    ``dropped`` counts them. Closing the iterator stops decoding and closes
    the source (after at most ``read_timeout`` for a network read in progress).

    Raises:
        VideoError: the source cannot be opened or read, times out or stalls.
    """
    scored = _scored(source, model, time_constant, max_fps, batch_size, open_timeout, read_timeout, may_drop=True)
    with closing(scored):
        for score, _ in scored:
            yield score


def best_frame(
    source: Source,
    model: Optional[AestheticModel] = None,
    *,
    time_constant: float = 0.3,
    duration: Optional[float] = None,
    batch_size: int = 8,
    open_timeout: float = 15.0,
    read_timeout: float = 10.0,
) -> BestShot:
    """The best usable frame of a short capture (the paper's "best handy shot").

    The best is the frame with the highest causally smoothed score, so one
    sharp frame amid shaky ones does not win by luck. Every frame is scored:
    when the model falls behind, decoding waits instead of dropping frames
    (a live source then lags, which a search for the best frame can afford).
    Only the current best frame is kept, so memory does not grow with the
    capture.

    Args:
        source: as for :func:`stream_scores`.
        duration: stop after this many seconds of the source (for sources
            that do not end, such as webcams); None reads to the end.
        batch_size: frames per model call at most (see :func:`stream_scores`).

    Raises:
        VideoError: as for :func:`stream_scores`, or when no frame is usable
            (every frame is black, white or blank).
    """
    best: Optional[Tuple[StreamScore, _Decoded]] = None
    start: Optional[float] = None
    scored = _scored(source, model, time_constant, None, batch_size, open_timeout, read_timeout, may_drop=False)
    with closing(scored):
        for score, decoded in scored:
            start = score.time if start is None else start
            if decoded is not None:
                best = (score, decoded)
            if duration is not None and score.time - start >= duration:
                break
    if best is None:
        raise VideoError("has no usable frame (every frame is black, white or blank)", _label(source))
    score, decoded = best
    return BestShot(score.time, score.score, score.smoothed, decoded.upright())


def save_best(shot: BestShot, path: PathLike) -> Path:
    """Write the shot as JPEG, PNG or WebP (by the suffix), complete or not at all."""
    path = Path(path)
    image_format = SHOT_FORMATS.get(path.suffix.lower())
    if image_format is None:
        raise InputError(f"unsupported image format {path.suffix!r}; use .jpg, .png or .webp", path)
    options = {"quality": 92} if image_format in ("jpg", "webp") else {}
    with OutputSet(path.parent) as outputs:
        Image.fromarray(shot.frame).save(outputs.reserve(path.name), format=IMAGE_FORMATS[image_format], **options)
    return path


@dataclass
class _Decoded:
    """A frame on its way to the model: its time, its pixels at model size, and the frame itself."""

    time: float
    picture: np.ndarray
    frame: "av.VideoFrame"
    aspect: float
    """Sample aspect ratio: non-square pixels are stretched to display size."""

    def upright(self) -> np.ndarray:
        """The frame at full display resolution, rotation applied."""
        width, height = display_size(self.frame.width, self.frame.height, self.aspect, 0)
        return rotate_array(self.frame.to_ndarray(width=width, height=height, format="rgb24"), _turns(self.frame))


def _turns(frame: "av.VideoFrame") -> int:
    """Clockwise quarter turns that make the frame upright (its rotation is counter-clockwise)."""
    return int(round(-(frame.rotation or 0) / 90.0)) % 4


def _usable(mean: float, spread: float) -> bool:
    """Not black, white or blank: the rule of :func:`vidaesthetic.curve.shots.blank_frames`."""
    return MIN_LUMA <= mean <= MAX_LUMA and spread >= MIN_LUMA_STD


def _scored(
    source: Source,
    model: Optional[AestheticModel],
    time_constant: float,
    max_fps: Optional[float],
    batch_size: int,
    open_timeout: float,
    read_timeout: float,
    may_drop: bool,
) -> Generator[Tuple[StreamScore, Optional[_Decoded]], None, None]:
    """Scores, each with its frame when that frame is the new best (else None).

    ``may_drop``: drop frames of a live source when the model falls behind,
    rather than let it wait.
    """
    if batch_size < 1:
        raise InputError("batch size must be at least 1")
    try:
        sampling = Sampling(fps=max_fps)
    except ValueError as error:
        raise InputError(str(error)) from None
    model = model if model is not None else load_model()
    frames = _FrameQueue(capacity=2 * batch_size)
    decoder = _Decoder(source, model.input_size, sampling, open_timeout, read_timeout, frames, may_drop)
    worker = threading.Thread(target=decoder.run, name="vidaesthetic-stream", daemon=True)
    worker.start()
    smoother = CausalSmoother(time_constant)
    best_time = best_score = math.nan
    try:
        while batch := frames.take(batch_size):
            pictures = torch.from_numpy(np.stack([item.picture for item in batch])).permute(0, 3, 1, 2)
            pictures = pictures.to(model.device)
            scores = model.score(pictures).cpu().tolist()
            statistics = frame_statistics(pictures).cpu().tolist()
            for item, score, (mean, spread) in zip(batch, scores, statistics):
                smoothed = smoother.update(item.time, score)
                better = _usable(mean, spread) and (math.isnan(best_score) or smoothed > best_score)
                if better:
                    best_time, best_score = item.time, smoothed
                scored = StreamScore(item.time, score, smoothed, best_time, best_score, frames.dropped)
                yield scored, item if better else None
    finally:
        frames.close()
        worker.join()
        if frames.dropped:
            log.warning("%s: the model fell behind; dropped %d frame(s)", _label(source), frames.dropped)


class _FrameQueue:
    """Decoded frames from the decoder thread to the model, at most ``capacity`` of them.

    A full queue either makes the decoder wait, or drops its oldest frame
    (for a live source, which would otherwise fall ever further behind).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.dropped = 0
        self.stop = threading.Event()
        self._items: "collections.deque[_Decoded]" = collections.deque()
        self._changed = threading.Condition()
        self._finished = False
        self._error: Optional[BaseException] = None

    def put(self, item: _Decoded, drop: bool) -> None:
        with self._changed:
            while not drop and len(self._items) >= self.capacity and not self.stop.is_set():
                self._changed.wait()
            if self.stop.is_set():
                return
            if len(self._items) >= self.capacity:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._changed.notify_all()

    def finish(self, error: Optional[BaseException] = None) -> None:
        """The decoder is done: no more frames, and the error that ended it, if any."""
        with self._changed:
            self._finished, self._error = True, error
            self._changed.notify_all()

    def take(self, limit: int) -> List[_Decoded]:
        """Up to ``limit`` frames, waiting only for the first; [] at the end; the decoder's error, raised."""
        with self._changed:
            while not self._items and not self._finished:
                self._changed.wait()
            if not self._items and self._error is not None:
                raise self._error
            batch = [self._items.popleft() for _ in range(min(limit, len(self._items)))]
            self._changed.notify_all()
            return batch

    def close(self) -> None:
        """Ask the decoder to stop (it notices between frames and while waiting for data)."""
        with self._changed:
            self.stop.set()
            self._changed.notify_all()


class _PipeReader:
    """Reads a pipe for PyAV with a deadline: FFmpeg's own reads of a pipe would wait forever.

    A stall or a stop request ends the data as end-of-file rather than with an
    exception (some demuxers retry a failed read, which would repeat it);
    ``stalled_after`` tells the decoder which it was.
    """

    def __init__(self, fd: int, stop: threading.Event, open_timeout: float, read_timeout: float) -> None:
        self.fd = fd
        self.stalled_after: Optional[float] = None
        """Seconds waited in vain, once the pipe has stalled."""
        self._stop = stop
        self._open_timeout = open_timeout
        self._read_timeout = read_timeout
        self._started = False

    def read(self, size: int) -> bytes:
        timeout = self._read_timeout if self._started else self._open_timeout
        deadline = time.monotonic() + timeout
        while self.stalled_after is None and not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stalled_after = timeout
            elif select.select([self.fd], [], [], min(remaining, _POLL))[0]:
                try:
                    data = os.read(self.fd, size)
                except BlockingIOError:
                    continue
                self._started = True
                return data
        return b""


class _Decoder:
    """The decoder thread: opens the source, decodes, and hands frames at model size to a queue."""

    def __init__(self, source: Source, size: Tuple[int, int], sampling: Sampling, open_timeout: float,
                 read_timeout: float, frames: _FrameQueue, may_drop: bool) -> None:
        self.source = source
        self.label = _label(source)
        self.size = size
        self.sampling = sampling
        self.timeouts = (open_timeout, read_timeout)
        self.frames = frames
        self.may_drop = may_drop
        self.opened = False
        self.reader: Optional[_PipeReader] = None

    def run(self) -> None:
        error: Optional[BaseException] = None
        try:
            self._run()
        except BaseException as exc:  # handed to the consumer, who raises it
            error = exc
        finally:
            self.frames.finish(error)

    def _run(self) -> None:
        target, container_format, live, owned_fd = self._resolve()
        try:
            try:
                container = av.open(target, format=container_format, options=_OPEN_OPTIONS, timeout=self.timeouts,
                                    metadata_errors="ignore")
            except av.FFmpegError as exc:
                raise self._error(exc) from None
            self.opened = True
            with container:
                self._decode(container, live)
        finally:
            if owned_fd is not None:
                os.close(owned_fd)

    def _resolve(self) -> Tuple[Union[str, BinaryIO, _PipeReader], Optional[str], bool, Optional[int]]:
        """(what av.open reads, its format, whether it is live, a descriptor to close after)."""
        source = self.source
        if not isinstance(source, (str, os.PathLike)):
            return source, None, _is_live(source), None
        text = os.fspath(source)
        if text.startswith("webcam:"):
            return (*_webcam(text), True, None)
        if text.startswith("/dev/video"):
            return text, "v4l2", True, None
        if text == "-":
            live = _is_live(sys.stdin)
            if live and os.name != "nt":  # a pipe: reads need a deadline (select() works on pipes off Windows)
                self.reader = _PipeReader(sys.stdin.fileno(), self.frames.stop, *self.timeouts)
                return self.reader, None, True, None
            return sys.stdin.buffer, None, live, None  # a file: seekable, so MP4 works too
        if "://" not in text and stat.S_ISFIFO(_mode(text)):
            fd = os.open(text, os.O_RDONLY | os.O_NONBLOCK)  # does not wait for a writer
            self.reader = _PipeReader(fd, self.frames.stop, *self.timeouts)
            return self.reader, None, True, fd
        return text, None, "://" in text, None

    def _decode(self, container: "av.container.InputContainer", live: bool) -> None:
        stream = first_video_stream(container, self.label)
        if not live:
            stream.thread_type = "AUTO"  # frame threads add a few frames of latency: files only
        aspect = float(stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio or 1) or 1.0
        selector = self.sampling.selector()
        started = time.monotonic()
        index = count = corrupt = 0
        try:
            for packet in container.demux(stream):
                try:
                    decoded = packet.decode()
                except av.FFmpegError:
                    corrupt += 1
                    continue
                for frame in decoded:
                    if self.frames.stop.is_set():
                        return
                    moment = frame.time if frame.time is not None else time.monotonic() - started
                    index += 1
                    if not selector.take(index, moment):
                        continue
                    count += 1
                    self.frames.put(_Decoded(moment, self._picture(frame), frame, aspect), drop=live and self.may_drop)
        except av.FFmpegError as exc:
            raise self._error(exc) from None
        if self.reader is not None and self.reader.stalled_after is not None:
            raise self._timed_out(self.reader.stalled_after)
        if corrupt:
            log.warning("%s: skipped %d corrupt packet(s)", self.label, corrupt)
        if not count and not self.frames.stop.is_set():
            raise VideoError("has no decodable video frames", self.label)

    def _picture(self, frame: "av.VideoFrame") -> np.ndarray:
        """The frame at the model's input size, upright."""
        turns = _turns(frame)
        height, width = before_rotation(*self.size, turns)
        return rotate_array(frame.to_ndarray(width=width, height=height, format="rgb24"), turns)

    def _error(self, exc: av.FFmpegError) -> VideoError:
        if self.reader is not None and self.reader.stalled_after is not None:
            return self._timed_out(self.reader.stalled_after)
        if isinstance(exc, av.ExitError):  # PyAV's deadline for FFmpeg's own reads
            return self._timed_out(self.timeouts[1] if self.opened else self.timeouts[0])
        reason = ffmpeg_reason(exc)
        if self.reader is not None and isinstance(exc, av.InvalidDataError):
            reason += "; a pipe needs a streamable container such as MPEG-TS or Matroska"
        return VideoError(f"cannot be {'read' if self.opened else 'opened'} ({reason})", self.label)

    def _timed_out(self, seconds: float) -> VideoError:
        if self.opened:
            return VideoError(f"stalled: no data for {seconds:g} s (timed out)", self.label)
        return VideoError(f"cannot be opened (timed out after {seconds:g} s)", self.label)


def _label(source: Source) -> str:
    """How errors name the source."""
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        return "<stdin>" if text == "-" else text
    return str(getattr(source, "name", "<stream>"))


def _mode(path: str) -> int:
    try:
        return os.stat(path).st_mode
    except OSError:
        return 0  # let FFmpeg say why it cannot be opened


def _is_live(file: IO) -> bool:
    """Whether a file object is fed in real time (a pipe, socket or device), not a file on disk."""
    try:
        return not stat.S_ISREG(os.fstat(file.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return False  # in memory, or a reader of its own


def _webcam(text: str) -> Tuple[str, str]:
    """``webcam:N`` as FFmpeg's capture device on this system."""
    number = text.partition(":")[2]
    if not number.isdigit():
        raise InputError(f"bad webcam {text!r}; use webcam:N, e.g. webcam:0")
    if sys.platform.startswith("linux"):
        return f"/dev/video{number}", "v4l2"
    if sys.platform == "darwin":
        return number, "avfoundation"
    raise InputError("webcam:N works on Linux and macOS only", text)
