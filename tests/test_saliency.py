"""Guided-backprop saliency, the IMAGE_OR_VIDEO[@TIME] targets and the overlay figure."""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import pytest
import torch
from PIL import Image

from media import segments_video, textured
from vidaesthetic.errors import InputError, ModelError
from vidaesthetic.models import BaselineModel
from vidaesthetic.models.slim_resnet import AestheticResNet, ConvBN, Unit, guided_backprop
from vidaesthetic.apps.explain import guided_saliency, load_target, parse_target, save_overlay


@pytest.fixture
def model() -> AestheticResNet:
    torch.manual_seed(0)
    return AestheticResNet(18, 0.125, input_size=(64, 64))


def score_gradient(model: AestheticResNet, frame: np.ndarray, pre_relu: List[torch.Tensor]) -> torch.Tensor:
    """d ||embedding|| / d pixels; collects the gradient at the first BN output (just before a ReLU)."""
    pixels = torch.from_numpy(frame).permute(2, 0, 1)[None].float().requires_grad_()

    def keep_gradient(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        output.register_hook(pre_relu.append)

    hook = model.net.conv1.bn.register_forward_hook(keep_gradient)
    try:
        torch.linalg.vector_norm(model.embed(pixels), dim=1).sum().backward()
    finally:
        hook.remove()
    return pixels.grad


def flags(model: AestheticResNet) -> List[bool]:
    return [module.guided for module in model.modules() if isinstance(module, (ConvBN, Unit))]


def test_guided_gradient_keeps_only_positive_signals(model: AestheticResNet) -> None:
    frame = textured(64, 64)
    plain_pre, guided_pre = [], []
    plain = score_gradient(model, frame, plain_pre)
    with guided_backprop(model.net):
        guided = score_gradient(model, frame, guided_pre)
    assert not torch.allclose(plain, guided)
    assert (plain_pre[0] < 0).any()
    assert (guided_pre[0] >= 0).all()  # a guided ReLU passes back no negative gradient


def test_guided_forward_is_identical(model: AestheticResNet) -> None:
    frames = torch.from_numpy(textured(64, 64)).permute(2, 0, 1)[None]
    with torch.no_grad():
        before = model.embed(frames)
        with guided_backprop(model.net):
            assert torch.equal(model.embed(frames), before)


def test_saliency_map_leaves_the_model_as_it_was(model: AestheticResNet) -> None:
    frame = textured(96, 80, seed=3)
    frames = torch.from_numpy(frame).permute(2, 0, 1)[None]
    state = {key: value.clone() for key, value in model.state_dict().items()}
    with torch.no_grad():
        before = model.embed(frames)
    saliency = guided_saliency(model, frame)
    assert saliency.shape == (80, 96) and saliency.dtype == np.float32
    assert saliency.min() >= 0 and saliency.max() == 1
    assert not any(flags(model)) and not model.training
    assert all(parameter.grad is None for parameter in model.parameters())
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    with torch.no_grad():
        assert torch.equal(model.embed(frames), before)


def test_guided_mode_is_switched_off_after_an_error(model: AestheticResNet) -> None:
    with pytest.raises(ValueError, match="N x 3"):
        guided_saliency(model, np.zeros((32, 32, 4), dtype=np.uint8))
    assert not any(flags(model))


def test_texture_is_more_salient_than_flat_grey(model: AestheticResNet) -> None:
    frame = textured(128, 96, seed=1)
    frame[:, 64:] = 128
    saliency = guided_saliency(model, frame)
    assert saliency[:, :64].mean() > 2 * saliency[:, 64:].mean()


def test_baseline_has_no_saliency() -> None:
    with pytest.raises(ModelError, match="^the baseline model has no saliency; use the learned model"):
        guided_saliency(BaselineModel(), textured(64, 64))


@pytest.mark.parametrize("target,expected", [
    ("clip.mp4@12.5", ("clip.mp4", 12.5)),
    ("clip.mp4@7", ("clip.mp4", 7.0)),
    ("dir/clip.mp4@01:02:03.250", ("dir/clip.mp4", 3723.25)),
    ("clip.mp4@02:03", ("clip.mp4", 123.0)),
    ("me@home/clip.mp4@.5", ("me@home/clip.mp4", 0.5)),
    ("clip.mp4", ("clip.mp4", None)),
    ("photo@2x.png", ("photo@2x.png", None)),
    ("clip.mp4@", ("clip.mp4@", None)),
    ("clip.mp4@-3", ("clip.mp4@-3", None)),
    ("@12", ("@12", None)),
])
def test_parse_target(target: str, expected: tuple) -> None:
    path, time = parse_target(target)
    assert (str(path), time) == (str(Path(expected[0])), expected[1])


def test_video_frame_at_a_time_and_by_default_the_middle(tmp_path: Path) -> None:
    video = segments_video(tmp_path / "clip.mp4", "ksk")  # black, sharp, black: 1 s each
    middle, description = load_target(str(video))
    assert middle.shape == (96, 160, 3) and middle.mean() > 60
    assert description == "clip.mp4 at 00:00:01.520"  # the frame nearest 1.5 s at 25 fps
    black, description = load_target(f"{video}@00:00:00.4")
    assert black.max() < 30 and description == "clip.mp4 at 00:00:00.400"
    with pytest.raises(InputError, match="past the end"):
        load_target(f"{video}@9")


def test_image_is_shown_upright(tmp_path: Path) -> None:
    stored = np.zeros((20, 40, 3), dtype=np.uint8)
    stored[:, :20, 0] = 255  # red left, blue right as stored
    stored[:, 20:, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: display rotated 90 degrees clockwise
    path = tmp_path / "photo.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    frame, description = load_target(str(path))
    assert frame.shape == (40, 20, 3) and description == "photo.jpg"
    assert frame[5, 10, 0] > 200 and frame[35, 10, 2] > 200  # red on top, blue below
    with pytest.raises(InputError, match="applies only to videos"):
        load_target(f"{path}@3")
    with pytest.raises(InputError, match="no such file"):
        load_target(str(tmp_path / "missing.jpg"))


def test_save_overlay_writes_a_png(tmp_path: Path) -> None:
    frame = textured(120, 80)
    saliency = np.linspace(0, 1, 120 * 80, dtype=np.float32).reshape(80, 120)
    path = tmp_path / "out" / "saliency.png"
    save_overlay(frame, saliency, path, title="clip.mp4 at 00:00:01.000")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > image.height
    assert sorted(p.name for p in path.parent.iterdir()) == ["saliency.png"]
    with pytest.raises(ValueError, match="does not match"):
        save_overlay(frame, saliency[:, :60], path)
