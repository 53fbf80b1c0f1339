"""The authors' release: conversion of a checkpoint laid out like theirs, fetching, conformance."""

import functools
import http.server
import os
import shutil
import threading

import numpy as np
import pytest
import torch

from media import FIXTURES
from tf_writer import write_checkpoint
from vidaesthetic import ModelError, OutputError, load_model
from vidaesthetic._internal.download import DownloadError, git_blob_sha1
from vidaesthetic.models import fetch_release, import_release, read_metadata
from vidaesthetic.models import registry, release
from vidaesthetic.models.tf_checkpoint import read_index

AUTHORS = FIXTURES / "authors"
# The converted release on this machine, looked up before tests redirect the cache.
INSTALLED = os.environ.get("VIDAESTHETIC_WEIGHTS") or str(registry.cached_weights_path())

needs_authors = pytest.mark.skipif(not AUTHORS.is_dir(), reason=f"authors' files not present at {AUTHORS}")


@pytest.fixture(scope="module")
def synthetic_release(tmp_path_factory):
    """A checkpoint with the real index's 267 names, dtypes and shapes and generated values, + the mean image."""
    if not AUTHORS.is_dir():
        pytest.skip(f"authors' files not present at {AUTHORS}")
    folder = tmp_path_factory.mktemp("release")
    rng = np.random.default_rng(0)
    tensors = {}
    for name, entry in read_index(AUTHORS / "ae_model.index").items():
        if name.endswith("moving_variance"):
            tensors[name] = rng.uniform(0.5, 1.5, entry.shape).astype(entry.dtype)
        else:
            tensors[name] = (rng.standard_normal(entry.shape) * 0.02).astype(entry.dtype)
    write_checkpoint(folder / "ae_model", tensors)
    shutil.copy(AUTHORS / "mean_bgr.p", folder / "mean_bgr.p")
    return folder, tensors


def test_import_uses_every_one_of_the_267_variables_exactly_once(synthetic_release):
    folder, tensors = synthetic_release
    assert len(tensors) == 267
    path = import_release(folder)
    model = load_model(weights=path, device="cpu")
    metadata = read_metadata(path)
    assert metadata["name"] == "aesthetic-resnet50" and metadata["provenance"]["source"] == "user checkpoint"
    state = model.net.state_dict()
    used = {k for k in state if not k.endswith("num_batches_tracked")}
    assert len(used) == 267
    conv = tensors["resnet_v1_50/block1/unit_1/bottleneck_v1/conv1/weights"]
    assert np.array_equal(state["block1.0.conv1.weight"].numpy(), conv.transpose(3, 2, 0, 1))
    assert np.array_equal(state["logits.bias"].numpy(), tensors["resnet_v1_50/logits/biases"])
    # the mean image is the authors' one, flipped from BGR to RGB
    assert model.mean.mean(dim=(1, 2)).tolist() == pytest.approx([123.15, 115.90, 103.06], abs=0.05)
    assert model.score(torch.zeros(2, 3, 224, 224, dtype=torch.uint8)).shape == (2,)


def test_partial_or_foreign_checkpoints_are_refused(synthetic_release, tmp_path):
    _, tensors = synthetic_release
    missing = dict(tensors)
    missing.pop("resnet_v1_50/block3/unit_2/bottleneck_v1/conv2/weights")
    (tmp_path / "missing").mkdir()
    (tmp_path / "shape").mkdir()
    write_checkpoint(tmp_path / "missing" / "ae_model", missing)
    with pytest.raises(ModelError, match="missing 1"):
        import_release(tmp_path / "missing")
    reshaped = dict(tensors)
    reshaped["resnet_v1_50/logits/weights"] = np.zeros((1, 1, 2048, 10), np.float32)
    write_checkpoint(tmp_path / "shape" / "ae_model", reshaped)
    with pytest.raises(ModelError):
        import_release(tmp_path / "shape")
    with pytest.raises(ModelError, match="no TensorFlow checkpoint"):
        import_release(tmp_path)
    assert not registry.cached_weights_path().exists()


@pytest.fixture
def served(synthetic_release, tmp_path, monkeypatch):
    """The synthetic release on a local HTTP server, pinned by its own hashes."""
    folder, _ = synthetic_release
    root = tmp_path / "www"
    shutil.copytree(folder, root)
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("VIDAESTHETIC_RELEASE_URL", f"http://127.0.0.1:{server.server_port}/")
    files = {name: release.ReleaseFile(git_blob_sha1(root / name), (root / name).stat().st_size) for name in release.FILES}
    monkeypatch.setattr(release, "FILES", files)
    yield root
    server.shutdown()
    server.server_close()


def without_mean(synthetic_release, tmp_path):
    """The synthetic checkpoint alone in a folder, its mean image left behind."""
    folder, _ = synthetic_release
    alone = tmp_path / "no-mean"
    alone.mkdir()
    for name in (release.INDEX, release.DATA):
        shutil.copy(folder / name, alone / name)
    return alone


def test_the_authors_weights_without_their_mean_image_are_refused_unless_told(synthetic_release, tmp_path,
                                                                               monkeypatch):
    """Channel means instead of the mean image move the authors' scores by 1-36 %: never silently."""
    from click.testing import CliRunner

    from vidaesthetic.cli import main

    folder = without_mean(synthetic_release, tmp_path)
    pinned = {name: release.ReleaseFile(git_blob_sha1(folder / name), (folder / name).stat().st_size)
              for name in (release.INDEX, release.DATA)}
    monkeypatch.setattr(release, "FILES", {**release.FILES, **pinned})  # these files are "the authors' release"
    with pytest.raises(ModelError, match=r"mean image \(mean_bgr.p\) is missing.*--channel-mean") as error:
        import_release(folder)
    assert str(folder) in str(error.value) and not registry.cached_weights_path().exists()
    refused = CliRunner().invoke(main, ["weights", "import", str(folder)])
    assert refused.exit_code != 0 and "--channel-mean" in refused.output and "Traceback" not in refused.output
    accepted = CliRunner().invoke(main, ["weights", "import", str(folder), "--channel-mean"])
    assert accepted.exit_code == 0, accepted.output
    model = load_model(device="cpu")
    spec = registry.model_spec(release.PAPER_MODEL)
    assert model.mean.mean(dim=(1, 2)).tolist() == pytest.approx(list(spec.mean), abs=1e-4)


def test_another_checkpoint_without_a_mean_image_is_converted_with_a_warning(synthetic_release, tmp_path, caplog):
    folder = without_mean(synthetic_release, tmp_path)  # not the authors' files: a user's own checkpoint
    with caplog.at_level("WARNING", logger="vidaesthetic"):
        path = import_release(folder)
    assert read_metadata(path)["provenance"]["source"] == "user checkpoint"
    assert any("no mean image" in record.getMessage() and record.levelname == "WARNING" for record in caplog.records)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_fetch_downloads_verifies_and_converts(served):
    path = fetch_release(progress=False)
    assert path == registry.cached_weights_path()
    metadata = read_metadata(path)
    assert metadata["provenance"]["source"] == "authors' release"
    assert metadata["provenance"]["commit"] == release.COMMIT
    assert not (registry.cache_dir() / "downloads").exists() or not any((registry.cache_dir() / "downloads").rglob("*.part"))
    assert load_model(device="cpu").weights_id == metadata["weights_id"]


def test_corrupted_download_leaves_nothing_that_looks_good(served):
    data = bytearray((served / release.DATA).read_bytes())
    data[1000] ^= 0xFF
    (served / release.DATA).write_bytes(bytes(data))
    with pytest.raises(DownloadError):
        fetch_release(progress=False)
    assert not registry.cached_weights_path().exists()
    downloads = registry.cache_dir() / "downloads"
    assert not any(p.name == release.DATA for p in downloads.rglob("*"))


def test_no_network_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("VIDAESTHETIC_RELEASE_URL", "http://127.0.0.1:9/")
    with pytest.raises(DownloadError, match="127.0.0.1:9"):
        fetch_release(progress=False)
    assert not registry.cached_weights_path().exists()


def test_unwritable_cache_is_a_clear_error(tmp_path, monkeypatch, permission_denied):
    locked = tmp_path / "locked"
    locked.mkdir()
    permission_denied(locked)
    monkeypatch.setenv("VIDAESTHETIC_CACHE", str(locked / "cache"))
    with pytest.raises(OutputError, match=r"Permission denied.*VIDAESTHETIC_CACHE") as raised:
        fetch_release(progress=False)
    assert str(locked / "cache") in str(raised.value) and "\n" not in str(raised.value)
    assert not any(locked.iterdir())


def test_cache_below_a_file_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("VIDAESTHETIC_CACHE", str(tmp_path / "file" / "cache"))
    with pytest.raises(OutputError, match="VIDAESTHETIC_CACHE"):
        fetch_release(progress=False)


def authors_release_missing(path: str) -> str:
    """Why the authors' release cannot be checked against their scores ('' if it can).

    Only absence skips: a weights file that is there but unreadable raises here, and fails the test.
    """
    if not os.path.exists(path):
        return f"the converted authors' release is not installed at {path} (vidaesthetic weights fetch)"
    source = (read_metadata(path)["provenance"] or {}).get("source")
    return "" if source == "authors' release" else f"{path} holds other weights ({source}), not the authors' release"


def test_a_damaged_install_is_an_error_not_a_missing_model(tmp_path):
    """A broken weights file must fail loudly: the default model and the conformance check both refuse it."""
    damaged = registry.cached_weights_path()
    damaged.parent.mkdir(parents=True, exist_ok=True)
    damaged.write_bytes(b"{ half of a safetensors header")
    with pytest.raises(ModelError, match="not a safetensors weights file"):
        load_model(device="cpu")
    with pytest.raises(ModelError, match="not a safetensors weights file"):
        authors_release_missing(str(damaged))
    assert "not installed" in authors_release_missing(str(tmp_path / "absent.safetensors"))


@needs_authors
@pytest.mark.parametrize("clip", sorted(AUTHORS.glob("*-small.mp4")) if AUTHORS.is_dir() else [], ids=lambda p: p.name)
def test_scores_reproduce_the_authors_model(clip):
    """With their preprocessing (``resize="authors"``) the norms match their .score files closely: median
    relative error at most 1e-3 and Spearman at least 0.999 (a channel mean instead of their mean image
    would move norms by 1-36 %)."""
    missing = authors_release_missing(INSTALLED)
    if missing:
        pytest.skip(missing)
    import h5py
    from scipy.stats import spearmanr

    from vidaesthetic import score_video

    with h5py.File(str(clip).replace("-small.mp4", ".mp4.score"), "r") as stored:
        expected = stored["group1/dataset1"][:]
    model = load_model(weights=INSTALLED, device="cpu", precision="fp32", resize="authors")
    curve = score_video(clip, model, progress=False)
    count = min(len(expected), len(curve))
    relative = np.abs(curve.raw[:count] - expected[:count]) / expected[:count]
    rho = spearmanr(curve.raw[:count], expected[:count]).statistic
    print(f"{clip.name}: median relative error {np.median(relative):.2e}, Spearman {rho:.5f}")
    assert np.median(relative) <= 1e-3 and rho >= 0.999
