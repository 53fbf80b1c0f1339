"""PyAV backend: always installed (FFmpeg ships inside the wheel), the default.

It also probes every video for :class:`VideoInfo`, whichever backend decodes,
so that all backends agree on size, rotation and timing.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Iterator, List, Optional, Sequence, Tuple

import av
import numpy as np
import torch

from ..errors import VideoError
from .geometry import before_rotation, display_size, rotate_array, rotate_batch
from .source import VideoSource
from .types import FrameBatch, Sampling, Span, VideoInfo

# Demuxers that read single pictures rather than videos.
_IMAGE_FORMATS = {"image2", "apng"}

# Presentation times closer than this (seconds) are the same instant.
_TIME_TOLERANCE = 1e-6

# How far before a target time a seek may land before decoding forward (seconds).
_SEEK_BACKOFF = (0.0, 1.0, 4.0, 16.0)


def open_container(path: str) -> "av.container.InputContainer":
    try:
        return av.open(path, metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise VideoError(f"not a readable video ({ffmpeg_reason(exc)})", path) from None


def ffmpeg_reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip().rstrip(".") or type(exc).__name__


def first_video_stream(container: "av.container.InputContainer", path: str) -> "av.video.stream.VideoStream":
    fmt = container.format.name
    if fmt in _IMAGE_FORMATS or fmt.endswith("_pipe"):
        raise VideoError("is a still image, not a video", path)
    if not container.streams.video:
        raise VideoError("has no video stream", path)
    return container.streams.video[0]


def _seconds(value: Optional[int], time_base: Optional[Fraction]) -> Optional[float]:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _clockwise_rotation(frame: "av.VideoFrame") -> int:
    """Clockwise display rotation, snapped to a multiple of 90 degrees."""
    counter_clockwise = getattr(frame, "rotation", 0) or 0
    return int(round(-counter_clockwise / 90.0)) % 4 * 90


def probe(path: str) -> VideoInfo:
    """Read a video's :class:`VideoInfo`, decoding its first frame to prove it is decodable."""
    with open_container(path) as container:
        stream = first_video_stream(container, path)
        first = first_frame(container, stream, path)
        ctx = stream.codec_context
        coded_w, coded_h = first.width, first.height
        sar = float(stream.sample_aspect_ratio or ctx.sample_aspect_ratio or 1) or 1.0
        rotation = _clockwise_rotation(first)
        width, height = display_size(coded_w, coded_h, sar, rotation)

        average = float(stream.average_rate or 0) or float(stream.guessed_rate or 0)
        base = float(stream.base_rate or 0)
        duration = _seconds(stream.duration, stream.time_base)
        if duration is None and container.duration is not None:
            duration = container.duration / av.time_base
        exact = bool(stream.frames)
        if exact:
            count = int(stream.frames)
        elif duration and average:
            count = int(round(duration * average))
        else:
            count = 0
        if not duration:
            count, duration = _scan_packets(path)
            exact = bool(count)
        start = first.time if first.time is not None else 0.0
        return VideoInfo(
            path=path,
            width=width,
            height=height,
            coded_width=coded_w,
            coded_height=coded_h,
            rotation=rotation,
            sample_aspect_ratio=sar,
            fps=average,
            frame_count=count,
            frame_count_exact=exact,
            duration=float(duration or 0.0),
            codec=ctx.name,
            variable_frame_rate=bool(average and base and not math.isclose(average, base, rel_tol=0.01)),
            start_time=float(start),
        )


def _scan_packets(path: str) -> Tuple[int, float]:
    """Frame count and duration from packet timestamps, for containers whose header has neither.

    Only demuxes (no decoding), so it costs about one read of the file.
    """
    count, start, end = 0, None, 0.0
    with open_container(path) as container:
        stream = container.streams.video[0]
        try:
            for packet in container.demux(stream):
                if packet.pts is None:
                    continue
                count += 1
                begin = float(packet.pts * stream.time_base)
                start = begin if start is None else min(start, begin)
                end = max(end, begin + float((packet.duration or 0) * stream.time_base))
        except av.FFmpegError:
            pass  # a damaged tail still leaves a usable estimate
    return count, (end - start) if start is not None else 0.0


class PacketIndex:
    """Frame numbers and keyframes of a video stream from its packets (demuxing only, no decoding)."""

    def __init__(self, times: np.ndarray, keyframes: np.ndarray) -> None:
        self.times = times  # sorted presentation times: frame number -> time
        self.keyframes = keyframes  # sorted presentation times of keyframes

    @classmethod
    def scan(cls, path: str, stream_index: Optional[int] = None) -> "PacketIndex":
        times: List[float] = []
        keyframes: List[float] = []
        with open_container(path) as container:
            stream = container.streams[stream_index] if stream_index is not None else first_video_stream(container, path)
            time_base = float(stream.time_base or 0)
            try:
                for packet in container.demux(stream):
                    if packet.pts is not None:
                        times.append(packet.pts * time_base)
                        if packet.is_keyframe:
                            keyframes.append(packet.pts * time_base)
            except av.FFmpegError:
                pass  # a damaged tail: the frames before it are still numbered right
        return cls(np.sort(np.asarray(times)), np.sort(np.asarray(keyframes)))

    def number(self, time: float) -> int:
        """The frame number of the frame presented at ``time``."""
        return int(np.searchsorted(self.times, time - _TIME_TOLERANCE))

    def keyframe_between(self, after: float, until: float) -> bool:
        """Whether a keyframe is presented in (after, until]."""
        return bool(np.any((self.keyframes > after) & (self.keyframes <= until)))


def first_frame(container, stream, path: str) -> "av.VideoFrame":
    try:
        for packet in container.demux(stream):
            try:
                for frame in packet.decode():
                    return frame
            except av.FFmpegError:
                continue
    except av.FFmpegError as exc:
        raise VideoError(f"cannot be read ({ffmpeg_reason(exc)})", path) from None
    raise VideoError("has no decodable video frames", path)


class PyAVSource(VideoSource):
    """Decodes with FFmpeg through PyAV, resizing in the decoder's scaler (cheap)."""

    backend = "pyav"

    def __init__(self, path: str, info: Optional[VideoInfo] = None, threads: int = 0) -> None:
        super().__init__(info or probe(path))
        self.path = path
        self._threads = threads
        self._packet_index: Optional[PacketIndex] = None

    def _open(self) -> Tuple["av.container.InputContainer", "av.video.stream.VideoStream"]:
        container = open_container(self.path)
        stream = first_video_stream(container, self.path)
        stream.thread_type = "AUTO"
        stream.thread_count = self._threads
        return container, stream

    def _decoded(self, container, stream) -> Iterator["av.VideoFrame"]:
        """Every decodable frame in presentation order; rejected packets are counted and skipped."""
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.FFmpegError:
                    self.corrupt_frames += 1
                    continue
                yield from frames
        except av.FFmpegError as exc:
            raise VideoError(f"cannot be read ({ffmpeg_reason(exc)})", self.path) from None

    def batches(
        self,
        batch_size: int = 32,
        size: Tuple[int, int] = (224, 224),
        sampling: Sampling = Sampling(),
        spans: Optional[Sequence[Span]] = None,
        reference_only: bool = False,
    ) -> Iterator[FrameBatch]:
        turns = self.info.rotation // 90
        # Decode at the pre-rotation size so that rotating gives the requested size.
        scaled_h, scaled_w = before_rotation(*size, turns)
        selector = sampling.selector()
        self.corrupt_frames = 0
        buffer = np.empty((batch_size, scaled_h, scaled_w, 3), dtype=np.uint8)
        indices: List[int] = []
        times: List[float] = []
        container, stream = self._open()
        with container:
            if spans is None and not reference_only:
                numbered = enumerate(frame for frame in self._decoded(container, stream) if frame.time is not None)
            else:
                numbered = self._in_spans(container, stream, spans, reference_only)
            for index, frame in numbered:
                if not selector.take(index, frame.time):
                    continue
                buffer[len(indices)] = frame.to_ndarray(width=scaled_w, height=scaled_h, format="rgb24")
                indices.append(index)
                times.append(frame.time)
                if len(indices) == batch_size:
                    yield self._batch(buffer, indices, times, turns)
                    buffer = np.empty_like(buffer)
                    indices, times = [], []
        if indices:
            yield self._batch(buffer[: len(indices)], indices, times, turns)

    def _in_spans(
        self, container, stream, spans: Optional[Sequence[Span]], reference_only: bool
    ) -> Iterator[Tuple[int, "av.VideoFrame"]]:
        """(frame index, frame) for the frames inside ``spans``, in one forward pass.

        It seeks only when a keyframe lies between where decoding is and where
        the next span starts (else decoding on is cheaper). Frames are skipped
        or decoded out of order of counting, so indices come from the stream's
        packet timestamps.
        """
        index = self._index()
        if reference_only:
            stream.codec_context.skip_frame = "NONREF"
        frames: Optional[Iterator["av.VideoFrame"]] = None
        held: Optional["av.VideoFrame"] = None  # read past the previous span; may open the next
        position = -math.inf
        for start, end in sorted(spans) if spans is not None else [(-math.inf, math.inf)]:
            if frames is None or index.keyframe_between(position, start):
                if start > self.info.start_time and index.keyframe_between(-math.inf, start):
                    if frames is None:
                        first_frame(container, stream, self.path)  # primes the decoder, see frames_at
                    container.seek(int(start / stream.time_base), stream=stream, backward=True)
                frames, held = self._decoded(container, stream), None
            pending = [held] if held is not None else []
            held = None
            for frame in itertools.chain(pending, frames):
                time = frame.time
                if time is None or time < start - _TIME_TOLERANCE:
                    continue
                position = time
                if time > end + _TIME_TOLERANCE:
                    held = frame
                    break
                yield index.number(time), frame

    def _index(self) -> "PacketIndex":
        if self._packet_index is None:
            self._packet_index = PacketIndex.scan(self.path)
        return self._packet_index

    @staticmethod
    def _batch(buffer: np.ndarray, indices: List[int], times: List[float], turns: int) -> FrameBatch:
        frames = rotate_batch(torch.from_numpy(buffer).permute(0, 3, 1, 2), turns)
        return FrameBatch(frames, np.asarray(indices, dtype=np.int64), np.asarray(times, dtype=np.float64))

    def frames_at(self, times: Sequence[float]) -> Iterator[Tuple[float, np.ndarray]]:
        targets = sorted(set(float(t) for t in times))
        if not targets:
            return
        turns = self.info.rotation // 90
        height, width = before_rotation(self.info.height, self.info.width, turns)
        container, stream = self._open()
        with container:
            # Some streams carry their parameter sets only before the first
            # frame; decoding it once primes the decoder so that frames after
            # a seek do not come out corrupt (green).
            first_frame(container, stream, self.path)
            for target in targets:
                frame = self._frame_near(container, stream, target)
                picture = frame.to_ndarray(width=width, height=height, format="rgb24")
                yield frame.time, rotate_array(picture, turns)

    def _frame_near(self, container, stream, target: float) -> "av.VideoFrame":
        """Seek to a keyframe before ``target`` and decode forward to the nearest frame."""
        for backoff in _SEEK_BACKOFF:
            seek_to = max(target - backoff, self.info.start_time)
            container.seek(int(seek_to / stream.time_base), stream=stream, backward=True)
            found = self._decode_to(container, stream, target, from_start=seek_to <= self.info.start_time)
            if found is not None:
                return found
        raise VideoError(f"no frame could be decoded near {target:.3f} s", self.path)

    def _decode_to(self, container, stream, target: float, from_start: bool) -> Optional["av.VideoFrame"]:
        previous = None
        for frame in self._decoded(container, stream):
            if frame.time is None:
                continue
            if frame.time >= target:
                if previous is None:
                    # The first frame decoded is past the target: right only for the exact frame,
                    # or when decoding began at the stream's start (nothing earlier exists).
                    exact = math.isclose(frame.time, target, abs_tol=1e-6)
                    return frame if exact or from_start else None
                return frame if frame.time - target <= target - previous.time else previous
            previous = frame
        return previous
