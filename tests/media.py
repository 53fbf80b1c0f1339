"""Small generated media for tests: written with PyAV, nothing committed."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

import av
import numpy as np
from PIL import Image, ImageFilter

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


def textured(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A sharp, colourful, well-exposed picture: coloured blocks with fine detail."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(40, 220, size=(height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
    picture = np.kron(blocks, np.ones((16, 16, 1), dtype=np.uint8))[:height, :width].astype(np.int16)
    picture += rng.integers(-30, 30, size=(height, width, 1), dtype=np.int16)
    return np.clip(picture, 0, 255).astype(np.uint8)


def blurred(picture: np.ndarray, radius: float = 4.0) -> np.ndarray:
    return np.asarray(Image.fromarray(picture).filter(ImageFilter.GaussianBlur(radius)))


def black(width: int, height: int) -> np.ndarray:
    return np.zeros((height, width, 3), dtype=np.uint8)


def write_video(
    path: Path,
    frames: Iterable[np.ndarray],
    fps: int = 25,
    codec: str = "libx264",
    pts: Optional[Sequence[int]] = None,
    time_base: Optional[Fraction] = None,
    rotation: Optional[int] = None,
    sample_aspect_ratio: Optional[Fraction] = None,
    pix_fmt: str = "yuv420p",
    options: Optional[dict] = None,
) -> Path:
    """Encode RGB frames; ``pts`` (in ``time_base`` units) makes variable frame rates; ``options`` go to the encoder."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.pix_fmt = pix_fmt
        if time_base is not None:
            stream.time_base = time_base
            stream.codec_context.time_base = time_base
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "18", **(options or {})}
        if sample_aspect_ratio is not None:
            stream.codec_context.sample_aspect_ratio = sample_aspect_ratio
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for number, array in enumerate(frames):
            if number == 0:
                stream.height, stream.width = array.shape[:2]
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            if pts is not None:
                frame.pts = pts[number]
                frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def segments_video(path: Path, pattern: str, seconds_each: float = 1.0, fps: int = 25,
                   size: tuple = (160, 96), **options) -> Path:
    """A video of segments, one letter each: ``s`` sharp, ``b`` blurred, ``k`` black."""
    width, height = size
    sharp = textured(width, height)
    pictures = {"s": sharp, "b": blurred(sharp), "k": black(width, height)}
    per_segment = int(round(seconds_each * fps))
    return write_video(path, (pictures[letter] for letter in pattern for _ in range(per_segment)), fps=fps, **options)


def panning_shots(seeds: Sequence[int], seconds_each: float, fps: int, size: tuple = (96, 64)) -> Iterator[np.ndarray]:
    """Shots of a textured picture each, panned a pixel per frame and brightening then dimming,
    so that every frame differs from the next and each shot has a best moment."""
    width, height = size
    frames = int(round(seconds_each * fps))
    for seed in seeds:
        picture = textured(width + frames, height, seed).astype(np.float32)
        for step in range(frames):
            gain = 0.75 + 0.25 * np.sin(np.pi * (step + 0.5) / frames)
            yield np.clip(picture[:, step:step + width] * gain, 0, 255).astype(np.uint8)


def repeat_video(segment: Path, path: Path, times: int) -> Path:
    """The video stream of ``segment`` copied ``times`` times end to end, packets as they are (not re-encoded)."""
    with av.open(str(segment)) as source:
        stream = source.streams.video[0]
        packets = [packet for packet in source.demux(stream) if packet.size]
        period = max(packet.pts + packet.duration for packet in packets) - min(packet.pts for packet in packets)
        stamps = [(packet.pts, packet.dts) for packet in packets]
        with av.open(str(path), "w") as target:
            copy = target.add_stream_from_template(stream)
            for repeat in range(times):
                for packet, (pts, dts) in zip(packets, stamps):
                    packet.pts, packet.dts = pts + repeat * period, dts + repeat * period
                    packet.stream = copy
                    target.mux(packet)
    return path


def write_audio(path: Path, seconds: float = 1.0) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        samples = int(seconds * 44100)
        tone = (0.2 * np.sin(np.arange(samples) / 44100 * 2 * np.pi * 440)).astype(np.float32)[None]
        for start in range(0, samples, 1024):
            frame = av.AudioFrame.from_ndarray(tone[:, start : start + 1024].copy(), format="fltp", layout="mono")
            frame.sample_rate = 44100
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def fixture_videos() -> list:
    folder = FIXTURES / "videos"
    return sorted(folder.iterdir()) if folder.is_dir() else []
