"""The torchcodec backend gives the PyAV reference's frames and times, up to resize rounding."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import List, Tuple

import numpy as np
import pytest
import torch

import media
from vidaesthetic.errors import VideoError
from vidaesthetic.video.open import open_video
from vidaesthetic.video.pyav_backend import PyAVSource
from vidaesthetic.video.source import VideoSource
from vidaesthetic.video.types import Sampling

try:
    from torchcodec.decoders import VideoDecoder

    from vidaesthetic.video.torchcodec_backend import TorchCodecSource
except Exception as exc:  # missing, or a native library that fails to load
    pytest.skip(f"torchcodec cannot be imported here: {exc}", allow_module_level=True)

SIZE = (224, 224)
# Mean absolute difference (0..255) allowed between torch's resize and PyAV's (FFmpeg's).
# The generated pictures carry pixel-level noise, the worst case for differing kernels
# (about 3); real clips differ by about 1.5, and a wrong rotation or frame by 20 or more.
RESIZE_TOLERANCE = 4.0


@pytest.fixture(scope="module", autouse=True)
def torchcodec_decodes(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip where torchcodec imports but cannot load its FFmpeg libraries (it loads them lazily)."""
    path = media.segments_video(tmp_path_factory.mktemp("load") / "load.mp4", "s", seconds_each=0.2)
    try:
        VideoDecoder(str(path))
    except RuntimeError as exc:
        pytest.skip(f"torchcodec cannot decode here: {str(exc).splitlines()[0]}")


def decode_all(
    source: VideoSource, batch_size: int = 16, sampling: Sampling = Sampling()
) -> Tuple[torch.Tensor, np.ndarray, np.ndarray, List[int]]:
    batches = list(source.batches(batch_size, SIZE, sampling))
    frames = torch.cat([batch.frames.cpu() for batch in batches])
    indices = np.concatenate([batch.indices for batch in batches])
    times = np.concatenate([batch.times for batch in batches])
    return frames, indices, times, [len(batch) for batch in batches]


def assert_same_as_pyav(path: Path, sampling: Sampling = Sampling(), batch_size: int = 16) -> None:
    expected = decode_all(PyAVSource(str(path)), batch_size, sampling)
    with TorchCodecSource(str(path)) as source:
        frames, indices, times, sizes = decode_all(source, batch_size, sampling)
    assert frames.dtype == torch.uint8 and frames.shape == expected[0].shape
    assert indices.dtype == np.int64 and times.dtype == np.float64
    np.testing.assert_array_equal(indices, expected[1])
    np.testing.assert_allclose(times, expected[2], atol=1e-6)
    assert sizes == expected[3]
    assert (frames.float() - expected[0].float()).abs().mean() < RESIZE_TOLERANCE


def test_frames_and_times_match_pyav(tmp_path: Path) -> None:
    path = media.segments_video(tmp_path / "plain.mp4", "sbk")
    assert_same_as_pyav(path)


def test_variable_frame_rate_times_come_from_the_stream(tmp_path: Path) -> None:
    pts = [0, 40, 80, 200, 240, 600, 640, 680, 1000, 1040]
    pictures = [media.textured(160, 96, seed) for seed in range(len(pts))]
    path = media.write_video(tmp_path / "vfr.mp4", pictures, pts=pts, time_base=Fraction(1, 1000))
    with TorchCodecSource(str(path)) as source:
        times = np.concatenate([batch.times for batch in source.batches(4, SIZE)])
    np.testing.assert_allclose(times, np.asarray(pts) / 1000)
    assert_same_as_pyav(path, batch_size=4)


@pytest.mark.parametrize("sampling", [Sampling(stride=3), Sampling(stride=40), Sampling(fps=3.0)])
def test_sampling_matches_pyav(tmp_path: Path, sampling: Sampling) -> None:
    path = media.segments_video(tmp_path / "sampled.mp4", "sbs")
    assert_same_as_pyav(path, sampling, batch_size=4)


@pytest.mark.parametrize("rotation", [90, 180, -90])
def test_rotation_gives_the_display_picture(tmp_path: Path, rotation: int) -> None:
    path = media.segments_video(tmp_path / "rotated.mp4", "sb", rotation=rotation)
    with TorchCodecSource(str(path)) as source:
        assert (source.info.width, source.info.height) == ((160, 96) if rotation == 180 else (96, 160))
        assert next(iter(source.batches(4, (60, 50)))).frames.shape == (4, 3, 60, 50)
    assert_same_as_pyav(path)


def test_sample_aspect_ratio_is_applied(tmp_path: Path) -> None:
    path = media.segments_video(tmp_path / "anamorphic.mp4", "sb", sample_aspect_ratio=Fraction(2, 1))
    with TorchCodecSource(str(path)) as source:
        assert (source.info.width, source.info.height) == (320, 96)
        ((_, picture),) = source.frames_at([0.5])
    assert picture.shape == (96, 320, 3)
    assert_same_as_pyav(path)


def test_frames_at_full_resolution_matches_pyav(tmp_path: Path) -> None:
    path = media.segments_video(tmp_path / "export.mp4", "sbk", size=(176, 144), rotation=90)
    # Exact frame times, times between frames (the nearest frame wins) and a time past the end.
    wanted = [2.0, 0.52, 0.017, 0.033, 1.0, 99.0]
    expected = list(PyAVSource(str(path)).frames_at(wanted))
    with TorchCodecSource(str(path)) as source:
        found = list(source.frames_at(wanted))
        ((first, _),) = source.frames_at([-1.0])
    assert [time for time, _ in found] == pytest.approx([0.0, 0.04, 0.52, 1.0, 2.0, 2.96])
    assert [time for time, _ in found] == pytest.approx([time for time, _ in expected])
    assert first == 0.0
    for (_, picture), (_, reference) in zip(found, expected):
        assert picture.dtype == np.uint8 and picture.shape == reference.shape == (176, 144, 3)
        assert np.abs(picture.astype(float) - reference).mean() < 1.0


def test_not_a_video_is_a_video_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("not a video")
    with pytest.raises(VideoError):
        open_video(path, backend="torchcodec")


def test_damaged_video_decodes_or_fails_cleanly(tmp_path: Path) -> None:
    path = media.segments_video(tmp_path / "damaged.mkv", "sbsbsb")
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(1)
    for offset in range(len(data) // 4, len(data) * 3 // 4, 50):
        data[offset] = int(rng.integers(256))
    path.write_bytes(bytes(data))
    try:
        with TorchCodecSource(str(path)) as source:
            for _ in source.batches(8, SIZE):
                pass
    except VideoError as exc:
        assert "\n" not in str(exc)  # one clear line, no C++ trace


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_decoding_matches_cpu(tmp_path: Path) -> None:
    # Rotated, because torchcodec's CUDA backends have not all applied the rotation metadata.
    path = media.segments_video(tmp_path / "gpu.mp4", "sb", rotation=90)
    with TorchCodecSource(str(path), device="cuda") as source:
        batch = next(iter(source.batches(8, SIZE)))
        ((_, picture),) = source.frames_at([0.4])
    assert batch.frames.is_cuda and batch.frames.dtype == torch.uint8
    with TorchCodecSource(str(path)) as source:
        reference = next(iter(source.batches(8, SIZE)))
        ((_, expected),) = source.frames_at([0.4])
    np.testing.assert_allclose(batch.times, reference.times)
    assert (batch.frames.cpu().float() - reference.frames.float()).abs().mean() < RESIZE_TOLERANCE
    assert np.abs(picture.astype(float) - expected).mean() < RESIZE_TOLERANCE


FIXTURES = {path.name: path for path in media.fixture_videos()}


@pytest.mark.parametrize(
    "name", ["torchcodec_nasa_13013.mp4", "pyscenedetect_issue-134-rotate.mp4", "imageio_test.webm"]
)
def test_real_clips_match_pyav(name: str) -> None:
    if name not in FIXTURES:
        pytest.skip("the shared fixture videos are not here")
    path = FIXTURES[name]
    expected = decode_all(PyAVSource(str(path)), 64)
    with TorchCodecSource(str(path)) as source:
        frames, indices, times, _ = decode_all(source, 64)
    assert len(times) == len(expected[2]) == source.info.frame_count
    np.testing.assert_array_equal(indices, expected[1])
    np.testing.assert_allclose(times, expected[2], atol=1e-6)
    assert (frames.float() - expected[0].float()).abs().mean() < RESIZE_TOLERANCE
