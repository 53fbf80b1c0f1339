"""PyAV backend: always installed (FFmpeg ships inside the wheel), the default."""

from __future__ import annotations

import itertools
import math
from typing import Iterator, List, Optional, Sequence, Tuple

import av
import numpy as np
import torch

from ..errors import VideoError
from .geometry import before_rotation, rotate_array, rotate_batch
from .probe import (TIME_TOLERANCE, PacketIndex, derived_times, ffmpeg_reason, first_frame, first_video_stream,
                    open_container, probe)
from .source import VideoSource
from .types import FrameBatch, Sampling, Span, VideoInfo, in_spans

# How far before a target time a seek may land before decoding forward (seconds).
_SEEK_BACKOFF = (0.0, 1.0, 4.0, 16.0)


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
            for index, time, frame in self._numbered(container, stream, spans, reference_only):
                if not selector.take(index, time):
                    continue
                buffer[len(indices)] = frame.to_ndarray(width=scaled_w, height=scaled_h, format="rgb24")
                indices.append(index)
                times.append(time)
                if len(indices) == batch_size:
                    yield self._batch(buffer, indices, times, turns)
                    buffer = np.empty_like(buffer)
                    indices, times = [], []
        if indices:
            yield self._batch(buffer[: len(indices)], indices, times, turns)

    def _numbered(
        self, container, stream, spans: Optional[Sequence[Span]], reference_only: bool
    ) -> Iterator[Tuple[int, float, "av.VideoFrame"]]:
        """(frame index, presentation time, frame) for the frames a pass samples from, in presentation order."""
        if derived_times(container):
            inside = in_spans(self._index().times, spans)
            return ((index, time, frame) for index, time, frame in self._counted(container, stream) if inside[index])
        if spans is None and not reference_only:
            timed = (frame for frame in self._decoded(container, stream) if frame.time is not None)
            return ((index, frame.time, frame) for index, frame in enumerate(timed))
        return self._in_spans(container, stream, spans, reference_only)

    def _counted(self, container, stream) -> Iterator[Tuple[int, float, "av.VideoFrame"]]:
        """Every frame of a video with derived times, from the start, numbered by counting and timed by the index.

        Counting from the start is the one numbering every pass repeats
        exactly, so spans and ``reference_only`` (which would skip frames
        uncounted) cost a full decode here.
        """
        times = self._index().times
        for index, frame in zip(range(len(times)), self._decoded(container, stream)):
            yield index, float(times[index]), frame

    def _in_spans(
        self, container, stream, spans: Optional[Sequence[Span]], reference_only: bool
    ) -> Iterator[Tuple[int, float, "av.VideoFrame"]]:
        """(frame index, time, frame) for the frames inside ``spans``, in one forward pass.

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
                if time is None or time < start - TIME_TOLERANCE:
                    continue
                position = time
                if time > end + TIME_TOLERANCE:
                    held = frame
                    break
                yield index.number(time), time, frame

    def _index(self) -> "PacketIndex":
        if self._packet_index is None:
            self._packet_index = PacketIndex.scan(self.path)
        return self._packet_index

    @staticmethod
    def _batch(buffer: np.ndarray, indices: List[int], times: List[float], turns: int) -> FrameBatch:
        frames = rotate_batch(torch.from_numpy(buffer).permute(0, 3, 1, 2), turns)
        return FrameBatch(frames, np.asarray(indices, dtype=np.int64), np.asarray(times, dtype=np.float64))

    def frames_at(
        self, times: Sequence[float], indices: Optional[Sequence[int]] = None
    ) -> Iterator[Tuple[float, np.ndarray]]:
        """See :meth:`VideoSource.frames_at`: by time (seeking), or by index where times are derived.

        A video with derived times is decoded from the start up to the last
        frame wanted, as the scoring pass numbered it.
        """
        if not len(times):
            return
        turns = self.info.rotation // 90
        height, width = before_rotation(self.info.height, self.info.width, turns)
        container, stream = self._open()
        with container:
            if derived_times(container):
                found = self._by_index(container, stream, times, indices)
            else:
                # Some streams carry their parameter sets only before the first
                # frame; decoding it once primes the decoder so that frames after
                # a seek do not come out corrupt (green).
                first_frame(container, stream, self.path)
                found = self._by_time(container, stream, times)
            for time, frame in found:
                picture = frame.to_ndarray(width=width, height=height, format="rgb24")
                yield time, rotate_array(picture, turns)

    def _by_time(self, container, stream, times: Sequence[float]) -> Iterator[Tuple[float, "av.VideoFrame"]]:
        for target in sorted(set(float(t) for t in times)):
            frame = self._frame_near(container, stream, target)
            yield frame.time, frame

    def _by_index(
        self, container, stream, times: Sequence[float], indices: Optional[Sequence[int]]
    ) -> Iterator[Tuple[float, "av.VideoFrame"]]:
        """The frames at ``indices``, else those nearest ``times``, counted from the start."""
        if indices is None:
            stamps = self._index().times
            indices = [int(np.argmin(np.abs(stamps - float(t)))) for t in times]
        wanted = sorted(set(int(i) for i in indices), reverse=True)
        for index, time, frame in self._counted(container, stream):
            if index == wanted[-1]:
                yield time, frame
                wanted.pop()
                if not wanted:
                    return
        raise VideoError(f"frame {wanted[-1]} could not be decoded again", self.path)

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
