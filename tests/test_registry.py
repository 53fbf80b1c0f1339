"""The model registry: a model defined in this one file loads by name, scores, and saves and loads its weights.

``DummyModel`` below is all it takes to add a model: no other file knows it.
The rest checks that the built-in names resolve as before.
"""

import logging

import numpy as np
import pytest
import torch
from torch import nn

from vidaesthetic import InputError, ModelError, available_models, load_model, score_video
from vidaesthetic._internal.download import DownloadError
from vidaesthetic.apps.explain import guided_saliency
from vidaesthetic.models import (
    AestheticModel, AestheticResNet, BaselineModel, load_weights, model_spec, read_metadata, register_model,
    save_weights,
)
from vidaesthetic.models import registry

DUMMY_ENVIRONMENT = "VIDAESTHETIC_TEST_DUMMY_WEIGHTS"


@register_model("test-dummy", environment=DUMMY_ENVIRONMENT)
class DummyModel(AestheticModel):
    """The frame's mean colour through one linear layer: the smallest learned model there is."""

    name = "test-dummy"
    input_size = (32, 32)
    embedding_dim = 4
    architecture = "test-linear-colour"

    def __init__(self, embedding_dim: int = 4, scale: float = 1.0) -> None:
        super().__init__()
        self.embedding_dim, self.scale = embedding_dim, scale
        self.head = nn.Linear(3, embedding_dim)

    def weights_config(self):
        return {"embedding_dim": self.embedding_dim, "scale": self.scale}

    def embed(self, frames: torch.Tensor) -> torch.Tensor:
        colour = frames.to(self.head.weight.device, torch.float32).mean(dim=(2, 3)) / 255
        return self.head(colour) * self.scale


def frames(n=5, size=32):
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))


@pytest.fixture
def dummy_file(tmp_path):
    torch.manual_seed(0)
    model = DummyModel(embedding_dim=6, scale=2.0)
    path = tmp_path / "dummy.safetensors"
    return model, path, save_weights(model, path, {"source": "test"})


def test_the_registry_lists_the_built_in_models_first_then_the_added_one():
    assert available_models()[:2] == ["baseline", "aesthetic-resnet50"]
    assert "test-dummy" in available_models()
    spec = model_spec("test-dummy")
    assert spec.constructor is DummyModel and spec.architecture == "test-linear-colour" and spec.learned
    assert (spec.input_size, spec.embedding_dim, spec.cache_file) == ((32, 32), 4, "test-dummy.safetensors")
    assert spec.release is None
    with pytest.raises(ModelError, match=r"unknown model 'nope'; available: baseline, aesthetic-resnet50, .*test-dummy"):
        load_model("nope")


def test_a_model_added_in_one_file_loads_by_name_scores_and_round_trips_its_weights(dummy_file, bsk_video):
    original, path, weights_id = dummy_file
    metadata = read_metadata(path)
    assert metadata["architecture"] == "test-linear-colour" and metadata["embedding_dim"] == "6"
    model = load_model("test-dummy", weights=path, device="cpu")
    assert isinstance(model, DummyModel) and (model.embedding_dim, model.scale) == (6, 2.0)
    assert model.weights_id == weights_id and model.describe()["name"] == "test-dummy"
    assert torch.allclose(model.score(frames()), original.score(frames()))
    assert isinstance(load_weights(path), DummyModel)
    assert isinstance(load_model(weights=path, device="cpu"), DummyModel)  # the file's architecture decides
    curve = score_video(bsk_video, model, progress=False)
    assert curve.model["name"] == "test-dummy" and len(curve.raw) > 0 and np.isfinite(curve.raw).all()


def test_an_added_model_finds_its_weights_in_its_environment_variable_then_the_cache(dummy_file, tmp_path,
                                                                                      monkeypatch):
    _, path, weights_id = dummy_file
    with pytest.raises(ModelError, match="no weights for test-dummy: pass --weights FILE$"):
        load_model("test-dummy")
    cached = registry.cache_dir() / "test-dummy.safetensors"
    cached.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(1)
    cached_id = save_weights(DummyModel(), cached)
    assert load_model("test-dummy").weights_id == cached_id
    monkeypatch.setenv(DUMMY_ENVIRONMENT, str(path))
    assert load_model("test-dummy").weights_id == weights_id
    monkeypatch.setenv(DUMMY_ENVIRONMENT, str(tmp_path / "gone.safetensors"))
    with pytest.raises(ModelError, match=DUMMY_ENVIRONMENT):
        load_model("test-dummy")


def test_weights_of_another_architecture_are_refused_by_name(dummy_file, tmp_path):
    _, path, _ = dummy_file
    with pytest.raises(ModelError, match="holds test-linear-colour weights, not the aesthetic-resnet50"):
        load_model("aesthetic-resnet50", weights=path)
    resnet = tmp_path / "resnet.safetensors"
    save_weights(AestheticResNet(depth=18, width=0.125, input_size=(32, 32), embedding_dim=4), resnet)
    with pytest.raises(ModelError, match="holds tf-slim-resnet_v1 weights, not the test-dummy"):
        load_model("test-dummy", weights=resnet)


def test_a_name_or_an_architecture_registered_twice_differently_is_refused():
    register_model("test-dummy", environment=DUMMY_ENVIRONMENT)(DummyModel)  # the same spec again: harmless

    class Other(DummyModel):
        pass

    with pytest.raises(ValueError, match="'test-dummy' is already registered"):
        register_model("test-dummy")(Other)
    with pytest.raises(ValueError, match="'tf-slim-resnet_v1' is already built by model 'aesthetic-resnet50'"):
        register_model("test-other", architecture="tf-slim-resnet_v1")(Other)
    assert "test-other" not in available_models()


def test_training_free_models_have_no_weights_and_no_saliency():
    with pytest.raises(InputError, match="the baseline model takes no weights file"):
        load_model("baseline", weights="x.safetensors")
    with pytest.raises(ModelError, match="training-free"):
        save_weights(BaselineModel(), "x.safetensors")
    with pytest.raises(ModelError, match="the test-dummy model has no saliency"):
        guided_saliency(DummyModel(), np.zeros((32, 32, 3), np.uint8))


@pytest.mark.parametrize("name", ["baseline", "aesthetic-resnet50"])
def test_built_in_specs_describe_the_models_they_build(name):
    spec = model_spec(name)
    model = spec.constructor()
    assert (model.input_size, model.embedding_dim, model.architecture) == (
        spec.input_size, spec.embedding_dim, spec.architecture)
    if spec.learned:
        assert model.mean.mean(dim=(1, 2)).tolist() == pytest.approx(spec.mean)


def test_the_paper_model_looks_in_its_environment_variable_cache_and_release():
    spec = model_spec("aesthetic-resnet50")
    assert spec.environment == "VIDAESTHETIC_WEIGHTS"
    assert registry.cached_weights_path() == registry.cache_dir() / spec.cache_file
    assert spec.release is not None and "98 MiB" in spec.release.description


def test_the_default_falls_back_to_the_baseline_in_one_line_offline_or_when_the_download_fails(monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise DownloadError("no network here")

    monkeypatch.setattr(registry, "fetch_release", refuse)
    with caplog.at_level(logging.INFO, logger="vidaesthetic"):
        assert isinstance(load_model(device="cpu"), BaselineModel)  # offline: no download tried
    notices = [record.getMessage() for record in caplog.records if "baseline" in record.getMessage()]
    assert len(notices) == 1 and "not installed)" in notices[0] and "\n" not in notices[0]
    caplog.clear()
    monkeypatch.setenv("VIDAESTHETIC_OFFLINE", "0")
    with caplog.at_level(logging.INFO, logger="vidaesthetic"):
        assert isinstance(load_model(device="cpu"), BaselineModel)
    assert "downloading the authors' model (98 MiB) once" in caplog.text
    assert "could not be downloaded" in caplog.text
    with pytest.raises(DownloadError, match="no network here"):
        load_model("aesthetic-resnet50", device="cpu")
