"""The records that the video layer hands to the rest of the pipeline."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch


@dataclass(frozen=True)
class VideoInfo:
    """What a video is, as a user would describe it.

    ``width`` and ``height`` are the display size: coded size with the sample
    aspect ratio and the rotation metadata applied, i.e. what a player shows.
    """

    path: str
    width: int
    height: int
    coded_width: int
    coded_height: int
    rotation: int
    """Clockwise degrees (0, 90, 180 or 270) applied to the decoded picture for display."""
    sample_aspect_ratio: float
    fps: float
    """Average frame rate (frames per second)."""
    frame_count: int
    frame_count_exact: bool
    """False when ``frame_count`` is estimated from duration and fps."""
    duration: float
    """Seconds; estimated from the frame count when the container has none."""
    codec: str
    variable_frame_rate: bool
    start_time: float = 0.0
    """Presentation time of the stream's first frame, in seconds."""

    def to_dict(self) -> Dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, object]) -> "VideoInfo":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})  # type: ignore[arg-type]


@dataclass
class FrameBatch:
    """Decoded frames with where they sit in the video.

    ``frames`` is uint8 RGB, N x 3 x H x W (possibly a channels-last view);
    ``times`` are the frames' presentation times in seconds, from the stream.
    """

    frames: torch.Tensor
    indices: np.ndarray
    times: np.ndarray

    def __len__(self) -> int:
        return int(self.indices.shape[0])


@dataclass(frozen=True)
class Sampling:
    """Which frames to score: every frame, every ``stride``-th, or ``fps`` per second.

    Sampling by rate uses presentation times, so it is correct for
    variable-frame-rate video.
    """

    stride: int = 1
    fps: Optional[float] = None

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise ValueError("stride must be at least 1")
        if self.fps is not None and not (self.fps > 0 and math.isfinite(self.fps)):
            raise ValueError("sampling fps must be a positive number")
        if self.fps is not None and self.stride != 1:
            raise ValueError("choose either a stride or a sampling rate, not both")

    def describe(self) -> Dict[str, object]:
        return {"stride": self.stride, "fps": self.fps}

    def selector(self) -> "FrameSelector":
        return FrameSelector(self)


class FrameSelector:
    """Decides, frame by frame in presentation order, whether a frame is sampled."""

    # Tolerance for timestamps that land a rounding error before a sampling instant.
    _EPS = 1e-3

    def __init__(self, sampling: Sampling) -> None:
        self._stride = sampling.stride
        self._period = 1.0 / sampling.fps if sampling.fps else None
        self._next_time: Optional[float] = None

    def take(self, index: int, time: float) -> bool:
        if self._period is None:
            return index % self._stride == 0
        if self._next_time is None:
            self._next_time = time
        if time + self._EPS < self._next_time:
            return False
        steps = math.floor((time + self._EPS - self._next_time) / self._period) + 1
        self._next_time += steps * self._period
        return True


Span = Tuple[float, float]


def in_spans(times: np.ndarray, spans: Optional[Sequence[Span]]) -> np.ndarray:
    """Mask of ``times`` inside any of the (start, end) spans, inclusive; all of them when None."""
    if spans is None:
        return np.ones(len(times), dtype=bool)
    mask = np.zeros(len(times), dtype=bool)
    for start, end in spans:
        mask |= (times >= start - 1e-6) & (times <= end + 1e-6)
    return mask
