"""The one interface every decoding backend implements."""

from __future__ import annotations

import abc
from typing import Iterator, Sequence, Tuple

import numpy as np

from .types import FrameBatch, Sampling, VideoInfo


class VideoSource(abc.ABC):
    """An opened video: its :class:`VideoInfo`, batched frames, and exact frames by time.

    Sources are context managers; :meth:`close` releases decoder resources.
    ``corrupt_frames`` counts packets the decoder rejected and skipped during
    the last :meth:`batches` pass.
    """

    backend: str = ""

    def __init__(self, info: VideoInfo) -> None:
        self.info = info
        self.corrupt_frames = 0

    @abc.abstractmethod
    def batches(
        self,
        batch_size: int = 32,
        size: Tuple[int, int] = (224, 224),
        sampling: Sampling = Sampling(),
    ) -> Iterator[FrameBatch]:
        """Sampled frames in presentation order, resized to ``size`` (height, width).

        The whole displayed picture is resized (aspect ratio not kept), after
        rotation, so frames look as a viewer sees them.
        """

    @abc.abstractmethod
    def frames_at(self, times: Sequence[float]) -> Iterator[Tuple[float, np.ndarray]]:
        """Full-resolution display frames (H x W x 3 uint8 RGB) at presentation ``times``.

        Each requested time is matched to the decoded frame with the nearest
        presentation time; results come in ascending time order.
        """

    def close(self) -> None:
        """Release the decoder; the default has nothing to release."""

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
