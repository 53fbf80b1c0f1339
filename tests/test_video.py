from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from media import fixture_videos, textured, write_video
from vidaesthetic import Sampling, VideoError, available_backends, open_video
from vidaesthetic.errors import BackendUnavailable, InputError


def quadrants(width=64, height=48):
    """Red top-left quadrant, everything else dark grey: shows where a rotation went."""
    picture = np.full((height, width, 3), 40, dtype=np.uint8)
    picture[: height // 2, : width // 2] = (230, 20, 20)
    return picture


def all_times(source, **kwargs):
    return np.concatenate([batch.times for batch in source.batches(**kwargs)])


def test_info_of_a_generated_video(bsk_video):
    with open_video(bsk_video) as source:
        info = source.info
    assert (info.width, info.height) == (160, 96)
    assert info.fps == pytest.approx(25)
    assert info.frame_count == 75 and info.frame_count_exact
    assert info.duration == pytest.approx(3.0, abs=0.05)
    assert info.codec == "h264"
    assert not info.variable_frame_rate


def test_batches_are_uint8_rgb_at_model_size_with_presentation_times(bsk_video):
    with open_video(bsk_video) as source:
        batches = list(source.batches(batch_size=16, size=(32, 48)))
    assert [len(b) for b in batches] == [16, 16, 16, 16, 11]
    assert batches[0].frames.dtype == torch.uint8
    assert tuple(batches[0].frames.shape) == (16, 3, 32, 48)
    times = np.concatenate([b.times for b in batches])
    assert np.allclose(times, np.arange(75) / 25)


def test_variable_frame_rate_times_come_from_the_stream(tmp_path):
    pts = [0, 40, 80, 200, 240, 500, 520]
    path = write_video(tmp_path / "vfr.mp4", [textured(64, 48, seed=i) for i in range(7)],
                       pts=pts, time_base=Fraction(1, 1000))
    with open_video(path) as source:
        assert source.info.variable_frame_rate
        assert np.allclose(all_times(source), np.asarray(pts) / 1000)
        # sampling by rate follows the real times: one frame per 0.2 s slot
        assert np.allclose(all_times(source, sampling=Sampling(fps=5)), [0.0, 0.2, 0.5])


def test_sampling_by_stride_and_rate(bsk_video):
    with open_video(bsk_video) as source:
        strided = list(source.batches(sampling=Sampling(stride=10)))
        by_rate = all_times(source, sampling=Sampling(fps=5))
    assert np.concatenate([b.indices for b in strided]).tolist() == list(range(0, 75, 10))
    assert np.allclose(by_rate, np.arange(0, 3, 0.2))


@pytest.mark.parametrize("rotation, clockwise", [(90, 270), (-90, 90), (180, 180)])
def test_rotation_metadata_is_applied(tmp_path, rotation, clockwise):
    path = write_video(tmp_path / "rot.mp4", [quadrants()] * 3, rotation=rotation)
    with open_video(path) as source:
        info = source.info
        assert info.rotation == clockwise
        expected = np.rot90(quadrants(), k=-clockwise // 90)
        assert (info.height, info.width) == expected.shape[:2]
        frame = next(iter(source.batches(size=(24, 32)))).frames[0].permute(1, 2, 0).numpy()
        _, picture = next(iter(source.frames_at([0.0])))
    red = expected[..., 0] > 128
    assert picture.shape == expected.shape
    assert np.abs(picture.astype(int) - expected.astype(int)).mean() < 12
    small_red = F.interpolate(torch.from_numpy(red[None, None].astype(np.float32)), size=(24, 32))[0, 0] > 0.5
    assert (frame[..., 0] > 128)[small_red.numpy()].mean() > 0.9


def test_non_square_pixels_give_the_display_width(tmp_path):
    path = write_video(tmp_path / "sar.mp4", [textured(64, 48)] * 3, sample_aspect_ratio=Fraction(2, 1))
    with open_video(path) as source:
        assert (source.info.width, source.info.height) == (128, 48)
        _, picture = next(iter(source.frames_at([0.04])))
    assert picture.shape == (48, 128, 3)


def test_frames_at_returns_the_same_frames_at_full_resolution(bsk_video):
    with open_video(bsk_video) as source:
        frames = {float(t): f for b in source.batches(size=(96, 160)) for t, f in zip(b.times, b.frames)}
        wanted = [0.48, 1.52, 2.0, 0.0]
        found = list(source.frames_at(wanted))
    assert [t for t, _ in found] == sorted(wanted)
    for time, picture in found:
        assert picture.shape == (96, 160, 3)
        diff = np.abs(picture.astype(int) - frames[time].permute(1, 2, 0).numpy().astype(int)).mean()
        assert diff < 2


def test_missing_backend_is_a_clear_error(bsk_video, monkeypatch):
    monkeypatch.setattr("vidaesthetic.video.open._importable", lambda name: name == "pyav")
    with pytest.raises(BackendUnavailable, match="not available"):
        open_video(bsk_video, backend="decord")
    with pytest.raises(InputError, match="unknown backend"):
        open_video(bsk_video, backend="nope")


@pytest.mark.skipif("decord" not in available_backends(), reason="decord is not installed")
def test_decord_agrees_with_pyav(bsk_video):
    with open_video(bsk_video) as pyav_source, open_video(bsk_video, backend="decord") as decord_source:
        a = list(pyav_source.batches(size=(48, 80)))
        b = list(decord_source.batches(size=(48, 80)))
    assert np.allclose(np.concatenate([x.times for x in a]), np.concatenate([x.times for x in b]))
    pixels_a = torch.cat([x.frames for x in a]).float()
    pixels_b = torch.cat([x.frames for x in b]).float()
    assert (pixels_a - pixels_b).abs().mean() < 3


@pytest.mark.parametrize("clip", fixture_videos(), ids=lambda p: p.name)
def test_real_clips_decode_with_display_geometry(clip):
    with open_video(clip) as source:
        info = source.info
        times = all_times(source, sampling=Sampling(stride=4))
        _, picture = next(iter(source.frames_at([times[len(times) // 2]])))
    assert len(times) > 0 and np.all(np.diff(times) > 0)
    assert picture.shape == (info.height, info.width, 3)
    assert picture.std() > 1  # a real picture, not a blank or green buffer


def test_real_clip_frames_after_a_seek_are_not_corrupt(fixtures_dir):
    """The 4:4:4 clip decodes green after a naive seek; exact retrieval must match sequential decoding."""
    clip = fixtures_dir / "videos" / "imageio_cockatoo.mp4"
    with open_video(clip) as source:
        frames = {float(t): f for b in source.batches(sampling=Sampling(stride=35)) for t, f in zip(b.times, b.frames)}
        for time, picture in source.frames_at(list(frames)[1:]):
            small = F.interpolate(torch.from_numpy(picture).permute(2, 0, 1)[None].float(), size=(224, 224),
                                  mode="bilinear", antialias=True)[0]
            assert (small - frames[time].float()).abs().mean() < 3


def test_real_clip_with_no_duration_in_its_header(fixtures_dir):
    with open_video(fixtures_dir / "videos" / "imageio_test.webm") as source:
        info = source.info
        count = len(all_times(source))
    assert info.frame_count == count == 94
    assert info.duration == pytest.approx(3.1, abs=0.1)


def test_audio_only_file_is_refused(tmp_path):
    from media import write_audio

    with pytest.raises(VideoError, match="no video stream"):
        open_video(write_audio(tmp_path / "tone.m4a"))
