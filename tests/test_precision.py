"""Faster precisions rank frames as float32 does: the paper's ResNet-50 with seeded weights, on real clips.

Every float32 top-5 spot must have one within 0.5 s (issue 14's target). The
Spearman bounds are what bf16 and int8 hold with seeded weights at 4 frames a
second: at worst 0.978 (bf16) and 0.951 (int8), both on a 13-frame clip whose
scores differ by 4 %; the target (0.99 on every clip) is not met yet, so
``auto`` stays float32 on a CPU.
"""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from media import FIXTURES, fixture_videos
from vidaesthetic import find_spots, load_model, score_video, smooth
from vidaesthetic.errors import InputError
from vidaesthetic.models import int8
from vidaesthetic.models.slim_resnet import AestheticResNet
from vidaesthetic.models.weights import save_weights
from vidaesthetic.video import Sampling

needs_onnxruntime = pytest.mark.skipif(not int8.available(), reason="ONNX Runtime is not installed (the int8 extra)")
CLIPS = fixture_videos()
SAMPLING = Sampling(fps=4)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "resnet50.safetensors"
    save_weights(AestheticResNet(depth=50), path)
    return path


@pytest.fixture(scope="module")
def calibration_clip():
    """What the int8 network calibrates on, as it would on a user's first video: its first frames."""
    return FIXTURES / "videos" / "decord_flipping_a_pancake.mkv"


@pytest.fixture(scope="module")
def int8_model(weights, calibration_clip, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIDAESTHETIC_CACHE", str(tmp_path_factory.mktemp("cache")))
        model = load_model(weights=weights, precision="int8", device="cpu")
        assert not model.net.calibrated and model.describe()["precision"] == "int8"
        score_video(calibration_clip, model, progress=False)  # its first batch calibrates
        assert model.net.calibrated and model.net.cache.is_file()
        again = load_model(weights=weights, precision="int8", device="cpu")
        assert again.net.calibrated  # the cache is found: calibration is paid once per weights file
        yield again


def ranked_alike(reference, other):
    """Spearman of the raw scores, and whether each of float32's top-5 spots has one within 0.5 s."""
    rho = spearmanr(reference.raw, other.raw).statistic
    spots = [[spot.time for spot in find_spots(smooth(curve), top=5)] for curve in (reference, other)]
    return rho, all(min(abs(np.asarray(spots[1]) - time)) <= 0.5 for time in spots[0]), spots


@pytest.fixture(scope="module")
def float32_curves(weights):
    model = load_model(weights=weights, precision="fp32", device="cpu")
    return {clip.name: score_video(clip, model, sampling=SAMPLING, progress=False) for clip in CLIPS}


@needs_onnxruntime
@pytest.mark.parametrize("clip", CLIPS, ids=[clip.name for clip in CLIPS])
def test_int8_ranks_frames_as_float32_does(clip, int8_model, float32_curves):
    rho, matched, spots = ranked_alike(float32_curves[clip.name], score_video(clip, int8_model, sampling=SAMPLING,
                                                                              progress=False))
    assert rho >= 0.95 and matched, (rho, spots)


@pytest.mark.parametrize("clip", CLIPS, ids=[clip.name for clip in CLIPS])
def test_bf16_ranks_frames_as_float32_does(clip, weights, float32_curves):
    model = load_model(weights=weights, precision="bf16", device="cpu")
    rho, matched, spots = ranked_alike(float32_curves[clip.name], score_video(clip, model, sampling=SAMPLING,
                                                                              progress=False))
    assert rho >= 0.97 and matched, (rho, spots)


def test_the_folded_network_computes_what_the_network_does():
    torch.manual_seed(1)
    model = AestheticResNet(depth=50, width=0.25, input_size=(96, 128))
    for module in model.modules():  # batch norm with statistics of its own, so that folding is tested
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    x = torch.randn(2, 3, 96, 128) * 50
    with torch.inference_mode():
        assert torch.allclose(int8.folded_network(model.net, (96, 128))(x), model.net(x), rtol=1e-4, atol=1e-3)


def test_int8_without_onnx_runtime_says_what_to_install(weights, monkeypatch):
    monkeypatch.setattr(int8, "available", lambda: False)
    with pytest.raises(InputError, match="pip install 'vidaesthetic\\[int8\\]'"):
        load_model(weights=weights, precision="int8", device="cpu")
    assert load_model(weights=weights, device="cpu").describe()["precision"] == "float32"  # what auto is on a CPU
