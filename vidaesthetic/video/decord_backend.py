"""decord backend: fast batched random access (x86-64 Linux and Windows wheels only)."""

from __future__ import annotations

import contextlib
import re
from typing import Iterator, Optional, Sequence, Tuple

import numpy as np
import torch

from ..errors import VideoError
from .geometry import before_rotation, rotate_array, rotate_batch
from .probe import PacketIndex, derived_times, open_container, probe
from .source import VideoSource
from .types import FrameBatch, Sampling, Span, VideoInfo, in_spans


class DecordSource(VideoSource):
    """Decodes with decord; geometry and timing metadata come from the shared PyAV probe."""

    backend = "decord"

    def __init__(self, path: str, info: Optional[VideoInfo] = None) -> None:
        super().__init__(info or probe(path))
        self.path = path
        with open_container(path) as container:
            if len(container.streams.video) > 1:
                raise VideoError(
                    "has several video streams and decord cannot choose the first; use --backend pyav", path
                )
            self._derived = derived_times(container)

    def _reader(self, width: int = -1, height: int = -1):
        import decord

        with self._errors():
            return decord.VideoReader(self.path, ctx=decord.cpu(0), width=width, height=height)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """decord's failures on this file (opening or decoding) as one clear :class:`VideoError`."""
        import decord

        try:
            yield
        except decord.DECORDError as exc:
            lines = str(exc).strip().splitlines()
            reason = re.sub(r"^(\[[^]]*\] )?\S+: (\[[^]]*\] )?", "", lines[-1] if lines else "")
            raise VideoError(f"decord cannot decode it ({reason.strip() or 'decoder error'}); use --backend pyav",
                             self.path) from None

    def _timestamps(self, reader) -> np.ndarray:
        """Presentation times of every frame, refusing the nonsense decord reports for some containers.

        Where times are derived (AVI), decord's are FFmpeg's guesses or missing:
        the frames take the packet index's times, as with the other backends.
        """
        if self._derived:
            times = PacketIndex.scan(self.path).times
            if len(times) != len(reader):
                raise VideoError("decord and PyAV disagree on this video's frames; use --backend pyav", self.path)
            return times
        times = reader.get_frame_timestamp(np.arange(len(reader)))[:, 0].astype(np.float64)
        low, high = self.info.start_time - 10.0, self.info.start_time + self.info.duration + 10.0
        sane = np.isfinite(times).all() and (times >= low).all() and (times <= high).all()
        if not sane or np.any(np.diff(times) < 0):
            raise VideoError("decord reports broken timestamps for this file; use --backend pyav", self.path)
        return times

    def batches(
        self,
        batch_size: int = 32,
        size: Tuple[int, int] = (224, 224),
        sampling: Sampling = Sampling(),
        spans: Optional[Sequence[Span]] = None,
        reference_only: bool = False,
    ) -> Iterator[FrameBatch]:
        turns = self.info.rotation // 90
        scaled_h, scaled_w = before_rotation(*size, turns)
        reader = self._reader(scaled_w, scaled_h)
        times = self._timestamps(reader)
        selector = sampling.selector()
        in_span = in_spans(times, spans)
        chosen = np.asarray([i for i, t in enumerate(times) if in_span[i] and selector.take(i, float(t))],
                            dtype=np.int64)
        for begin in range(0, len(chosen), batch_size):
            indices = chosen[begin : begin + batch_size]
            with self._errors():
                pixels = torch.from_numpy(reader.get_batch(indices.tolist()).asnumpy())
            frames = rotate_batch(pixels.permute(0, 3, 1, 2), turns)
            yield FrameBatch(frames, indices, times[indices])

    def frames_at(
        self, times: Sequence[float], indices: Optional[Sequence[int]] = None
    ) -> Iterator[Tuple[float, np.ndarray]]:
        """See :meth:`VideoSource.frames_at`; decord reads frames by index, so ``indices`` are used as they are."""
        turns = self.info.rotation // 90
        height, width = before_rotation(self.info.height, self.info.width, turns)
        reader = self._reader(width, height)
        stamps = self._timestamps(reader)
        if indices is None:
            indices = [int(np.argmin(np.abs(stamps - float(t)))) for t in times]
        for index in sorted(set(int(i) for i in indices)):
            with self._errors():
                picture = reader[index].asnumpy()
            yield float(stamps[index]), rotate_array(picture, turns)
