"""Live sources: a pipe, a URL or a camera, read once as it arrives.

A live source cannot seek and has no end to wait for, so it implements
:class:`VideoSource` as far as one pass allows: :meth:`LiveSource.batches`
runs once, and :meth:`LiveSource.frames_at` gives back only frames of the
latest batch. A decoder thread feeds the reader through a small bounded
queue, so memory stays bounded; when the reader falls behind a real-time
source, the source either drops its oldest queued frames (``drop_late``,
counted in ``dropped``) so that latency stays bounded too, or lets decoding
wait. Every read has a deadline, so a dead or stalled source ends with a
:class:`VideoError` instead of hanging.
"""

from __future__ import annotations

import collections
import itertools
import os
import select
import stat
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, BinaryIO, Iterator, List, Optional, Sequence, Tuple, Union

import av
import numpy as np
import torch

from ..errors import InputError, PathLike, VideoError
from .geometry import before_rotation, display_size, rotate_array
from .probe import (TIME_TOLERANCE, average_rate, ffmpeg_reason, first_video_stream, frame_geometry, frame_turns,
                    sample_aspect_ratio)
from .source import VideoSource
from .types import FrameBatch, Sampling, Span, VideoInfo, in_spans

LiveInput = Union[PathLike, BinaryIO]
"""What a live source reads: a path, URL, ``"-"``, FIFO or webcam name, or an open binary file."""

_POLL = 0.1
"""Seconds between checks for a stop request while a pipe has no data."""

_OPEN_OPTIONS = {"fpsprobesize": "0"}
"""FFmpeg would read frames ahead to estimate the frame rate, which costs a live
source seconds of latency before its first frame; frame times make the rate unneeded."""


@dataclass
class _Decoded:
    """A frame on its way to the reader: its number, time, pixels at the batch size, and the frame itself."""

    index: int
    time: float
    picture: np.ndarray
    frame: "av.VideoFrame"


class LiveSource(VideoSource):
    """A video read once, as it arrives, through PyAV.

    Args:
        source: a file path; a URL (``rtsp://``, ``http(s)://``, ``udp://``,
            ``tcp://``, ...); ``"-"`` for stdin (read from its descriptor) or
            the path of a FIFO; an open binary file object (read with its own
            ``read``, so without a read deadline); or a webcam, ``/dev/videoN``
            (Linux) or ``"webcam:N"`` (Linux, macOS).
        open_timeout: seconds to wait for the source to open.
        read_timeout: seconds without data after which the source has stalled.
        drop_late: when the reader falls behind a real-time source (not a
            regular file), drop the oldest queued frames instead of waiting.

    Opening decodes the first frame, so :attr:`info` knows the picture's
    size and rotation; a live source's frame count, duration and variable
    rate are unknown (0, 0 and False). Times are the frames' presentation
    times; frames without one get the wall-clock seconds since the source
    opened. Closing stops decoding and closes the source (after at most
    ``read_timeout`` for a network read in progress).

    Raises:
        VideoError: the source cannot be opened or read, times out or stalls.
    """

    backend = "pyav"

    def __init__(self, source: LiveInput, open_timeout: float = 15.0, read_timeout: float = 10.0,
                 drop_late: bool = False) -> None:
        self.label = source_label(source)
        self.drop_late = drop_late
        self._timeouts = (open_timeout, read_timeout)
        self._stop = threading.Event()
        self._reader: Optional[_PipeReader] = None
        self._owned_fd: Optional[int] = None
        self._container: Optional["av.container.InputContainer"] = None
        self._queue: Optional[_FrameQueue] = None
        self._worker: Optional[threading.Thread] = None
        self._latest: List[_Decoded] = []
        self._frames: Optional[Iterator[Tuple[float, "av.VideoFrame"]]] = None
        self._first: Optional[Tuple[float, "av.VideoFrame"]] = None
        self._closed = False
        self.corrupt_frames = 0
        try:
            target, container_format, self.live = self._resolve(source)
            self._container = self._open(target, container_format)
            stream = first_video_stream(self._container, self.label)
            if not self.live:
                stream.thread_type = "AUTO"  # frame threads add a few frames of latency: files only
            self._aspect = sample_aspect_ratio(stream)
            self._started = time.monotonic()
            self._frames = self._decoded(stream)
            self._first = next(self._frames, None)
            if self._first is None:
                raise VideoError("has no decodable video frames", self.label)
        except BaseException:
            self.close()
            raise
        first_time, first = self._first
        corrupt = self.corrupt_frames  # rejected before the first frame, which the pass includes
        super().__init__(VideoInfo(
            path=self.label, **frame_geometry(stream, first), fps=average_rate(stream),  # type: ignore[arg-type]
            frame_count=0, frame_count_exact=False, duration=0.0, codec=stream.codec_context.name,
            variable_frame_rate=False, start_time=first_time,
        ))
        self.corrupt_frames = corrupt

    @property
    def dropped(self) -> int:
        """Frames dropped so far because the reader fell behind a live source."""
        return self._queue.dropped if self._queue is not None else 0

    def batches(
        self,
        batch_size: int = 32,
        size: Tuple[int, int] = (224, 224),
        sampling: Sampling = Sampling(),
        spans: Optional[Sequence[Span]] = None,
        reference_only: bool = False,
    ) -> Iterator[FrameBatch]:
        """Sampled frames as they arrive, upright at ``size``; see :meth:`VideoSource.batches`.

        A batch holds the frames that have arrived, up to ``batch_size``: it
        never waits for a batch to fill. A live source is read once, so this
        runs once. ``reference_only`` is ignored (live frames are all decoded).
        """
        if self._worker is not None or self._closed:
            raise VideoError("is a live source, which can be read only once", self.label)
        self._queue = queue = _FrameQueue(2 * batch_size, self._stop)
        self._worker = threading.Thread(target=self._run, args=(queue, size, sampling, spans),
                                        name="vidaesthetic-stream", daemon=True)
        self._worker.start()
        try:
            while batch := queue.take(batch_size):
                self._latest = batch
                pictures = torch.from_numpy(np.stack([item.picture for item in batch])).permute(0, 3, 1, 2)
                yield FrameBatch(pictures, np.asarray([item.index for item in batch], dtype=np.int64),
                                 np.asarray([item.time for item in batch], dtype=np.float64))
        finally:
            self._halt()

    def frames_at(
        self, times: Sequence[float], indices: Optional[Sequence[int]] = None
    ) -> Iterator[Tuple[float, np.ndarray]]:
        """Frames of the latest batch again, at full display resolution, upright.

        A live source cannot seek: a time that is not in the latest batch is a
        :class:`VideoError`, raised at once. Converting the frames waits until
        the iterator is read, so a caller can hold on to a frame cheaply.
        Frames are found by time, which a live source gives every frame
        (``indices`` add nothing).
        """
        found = []
        for target in sorted({float(t) for t in times}):
            item = min(self._latest, key=lambda item: abs(item.time - target), default=None)
            if item is None or abs(item.time - target) > TIME_TOLERANCE:
                raise VideoError(f"is a live source and cannot seek: the frame at {target:.3f} s is gone", self.label)
            found.append(item)
        return ((item.time, self._upright(item.frame)) for item in found)

    def close(self) -> None:
        """Stop the decoder thread and close the source."""
        if self._closed:
            return
        self._closed = True
        self._halt()
        if self._frames is not None:
            self._frames.close()
        if self._container is not None:
            self._container.close()
        if self._owned_fd is not None:
            os.close(self._owned_fd)

    def _halt(self) -> None:
        """Ask the decoder thread to stop (it notices between frames and while waiting for data), and wait."""
        self._stop.set()
        if self._queue is not None:
            self._queue.close()
        if self._worker is not None:
            self._worker.join()

    def _resolve(self, source: LiveInput) -> Tuple[Union[str, BinaryIO, "_PipeReader"], Optional[str], bool]:
        """(what av.open reads, its format, whether it is fed in real time)."""
        if not isinstance(source, (str, os.PathLike)):
            return source, None, _is_live(source)
        text = os.fspath(source)
        if text.startswith("webcam:"):
            return (*_webcam(text), True)
        if text.startswith("/dev/video"):
            return text, "v4l2", True
        if text == "-":
            live = _is_live(sys.stdin)
            if live and os.name != "nt":  # a pipe: reads need a deadline (select() works on pipes off Windows)
                self._reader = _PipeReader(sys.stdin.fileno(), self._stop, *self._timeouts)
                return self._reader, None, True
            return sys.stdin.buffer, None, live  # a file: seekable, so MP4 works too
        if "://" not in text and stat.S_ISFIFO(_mode(text)):
            self._owned_fd = os.open(text, os.O_RDONLY | os.O_NONBLOCK)  # does not wait for a writer
            self._reader = _PipeReader(self._owned_fd, self._stop, *self._timeouts)
            return self._reader, None, True
        return text, None, "://" in text

    def _open(self, target: Union[str, BinaryIO, "_PipeReader"], container_format: Optional[str]):
        try:
            container = av.open(target, format=container_format, options=_OPEN_OPTIONS, timeout=self._timeouts,
                                metadata_errors="ignore")
        except av.FFmpegError as exc:
            raise self._error(exc, opened=False) from None
        return container

    def _decoded(self, stream) -> Iterator[Tuple[float, "av.VideoFrame"]]:
        """(time, frame) of every decodable frame; rejected packets are counted and skipped."""
        assert self._container is not None
        try:
            for packet in self._container.demux(stream):
                try:
                    frames = packet.decode()
                except av.FFmpegError:
                    self.corrupt_frames += 1
                    continue
                for frame in frames:
                    yield (frame.time if frame.time is not None else time.monotonic() - self._started), frame
        except av.FFmpegError as exc:
            raise self._error(exc, opened=True) from None
        if self._reader is not None and self._reader.stalled_after is not None:
            raise self._timed_out(self._reader.stalled_after, opened=True)

    def _run(self, queue: "_FrameQueue", size: Tuple[int, int], sampling: Sampling,
             spans: Optional[Sequence[Span]]) -> None:
        """The decoder thread: hands the sampled frames at ``size`` to the queue."""
        error: Optional[BaseException] = None
        selector = sampling.selector()
        assert self._first is not None and self._frames is not None
        first, self._first = self._first, None
        try:
            for index, (moment, frame) in enumerate(itertools.chain([first], self._frames)):
                if self._stop.is_set():
                    return
                if not selector.take(index, moment) or not in_spans(np.asarray([moment]), spans)[0]:
                    continue
                queue.put(_Decoded(index, moment, _picture(frame, size), frame), drop=self.live and self.drop_late)
        except BaseException as exc:  # handed to the reader, who raises it
            error = exc
        finally:
            queue.finish(error)

    def _upright(self, frame: "av.VideoFrame") -> np.ndarray:
        """The frame at full display resolution, rotation applied."""
        width, height = display_size(frame.width, frame.height, self._aspect, 0)
        return rotate_array(frame.to_ndarray(width=width, height=height, format="rgb24"), frame_turns(frame))

    def _error(self, exc: av.FFmpegError, opened: bool) -> VideoError:
        if self._reader is not None and self._reader.stalled_after is not None:
            return self._timed_out(self._reader.stalled_after, opened)
        if isinstance(exc, av.ExitError):  # PyAV's deadline for FFmpeg's own reads
            return self._timed_out(self._timeouts[1] if opened else self._timeouts[0], opened)
        reason = ffmpeg_reason(exc)
        if self._reader is not None and isinstance(exc, av.InvalidDataError):
            reason += "; a pipe needs a streamable container such as MPEG-TS or Matroska"
        return VideoError(f"cannot be {'read' if opened else 'opened'} ({reason})", self.label)

    def _timed_out(self, seconds: float, opened: bool) -> VideoError:
        if opened:
            return VideoError(f"stalled: no data for {seconds:g} s (timed out)", self.label)
        return VideoError(f"cannot be opened (timed out after {seconds:g} s)", self.label)


def _picture(frame: "av.VideoFrame", size: Tuple[int, int]) -> np.ndarray:
    """The frame upright at ``size`` (height, width)."""
    turns = frame_turns(frame)
    height, width = before_rotation(*size, turns)
    return rotate_array(frame.to_ndarray(width=width, height=height, format="rgb24"), turns)


class _FrameQueue:
    """Decoded frames from the decoder thread to the reader, at most ``capacity`` of them.

    A full queue either makes the decoder wait, or drops its oldest frame
    (for a live source, which would otherwise fall ever further behind).
    """

    def __init__(self, capacity: int, stop: threading.Event) -> None:
        self.capacity = capacity
        self.dropped = 0
        self.stop = stop
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
        """Ask the decoder to stop, waking it if it waits for room."""
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


def source_label(source: LiveInput) -> str:
    """How errors name a live source."""
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
