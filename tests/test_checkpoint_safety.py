"""A hostile pickle is refused by every loader of files, before any of its code runs.

Each file below carries a payload that creates a marker file when unpickled
the ordinary way; every loader must fail with a clear error and leave no marker.
"""

import pickle

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from media import textured
from tf_writer import slim_variables_from_state_dict, write_checkpoint
from train import checkpoint
from train.__main__ import main as train_main
from train.imagenet import load_imagenet
from vidaesthetic import ModelError, ScoreCurve, VideoInfo, load_model, save_scores
from vidaesthetic.cli import main as vidaesthetic_main
from vidaesthetic.models import registry
from vidaesthetic.models.slim_resnet import ResNetV1

FORMS = ["torch.save", "pickle"]


class CreatesMarker:
    """Unpickling this runs ``exec``, as a hostile checkpoint would: here it only creates a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "payload-ran"


def write_hostile(path, marker, form):
    """``torch.save`` zip of a checkpoint-like dict, or a bare pickle."""
    if form == "torch.save":
        torch.save({"format": checkpoint.FORMAT, "model": CreatesMarker(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(CreatesMarker(marker), protocol=2))
    return path


def assert_refused(result, *words):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and all(word in lines[0] for word in words), result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("form", FORMS)
def test_the_payload_is_live_when_loaded_without_protection(tmp_path, marker, form):
    """Otherwise the tests below would pass for the wrong reason."""
    path = write_hostile(tmp_path / "checkpoint.pt", marker, form)
    if form == "torch.save":
        torch.load(path, weights_only=False)
    else:
        pickle.loads(path.read_bytes())
    assert marker.exists()


@pytest.mark.parametrize("form", FORMS)
def test_fit_resume_refuses_it(tmp_path, marker, form):
    run = tmp_path / "run"
    run.mkdir()
    write_hostile(run / "checkpoint.pt", marker, form)
    result = CliRunner().invoke(train_main, ["fit", "--data", str(tmp_path / "data"), "--out", str(run), "--resume",
                                             "--device", "cpu"])
    assert_refused(result, "checkpoint.pt", "not a readable training checkpoint")
    assert not marker.exists()


@pytest.mark.parametrize("form", FORMS)
def test_export_refuses_it(tmp_path, marker, form):
    write_hostile(tmp_path / "checkpoint.pt", marker, form)
    destination = tmp_path / "model.safetensors"
    result = CliRunner().invoke(train_main, ["export", str(tmp_path), str(destination)])
    assert_refused(result, "checkpoint.pt", "not a readable training checkpoint")
    assert not marker.exists() and not destination.exists()


@pytest.mark.parametrize("form", FORMS)
def test_imagenet_initialisation_refuses_it(tmp_path, marker, form):
    path = write_hostile(tmp_path / "resnet18-f37072fd.pth", marker, form)
    with pytest.raises(ModelError, match="not torchvision ImageNet weights"):
        load_imagenet(ResNetV1(18), path)
    assert not marker.exists()


@pytest.mark.parametrize("form", FORMS)
def test_weights_option_refuses_it(tmp_path, marker, form):
    weights = write_hostile(tmp_path / "checkpoint.pt", marker, form)
    Image.fromarray(textured(64, 48)).save(tmp_path / "picture.png")
    result = CliRunner().invoke(vidaesthetic_main, ["rank", str(tmp_path / "picture.png"), "--weights", str(weights)])
    assert_refused(result, "checkpoint.pt", "not a safetensors weights file")
    assert not marker.exists()


@pytest.mark.parametrize("form", FORMS)
def test_weights_from_the_environment_or_the_cache_are_refused(tmp_path, marker, form, monkeypatch):
    monkeypatch.setenv("VIDAESTHETIC_WEIGHTS", str(write_hostile(tmp_path / "checkpoint.pt", marker, form)))
    with pytest.raises(ModelError, match="not a safetensors weights file"):
        load_model()
    monkeypatch.delenv("VIDAESTHETIC_WEIGHTS")
    cached = registry.cached_weights_path()
    cached.parent.mkdir(parents=True, exist_ok=True)
    write_hostile(cached, marker, form)
    with pytest.raises(ModelError, match="not a safetensors weights file"):
        load_model()
    assert_refused(CliRunner().invoke(vidaesthetic_main, ["weights", "list"]), "not a safetensors weights file")
    assert not marker.exists()


def test_weights_import_refuses_a_hostile_mean_image(tmp_path, marker):
    """The mean image is the one file of the authors' release that is a pickle."""
    torch.manual_seed(0)
    state = ResNetV1(50, width=0.125, num_outputs=8).state_dict()
    write_checkpoint(tmp_path / "ae_model", slim_variables_from_state_dict(state))
    write_hostile(tmp_path / "mean_bgr.p", marker, "pickle")
    result = CliRunner().invoke(vidaesthetic_main, ["weights", "import", str(tmp_path)])
    assert_refused(result, "mean_bgr.p", "refused to load", "exec")
    assert not marker.exists() and not registry.cached_weights_path().exists()


def test_saved_scores_refuse_pickled_embeddings(tmp_path, marker):
    info = VideoInfo(path="clip.mp4", width=64, height=48, coded_width=64, coded_height=48, rotation=0,
                     sample_aspect_ratio=1.0, fps=25.0, frame_count=25, frame_count_exact=True, duration=1.0,
                     codec="h264", variable_frame_rate=False)
    frames = np.arange(25)
    curve = ScoreCurve(times=frames / 25, indices=frames, raw=np.linspace(0, 1, 25), luma_mean=np.full(25, 0.5),
                       luma_std=np.full(25, 0.2), video=info, model={"name": "baseline"}, sampling={},
                       embeddings=np.zeros((25, 4), np.float16))
    save_scores(curve, tmp_path / "scores.json")
    np.savez(tmp_path / "scores.npz", embeddings=np.array([CreatesMarker(marker)], dtype=object))
    result = CliRunner().invoke(vidaesthetic_main, ["curve", str(tmp_path / "scores.json"),
                                                    "-o", str(tmp_path / "curve.png")])
    assert_refused(result, "scores.json", "not a readable scores file")
    assert not marker.exists() and not (tmp_path / "curve.png").exists()
