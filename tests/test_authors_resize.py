"""``resize="authors"``: frames reach the network as in the authors' demo, so scores can match theirs tightly."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vidaesthetic import InputError, SpotSettings, load_model
from vidaesthetic.models.slim_resnet import AestheticResNet, authors_resize
from vidaesthetic.models.weights import save_weights


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "r.safetensors"
    save_weights(AestheticResNet(depth=18, width=0.25), path)
    return path


def test_a_256_frame_is_resized_to_224_bilinearly_without_antialiasing(weights):
    model = load_model(weights=weights, device="cpu", precision="fp32", resize="authors")
    assert model.frame_size == (256, 256) and model.input_size == (224, 224)
    assert model.describe()["resize"] == "authors"
    frame = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (1, 3, 256, 256), dtype=np.uint8))
    # OpenCV's INTER_LINEAR on the float32 frames of their apply.py: half-pixel centres, two taps per axis.
    resized = F.interpolate(frame.float(), size=(224, 224), mode="bilinear", align_corners=False)
    with torch.inference_mode():
        expected = model.net(resized - model.mean)
        assert torch.allclose(model.embed(frame), expected, rtol=1e-5, atol=1e-4)
        antialiased = F.interpolate(frame.float(), size=(224, 224), mode="bilinear", antialias=True)
        assert not torch.allclose(model.embed(frame), model.net(antialiased - model.mean), rtol=1e-3)


def test_a_larger_frame_is_squashed_to_256_first_as_their_re_encode_was(weights):
    model = load_model(weights=weights, device="cpu", precision="fp32", resize="authors")
    frame = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (1, 3, 540, 960), dtype=np.uint8))
    squashed = F.interpolate(frame.float(), size=(256, 256), mode="bilinear", antialias=True).round()
    with torch.inference_mode():
        assert torch.allclose(model.embed(frame), model.embed(squashed.to(torch.uint8)), rtol=1e-5, atol=1e-4)


def test_direct_stays_the_default_and_out_of_every_record(weights):
    model = load_model(weights=weights, device="cpu")
    assert model.frame_size == model.input_size and "resize" not in model.describe()
    assert '"resize"' not in SpotSettings().digest()
    assert '"resize": "authors"' in SpotSettings(resize="authors").digest()


def test_the_authors_resize_is_for_the_papers_resnet_only():
    with pytest.raises(InputError, match="paper's ResNet preprocessing"):
        load_model("baseline", resize="authors")
    with pytest.raises(InputError, match="unknown resize 'crop'"):
        load_model("baseline", resize="crop")
    with pytest.raises(InputError, match="unknown resize 'crop'"):
        SpotSettings(resize="crop")


def test_the_resize_is_opencvs_as_the_authors_ran_it():
    """Their apply.py: cv2.resize(frame.astype(float32), (224, 224)), INTER_LINEAR by default."""
    cv2 = pytest.importorskip("cv2", reason="OpenCV is not installed (pip install opencv-python-headless)")
    frame = np.random.default_rng(2).integers(0, 256, (256, 256, 3)).astype(np.float32)
    theirs = cv2.resize(frame, (224, 224))
    ours = authors_resize(torch.from_numpy(frame).permute(2, 0, 1)[None], (256, 256), (224, 224))
    ours = ours[0].permute(1, 2, 0).numpy()
    assert np.abs(theirs - ours).max() < 0.01  # of a level: OpenCV's own rounding of its coefficients
