"""Read TensorFlow V2 checkpoints without TensorFlow or protobuf.

The authors released their model as a TF-slim checkpoint: ``PREFIX.index``, a
LevelDB-style sorted table that maps each tensor name to a small protobuf
record (dtype, shape, shard, offset, size, CRC32C), and the shards
``PREFIX.data-0000N-of-0000M`` that hold the raw little-endian tensor bytes.
Both formats are simple enough to parse here, which keeps TensorFlow and
protobuf out of the dependencies. Every tensor's CRC32C is checked, so a
corrupt or truncated download fails loudly instead of giving wrong scores.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import google_crc32c
import numpy as np

from vidaesthetic.errors import ModelError, PathLike

_MAGIC = 0xDB4775248B80FB57  # last 8 bytes of every LevelDB-style table
_FOOTER_LEN = 48  # two block handles padded to 40 bytes, then the magic
_TRAILER_LEN = 5  # after each block: compression type byte, masked CRC32C
_BUNDLE_VERSION = 1  # the newest tensor bundle format version this module reads

# TensorFlow DataType enum values with a fixed-size numpy equivalent.
_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),
    2: np.dtype("<f8"),
    3: np.dtype("<i4"),
    4: np.dtype("u1"),
    5: np.dtype("<i2"),
    6: np.dtype("i1"),
    8: np.dtype("<c8"),
    9: np.dtype("<i8"),
    10: np.dtype("?"),
    17: np.dtype("<u2"),
    18: np.dtype("<c16"),
    19: np.dtype("<f2"),
    22: np.dtype("<u4"),
    23: np.dtype("<u8"),
}
# Names for the DataTypes we refuse, so the error says what was found.
_UNSUPPORTED_DTYPES = {
    7: "string",
    11: "qint8",
    12: "quint8",
    13: "qint32",
    14: "bfloat16",
    15: "qint16",
    16: "quint16",
    20: "resource",
    21: "variant",
}

# Protobuf wire types.
_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lives in a checkpoint, as its index records it.

    ``crc32c`` is the masked CRC32C of the tensor's bytes, as stored.
    """

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int


class _Corrupt(ValueError):
    """A malformed index; _load_index adds the file name and turns it into a ModelError."""


def read_index(index_path: PathLike) -> dict[str, TensorEntry]:
    """The tensors that a checkpoint index (``PREFIX.index``) lists, by name, in key order."""
    return _load_index(Path(index_path))[1]


def read_checkpoint(prefix: PathLike) -> dict[str, np.ndarray]:
    """All tensors of the checkpoint ``PREFIX.index`` + ``PREFIX.data-*``, CRC-checked.

    ``prefix`` may also name the ``.index`` file itself. Arrays keep their
    little-endian dtype and the index's key order.
    """
    prefix = os.fspath(prefix)
    if prefix.endswith(".index"):
        prefix = prefix[: -len(".index")]
    num_shards, entries = _load_index(Path(prefix + ".index"))
    by_shard: dict[int, list[TensorEntry]] = {}
    for entry in entries.values():
        by_shard.setdefault(entry.shard_id, []).append(entry)
    tensors: dict[str, np.ndarray] = {}
    for shard_id, shard_entries in sorted(by_shard.items()):
        shard_path = Path(f"{prefix}.data-{shard_id:05d}-of-{num_shards:05d}")
        tensors.update(_read_shard(shard_path, shard_entries))
    return {name: tensors[name] for name in entries}


# --- checkpoint index -------------------------------------------------------


def _load_index(path: Path) -> tuple[int, dict[str, TensorEntry]]:
    """The shard count and the entries of the index at ``path``."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError("checkpoint index not found", path) from None
    except OSError as exc:
        raise ModelError(f"cannot read checkpoint index: {exc.strerror}", path) from exc
    try:
        return _parse_index(data)
    except _Corrupt as exc:
        raise ModelError(
            f"unusable TensorFlow checkpoint index: {exc}; re-download or re-export the checkpoint", path
        ) from None


def _parse_index(data: bytes) -> tuple[int, dict[str, TensorEntry]]:
    items = iter(_table_items(data))
    key, value = next(items, (None, b""))
    if key != b"":
        raise _Corrupt("no bundle header (the entry with the empty key)")
    num_shards = _parse_header(value)
    entries = {}
    for key, value in items:
        try:
            name = key.decode()
        except UnicodeDecodeError:
            raise _Corrupt(f"tensor name {key!r} is not UTF-8") from None
        entries[name] = _parse_entry(name, value, num_shards)
    return num_shards, entries


def _parse_header(buf: bytes) -> int:
    """The shard count from a BundleHeaderProto, after checking that we can read the bundle."""
    fields = _message(buf, {1: _VARINT, 2: _VARINT, 3: _BYTES})
    num_shards = _last(fields, 1, 0)
    if num_shards < 1:
        raise _Corrupt(f"header declares {num_shards} data shards")
    if _last(fields, 2, 0) != 0:
        raise _Corrupt("the checkpoint is big-endian; only little-endian checkpoints are supported")
    version = _message(_last(fields, 3, b""), {2: _VARINT})
    if _last(version, 2, 0) > _BUNDLE_VERSION:
        raise _Corrupt("the checkpoint needs a newer tensor bundle reader than this one")
    return num_shards


def _parse_entry(name: str, buf: bytes, num_shards: int) -> TensorEntry:
    """A TensorEntry from a BundleEntryProto, checked for what read_checkpoint relies on."""
    fields = _message(buf, {1: _VARINT, 2: _BYTES, 3: _VARINT, 4: _VARINT, 5: _VARINT, 6: _FIXED32, 7: _BYTES})
    number = _last(fields, 1, 0)
    if number not in _DTYPES:
        what = _UNSUPPORTED_DTYPES.get(number, "unknown")
        raise _Corrupt(f"tensor {name!r} has TensorFlow dtype {number} ({what}), which cannot be read here")
    if 7 in fields:
        raise _Corrupt(f"tensor {name!r} is a partitioned variable, which is not supported")
    entry = TensorEntry(
        name=name,
        dtype=_DTYPES[number],
        shape=_parse_shape(name, _last(fields, 2, b"")),
        shard_id=_last(fields, 3, 0),
        offset=_last(fields, 4, 0),
        size=_last(fields, 5, 0),
        crc32c=_last(fields, 6, 0),
    )
    if entry.shard_id >= num_shards:
        raise _Corrupt(f"tensor {name!r} is in shard {entry.shard_id} of only {num_shards}")
    expected = entry.dtype.itemsize * math.prod(entry.shape)
    if entry.size != expected:
        raise _Corrupt(
            f"tensor {name!r} declares {entry.size} bytes, but {entry.dtype.name} "
            f"of shape {list(entry.shape)} takes {expected}"
        )
    return entry


def _parse_shape(name: str, buf: bytes) -> tuple[int, ...]:
    fields = _message(buf, {2: _BYTES, 3: _VARINT})
    if _last(fields, 3, 0):
        raise _Corrupt(f"tensor {name!r} has an unknown rank")
    shape = tuple(_last(_message(dim, {1: _VARINT}), 1, 0) for dim in fields.get(2, []))
    if any(size >= 1 << 63 for size in shape):  # a negative int64: an unknown size
        raise _Corrupt(f"tensor {name!r} has a dimension of unknown size")
    return shape


def _read_shard(path: Path, entries: list[TensorEntry]) -> Iterator[tuple[str, np.ndarray]]:
    """(name, array) for each of ``entries``, read from the shard at ``path`` and CRC-checked."""
    try:
        file = path.open("rb")
    except FileNotFoundError:
        raise ModelError(
            f"checkpoint data shard not found (it holds {len(entries)} tensors, e.g. {entries[0].name!r}); "
            "keep every PREFIX.data-* file next to PREFIX.index",
            path,
        ) from None
    except OSError as exc:
        raise ModelError(f"cannot read checkpoint data shard: {exc.strerror}", path) from exc
    with file:
        length = os.fstat(file.fileno()).st_size
        for entry in sorted(entries, key=lambda e: e.offset):
            end = entry.offset + entry.size
            data = b""
            if end <= length:  # never ask read() for more than the file holds
                file.seek(entry.offset)
                data = file.read(entry.size)
            if len(data) != entry.size:
                raise ModelError(
                    f"checkpoint data shard is truncated: tensor {entry.name!r} needs bytes "
                    f"{entry.offset}..{end} but the file has {length}; re-download it",
                    path,
                )
            crc = _masked_crc(data)
            if crc != entry.crc32c:
                raise ModelError(
                    f"tensor {entry.name!r} fails its CRC32C check (index 0x{entry.crc32c:08x}, "
                    f"data 0x{crc:08x}): the shard is corrupt; re-download it",
                    path,
                )
            # A copy owns its memory and is writable, as torch.from_numpy wants.
            yield entry.name, np.frombuffer(data, dtype=entry.dtype).reshape(entry.shape).copy()


def _masked_crc(data: bytes) -> int:
    """CRC32C, masked as LevelDB and TensorFlow store it (a CRC of data with embedded CRCs is weak)."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# --- LevelDB-style table ----------------------------------------------------


def _table_items(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs of a table file, in order; blocks are CRC-checked."""
    if len(data) < _FOOTER_LEN:
        raise _Corrupt(f"the file has {len(data)} bytes, fewer than a table footer")
    footer = data[-_FOOTER_LEN:]
    if int.from_bytes(footer[-8:], "little") != _MAGIC:
        raise _Corrupt("bad magic number: this is not a TensorFlow checkpoint index")
    _metaindex, pos = _handle(footer, 0)
    index_handle, _ = _handle(footer, pos)
    previous = None
    for _, value in _block_entries(_read_block(data, index_handle)):
        for key, item in _block_entries(_read_block(data, _handle(value, 0)[0])):
            if previous is not None and key <= previous:
                raise _Corrupt(f"key {key!r} is out of order")
            previous = key
            yield key, item


def _handle(buf: bytes, pos: int) -> tuple[tuple[int, int], int]:
    """A block handle (offset, size) read at ``pos``, and the position after it."""
    offset, pos = _varint(buf, pos)
    size, pos = _varint(buf, pos)
    return (offset, size), pos


def _read_block(data: bytes, handle: tuple[int, int]) -> bytes:
    """The contents of the block at ``handle``, after checking its trailer."""
    offset, size = handle
    end = offset + size
    if end + _TRAILER_LEN > len(data) - _FOOTER_LEN:
        raise _Corrupt(f"block at offset {offset} runs past the end of the file")
    contents, compression = data[offset:end], data[end]
    stored = int.from_bytes(data[end + 1 : end + _TRAILER_LEN], "little")
    if _masked_crc(data[offset : end + 1]) != stored:
        raise _Corrupt(f"block at offset {offset} fails its CRC32C check")
    if compression != 0:
        raise _Corrupt(f"block at offset {offset} is compressed (type {compression}); TensorFlow never does that")
    return contents


def _block_entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs of one block; keys share prefixes with their predecessors."""
    if len(block) < 4:
        raise _Corrupt("block too short for its restart count")
    num_restarts = int.from_bytes(block[-4:], "little")
    limit = len(block) - 4 - 4 * num_restarts
    if limit < 0:
        raise _Corrupt("block too short for its restart array")
    pos, key = 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        end = pos + unshared + value_len
        if shared > len(key) or end > limit:
            raise _Corrupt("malformed block entry")
        key = key[:shared] + block[pos : pos + unshared]
        yield key, block[pos + unshared : end]
        pos = end


# --- protobuf wire format ---------------------------------------------------


def _message(buf: bytes, wire_types: dict[int, int]) -> dict[int, list]:
    """The values of the wanted fields of a protobuf message, by field number.

    ``wire_types`` maps each wanted field to its wire type; other fields are
    skipped, as protobuf readers do. Varint and fixed fields come back as
    ints, length-delimited ones as bytes.
    """
    fields: dict[int, list] = {}
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        value: int | bytes
        if wire_type == _VARINT:
            value, pos = _varint(buf, pos)
        elif wire_type in (_FIXED64, _FIXED32):
            width = 8 if wire_type == _FIXED64 else 4
            value, pos = int.from_bytes(_take(buf, pos, width), "little"), pos + width
        elif wire_type == _BYTES:
            length, pos = _varint(buf, pos)
            value, pos = _take(buf, pos, length), pos + length
        else:
            raise _Corrupt(f"unsupported protobuf wire type {wire_type}")
        if number in wire_types:
            if wire_type != wire_types[number]:
                raise _Corrupt(f"protobuf field {number} has wire type {wire_type}, not {wire_types[number]}")
            fields.setdefault(number, []).append(value)
    return fields


def _last(fields: dict[int, list], number: int, default):
    """A scalar field's value: the last one wins in protobuf; absent means the default."""
    return fields[number][-1] if number in fields else default


def _take(buf: bytes, pos: int, length: int) -> bytes:
    if pos + length > len(buf):
        raise _Corrupt("truncated protobuf message")
    return buf[pos : pos + length]


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The unsigned varint at ``pos`` and the position after it."""
    result = shift = 0
    while pos < len(buf):
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _Corrupt("varint longer than 10 bytes")
    raise _Corrupt("truncated varint")
