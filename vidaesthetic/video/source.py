"""The one interface every decoding backend implements."""

from __future__ import annotations

import abc
from typing import Iterator, Optional, Sequence, Tuple

import numpy as np

from .types import FrameBatch, Sampling, Span, VideoInfo


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
        spans: Optional[Sequence[Span]] = None,
        reference_only: bool = False,
    ) -> Iterator[FrameBatch]:
        """Sampled frames in presentation order, resized to ``size`` (height, width).

        The whole displayed picture is resized (aspect ratio not kept), after
        rotation, so frames look as a viewer sees them.

        Args:
            spans: only frames presented within these (start, end) spans
                (seconds, inclusive); a backend decodes as little else as it can.
            reference_only: a hint for coarse passes: a backend may skip
                decoding frames that no other frame refers to, where the codec
                allows; frames keep their true indices.
        """

    @abc.abstractmethod
    def frames_at(
        self, times: Sequence[float], indices: Optional[Sequence[int]] = None
    ) -> Iterator[Tuple[float, np.ndarray]]:
        """Full-resolution display frames (H x W x 3 uint8 RGB) at presentation ``times``.

        Each requested time is matched to the decoded frame with the nearest
        presentation time; results come in ascending time order.

        Args:
            indices: the same frames' indices as :meth:`batches` numbered
                them, one per time. A frame is the pair (index, time); a
                backend finds it by index where that is exact and its time
                may not be (times derived by
                :class:`~vidaesthetic.video.probe.PacketIndex`, or a decoder
                that reads frames by number). Each result's time is the
                frame's time as :meth:`batches` gave it, so a caller can check it.
        """

    def close(self) -> None:
        """Release the decoder; the default has nothing to release."""

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
