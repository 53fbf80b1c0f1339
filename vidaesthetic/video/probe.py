"""What every backend, and the live source, needs from PyAV before decoding.

Probing is done with PyAV whichever backend decodes, so that all backends
agree on size, rotation and timing; the container helpers here are the only
place outside the decoders that opens a video.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Dict, List, Optional, Tuple

import av
import numpy as np

from ..errors import VideoError
from .geometry import clockwise_turns, display_size
from .types import VideoInfo

# Demuxers that read single pictures rather than videos.
_IMAGE_FORMATS = {"image2", "apng"}

TIME_TOLERANCE = 1e-6
"""Presentation times closer than this (seconds) are the same instant."""

DECODE_TIME_FORMATS = frozenset({"avi"})
"""Demuxers whose containers store when to decode each frame but not when to show it."""


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


def derived_times(container: "av.container.InputContainer") -> bool:
    """Whether the video's presentation times are derived, not stored (see :class:`PacketIndex`)."""
    return container.format.name in DECODE_TIME_FORMATS


def frame_turns(frame: "av.VideoFrame") -> int:
    """Clockwise quarter turns that make a decoded frame upright."""
    return clockwise_turns(getattr(frame, "rotation", 0) or 0)


def sample_aspect_ratio(stream: "av.video.stream.VideoStream") -> float:
    """Width of a pixel over its height (non-square pixels are stretched for display)."""
    return float(stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio or 1) or 1.0


def frame_geometry(stream: "av.video.stream.VideoStream", first: "av.VideoFrame") -> Dict[str, object]:
    """The :class:`VideoInfo` fields of size and orientation, from the stream and its first frame."""
    sar = sample_aspect_ratio(stream)
    rotation = frame_turns(first) * 90
    width, height = display_size(first.width, first.height, sar, rotation)
    return {"width": width, "height": height, "coded_width": first.width, "coded_height": first.height,
            "rotation": rotation, "sample_aspect_ratio": sar}


def average_rate(stream: "av.video.stream.VideoStream") -> float:
    """Frames per second on average, as the container says or FFmpeg guesses; 0 when unknown."""
    return float(stream.average_rate or 0) or float(stream.guessed_rate or 0)


def _seconds(value: Optional[int], time_base: Optional[Fraction]) -> Optional[float]:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def probe(path: str) -> VideoInfo:
    """Read a video's :class:`VideoInfo`, decoding its first frame to prove it is decodable."""
    with open_container(path) as container:
        stream = first_video_stream(container, path)
        first = first_frame(container, stream, path)
        average = average_rate(stream)
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
            **frame_geometry(stream, first),  # type: ignore[arg-type]
            fps=average,
            frame_count=count,
            frame_count_exact=exact,
            duration=float(duration or 0.0),
            codec=stream.codec_context.name,
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
    """Frame numbers and keyframes of a video stream from its packets (demuxing only, no decoding).

    Where the container stores no presentation times (:func:`derived_times`,
    e.g. AVI), FFmpeg guesses the times of reordered (B-)frames or leaves
    them out, and its guesses need not follow the frames' order nor survive a
    seek, so a decoded frame's own time cannot name it. Frames are then known
    by their number in a decode from the start, and frame ``n`` is presented
    at ``times[n]``: the packets' times sorted, presentation times where
    FFmpeg gives them, else decoding times. Every backend times such a video
    from this one index.
    """

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
            derived = derived_times(container)
            try:
                for packet in container.demux(stream):
                    stamp = packet.dts if packet.pts is None and derived else packet.pts
                    if stamp is not None:
                        times.append(stamp * time_base)
                        if packet.is_keyframe:
                            keyframes.append(stamp * time_base)
            except av.FFmpegError:
                pass  # a damaged tail: the frames before it are still numbered right
        return cls(np.sort(np.asarray(times)), np.sort(np.asarray(keyframes)))

    def number(self, time: float) -> int:
        """The frame number of the frame presented at ``time``."""
        return int(np.searchsorted(self.times, time - TIME_TOLERANCE))

    def keyframe_between(self, after: float, until: float) -> bool:
        """Whether a keyframe is presented in (after, until]."""
        return bool(np.any((self.keyframes > after) & (self.keyframes <= until)))
