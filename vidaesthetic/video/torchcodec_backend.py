"""torchcodec backend: FFmpeg decoding into torch tensors, on CPU or on a CUDA GPU (NVDEC)."""

from __future__ import annotations

import contextlib
import re
from typing import Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torchcodec.decoders import VideoDecoder

from ..errors import VideoError
from .geometry import before_rotation, clockwise_turns, rotate_array, rotate_batch
from .probe import TIME_TOLERANCE, PacketIndex, derived_times, first_video_stream, open_container, probe
from .source import VideoSource
from .types import FrameBatch, Sampling, Span, VideoInfo, in_spans

# Full-resolution decoded pixels held at once per decode call: keeps memory flat for 4K video.
_CHUNK_BYTES = 64 << 20


def _reason(exc: BaseException) -> str:
    """The message of a torchcodec error without its C++ source location ("fn, file.cpp:12, ")."""
    lines = str(exc).strip().splitlines()
    return re.sub(r"^\w+, \S+:\d+, ", "", lines[0]) if lines else type(exc).__name__


def _resize(frames: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Bilinear, antialiased resize of uint8 N x 3 x H x W frames on their own device."""
    if tuple(frames.shape[-2:]) == size:
        return frames
    if frames.device.type == "cpu":  # torch resizes uint8 directly only on CPU
        return F.interpolate(frames, size=size, mode="bilinear", antialias=True, align_corners=False)
    scaled = F.interpolate(frames.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
    return scaled.round_().clamp_(0, 255).to(torch.uint8)


class TorchCodecSource(VideoSource):
    """Decodes with torchcodec; geometry and timing metadata come from the shared PyAV probe.

    Frames are resized with torch on the decoding device, so with ``device="cuda"``
    batches never leave the GPU.
    """

    backend = "torchcodec"

    def __init__(self, path: str, info: Optional[VideoInfo] = None, device: str = "cpu") -> None:
        super().__init__(info or probe(path))
        self.path = path
        self.device = device
        with open_container(path) as container:
            # The first video stream, the one PyAV decodes (torchcodec would pick the "best" one).
            self._stream_index = first_video_stream(container, path).index
            self._derived = derived_times(container)
        with self._errors("cannot open it"):
            self._decoder = VideoDecoder(
                path,
                stream_index=self._stream_index,
                device=device,
                num_ffmpeg_threads=0,  # let FFmpeg choose, as the PyAV backend does
            )
        # torchcodec >= 0.11 rotates frames itself (by counter-clockwise degrees); we rotate the rest.
        applied = clockwise_turns(getattr(self._decoder.metadata, "rotation", None) or 0)
        self._turns = (self.info.rotation // 90 - applied) % 4

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn torchcodec's failures on this file into a :class:`VideoError`."""
        try:
            yield
        except (RuntimeError, ValueError, IndexError) as exc:
            raise VideoError(f"torchcodec {doing} ({_reason(exc)}); use --backend pyav", self.path) from None

    def batches(
        self,
        batch_size: int = 32,
        size: Tuple[int, int] = (224, 224),
        sampling: Sampling = Sampling(),
        spans: Optional[Sequence[Span]] = None,
        reference_only: bool = False,
    ) -> Iterator[FrameBatch]:
        frames = torch.empty((0, 3, *size), dtype=torch.uint8, device=self.device)
        indices, times = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        for chunk in self._sampled(sampling, size, spans):
            frames = torch.cat([frames, chunk.frames])
            indices = np.concatenate([indices, chunk.indices])
            times = np.concatenate([times, chunk.times])
            while len(indices) >= batch_size:
                yield FrameBatch(frames[:batch_size], indices[:batch_size], times[:batch_size])
                frames, indices, times = frames[batch_size:], indices[batch_size:], times[batch_size:]
        if len(indices):
            yield FrameBatch(frames, indices, times)

    def _sampled(self, sampling: Sampling, size: Tuple[int, int],
                 spans: Optional[Sequence[Span]]) -> Iterator[FrameBatch]:
        """Sampled frames at display ``size``, decoded a bounded chunk at a time.

        A stride is handed to the decoder so that skipped frames are never converted;
        sampling by rate needs every frame's time, so it decodes them all.
        """
        step = sampling.stride
        selector = sampling.selector()
        frame_bytes = 3 * self.info.coded_width * self.info.coded_height
        span = step * max(1, _CHUNK_BYTES // frame_bytes)
        first, total = 0, len(self._decoder)
        stamps = self._frame_times() if spans is not None or self._derived else None
        inside = None
        if spans is not None:
            inside = in_spans(stamps, spans)
            chosen = np.flatnonzero(inside)
            first, total = (int(chosen[0]), int(chosen[-1]) + 1) if len(chosen) else (0, 0)
        for begin in range(first, total, span):
            stop = min(begin + span, total)
            with self._errors("cannot decode it"):
                decoded = self._decoder.get_frames_in_range(begin, stop, step)
            indices = np.arange(begin, stop, step, dtype=np.int64)
            times = decoded.pts_seconds.cpu().numpy().astype(np.float64)
            if self._derived:
                self._check_times(times, stamps[indices])
            keep = np.asarray([(inside is None or inside[i]) and selector.take(int(i), float(t))
                               for i, t in zip(indices, times)], dtype=bool)
            if not keep.any():
                continue
            data = decoded.data.to(self.device)  # a CUDA decoder may fall back to the CPU
            if not keep.all():
                data = data[torch.from_numpy(np.flatnonzero(keep)).to(data.device)]
            frames = rotate_batch(_resize(data, before_rotation(*size, self._turns)), self._turns)
            yield FrameBatch(frames, indices[keep], times[keep])

    def frames_at(
        self, times: Sequence[float], indices: Optional[Sequence[int]] = None
    ) -> Iterator[Tuple[float, np.ndarray]]:
        """See :meth:`VideoSource.frames_at`; torchcodec reads frames by index, so ``indices`` are used as they are."""
        stamps = self._frame_times()
        display = before_rotation(self.info.height, self.info.width, self._turns)
        if indices is None:
            indices = [int(np.argmin(np.abs(stamps - float(t)))) for t in times]
        for index in sorted(set(int(i) for i in indices)):
            with self._errors("cannot decode it"):
                frame = self._decoder.get_frame_at(index)
            if self._derived:
                self._check_times(frame.pts_seconds, stamps[index])
            picture = _resize(frame.data[None], display)[0].permute(1, 2, 0).cpu().numpy()
            yield float(frame.pts_seconds), rotate_array(picture, self._turns)

    def _check_times(self, decoded: Union[float, np.ndarray], derived: Union[float, np.ndarray]) -> None:
        """Refuse a video with derived times when torchcodec times its frames otherwise.

        torchcodec finds a frame by its own time (FFmpeg's guess for such a
        video), so where that differs it may return a neighbouring frame.
        """
        if not np.allclose(decoded, derived, rtol=0, atol=TIME_TOLERANCE):
            raise VideoError("torchcodec cannot place the frames of a video without stored presentation times; "
                             "use --backend pyav", self.path)

    def _frame_times(self) -> np.ndarray:
        """Presentation times of the decoder's frames, by index, read by demuxing only.

        torchcodec indexes frames by sorted packet timestamps, which is what this
        rebuilds; its own time lookup (``get_frame_played_at``) trusts frame
        durations and can return a neighbouring frame.
        """
        stamps = PacketIndex.scan(self.path, self._stream_index).times
        if len(stamps) != len(self._decoder):
            raise VideoError("torchcodec and PyAV disagree on this video's frames; use --backend pyav", self.path)
        return stamps

    def close(self) -> None:
        """Drop the decoder (torchcodec frees it with the object); the source cannot decode after this."""
        self._decoder = None  # type: ignore[assignment]
