"""The TensorFlow checkpoint reader/writer and the restricted mean-image unpickler.

The authors' index and mean image are real fixtures; their 98 MiB data shard is
not, so full-size shards are synthesised from the real index's declarations.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import tf_writer
from tf_writer import write_checkpoint
from vidaesthetic.errors import ModelError
from vidaesthetic.models import tf_checkpoint
from vidaesthetic.models.safe_pickle import load_mean_image
from vidaesthetic.models.tf_checkpoint import read_checkpoint, read_index

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
AUTHORS = FIXTURES / "authors"
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"shared fixtures not found at {FIXTURES}")

SHARD = "ckpt.data-00000-of-00001"


@pytest.fixture(scope="module")
def real_index() -> dict[str, tf_checkpoint.TensorEntry]:
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    return read_index(AUTHORS / "ae_model.index")


def _small_checkpoint(directory: Path) -> tuple[Path, dict[str, np.ndarray]]:
    tensors = {
        "a/weights": np.arange(24, dtype=np.float32).reshape(2, 3, 4),
        "a/biases": np.array([1.5, -2.0], dtype=np.float64),
        "b/step": np.array(7, dtype=np.int64),
        "c/mask": np.array([True, False, True]),
        "d/empty": np.zeros((0, 5), dtype=np.float32),
    }
    write_checkpoint(directory / "ckpt", tensors)
    return directory / "ckpt", tensors


# --- the authors' real index ---------------------------------------------


def test_real_index_lists_the_resnet50_variables(real_index) -> None:
    assert len(real_index) == 267
    conv = real_index["resnet_v1_50/block1/unit_1/bottleneck_v1/conv1/weights"]
    assert conv.shape == (1, 1, 64, 64) and conv.dtype == np.float32
    assert real_index["resnet_v1_50/logits/weights"].shape == (1, 1, 2048, 1000)
    assert real_index["resnet_v1_50/logits/biases"].shape == (1000,)
    assert all(name.startswith("resnet_v1_50/") for name in real_index)
    assert sum(entry.size for entry in real_index.values()) == 102_440_608


def test_real_index_entries_reencode_byte_for_byte(real_index) -> None:
    """The writer's protobuf encoding matches what TensorFlow wrote."""
    raw = dict(tf_checkpoint._table_items((AUTHORS / "ae_model.index").read_bytes()))
    assert raw.pop(b"") == tf_writer.encode_header()
    for name, entry in real_index.items():
        number = tf_writer.TF_DTYPES[entry.dtype]
        encoded = tf_writer.encode_entry(number, entry.shape, entry.offset, entry.size, entry.crc32c)
        assert raw[name.encode()] == encoded, name


def test_real_checkpoint_without_its_shard_says_what_is_missing(real_index) -> None:
    with pytest.raises(ModelError, match=r"ae_model\.data-00000-of-00001.*not found.*267 tensors"):
        read_checkpoint(AUTHORS / "ae_model")


def test_full_size_synthetic_checkpoint_round_trips(real_index, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tensors = {name: rng.standard_normal(entry.shape, dtype=np.float32) for name, entry in real_index.items()}
    write_checkpoint(tmp_path / "ae_model", tensors)

    assert (tmp_path / "ae_model.data-00000-of-00001").stat().st_size == 102_440_608
    written = read_index(tmp_path / "ae_model.index")
    assert list(written) == list(real_index)
    for name, entry in written.items():
        # TensorFlow laid the tensors out in key order too, so the layouts agree.
        real = real_index[name]
        assert (entry.dtype, entry.shape, entry.offset, entry.size) == (real.dtype, real.shape, real.offset, real.size)
        assert entry.crc32c == tf_checkpoint._masked_crc(tensors[name].tobytes())

    loaded = read_checkpoint(tmp_path / "ae_model.index")
    assert list(loaded) == list(real_index)
    for name, array in loaded.items():
        assert array.dtype == np.float32 and array.flags.writeable
        np.testing.assert_array_equal(array, tensors[name])


# --- synthetic checkpoints ------------------------------------------------


def test_small_checkpoint_round_trips_every_dtype(tmp_path: Path) -> None:
    prefix, tensors = _small_checkpoint(tmp_path)
    loaded = read_checkpoint(prefix)
    assert sorted(loaded) == sorted(tensors)
    for name, array in tensors.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        np.testing.assert_array_equal(loaded[name], array)


def test_masked_crc_matches_the_published_crc32c_check_value() -> None:
    crc = 0xE3069283  # CRC32C of b"123456789"
    assert tf_checkpoint._masked_crc(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_writer_refuses_unsupported_dtypes_and_the_header_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dtype"):
        write_checkpoint(tmp_path / "x", {"s": np.array(["text"])})
    with pytest.raises(ValueError, match="non-empty"):
        write_checkpoint(tmp_path / "x", {"": np.zeros(1)})


def test_truncated_shard(tmp_path: Path) -> None:
    prefix, _ = _small_checkpoint(tmp_path)
    shard = tmp_path / SHARD
    shard.write_bytes(shard.read_bytes()[:-3])
    with pytest.raises(ModelError, match=r"truncated.*'c/mask'.*re-download") as info:
        read_checkpoint(prefix)
    assert info.value.path == str(shard)


def test_flipped_byte_fails_the_crc(tmp_path: Path) -> None:
    prefix, _ = _small_checkpoint(tmp_path)
    shard = tmp_path / SHARD
    data = bytearray(shard.read_bytes())
    data[5] ^= 0x01  # inside a/biases, the first tensor in key order
    shard.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"'a/biases' fails its CRC32C check") as info:
        read_checkpoint(prefix)
    assert info.value.path == str(shard)


def test_missing_shard(tmp_path: Path) -> None:
    prefix, _ = _small_checkpoint(tmp_path)
    (tmp_path / SHARD).unlink()
    with pytest.raises(ModelError, match=r"data shard not found.*next to PREFIX\.index") as info:
        read_checkpoint(prefix)
    assert info.value.path == str(tmp_path / SHARD)


def test_missing_index(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="index not found"):
        read_checkpoint(tmp_path / "nothing")


def _flip_block_byte(data: bytes) -> bytes:
    corrupt = bytearray(data)
    corrupt[20] ^= 0x40  # inside the first data block
    return bytes(corrupt)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda data: b"", "fewer than a table footer"),
        (lambda data: os.urandom(len(data)), "bad magic number"),
        (lambda data: b"\0" * 100 + data, "CRC32C|runs past"),
        (lambda data: data[:-1], "bad magic number"),
        (_flip_block_byte, "fails its CRC32C check"),
    ],
    ids=["empty", "garbage", "shifted", "truncated", "flipped-byte"],
)
def test_corrupt_index(tmp_path: Path, corrupt, message: str) -> None:
    prefix, _ = _small_checkpoint(tmp_path)
    index = tmp_path / "ckpt.index"
    index.write_bytes(corrupt(index.read_bytes()))
    with pytest.raises(ModelError, match=f"unusable TensorFlow checkpoint index: .*({message})") as info:
        read_checkpoint(prefix)
    assert info.value.path == str(index)


def _write_index(path: Path, entries: dict[bytes, bytes]) -> None:
    items = [(b"", tf_writer.encode_header()), *sorted(entries.items())]
    path.write_bytes(tf_writer.encode_table(items))


def test_entry_whose_size_disagrees_with_dtype_and_shape(tmp_path: Path) -> None:
    _write_index(tmp_path / "ckpt.index", {b"w": tf_writer.encode_entry(1, (2, 3), 0, 20, 0)})
    with pytest.raises(ModelError, match=r"'w' declares 20 bytes, but float32 of shape \[2, 3\] takes 24"):
        read_checkpoint(tmp_path / "ckpt")


def test_entry_with_an_unsupported_dtype(tmp_path: Path) -> None:
    _write_index(tmp_path / "ckpt.index", {b"w": tf_writer.encode_entry(14, (4,), 0, 8, 0)})
    with pytest.raises(ModelError, match=r"'w' has TensorFlow dtype 14 \(bfloat16\)"):
        read_index(tmp_path / "ckpt.index")


def test_many_entries_span_several_blocks(tmp_path: Path) -> None:
    tensors = {f"layer{i:04d}/weights": np.full(3, i, dtype=np.int32) for i in range(500)}
    write_checkpoint(tmp_path / "ckpt", tensors)
    assert (tmp_path / "ckpt.index").stat().st_size > 2 * tf_writer.BLOCK_SIZE
    loaded = read_checkpoint(tmp_path / "ckpt")
    assert list(loaded) == sorted(tensors)
    assert all(loaded[name][0] == int(name[5:9]) for name in loaded)


# --- the mean image -------------------------------------------------------


@needs_fixtures
def test_mean_image_loads_with_the_restricted_unpickler() -> None:
    mean = load_mean_image(AUTHORS / "mean_bgr.p")
    assert mean.shape == (3, 224, 224) and mean.dtype == np.float64
    np.testing.assert_allclose(mean.mean(axis=(1, 2)), [103.06, 115.90, 123.15], atol=0.01)


class _RunsCommand:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_malicious_pickle_is_refused_without_running_it(tmp_path: Path) -> None:
    witness = tmp_path / "ran"
    payload = tmp_path / "evil.p"
    payload.write_bytes(pickle.dumps(_RunsCommand(f"touch {witness}"), protocol=0))
    with pytest.raises(ModelError, match=r"refused to load (posix|nt|os)\.system"):
        load_mean_image(payload)
    assert not witness.exists()


def test_array_subclass_smuggled_into_reconstruct_is_refused(tmp_path: Path) -> None:
    payload = tmp_path / "evil.p"
    payload.write_bytes(pickle.dumps(np.ma.masked_array(np.zeros((3, 224, 224))), protocol=2))
    with pytest.raises(ModelError, match=r"refused to load numpy\.ma"):
        load_mean_image(payload)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.zeros((3, 10, 10)), r"shape \(3, 224, 224\), found float64 array of shape \(3, 10, 10\)"),
        (np.zeros((3, 224, 224), dtype=np.int64), "found int64 array"),
        ({"mean": 1.0}, "found dict"),
        (np.full((3, 224, 224), np.nan), "NaN"),
    ],
    ids=["shape", "dtype", "not-an-array", "nan"],
)
def test_mean_image_is_validated(tmp_path: Path, value, message: str) -> None:
    path = tmp_path / "mean.p"
    path.write_bytes(pickle.dumps(value, protocol=4))
    with pytest.raises(ModelError, match=message):
        load_mean_image(path)


def test_mean_image_from_python3_pickle_and_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "mean.p"
    mean = np.linspace(0, 255, 3 * 224 * 224, dtype=np.float32).reshape(3, 224, 224)
    path.write_bytes(pickle.dumps(mean, protocol=4))
    np.testing.assert_array_equal(load_mean_image(path), mean.astype(np.float64))
    path.write_bytes(b"not a pickle")
    with pytest.raises(ModelError, match="not a valid mean image pickle"):
        load_mean_image(path)
    with pytest.raises(ModelError, match="not found"):
        load_mean_image(tmp_path / "absent.p")
