import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance, ImageFilter

from media import FIXTURES, textured
from vidaesthetic import load_model
from vidaesthetic.models import BaselineModel


def as_batch(*pictures):
    return torch.stack([torch.from_numpy(np.array(p)).permute(2, 0, 1) for p in pictures])


def versions(picture: Image.Image):
    """The picture, then blurred, dark, blown-out and black versions of it."""
    return [
        picture,
        picture.filter(ImageFilter.GaussianBlur(3)),
        ImageEnhance.Brightness(picture).enhance(0.2),
        ImageEnhance.Brightness(picture).enhance(4.0),
        Image.new("RGB", picture.size),
    ]


def photographs():
    folder = FIXTURES / "images"
    names = ["skimage_astronaut.png", "skimage_coffee.png", "skimage_motorcycle_left.png", "imageio_kodim03.png"]
    return [folder / name for name in names] if folder.is_dir() else []


def test_sharp_well_exposed_frame_beats_damaged_versions_of_itself():
    model = load_model("baseline", device="cpu")
    picture = Image.fromarray(textured(224, 224, seed=3))
    scores = model.score(as_batch(*versions(picture)))
    assert scores[0] == scores.max()
    assert torch.all(scores[0] > scores[1:] + 0.1)
    assert scores[-1] < 0.01


@pytest.mark.parametrize("path", photographs(), ids=lambda p: p.name)
def test_real_photographs_beat_their_damaged_versions(path):
    model = BaselineModel()
    picture = Image.open(path).convert("RGB").resize((224, 224))
    scores = model.score(as_batch(*versions(picture)))
    assert torch.all(scores[0] > scores[1:])


def test_score_is_the_embedding_norm_and_independent_of_the_batch():
    model = BaselineModel()
    batch = as_batch(*(textured(224, 224, seed=s) for s in range(4)))
    embeddings = model.embed(batch)
    assert embeddings.shape == (4, model.embedding_dim)
    assert torch.allclose(model.score(batch), embeddings.norm(dim=1))
    assert torch.allclose(model.score(batch[2:3]), model.score(batch)[2:3], atol=1e-6)


def test_other_sizes_are_resized_and_uniform_frames_are_finite():
    model = BaselineModel()
    big = as_batch(Image.fromarray(textured(448, 300)).resize((448, 300)))
    grey = torch.full((1, 3, 224, 224), 128, dtype=torch.uint8)
    assert torch.isfinite(model.embed(big)).all() and model.score(big) > 0.3
    assert torch.isfinite(model.embed(grey)).all() and model.score(grey) < 0.05


def test_near_identical_frames_have_near_identical_embeddings():
    model = BaselineModel()
    a, b = textured(224, 224, seed=1), textured(224, 224, seed=2)
    shifted = np.clip(a.astype(int) + 3, 0, 255).astype(np.uint8)
    e = torch.nn.functional.normalize(model.embed(as_batch(a, shifted, b)), dim=1)
    assert e[0] @ e[1] > 0.99 > e[0] @ e[2]
