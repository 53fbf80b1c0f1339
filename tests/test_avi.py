"""An AVI with B-frames (issue #12): scoring and the key frames' re-decode must agree on every frame.

AVI stores when to decode a frame, not when to show it: FFmpeg guesses the
presentation times of reordered frames (or leaves them out), and the guesses
need not follow the frames' order. Each frame here shows a white square at a
column that encodes its index, so a picture tells which frame it is.
"""

import csv
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from media import textured
from vidaesthetic import SpotSettings, VideoError, extract_spots, load_model, open_video
from vidaesthetic.video import BACKENDS, available_backends

WIDTH, HEIGHT, FRAMES = 160, 96, 60
BAND = slice(8, 24)  # the rows of the square
SHOTS = [textured(WIDTH, HEIGHT, seed=seed) for seed in range(3)]


def picture(index: int) -> np.ndarray:
    """Three shots of 20 frames (so that the curve has a spot in each), with the square."""
    frame = SHOTS[index // 20].copy()
    frame[BAND, 2 + 2 * index : 18 + 2 * index] = 255
    return frame


PICTURES = np.stack([picture(i) for i in range(FRAMES)]).astype(np.float32)


def shown(image: np.ndarray) -> int:
    """The index of the frame ``image`` shows (nearest by its square's rows, robust to codec noise)."""
    return int(np.argmin(np.abs(PICTURES[:, BAND] - image[BAND].astype(np.float32)).mean(axis=(1, 2, 3))))


@pytest.fixture(scope="module")
def b_frames_avi(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("avi") / "b-frames.avi"
    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18", "x264-params": "bframes=2:b-adapt=0"}
        for index in range(FRAMES):
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture(index), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def backend_or_skip(backend: str) -> str:
    if backend not in available_backends():
        pytest.skip(f"{backend} is not installed")
    return backend


def test_the_avi_has_b_frames_whose_own_times_cannot_name_them(b_frames_avi):
    with av.open(str(b_frames_avi)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == FRAMES
    assert av.video.frame.PictureType.B in {frame.pict_type for frame in frames}
    times = [frame.time for frame in frames]  # in presentation order, as decoded
    assert None in times or any(later <= earlier for earlier, later in zip(times, times[1:]))
    assert [shown(frame.to_ndarray(format="rgb24")) for frame in frames] == list(range(FRAMES))


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_every_scored_frame_is_decoded_again_as_the_same_frame(b_frames_avi, backend):
    try:
        with open_video(b_frames_avi, backend=backend_or_skip(backend)) as source:
            batches = list(source.batches(size=(HEIGHT, WIDTH)))
            indices = np.concatenate([batch.indices for batch in batches])
            times = np.concatenate([batch.times for batch in batches])
            scored = [shown(frame) for batch in batches for frame in batch.frames.permute(0, 2, 3, 1).numpy()]
            by_index = list(source.frames_at(times, indices))
            by_time = list(source.frames_at(times))
    except VideoError as exc:
        # torchcodec finds frames by its own guessed times: it must refuse rather than give the wrong frames
        assert backend == "torchcodec" and "use --backend pyav" in str(exc)
        return
    assert indices.tolist() == scored == list(range(FRAMES))
    assert np.all(np.diff(times) > 0)
    for found in (by_index, by_time):
        assert [time for time, _ in found] == times.tolist()
        assert [shown(image) for _, image in found] == indices.tolist()


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_key_frames_are_the_frames_the_curve_scored(b_frames_avi, tmp_path, backend):
    settings = SpotSettings(top=3, min_gap=0.5, progress=False, backend=backend_or_skip(backend))
    try:
        document = extract_spots(b_frames_avi, tmp_path, load_model("baseline", device="cpu"), settings)
    except VideoError as exc:
        assert backend == "torchcodec" and "use --backend pyav" in str(exc)
        return
    with open(tmp_path / "scores.csv", newline="") as handle:
        curve = {int(row["frame"]): float(row["time"]) for row in csv.DictReader(handle)}
    assert sorted(curve) == list(range(FRAMES))
    assert np.all(np.diff([curve[index] for index in sorted(curve)]) > 0)
    assert len(document["spots"]) >= 2
    for spot in document["spots"]:
        assert spot["time"] == pytest.approx(curve[spot["frame_index"]], abs=1e-6)
        assert shown(np.asarray(Image.open(tmp_path / spot["image"]).convert("RGB"))) == spot["frame_index"]
